package plan

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/segport/segport/internal/csvframe"
	"github.com/segport/segport/internal/decode"
)

func bytesRange(b []byte) RangeFunc {
	return func(_ context.Context, start, end int64) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b[start:end])), nil
	}
}

// genCSV writes rows with quoted newlines, doubled quotes, CRLF, a BOM and bad rows.
func genCSV(rng *rand.Rand, rows int) []byte {
	var b bytes.Buffer
	b.WriteString("\xEF\xBB\xBFChannelType,Address,Location.City,Attributes.Note\r\n")
	for i := 0; i < rows; i++ {
		eol := []string{"\n", "\r\n"}[rng.IntN(2)]
		switch rng.IntN(8) {
		case 0:
			fmt.Fprintf(&b, "EMAIL,u%d@example.com,\"Line one\nline \"\"two\"\"\r\nthree\",\"a,b\"%s", i, eol)
		case 1:
			fmt.Fprintf(&b, "EMAIL,u%d@example.com,\"\"\"\",\"\n\"%s", i, eol)
		case 2:
			fmt.Fprintf(&b, "SMS,bad-%d,Town,x%s", i, eol) // a row error
		case 3:
			fmt.Fprintf(&b, "%s", eol) // a blank line
		case 4:
			fmt.Fprintf(&b, "EMAIL,u%d@example.com,15\" screen,x%s", i, eol) // a stray quote: a row error
		case 5:
			fmt.Fprintf(&b, "EMAIL,u%d@example.com,a\"b,\"c\nd\"%s", i, eol) // a stray quote, then what would open a quoted field
		default:
			fmt.Fprintf(&b, "EMAIL,u%d@example.com,\"Quoted, city\",plain%s", i, eol)
		}
	}
	return b.Bytes()
}

func genJSON(rng *rand.Rand, rows int) []byte {
	var b bytes.Buffer
	for i := 0; i < rows; i++ {
		switch rng.IntN(4) {
		case 0:
			fmt.Fprintf(&b, "{\"ChannelType\":\"SMS\",\"Address\":\"bad-%d\"}\r\n", i)
		case 1:
			b.WriteString("\n")
		default:
			fmt.Fprintf(&b, "{\"ChannelType\":\"EMAIL\",\"Address\":\"u%d@example.com\",\"Location\":{\"City\":\"a\\nb\"}}\n", i)
		}
	}
	return b.Bytes()
}

// outcome lists every row's line and result, as one decoder sees them.
func outcome(t *testing.T, f decode.Format, r io.Reader, opts decode.Options) ([]string, []string) {
	t.Helper()
	dec := decode.New(f, r, opts)
	var out []string
	for {
		row, err := dec.Decode()
		if err == io.EOF {
			break
		}
		if err != nil && !decode.IsRowError(err) {
			t.Fatalf("piece at %d: %v", opts.Offset, err)
		}
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		b, _ := row.Endpoint.MarshalCanonical()
		out = append(out, fmt.Sprintf("%d %s", row.Line, b))
	}
	var header []string
	if c, ok := dec.(*decode.CSVDecoder); ok {
		header = c.Header()
	}
	return out, header
}

func TestPiecesEqualSequentialParse(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	files := []struct {
		format decode.Format
		data   []byte
	}{
		{decode.CSV, genCSV(rng, 400)},
		{decode.JSON, genJSON(rng, 400)},
	}
	for _, file := range files {
		want, header := outcome(t, file.format, bytes.NewReader(file.data), decode.Options{File: "f"})
		for _, size := range []int64{7, 13, 64, 100, 1000, 4096, int64(len(file.data)), int64(len(file.data)) * 2} {
			t.Run(fmt.Sprintf("%s/%d", file.format, size), func(t *testing.T) {
				pieces, err := Split(context.Background(), int64(len(file.data)), bytesRange(file.data),
					Options{PieceSize: size, Quotes: file.format == decode.CSV, Concurrency: 3})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for i, p := range pieces {
					if i > 0 && p.Start != pieces[i-1].End {
						t.Fatalf("piece %d starts at %d, the previous ends at %d", i, p.Start, pieces[i-1].End)
					}
					opts := decode.Options{File: "f", Line: p.Line, Offset: p.Start}
					if p.Start > 0 && file.format == decode.CSV {
						opts.Header = header
					}
					rows, _ := outcome(t, file.format, bytes.NewReader(file.data[p.Start:p.End]), opts)
					got = append(got, rows...)
				}
				if pieces[len(pieces)-1].End != int64(len(file.data)) {
					t.Fatalf("pieces end at %d of %d", pieces[len(pieces)-1].End, len(file.data))
				}
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("%d pieces differ from the sequential parse", len(pieces))
				}
				if size == 100 && len(pieces) < 10 {
					t.Errorf("only %d pieces for %d bytes", len(pieces), len(file.data))
				}
			})
		}
	}
}

