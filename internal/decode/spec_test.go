package decode

import (
	"os"
	"strings"
	"testing"
)

// specEndpoints are the five endpoints of the spec's example table, in canonical
// JSON. The Ids are derived from channel and address; they are part of the stored
// data, so a change here means re-imports would duplicate endpoints.
var specEndpoints = []string{
	`{"Id":"b2c395776b871c7635b17f7dc64f5f0c","ChannelType":"SMS","Address":"2065550182","Location":{"Country":"USA"},"Demographic":{"Make":"LG","Platform":"Android"}}`,
	`{"Id":"90fd114cfdd9a506d0888cd355605098","ChannelType":"APNS","Address":"1a2b3c4d5e6f7g8h9i0j1a2b3c4d5e6f","Location":{"Country":"USA"},"Demographic":{"Make":"Apple","Platform":"iOS"}}`,
	`{"Id":"f1ac0032caf20995a1e03a9582adef1c","ChannelType":"EMAIL","Address":"john.stiles@example.com","Location":{"Country":"CAN"},"Demographic":{"Make":"Apple","Platform":"iOS"}}`,
	`{"Id":"40eb6096c20b1ab6cc05cc174c4f5487","ChannelType":"GCM","Address":"4d5e6f1a2b3c4d5e6f7g8h9i0j1a2b3c","Location":{"Country":"EGY"},"Demographic":{"Make":"Google","Platform":"Android"}}`,
	`{"Id":"e62d13699e92abd134fcc7b021c3f395","ChannelType":"EMAIL","Address":"wang.xiulan@example.com","Location":{"Country":"CHN"},"Demographic":{"Make":"OnePlus","Platform":"Android"}}`,
}

func TestSpecExamples(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		format    Format
		firstLine int
	}{
		{"CSV", "testdata/spec.csv", CSV, 2},
		{"NDJSON", "testdata/spec.json", JSON, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.Open(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			head := make([]byte, 64)
			n, _ := f.ReadAt(head, 0)
			if got := Sniff(head[:n]); got != tt.format {
				t.Fatalf("Sniff = %s, want %s", got, tt.format)
			}
			d := New(tt.format, f, Options{File: tt.file})
			var got []string
			for i := range specEndpoints {
				row, err := d.Decode()
				if err != nil {
					t.Fatalf("record %d: %v", i+1, err)
				}
				if row.Line != tt.firstLine+i {
					t.Errorf("record %d on line %d, want %d", i+1, row.Line, tt.firstLine+i)
				}
				b, err := row.Endpoint.MarshalCanonical()
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, string(b))
			}
			if _, err := d.Decode(); err == nil {
				t.Fatal("more than five records")
			}
			if g, w := strings.Join(got, "\n"), strings.Join(specEndpoints, "\n"); g != w {
				t.Fatalf("got:\n%s\nwant:\n%s", g, w)
			}
		})
	}
}
