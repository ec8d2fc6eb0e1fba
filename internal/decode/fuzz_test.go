package decode

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/segport/segport/internal/csvframe"
)

// The fuzz targets run their seed corpus (testdata/fuzz/FuzzCSV, FuzzJSON) as
// ordinary tests; `go test -fuzz=FuzzCSV ./internal/decode/` explores further.

func FuzzCSV(f *testing.F) {
	f.Add([]byte(hdr + "SMS,2065550182\n"))
	f.Fuzz(func(t *testing.T, data []byte) { checkDecoding(t, CSV, data) })
}

func FuzzJSON(f *testing.F) {
	f.Add([]byte(`{"ChannelType":"SMS","Address":"2065550182"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) { checkDecoding(t, JSON, data) })
}

// checkDecoding is the property both decoders must have on any input: decoding
// ends, every record is an endpoint or a located error, a valid endpoint's
// canonical JSON decodes to itself, and decoding the file in two pieces gives
// what decoding it whole gives.
func checkDecoding(t *testing.T, f Format, data []byte) {
	const rowLimit = 2048 // small, so that fuzzed rows reach it
	lines := bytes.Count(data, []byte{'\n'}) + 1
	d := New(f, bytes.NewReader(data), Options{File: "fuzz", RowLimit: rowLimit})
	var got []string
	for calls := 0; ; calls++ {
		if calls > len(data)+1 {
			t.Fatalf("more records than bytes: decoding does not end")
		}
		row, err := d.Decode()
		if err == io.EOF {
			break
		}
		var re *RowError
		var fe *FileError
		switch {
		case err == nil:
			if row.Line < 1 || row.Line > lines || row.Endpoint == nil {
				t.Fatalf("endpoint on line %d of %d: %+v", row.Line, lines, row)
			}
			checkCanonical(t, row)
			got = append(got, fmt.Sprintf("%d %s", row.Line, canonical(t, row.Endpoint)))
			continue
		case errors.As(err, &re):
			if re.Line < 1 || re.Line > lines || row == nil || row.Line != re.Line || row.Endpoint != nil {
				t.Fatalf("row error %v on line %d of %d with row %+v", err, re.Line, lines, row)
			}
			got = append(got, fmt.Sprintf("%d row %s", re.Line, sentinel(err)))
			continue
		case errors.As(err, &fe):
			if fe.Line < 1 || fe.Line > lines || fe.Byte < -1 || fe.Byte >= int64(len(data)) || row != nil {
				t.Fatalf("file error %v at line %d byte %d of %d lines, %d bytes", err, fe.Line, fe.Byte, lines, len(data))
			}
			if _, again := d.Decode(); again != err {
				t.Fatalf("Decode after a FileError returned %v", again)
			}
			got = append(got, fmt.Sprintf("file %s line %d byte %d", sentinel(err), fe.Line, fe.Byte))
		default:
			t.Fatalf("unlocated error %T: %v", err, err)
		}
		break
	}
	checkPieces(t, f, data, rowLimit, d, got)
}

// checkCanonical re-decodes the canonical JSON of a valid endpoint with the JSON
// decoder and checks that it does not change.
func checkCanonical(t *testing.T, row *Row) {
	c, err := row.Endpoint.MarshalCanonical()
	if err != nil {
		t.Fatalf("MarshalCanonical: %v", err)
	}
	again, err := NewJSON(bytes.NewReader(c), Options{}).Decode()
	if err != nil {
		t.Fatalf("the canonical JSON of line %d does not decode: %v\n%s", row.Line, err, c)
	}
	c2, err := again.Endpoint.MarshalCanonical()
	if err != nil || !bytes.Equal(c, c2) {
		t.Fatalf("canonical JSON changes when decoded again:\n%s\n%s", c, c2)
	}
}

// checkPieces decodes data again in two pieces cut at the record boundary nearest
// its middle, as the planner would cut it, and compares with want.
func checkPieces(t *testing.T, f Format, data []byte, rowLimit int, whole Decoder, want []string) {
	var header []string
	if f == CSV {
		header = whole.(*CSVDecoder).Header()
		if header == nil {
			return // no header: the file stopped before any piece could start
		}
	}
	at := cuts(data, f, 2)
	if len(at) == 0 || (f == CSV && at[0] <= headerEnd(data)) {
		return
	}
	var got []string
	for i, p := range [][]byte{data[:at[0]], data[at[0]:]} {
		opts := Options{File: "fuzz", RowLimit: rowLimit}
		if i == 1 {
			opts.Header, opts.Offset, opts.Line = header, int64(at[0]), 1+bytes.Count(data[:at[0]], []byte{'\n'})
		}
		rs, _ := results(t, New(f, bytes.NewReader(p), opts))
		got = append(got, rs...)
		if len(rs) > 0 && strings.HasPrefix(rs[len(rs)-1], "file ") {
			break
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("pieces cut at %d:\n\t%s\nwhole:\n\t%s", at[0], strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// headerEnd returns the offset just past the CSV header record.
func headerEnd(data []byte) int {
	state := csvframe.FieldStart
	for i, c := range data {
		if i < len(bom) && bytes.HasPrefix(data, bom) {
			continue // the decoder strips it
		}
		state = state.Next(c)
		if c == '\n' && state != csvframe.Quoted && len(bytes.TrimSpace(data[:i])) > 0 {
			return i + 1
		}
	}
	return len(data)
}
