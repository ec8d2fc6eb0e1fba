package decode

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/segport/segport/pkg/endpoint"
)

// decodeCase is one row of the decoder tables: an input file, what each of its
// records becomes and a substring of the error messages.
type decodeCase struct {
	name    string
	input   string
	opts    Options
	want    []string // per record: "<line> <canonical JSON>", "<line> row <ErrX>" or "file <ErrX> line <n> byte <n>"
	wantErr string   // a substring of the errors' messages
}

var sentinels = []struct {
	name string
	err  error
}{
	{"ErrCompressed", ErrCompressed}, {"ErrNotUTF8", ErrNotUTF8}, {"ErrUnknownHeader", ErrUnknownHeader},
	{"ErrDuplicateHeader", ErrDuplicateHeader}, {"ErrDelimiter", ErrDelimiter},
	{"ErrUnterminatedQuote", ErrUnterminatedQuote}, {"ErrEmptyHeader", ErrEmptyHeader},
	{"ErrRowTooLong", ErrRowTooLong}, {"ErrFieldCount", ErrFieldCount}, {"ErrSyntax", ErrSyntax},
	{"ErrInvalidEndpoint", ErrInvalidEndpoint},
}

func sentinel(err error) string {
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	return "no sentinel"
}

// canonical returns the endpoint's canonical JSON, leaving out a derived Id.
func canonical(t testing.TB, e *endpoint.Endpoint) string {
	b, err := e.MarshalCanonical()
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if e.ChannelType != "" && e.Address != "" && e.Id == endpoint.DerivedId(e.ChannelType, e.Address) {
		s = strings.Replace(s, `"Id":"`+e.Id+`",`, "", 1)
	}
	return s
}

// results decodes everything d gives and describes each record as decodeCase.want does.
func results(t testing.TB, d Decoder) (got []string, msgs []string) {
	t.Helper()
	for range 100000 {
		row, err := d.Decode()
		if err == io.EOF {
			if _, again := d.Decode(); again != io.EOF {
				t.Fatalf("Decode after io.EOF returned %v", again)
			}
			return got, msgs
		}
		var re *RowError
		var fe *FileError
		switch {
		case err == nil:
			got = append(got, fmt.Sprintf("%d %s", row.Line, canonical(t, row.Endpoint)))
			continue
		case errors.As(err, &re):
			if row == nil || row.Line != re.Line || row.Endpoint != nil {
				t.Fatalf("row error %v came with row %+v", err, row)
			}
			got = append(got, fmt.Sprintf("%d row %s", re.Line, sentinel(err)))
			msgs = append(msgs, err.Error())
			continue
		case errors.As(err, &fe):
			got = append(got, fmt.Sprintf("file %s line %d byte %d", sentinel(err), fe.Line, fe.Byte))
			msgs = append(msgs, err.Error())
			if _, again := d.Decode(); again != err {
				t.Fatalf("Decode after a FileError returned %v, want the same error", again)
			}
			return got, msgs
		default:
			t.Fatalf("Decode returned %T %v: want a *RowError, a *FileError or io.EOF", err, err)
		}
	}
	t.Fatal("decoding does not end")
	return nil, nil
}

func runCases(t *testing.T, f Format, tests []decodeCase) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			if opts.File == "" {
				opts.File = "in"
			}
			got, msgs := results(t, New(f, strings.NewReader(tt.input), opts))
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
			// want already says which records fail and how; wantErr checks a message.
			if all := strings.Join(msgs, "\n"); !strings.Contains(all, tt.wantErr) {
				t.Errorf("errors:\n%s\nwant one containing %q", all, tt.wantErr)
			}
		})
	}
}

func TestPrintableAndClean(t *testing.T) {
	tests := []struct {
		name             string
		input            string
		printable, clean bool
	}{
		{name: "empty", input: "", printable: true, clean: true},
		{name: "ASCII", input: strings.Repeat("SMS,2065550182,\"a b\"~\x7f", 5), printable: true, clean: true},
		{name: "tab", input: strings.Repeat("x", 40) + "\t", printable: false, clean: true},
		{name: "line break in a word", input: "abcdefg\nabcdefgh", printable: false, clean: true},
		{name: "control in the tail", input: strings.Repeat("x", 33) + "\x01", printable: false, clean: false},
		{name: "control in a word", input: "abc\x1fdefgh", printable: false, clean: false},
		{name: "NUL in a 32-byte block", input: strings.Repeat("y", 20) + "\x00" + strings.Repeat("y", 20), printable: false, clean: false},
		{name: "non-ASCII", input: "Zo\u00eb,S\u00e3o Paulo,\U0001F600,\ufffd", printable: false, clean: true},
		{name: "U+FFFF", input: "a\uffffb", printable: false, clean: false},
		{name: "U+FFFE at the end", input: "a\ufffe", printable: false, clean: false},
		{name: "U+FFEF", input: "\uffef", printable: false, clean: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := printable([]byte(tt.input)); got != tt.printable {
				t.Errorf("printable = %v, want %v", got, tt.printable)
			}
			if got := clean([]byte(tt.input)); got != tt.clean {
				t.Errorf("clean = %v, want %v", got, tt.clean)
			}
		})
	}
}
