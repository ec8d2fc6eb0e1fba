package job

import (
	"encoding/json"
	"testing"

	"github.com/segport/segport/pkg/endpoint"
)

// WriteRow's JSON is json.Marshal's, byte for byte: batches are cut by size, and
// a piece parsed again must be cut at the same rows.
func TestWriteRowJSON(t *testing.T) {
	lat := 47.6
	tests := []struct {
		name string
		row  WriteRow
	}{
		{name: "no endpoint", row: WriteRow{Line: 7, Stamp: "s"}},
		{name: "endpoint", row: WriteRow{Line: 123456, Stamp: "2024-01-01T00:00:00.000Z|x<y>&z|000001|0000000042",
			Endpoint: &endpoint.Endpoint{Id: "<id>", ChannelType: "EMAIL", Address: "a&b@example.com",
				Location:   &endpoint.Location{City: "Seattle", Latitude: &lat},
				Attributes: endpoint.Lists{{Name: "tags", Value: []string{"<b>", "\u2028"}}},
				Metrics:    endpoint.Metrics{{Name: "n", Value: 1e21}},
				User:       &endpoint.User{UserId: "u"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := json.Marshal(tt.row)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tt.row.AppendJSON(nil)
			if err != nil || string(got) != string(want) {
				t.Fatalf("got %s, %v\nwant %s", got, err, want)
			}
		})
	}
}