// boundaries returns the offsets just after the newlines at which the
// sequential parse of a CSV file ends a record (a BOM it strips first).
func boundaries(data []byte) []int64 {
	var out []int64
	s := csvframe.FieldStart
	for i, c := range data {
		if i < 3 && bytes.HasPrefix(data, []byte("\xEF\xBB\xBF")) {
			continue
		}
		if s = s.Next(c); c == '\n' && s != csvframe.Quoted {
			out = append(out, int64(i+1))
		}
	}
	return out
}

// checkCuts checks that a CSV file's pieces are cut, for each chunk, at the
// first record boundary of the sequential parse at or after its start, and
// know their lines.
func checkCuts(t *testing.T, data []byte, size int64) {
	t.Helper()
	pieces, err := Split(context.Background(), int64(len(data)), bytesRange(data), Options{PieceSize: size, Quotes: true, Concurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	bs := boundaries(data)
	for c := size; c < int64(len(data)); c += size {
		for _, b := range bs {
			if b-1 >= c && b < int64(len(data)) && (len(want) == 0 || b > want[len(want)-1]) {
				want = append(want, b)
				break
			}
			if b-1 >= c {
				break
			}
		}
	}
	var got []int64
	for i, p := range pieces {
		if i > 0 {
			got = append(got, p.Start)
		}
		if want := 1 + bytes.Count(data[:p.Start], []byte{'\n'}); p.Line != want {
			t.Fatalf("%q, size %d: piece at %d says line %d, want %d", data, size, p.Start, p.Line, want)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%q, size %d: cuts at %v, the sequential parse's boundaries give %v", data, size, got, want)
	}
}

// TestCutsAtRecordBoundaries checks every cut against a sequential parse.
func TestCutsAtRecordBoundaries(t *testing.T) {
	tests := []struct{ name, input string }{
		{name: "quoted line breaks", input: "a,b\n\"x\ny\",\"\"\"\n\"\n1,2\r\n\"\n\n\n\",z\n"},
		{name: "stray quote", input: "a,b\nx,15\" screen\nc,d\ne,\"f\ng\"\nh,i\n"},
		{name: "stray quote, then what would open a quoted field", input: "a\"b,\"c\nd\"\ne,f\n\"g\nh\"\n"},
		{name: "text after a closing quote", input: "\"a\"b,\"c\nd\"\ne\n"},
		{name: "quote after a space", input: "x, \"a\ny\n\"z\n1\"\n"},
		{name: "BOM before a quoted header", input: "\xEF\xBB\xBF\"a\nb\",c\nd,e\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for size := int64(1); size <= int64(len(tt.input)); size++ {
				checkCuts(t, []byte(tt.input), size)
			}
		})
	}
}

// FuzzCuts checks, on any input, that pieces are cut where the sequential
// parse ends records, however the file is chunked.
func FuzzCuts(f *testing.F) {
	f.Add([]byte("a,b\nx,15\" screen\nc,\"d\ne\"\n"), uint8(4))
	f.Add([]byte("\xEF\xBB\xBF\"a\nb\",c\nd\"e,\"f\ng\n"), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, size uint8) {
		if size == 0 || len(data) == 0 {
			return
		}
		checkCuts(t, data, int64(size))
	})
}
