package decode

import (
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/segport/segport/internal/csvframe"
	"github.com/segport/segport/pkg/endpoint"
)

const (
	hdr  = "ChannelType,Address\n"
	sms1 = `{"ChannelType":"SMS","Address":"2065550182"}`
	sms2 = `{"ChannelType":"SMS","Address":"2065550183"}`
	sms3 = `{"ChannelType":"SMS","Address":"2065550184"}`
)

func TestCSV(t *testing.T) {
	big := strings.Repeat("x", 5000)
	runCases(t, CSV, []decodeCase{
		// Framing: line endings, BOM, blank lines.
		{name: "LF", input: hdr + "SMS,2065550182\nSMS,2065550183\n", want: []string{"2 " + sms1, "3 " + sms2}},
		{name: "CRLF", input: "ChannelType,Address\r\nSMS,2065550182\r\nSMS,2065550183\r\n", want: []string{"2 " + sms1, "3 " + sms2}},
		{name: "mixed line endings", input: "ChannelType,Address\r\nSMS,2065550182\nSMS,2065550183\r\n", want: []string{"2 " + sms1, "3 " + sms2}},
		{name: "no final newline", input: hdr + "SMS,2065550182", want: []string{"2 " + sms1}},
		{name: "BOM stripped", input: "\xEF\xBB\xBF" + hdr + "SMS,2065550182\n", want: []string{"2 " + sms1}},
		{name: "blank lines skipped", input: "\n" + hdr + "\n\r\nSMS,2065550182\n\n", want: []string{"5 " + sms1}},
		{name: "header only", input: hdr, want: nil},
		{name: "header spaces trimmed", input: " ChannelType , Address\n" + "SMS,2065550182\n", want: []string{"2 " + sms1}},
		{name: "quoted header", input: `"ChannelType","Address"` + "\nSMS,2065550182\n", want: []string{"2 " + sms1}},

		// RFC 4180 quoting.
		{name: "quoted comma", input: "ChannelType,Address,Location.City\nSMS,2065550182,\"Washington, D.C.\"\n",
			want: []string{`2 {"ChannelType":"SMS","Address":"2065550182","Location":{"City":"Washington, D.C."}}`}},
		{name: "quoted quotes", input: "ChannelType,Address,Demographic.Model\nSMS,2065550182,\"5\"\" screen\"\n",
			want: []string{`2 {"ChannelType":"SMS","Address":"2065550182","Demographic":{"Model":"5\" screen"}}`}},
		{name: "quoted empty", input: "ChannelType,Address,Demographic.Model\nSMS,2065550182,\"\"\n", want: []string{"2 " + sms1}},
		{name: "quoted line break keeps line numbers", input: "ChannelType,Address,Attributes.Note\nSMS,2065550182,\"a\nb\n\"\"c\"\"\"\nSMS,2065550183,x\n",
			want: []string{`2 {"ChannelType":"SMS","Address":"2065550182","Attributes":{"Note":["a\nb\n\"c\""]}}`, `5 {"ChannelType":"SMS","Address":"2065550183","Attributes":{"Note":["x"]}}`}},
		{name: "quoted CRLF becomes LF", input: "ChannelType,Address,Attributes.Note\r\nSMS,2065550182,\"a\r\nb\"\r\n",
			want: []string{`2 {"ChannelType":"SMS","Address":"2065550182","Attributes":{"Note":["a\nb"]}}`}},
		{name: "multi-line record before a bad row", input: "ChannelType,Address,Attributes.Note\nSMS,2065550182,\"one\ntwo\nthree\"\nSMS,,x\nSMS,2065550184,y\n",
			want: []string{`2 {"ChannelType":"SMS","Address":"2065550182","Attributes":{"Note":["one\ntwo\nthree"]}}`, "5 row ErrInvalidEndpoint",
				`6 {"ChannelType":"SMS","Address":"2065550184","Attributes":{"Note":["y"]}}`},
			wantErr: "in:5: Address: missing"},
		{name: "bad multi-line record", input: "ChannelType,Address,Attributes.Note\nSMS,2065550182,\"one\ntwo\",x\nSMS,2065550184,y\n",
			want:    []string{"2 row ErrFieldCount", `4 {"ChannelType":"SMS","Address":"2065550184","Attributes":{"Note":["y"]}}`},
			wantErr: "in:2: row has 4 fields, the header has 3"},
		{name: "text after closing quote", input: hdr + "SMS,\"2065550182\"x\nSMS,2065550183\n", want: []string{"2 row ErrSyntax", "3 " + sms2},
			wantErr: "in:2: column 17: text after the closing quote"},
		{name: "quote in unquoted field", input: hdr + "SMS,20655\"5\"0182\nSMS,2065550183\n", want: []string{"2 row ErrSyntax", "3 " + sms2},
			wantErr: "a double quote in an unquoted field"},
		{name: "stray quote in an unquoted field", input: "ChannelType,Address,Demographic.Model\nSMS,2065550182,15\" screen\nSMS,2065550183,x\nSMS,2065550184,\"y\"\n",
			want:    []string{"2 row ErrSyntax", `3 {"ChannelType":"SMS","Address":"2065550183","Demographic":{"Model":"x"}}`, `4 {"ChannelType":"SMS","Address":"2065550184","Demographic":{"Model":"y"}}`},
			wantErr: "in:2: column 18: a double quote in an unquoted field"},
		{name: "stray quote, then what would open a quoted field", input: "ChannelType,Address,Demographic.Model\nSMS,2065550182,a\"b,\"c\nSMS,2065550183,d\"\nSMS,2065550184,e\n",
			want: []string{"2 row ErrSyntax", "3 row ErrSyntax", `4 {"ChannelType":"SMS","Address":"2065550184","Demographic":{"Model":"e"}}`}},
		{name: "stray quote after a multi-line field", input: "ChannelType,Address,Attributes.a\nSMS,2065550182,\"x\ny\"z\"\nSMS,2065550183,w\n",
			want: []string{"2 row ErrSyntax", `4 {"ChannelType":"SMS","Address":"2065550183","Attributes":{"a":["w"]}}`}, wantErr: "text after the closing quote"},
		{name: "quote after a space", input: hdr + "SMS, \"2065550182\nSMS,2065550183\n", want: []string{"2 row ErrSyntax", "3 " + sms2}},
		{name: "unterminated quote", input: hdr + "SMS,2065550182\nSMS,\"2065550183\nSMS,2065550184\n",
			want: []string{"2 " + sms1, "file ErrUnterminatedQuote line 3 byte 35"}, wantErr: "in:3: a quoted field opened in the record starting on this line is never closed"},

		// Characters SQS cannot carry fail their row alone.
		{name: "U+FFFF in a value", input: hdr + "SMS,2065550182\uffff\nSMS,2065550183\n", want: []string{"2 row ErrInvalidEndpoint", "3 " + sms2},
			wantErr: "in:2: Address: value holds U+FFFF, a noncharacter that SQS cannot carry"},
		{name: "control character in a value", input: "ChannelType,Address,Location.City\nSMS,2065550182,a\x01b\nSMS,2065550183,\n",
			want: []string{"2 row ErrInvalidEndpoint", "3 " + sms2}, wantErr: "in:2: Location.City: value holds the control character U+0001"},
		{name: "control character in a quoted multi-line value", input: "ChannelType,Address,Location.City\nSMS,2065550182,\"a\n\x1f\"\nSMS,2065550183,\n",
			want: []string{"2 row ErrInvalidEndpoint", "4 " + sms2}, wantErr: "in:2: Location.City: value holds the control character U+001F"},
		{name: "tab and non-ASCII are carried", input: "ChannelType,Address,Location.City\nSMS,2065550182,a\tb\u00e9\n",
			want: []string{"2 {\"ChannelType\":\"SMS\",\"Address\":\"2065550182\",\"Location\":{\"City\":\"a\\tb\u00e9\"}}"}},

		// Rows and fields.
		{name: "too few fields", input: hdr + "SMS\nSMS,2065550183\n", want: []string{"2 row ErrFieldCount", "3 " + sms2}, wantErr: "row has 1 fields, the header has 2"},
		{name: "too many fields", input: hdr + "SMS,2065550182,x\nSMS,2065550183\n", want: []string{"2 row ErrFieldCount", "3 " + sms2}},
		{name: "decoding goes on after row errors", input: hdr + "SMS,1\nFAX,2065550182\nSMS,2065550183\n,\nSMS,2065550184\n",
			want: []string{"2 row ErrInvalidEndpoint", "3 row ErrInvalidEndpoint", "4 " + sms2, "5 row ErrInvalidEndpoint", "6 " + sms3}},
		{name: "update by Id", input: "Id,Demographic.Make\nep-1,LG\n", want: []string{`2 {"Id":"ep-1","Demographic":{"Make":"LG"}}`}},
		{name: "values trimmed", input: hdr + " SMS , 2065550182 \n", want: []string{"2 " + sms1}},
		{name: "repeated Attributes header adds values", input: "ChannelType,Address,Attributes.i,Attributes.i,Attributes.i\nSMS,2065550182,a,,\"b,c\"\n",
			want: []string{`2 {"ChannelType":"SMS","Address":"2065550182","Attributes":{"i":["a","b,c"]}}`}},
		{name: "repeated user attributes header adds values", input: "ChannelType,Address,User.UserId,User.UserAttributes.n,User.UserAttributes.n\nSMS,2065550182,u,a,b\n",
			want: []string{`2 {"ChannelType":"SMS","Address":"2065550182","User":{"UserId":"u","UserAttributes":{"n":["a","b"]}}}`}},
		{name: "limits from options", input: "ChannelType,Address,Attributes.a,Attributes.b\nSMS,2065550182,1,2\nSMS,2065550183,1,\n",
			opts: Options{Limits: endpoint.Limits{AttributesPerEndpoint: 1}},
			want: []string{"2 row ErrInvalidEndpoint", `3 {"ChannelType":"SMS","Address":"2065550183","Attributes":{"a":["1"]}}`}, wantErr: "in:2: Attributes.b: more than 1 custom attributes in Attributes"},
		{name: "attribute bytes from options", input: "ChannelType,Address,Attributes.a,Attributes.a\nSMS,2065550182,xxxxxx,yyyyyy\nSMS,2065550183,x,\n",
			opts: Options{Limits: endpoint.Limits{AttributeBytes: 12}},
			want: []string{"2 row ErrInvalidEndpoint", `3 {"ChannelType":"SMS","Address":"2065550183","Attributes":{"a":["x"]}}`}, wantErr: "in:2: Attributes.a: name and values take more than 12 bytes"},
		{name: "row over the row limit", input: hdr + "SMS,2065550182\nSMS," + big + "\nSMS,2065550183\n", opts: Options{RowLimit: 1000},
			want: []string{"2 " + sms1, "3 row ErrRowTooLong", "4 " + sms2}, wantErr: "in:3: row is longer than the 1000-byte limit"},
		{name: "quoted row over the row limit", input: hdr + "SMS,\"" + big + "\n" + big + "\"\nSMS,2065550183\n", opts: Options{RowLimit: 1000},
			want: []string{"2 row ErrRowTooLong", "4 " + sms2}},

		// Header problems stop the file.
		{name: "empty file", input: "", want: []string{"file ErrEmptyHeader line 1 byte -1"}, wantErr: "the file is empty"},
		{name: "blank file", input: "\n\r\n", want: []string{"file ErrEmptyHeader line 1 byte -1"}},
		{name: "unknown header with suggestion", input: "ChannelType,Address,Demographic.make\nSMS,2065550182,LG\n",
			want: []string{"file ErrUnknownHeader line 1 byte -1"}, wantErr: "in:1: header column 3: unknown attribute, did you mean Demographic.Make?"},
		{name: "unknown header", input: "ChannelType,Address,Favourite colour\n", want: []string{"file ErrUnknownHeader line 1 byte -1"},
			wantErr: "in:1: header column 3: unknown attribute"},
		// A file without its header: the first line is data, and no part of it is repeated.
		{name: "headerless, address first", input: "jane.doe@example.com,EMAIL\n", want: []string{"file ErrUnknownHeader line 1 byte -1"},
			wantErr: "in:1: header column 1: unknown attribute (the first line must be the header row of attribute names, such as ChannelType,Address)"},
		{name: "misspelt family", input: "ChannelType,Address,Atributes.jane@example.com\n", want: []string{"file ErrUnknownHeader line 1 byte -1"},
			wantErr: "in:1: header column 3: unknown attribute, did you mean Attributes.<name>?"},
		{name: "unknown header names the custom families", input: "ChannelType,Address,FavouriteColour\nSMS,2065550182,blue\n", want: []string{"file ErrUnknownHeader line 1 byte -1"},
			wantErr: "in:1: header column 3: unknown attribute; custom attributes are named Attributes.<name>, Metrics.<name> or User.UserAttributes.<name>"},
		{name: "empty header column", input: "ChannelType,,Address\n", want: []string{"file ErrUnknownHeader line 1 byte -1"}, wantErr: "header column 2 is empty"},
		{name: "duplicated header", input: "ChannelType,Address,ChannelType\n", want: []string{"file ErrDuplicateHeader line 1 byte -1"},
			wantErr: "ChannelType: duplicated header (column 3)"},
		{name: "duplicated metric header", input: "ChannelType,Address,Metrics.m,Metrics.m\n", want: []string{"file ErrDuplicateHeader line 1 byte -1"}},
		{name: "semicolon-delimited", input: "ChannelType;Address\nSMS;2065550182\n", want: []string{"file ErrDelimiter line 1 byte -1"},
			wantErr: "the header looks semicolon-delimited"},
		{name: "tab-delimited", input: "ChannelType\tAddress\nSMS\t2065550182\n", want: []string{"file ErrDelimiter line 1 byte -1"},
			wantErr: "the header looks tab-delimited"},
		{name: "header syntax", input: "ChannelType,\"Address\"x\n", want: []string{"file ErrSyntax line 1 byte -1"}},
		{name: "header over the row limit", input: "ChannelType," + big + "\n", opts: Options{RowLimit: 1000}, want: []string{"file ErrRowTooLong line 1 byte -1"}},

		// Encoding problems stop the file, located by line and byte.
		{name: "gzip", input: "\x1f\x8b\x08\x00rest", want: []string{"file ErrCompressed line 1 byte 0"}, wantErr: "the file is gzip-compressed"},
		{name: "zip", input: "PK\x03\x04rest", want: []string{"file ErrCompressed line 1 byte 0"}, wantErr: "zip-compressed"},
		{name: "bzip2", input: "BZh91AY&SY", want: []string{"file ErrCompressed line 1 byte 0"}, wantErr: "bzip2-compressed"},
		{name: "zstd", input: "\x28\xb5\x2f\xfdrest", want: []string{"file ErrCompressed line 1 byte 0"}, wantErr: "zstd-compressed"},
		{name: "UTF-16", input: "\xff\xfeC\x00h\x00", want: []string{"file ErrNotUTF8 line 1 byte 0"}, wantErr: "UTF-16"},
		{name: "Latin-1 row", input: hdr + "SMS,2065550182\nSMS,20655\xe950183\n",
			want: []string{"2 " + sms1, "file ErrNotUTF8 line 3 byte 44"}, wantErr: "in:3: invalid UTF-8 at byte 44 (0xe9)"},
		{name: "Latin-1 after BOM", input: "\xEF\xBB\xBF" + hdr + "SMS,\xe9\n", want: []string{"file ErrNotUTF8 line 2 byte 27"}},
		{name: "Latin-1 inside a multi-line field", input: "ChannelType,Address,Attributes.a\nSMS,2065550182,\"x\ny\xff\"\n",
			want: []string{"file ErrNotUTF8 line 3 byte 52"}},
		{name: "Latin-1 header", input: "ChannelType,Addr\xe9ss\n", want: []string{"file ErrNotUTF8 line 1 byte 16"}},
	})
}

