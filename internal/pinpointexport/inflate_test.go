package pinpointexport_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/segport/segport/internal/decode"
	"github.com/segport/segport/internal/pinpointexport"
)

// A gzip bomb, a small object that decompresses to far more, fails at the cap
// with a file-level error naming it; the rows before it stand.
func TestInflateCap(t *testing.T) {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(`{"Id":"first","ChannelType":"EMAIL","Address":"a@example.com"}` + "\n"))
	blank := bytes.Repeat([]byte("\n"), 1<<20)
	for range 16 { // 16 MiB of blank lines: about 16 KiB compressed
		zw.Write(blank)
	}
	zw.Close()
	for _, tc := range []struct {
		name string
		cap  decode.Inflate
		want string
	}{
		{"ratio", decode.Inflate{Ratio: 100}, "more than 100 bytes for each compressed byte (MaxInflateRatio)"},
		{"bytes", decode.Inflate{Ratio: 1 << 20, Bytes: 4 << 20}, "more than 4194304 bytes (MaxInflateGiB)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := pinpointexport.NewDecoder(bytes.NewReader(z.Bytes()), decode.Options{File: "bomb.json.gz", Inflate: tc.cap})
			row, err := d.Decode()
			if err != nil || row.Endpoint == nil || row.Endpoint.Id != "first" {
				t.Fatalf("first row %+v, %v", row, err)
			}
			_, err = d.Decode()
			var fe *decode.FileError
			if !errors.As(err, &fe) || !errors.Is(err, decode.ErrCompressed) || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), "bomb.json.gz") {
				t.Fatalf("error %v, want a file error saying %q", err, tc.want)
			}
			if _, again := d.Decode(); again == nil || again == io.EOF {
				t.Errorf("a Decode after the cap: %v, want the error again", again)
			}
		})
	}
	// The same stream within generous caps reads to its end.
	d := pinpointexport.NewDecoder(bytes.NewReader(z.Bytes()), decode.Options{File: "bomb.json.gz", Inflate: decode.Inflate{Ratio: 1 << 20, Bytes: 1 << 30}})
	n := 0
	for {
		row, err := d.Decode()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("row %d: %v", n, err)
		}
		n++
		_ = row
	}
	if n != 1 {
		t.Errorf("%d rows, want 1", n)
	}
}
