package pinpointexport_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/segport/segport/internal/decode"
	"github.com/segport/segport/internal/pinpointexport"
	"github.com/segport/segport/internal/pinpointexport/exporttest"
	"github.com/segport/segport/pkg/endpoint"
)

// truncated is a gzip stream cut a few bytes after its first line.
func truncated() string {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(`{"Id":"a"}` + "\n"))
	zw.Flush()
	cut := buf.Len() + 5
	for i := range 100 {
		fmt.Fprintf(zw, "{\"Id\":\"b%d\"}\n", i)
	}
	zw.Close()
	return buf.String()[:cut]
}

func gz(s string) string {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(s))
	zw.Close()
	return buf.String()
}

// decodeAll returns the canonical endpoints and the row errors of an input, and
// its final error (nil at io.EOF).
func decodeAll(t *testing.T, input string, opts decode.Options) (eps, errs []string, final error, d *pinpointexport.Decoder) {
	t.Helper()
	d = pinpointexport.NewDecoder(strings.NewReader(input), opts)
	var _ decode.Decoder = d
	for {
		row, err := d.Decode()
		var re *decode.RowError
		switch {
		case err == io.EOF:
			return eps, errs, nil, d
		case errors.As(err, &re):
			errs = append(errs, re.Error())
		case err != nil:
			return eps, errs, err, d
		default:
			b, err := row.Endpoint.MarshalCanonical()
			if err != nil {
				t.Fatal(err)
			}
			eps = append(eps, string(b))
		}
	}
}