// FuzzSplit checks the field splitting against encoding/csv: on any record
// encoding/csv reads as one, split gives the same fields, and it refuses what
// encoding/csv refuses.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{`a,b,c`, `"a,b",c`, `"say ""hi""",x`, "\"two\r\nlines\",y", `a"b,c`, `"a"b,c`, `,,`, `"`, `""`, `x,"y"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rec string) {
		state := csvframe.FieldStart
		for i := range rec {
			if (rec[i] == '\n' || rec[i] == '\r') && state != csvframe.Quoted {
				return // a line ending outside quotes: the reader ends the record there
			}
			state = state.Next(rec[i])
		}
		r := csv.NewReader(strings.NewReader(rec + "\n"))
		r.FieldsPerRecord = -1
		want, err := r.Read()
		if err == io.EOF {
			return // a blank line, which the reader skips before split
		}
		if err == nil {
			if _, next := r.Read(); next != io.EOF {
				return // more than one record: not split's input
			}
		}
		d := NewCSV(strings.NewReader(""), Options{})
		text, _, msg := d.split([]byte(rec))
		if (err != nil) != (msg != "") {
			t.Fatalf("%q: encoding/csv says %v, split says %q", rec, err, msg)
		}
		if err != nil {
			return
		}
		got := make([]string, len(d.fields))
		for i, sp := range d.fields {
			got[i] = text[sp.Start:sp.End]
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%q: split gives %q, encoding/csv %q", rec, got, want)
		}
	})
}

