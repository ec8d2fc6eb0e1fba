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
		{name: "user id", row: WriteRow{Line: 8, Stamp: "s", UserId: "example-user-id-1<&>\u2028"}},
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

// A batch spliced from its head and rows encoded one by one is json.Marshal's
// WriteBatch, whatever order its fields are declared in.
func TestBatchJSON(t *testing.T) {
	rows := []WriteRow{
		{Line: 2, Stamp: "a", Endpoint: &endpoint.Endpoint{Id: "x", ChannelType: "SMS"}},
		{Line: 3, Stamp: "b<", Endpoint: &endpoint.Endpoint{Id: "y"}},
	}
	tests := []struct {
		name string
		b    WriteBatch
	}{
		{name: "empty", b: WriteBatch{Rows: []WriteRow{}}},
		{name: "rows", b: WriteBatch{JobId: "j", JobOrder: "o&", SegmentId: "s", Shards: 4, Version: 7, Base: 5, Key: "imports/s/a\"b.csv", Piece: 3, Seq: 12, Rows: rows}},
		{name: "delete", b: WriteBatch{JobId: "j", JobOrder: "o", Key: "deletes/a.csv", Seq: 1, Delete: true, Rows: rows}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := json.Marshal(tt.b)
			if err != nil {
				t.Fatal(err)
			}
			got := tt.b.AppendHead(nil)
			for i, r := range tt.b.Rows {
				if i > 0 {
					got = append(got, ',')
				}
				if got, err = r.AppendJSON(got); err != nil {
					t.Fatal(err)
				}
			}
			got = CloseBatch(got)
			if string(got) != string(want) {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func TestBatchTally(t *testing.T) {
	b := WriteBatch{Rows: []WriteRow{
		{Endpoint: &endpoint.Endpoint{ChannelType: "SMS"}}, {Endpoint: &endpoint.Endpoint{ChannelType: "SMS"}},
		{Endpoint: &endpoint.Endpoint{Id: "only-id"}}, {Line: 9, Endpoint: &endpoint.Endpoint{ChannelType: "EMAIL"}},
	}}
	got := b.Tally()
	want := Tally{Rows: 4, Channels: map[string]int{"SMS": 2, NoChannel: 1, "EMAIL": 1}}
	if got.Rows != want.Rows || len(got.Channels) != len(want.Channels) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for ch, n := range want.Channels {
		if got.Channels[ch] != n {
			t.Fatalf("channel %s: got %d, want %d", ch, got.Channels[ch], n)
		}
	}
}