func TestDecode(t *testing.T) {
	full := `{"Address":"Ana@Example.com","ApplicationId":"app1","Attributes":{"tier":["gold"]},"ChannelType":"email","CohortId":"42",` +
		`"CreationDate":"20220101T000000Z","Demographic":{"Locale":"en-us","Timezone":"Europe/Lisbon"},"EffectiveDate":"2024-03-01T10:15:30+01:00",` +
		`"EndpointStatus":"INACTIVE","Id":"ep1","Location":{"Country":"pt","Latitude":38.7223,"Longitude":-9.1393},"Metrics":{"visits":3},` +
		`"OptOut":"ALL","RequestId":"r1","User":{"UserAttributes":{"FirstName":"Ana"},"UserId":"u1"}}`
	tests := []struct {
		name      string
		input     string
		want      []string
		wantErrs  []string
		wantFinal string
	}{
		{name: "every field, normalised as an import normalises",
			input: full + "\n",
			want: []string{`{"Id":"ep1","ChannelType":"EMAIL","Address":"ana@example.com","EndpointStatus":"INACTIVE","OptOut":"ALL",` +
				`"EffectiveDate":"2024-03-01T09:15:30.000Z","CreationDate":"2022-01-01T00:00:00.000Z","RequestId":"r1",` +
				`"Location":{"Country":"PRT","Latitude":38.7,"Longitude":-9.1},"Demographic":{"Locale":"en_US","Timezone":"Europe/Lisbon"},` +
				`"Attributes":{"tier":["gold"]},"Metrics":{"visits":3},"User":{"UserId":"u1","UserAttributes":{"FirstName":["Ana"]}}}`}},
		{name: "gzip", input: gz(full + "\n"), want: []string{`{"Id":"ep1",`}},
		{name: "gzip of several members (concatenated streams)", input: gz(`{"Id":"a"}`+"\n") + gz(`{"Id":"b"}`+"\n"),
			want: []string{`{"Id":"a"}`, `{"Id":"b"}`}},
		{name: "no address: the Id is enough", input: `{"Id":"in-app-1","ChannelType":"IN_APP","EndpointStatus":"ACTIVE"}`,
			want: []string{`{"Id":"in-app-1","ChannelType":"IN_APP","EndpointStatus":"ACTIVE"}`}},
		{name: "nulls, empty objects and empty strings are not given",
			input: `{"Id":"x","Address":"","Location":null,"Demographic":{},"Attributes":{},"Metrics":{},"User":{},"CreationDate":null}`,
			want:  []string{`{"Id":"x"}`}},
		{name: "unknown fields are ignored, at any depth",
			input: `{"Id":"x","NewField":{"a":[1,{"b":true}]},"Location":{"Country":"USA","Precision":"city"},"User":{"UserId":"u","Tags":["t"]}}`,
			want:  []string{`{"Id":"x","Location":{"Country":"USA"},"User":{"UserId":"u"}}`}},
		{name: "BOM and CRLF, blank lines", input: "\xEF\xBB\xBF" + `{"Id":"a"}` + "\r\n\r\n  \n" + `{"Id":"b"}` + "\r\n",
			want: []string{`{"Id":"a"}`, `{"Id":"b"}`}},
		{name: "an unknown alpha-2 code fails its row like an import",
			input:    `{"Id":"a","Location":{"Country":"XX"}}` + "\n" + `{"Id":"b","Location":{"Country":"UK"}}` + "\n" + `{"Id":"c","Location":{"Country":"GB"}}`,
			want:     []string{`{"Id":"c","Location":{"Country":"GBR"}}`},
			wantErrs: []string{`x.json:1: Location.Country: not an ISO 3166-1 country code`, `x.json:2: Location.Country: not an ISO 3166-1 country code (alpha-2 such as US, or alpha-3 such as USA); did you mean GB?`}},
		{name: "PUSH endpoints import as PUSH",
			input: `{"Id":"p1","ChannelType":"PUSH","Address":"tok-1","EndpointStatus":"ACTIVE","OptOut":"NONE"}` + "\n" + `{"Id":"p2","ChannelType":"push"}`,
			want:  []string{`{"Id":"p1","ChannelType":"PUSH","Address":"tok-1","EndpointStatus":"ACTIVE","OptOut":"NONE"}`, `{"Id":"p2","ChannelType":"PUSH"}`}},
		{name: "values the import refuses fail their row",
			input: `{"Id":"a","ChannelType":"PIGEON"}` + "\n" + `{"Id":"b","CreationDate":"yesterday"}` + "\n" +
				`{"Id":"c","OptOut":true}` + "\n" + `{"Id":"d","Metrics":{"m":[1]}}` + "\n" + `{"Id":"e","Location":"Lisbon"}` + "\n" +
				`{"ChannelType":"IN_APP"}`,
			wantErrs: []string{`x.json:1: ChannelType: not one of`, `x.json:2: CreationDate: not an ISO 8601 date-time`,
				`x.json:3: OptOut: expected a string or a number, not a boolean`, `x.json:4: Metrics.m: expected a single value, not a list`,
				`x.json:5: Location: expected an object`, `x.json:6: Address: missing`}},
		{name: "syntax errors fail their row, the next rows go on",
			input:    `{"Id":"a",}` + "\n" + `{"Id":"b"} x` + "\n" + `["Id"]` + "\n" + `{"Id":"c"` + "\n" + `{"Id":"d"}`,
			want:     []string{`{"Id":"d"}`},
			wantErrs: []string{`x.json:1: invalid JSON: column`, `x.json:2: invalid JSON: column 12: invalid character 'x' after top-level value`, `x.json:3: invalid JSON: column 1: expected an endpoint object`, `x.json:4: invalid JSON: column 9: unexpected end of JSON input`}},
		{name: "other compression is refused", input: "BZh91AY&SY", wantFinal: "x.json:1: the file is bzip2-compressed; a Pinpoint export is gzip-compressed or plain JSON"},
		{name: "a damaged gzip stream stops the file, keeping the rows before",
			input: truncated(), want: []string{`{"Id":"a"}`},
			wantFinal: "the gzip stream is damaged"},
		{name: "invalid UTF-8 stops the file", input: `{"Id":"a"}` + "\n" + "{\"Id\":\"\xff\"}\n",
			want: []string{`{"Id":"a"}`}, wantFinal: "x.json:2: invalid UTF-8 at byte 18 (0xff)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eps, errs, final, _ := decodeAll(t, tc.input, decode.Options{File: "x.json"})
			if len(eps) != len(tc.want) {
				t.Fatalf("endpoints %q, want %q (row errors %q, final %v)", eps, tc.want, errs, final)
			}
			for i := range eps {
				if !strings.HasPrefix(eps[i], tc.want[i]) {
					t.Errorf("endpoint %d = %s\nwant prefix %s", i, eps[i], tc.want[i])
				}
			}
			if len(errs) != len(tc.wantErrs) {
				t.Fatalf("row errors %q, want %q", errs, tc.wantErrs)
			}
			for i := range errs {
				if !strings.HasPrefix(errs[i], tc.wantErrs[i]) {
					t.Errorf("row error %d = %s\nwant prefix %s", i, errs[i], tc.wantErrs[i])
				}
			}
			switch {
			case tc.wantFinal == "" && final != nil:
				t.Errorf("final error %v", final)
			case tc.wantFinal != "" && (final == nil || !strings.Contains(final.Error(), tc.wantFinal)):
				t.Errorf("final error %v, want %q", final, tc.wantFinal)
			}
		})
	}
}