// FuzzRecords checks the decoder's framing against encoding/csv on files with
// stray quotes: it reads the same records, bad ones included, so one stray
// quote fails one record, and an error in one never moves where the next
// starts.
func FuzzRecords(f *testing.F) {
	for _, s := range []string{"a,b\nc,d\n", "x,15\" screen\ny,z\n", "a\"b,\"c\nd\"\ne\n", "\"a\"b,\"c\nd\"\n",
		"\"q\nuoted\",\"\"\"\"\r\n\r\nx\n", " \"a\n\"b\"\n", "\"open\nx\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		if !utf8.ValidString(data) {
			return // a FileError, not framing
		}
		if !strings.HasSuffix(data, "\n") {
			data += "\n" // encoding/csv skips a lone CR at the end, the decoder does not
		}
		var want []string
		r := csv.NewReader(strings.NewReader(data))
		r.FieldsPerRecord = -1
		for start := 0; ; {
			_, err := r.Read()
			if err == io.EOF {
				break
			}
			end := int(r.InputOffset())
			rec := data[start:end]
			for strings.HasPrefix(rec, "\n") || strings.HasPrefix(rec, "\r\n") { // blank lines before it
				rec = rec[strings.IndexByte(rec, '\n')+1:]
			}
			want = append(want, string(trimEOL([]byte(rec))))
			start = end
		}
		d := NewCSV(strings.NewReader(data), Options{Header: []string{"Id"}, Offset: 1, RowLimit: len(data) + 1})
		var got []string
		for {
			row, err := d.Decode()
			if errors.Is(err, ErrUnterminatedQuote) && len(want) > 0 {
				want = want[:len(want)-1] // encoding/csv fails it as a record that runs to the end
				break
			}
			if err == io.EOF {
				break
			}
			if row == nil {
				t.Fatalf("%q: %v", data, err)
			}
			got = append(got, string(row.Raw))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%q: records\n%q\nencoding/csv's\n%q", data, got, want)
		}
	})
}
