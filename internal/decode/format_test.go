package decode

import (
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestFormats(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    Format
		wantErr bool
	}{
		{name: "csv", input: "csv", want: CSV},
		{name: "CSV", input: "CSV", want: CSV},
		{name: "json", input: "json", want: JSON},
		{name: "ndjson", input: "NDJSON", want: JSON},
		{name: "jsonl", input: "jsonl", want: JSON},
		{name: "xml", input: "xml", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFormat(tt.input)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseFormat(%q) = %q, %v", tt.input, got, err)
			}
		})
	}
}

func TestFormatOf(t *testing.T) {
	tests := []struct {
		input string
		want  Format
		ok    bool
	}{
		{"imports/seg/a.csv", CSV, true}, {"A.CSV", CSV, true}, {"x.json", JSON, true}, {"x.ndjson", JSON, true},
		{"x.jsonl", JSON, true}, {"x.txt", "", false}, {"x.csv.gz", "", false}, {"noext", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			got, ok := FormatOf(tt.input)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("FormatOf(%q) = %q, %v", tt.input, got, ok)
			}
		})
	}
}

func TestSniffAndCompression(t *testing.T) {
	tests := []struct {
		name        string
		input       string
		want        Format
		compression string
	}{
		{name: "json", input: `{"Id":"x"}`, want: JSON},
		{name: "json after BOM and blank lines", input: "\xEF\xBB\xBF\r\n  {", want: JSON},
		{name: "csv", input: "ChannelType,Address", want: CSV},
		{name: "empty", input: "", want: CSV},
		{name: "gzip", input: "\x1f\x8b\x08", want: CSV, compression: "gzip"},
		{name: "zip", input: "PK\x03\x04", want: CSV, compression: "zip"},
		{name: "empty zip", input: "PK\x05\x06", want: CSV, compression: "zip"},
		{name: "bzip2", input: "BZh9", want: CSV, compression: "bzip2"},
		{name: "not bzip2", input: "BZh,", want: CSV},
		{name: "zstd", input: "\x28\xb5\x2f\xfd", want: CSV, compression: "zstd"},
		{name: "xz", input: "\xfd7zXZ\x00", want: CSV, compression: "xz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sniff([]byte(tt.input)); got != tt.want {
				t.Errorf("Sniff = %q, want %q", got, tt.want)
			}
			if got := Compression([]byte(tt.input)); got != tt.compression {
				t.Errorf("Compression = %q, want %q", got, tt.compression)
			}
		})
	}
}

func TestRawRecord(t *testing.T) {
	long := strings.Repeat("y", 3*rawKeep)
	tests := []struct {
		name  string
		f     Format
		input string
		opts  Options
		want  string
	}{
		{name: "csv without line ending", f: CSV, input: hdr + "SMS,1\r\n", want: "SMS,1"},
		{name: "csv multi-line", f: CSV, input: hdr + "SMS,\"1\n2\"\n", want: "SMS,\"1\n2\""},
		{name: "csv over the limit keeps the start", f: CSV, input: hdr + "SMS," + long + "\n", opts: Options{RowLimit: 2 * rawKeep}, want: ("SMS," + long)[:rawKeep]},
		{name: "json", f: JSON, input: "{\"Id\":true}\n", want: `{"Id":true}`},
		{name: "json over the limit keeps the start", f: JSON, input: `{"Id":"` + long + "\"}\n", opts: Options{RowLimit: 2 * rawKeep}, want: (`{"Id":"` + long)[:rawKeep]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row, err := New(tt.f, strings.NewReader(tt.input), tt.opts).Decode()
			if !IsRowError(err) {
				t.Fatalf("got %v, want a row error", err)
			}
			if string(row.Raw) != tt.want {
				t.Fatalf("Raw = %.80q (%d bytes), want %.80q (%d bytes)", row.Raw, len(row.Raw), tt.want, len(tt.want))
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"row", &RowError{File: "a.csv", Line: 3, Field: "OptOut", Msg: "bad", Err: ErrInvalidEndpoint}, "a.csv:3: OptOut: bad"},
		{"file with field", &FileError{File: "a.csv", Line: 1, Field: "Demographic.make", Msg: "did you mean Demographic.Make?"}, "a.csv:1: Demographic.make: did you mean Demographic.Make?"},
		{"row without file", &RowError{Line: 3, Msg: "bad"}, "3: bad"},
		{"file", &FileError{File: "a.csv", Line: 1, Byte: 0, Msg: "compressed", Err: ErrCompressed}, "a.csv:1: compressed"},
		{"file without line", &FileError{File: "a.csv", Byte: -1, Msg: "x"}, "a.csv: x"},
		{"file alone", &FileError{Msg: "x"}, "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// endless repeats one byte forever.
type endless byte

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(e)
	}
	return len(p), nil
}

// TestOverlongRowMemory decodes a 64 MiB row: it is a row error, the next row is
// decoded, and the decoder allocates about the row limit, not the row.
func TestOverlongRowMemory(t *testing.T) {
	for _, f := range []Format{CSV, JSON} {
		t.Run(string(f), func(t *testing.T) {
			head := hdr + "SMS,"
			if f == JSON {
				head = `{"Id":"`
			}
			tail := "\nSMS,2065550183\n"
			if f == JSON {
				tail = "\"}\n" + `{"ChannelType":"SMS","Address":"2065550183"}` + "\n"
			}
			in := io.MultiReader(strings.NewReader(head), io.LimitReader(endless('x'), 64<<20), strings.NewReader(tail))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			got, _ := results(t, New(f, in, Options{}))
			runtime.ReadMemStats(&after)
			first := 2
			if f == JSON {
				first = 1
			}
			want := []string{strconv.Itoa(first) + " row ErrRowTooLong", strconv.Itoa(first+1) + " " + sms2}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("got %q, want %q", got, want)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
				t.Fatalf("allocated %d MiB for a 64 MiB row with a 1 MiB row limit", n>>20)
			}
		})
	}
}