// TestDecodePiece reads an uncompressed export from a byte offset, as the parser
// reads a piece of a large one: line numbers go on, and no start-of-file checks.
func TestDecodePiece(t *testing.T) {
	eps, errs, final, _ := decodeAll(t, `{"Id":"b","Location":{"Country":"de"}}`+"\n"+`{"Id":"c","Metrics":{"m":"x"}}`+"\n",
		decode.Options{File: "x.json", Offset: 120, Line: 7})
	if final != nil || len(eps) != 1 || eps[0] != `{"Id":"b","Location":{"Country":"DEU"}}` ||
		len(errs) != 1 || !strings.HasPrefix(errs[0], "x.json:8: Metrics.m:") {
		t.Fatalf("endpoints %q, errors %q, final %v", eps, errs, final)
	}
}

// TestCounts checks what is counted as converted, kept and ignored: valid rows
// only, each field once per row.
func TestCounts(t *testing.T) {
	input := `{"Id":"a","ApplicationId":"p","CohortId":"1","CreationDate":"2024-01-01T00:00:00Z","Location":{"Country":"US"}}` + "\n" +
		`{"Id":"b","ApplicationId":"p","ApplicationId":"p","Extra":1,"Location":{"Country":"USA"}}` + "\n" +
		`{"Id":"c","ApplicationId":"p","Location":{"Country":"ZZ"}}` + "\n" +
		`{"Id":"d","Location":{"Country":"ca"}}` + "\n"
	_, errs, final, d := decodeAll(t, input, decode.Options{})
	if final != nil || len(errs) != 1 {
		t.Fatalf("errors %q, final %v", errs, final)
	}
	c := d.Counts()
	if got := mapString(c.Ignored); got != "ApplicationId=2 CohortId=1 Extra=1" {
		t.Errorf("Ignored %s", got)
	}
	if got := mapString(c.Converted); got != "Location.Country: CA -> CAN=1 Location.Country: US -> USA=1" {
		t.Errorf("Converted %s", got)
	}
	if got := mapString(c.Kept); got != "CreationDate=1" {
		t.Errorf("Kept %s", got)
	}

	// A deployment that stores alpha-2 keeps the export's codes and converts
	// alpha-3 ones.
	eps, _, _, d := decodeAll(t, input, decode.Options{Limits: endpoint.Limits{Country: endpoint.CountryAlpha2}})
	if got := mapString(d.Counts().Converted); got != "Location.Country: USA -> US=1" {
		t.Errorf("alpha-2 form: Converted %s", got)
	}
	if len(eps) != 3 || !strings.Contains(eps[0], `"Country":"US"`) || !strings.Contains(eps[2], `"Country":"CA"`) {
		t.Errorf("alpha-2 form: endpoints %q", eps)
	}
}

func mapString(m map[string]int) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+itoa(v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		if n /= 10; n == 0 {
			return string(b[i:])
		}
	}
}

// TestExportFixture decodes the realistic export: every endpoint, exactly as
// exported but for the alpha-3 countries (user attributes are the per-endpoint
// ones here; the merge across endpoints is the writer's, tested on the stack).
func TestExportFixture(t *testing.T) {
	dir := t.TempDir()
	paths, err := exporttest.Write(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range paths {
		body, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		eps, errs, final, d := decodeAll(t, string(body), decode.Options{File: p})
		if final != nil || len(errs) > 0 || !d.Gzipped() {
			t.Fatalf("%s: errors %q, final %v, gzipped %v", p, errs, final, d.Gzipped())
		}
		n += len(eps)
		if c := d.Counts(); c.Ignored["ApplicationId"] != len(eps) || c.Ignored["CohortId"] != len(eps) || c.Kept["CreationDate"] != len(eps) || len(c.Ignored) != 2 {
			t.Errorf("%s: counts %+v", p, c)
		}
	}
	if n != len(exporttest.Responses()) {
		t.Fatalf("%d endpoints, want %d", n, len(exporttest.Responses()))
	}
}

// exportLines is an uncompressed export of 10,000 endpoints.
func exportLines() string {
	var plain bytes.Buffer
	rs := exporttest.Responses()
	for i := range 10000 {
		r := rs[i%len(rs)]
		r.Id = fmt.Sprintf("%s-%05d", r.Id, i)
		plain.Write(exporttest.Line(r))
		plain.WriteByte('\n')
	}
	return plain.String()
}

func benchmarkDecode(b *testing.B, input string, size int) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		d := pinpointexport.NewDecoder(strings.NewReader(input), decode.Options{})
		for {
			if _, err := d.Decode(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkDecode reads a gzip export; bytes are those of the decompressed
// content. Compare with BenchmarkUnmarshalMap: the decoder decodes each line
// with encoding/json, then validates it.
func BenchmarkDecode(b *testing.B) {
	plain := exportLines()
	benchmarkDecode(b, gz(plain), len(plain))
}

func BenchmarkDecodePlain(b *testing.B) {
	plain := exportLines()
	benchmarkDecode(b, plain, len(plain))
}

// BenchmarkUnmarshalMap is the baseline: encoding/json unmarshalling each line
// of the same export into a map.
func BenchmarkUnmarshalMap(b *testing.B) {
	plain := exportLines()
	lines := strings.Split(strings.TrimSuffix(plain, "\n"), "\n")
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestImportFilesRefuseCreationDate: only an export gives CreationDate; the
// import format is unchanged.
func TestImportFilesRefuseCreationDate(t *testing.T) {
	if _, err := endpoint.Lookup("CreationDate"); err == nil {
		t.Error("Lookup resolves CreationDate")
	}
	_, err := decode.NewJSON(strings.NewReader(`{"Id":"x","CreationDate":"2024-01-01T00:00:00Z"}`+"\n"), decode.Options{}).Decode()
	if re := (*decode.RowError)(nil); !errors.As(err, &re) || re.Field != "CreationDate" {
		t.Errorf("an NDJSON import row with CreationDate: %v", err)
	}
	_, err = decode.NewCSV(strings.NewReader("Id,CreationDate\nx,2024-01-01\n"), decode.Options{}).Decode()
	if fe := (*decode.FileError)(nil); !errors.As(err, &fe) {
		t.Errorf("a CSV import with a CreationDate column: %v", err)
	}
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

// TestCutReadIsRetried: a read of the object cut short by the network is not a
// damaged file: the error comes back as it is, so that the piece is retried.
func TestCutReadIsRetried(t *testing.T) {
	src := io.MultiReader(strings.NewReader(truncated()), failingReader{io.ErrUnexpectedEOF})
	d := pinpointexport.NewDecoder(src, decode.Options{File: "x.json"})
	if row, err := d.Decode(); err != nil || row.Endpoint.Id != "a" {
		t.Fatalf("first row: %v", err)
	}
	_, err := d.Decode()
	var fe *decode.FileError
	if !errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &fe) {
		t.Errorf("cut read: %v, want io.ErrUnexpectedEOF and no FileError", err)
	}
}
