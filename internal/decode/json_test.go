package decode

import (
	"strings"
	"testing"
)

func TestJSON(t *testing.T) {
	const (
		j1 = `{"ChannelType":"SMS","Address":"2065550182"}`
		j2 = `{"ChannelType":"SMS","Address":"2065550183"}`
	)
	big := strings.Repeat("x", 5000)
	runCases(t, JSON, []decodeCase{
		// Framing.
		{name: "LF", input: j1 + "\n" + j2 + "\n", want: []string{"1 " + sms1, "2 " + sms2}},
		{name: "CRLF", input: j1 + "\r\n" + j2 + "\r\n", want: []string{"1 " + sms1, "2 " + sms2}},
		{name: "no final newline", input: j1, want: []string{"1 " + sms1}},
		{name: "BOM stripped", input: "\xEF\xBB\xBF" + j1 + "\n", want: []string{"1 " + sms1}},
		{name: "blank lines skipped", input: "\n" + j1 + "\n  \n\r\n" + j2 + "\n\n", want: []string{"2 " + sms1, "5 " + sms2}},
		{name: "empty file", input: "", want: nil},
		{name: "white space inside", input: " { \"ChannelType\" : \"SMS\" ,\t\"Address\":\"2065550182\" } \n", want: []string{"1 " + sms1}},

		// The endpoint shape: nested objects, dotted keys, lists and numbers.
		{name: "nested", input: `{"ChannelType":"SMS","Address":"2065550182","Location":{"Country":"usa","Latitude":47.6062,"Longitude":"-122.3321"},"Demographic":{"Make":"LG"}}`,
			want: []string{`1 {"ChannelType":"SMS","Address":"2065550182","Location":{"Country":"USA","Latitude":47.6,"Longitude":-122.3},"Demographic":{"Make":"LG"}}`}},
		{name: "dotted keys", input: `{"ChannelType":"SMS","Address":"2065550182","Location.Country":"USA","User.UserAttributes.n":"a","User.UserId":"u"}`,
			want: []string{`1 {"ChannelType":"SMS","Address":"2065550182","Location":{"Country":"USA"},"User":{"UserId":"u","UserAttributes":{"n":["a"]}}}`}},
		{name: "lists", input: `{"ChannelType":"SMS","Address":"2065550182","Attributes":{"i":["a","b, c"],"j":"single","k":[]},"User":{"UserId":"u","UserAttributes":{"n":["x"]}}}`,
			want: []string{`1 {"ChannelType":"SMS","Address":"2065550182","Attributes":{"i":["a","b, c"],"j":["single"]},"User":{"UserId":"u","UserAttributes":{"n":["x"]}}}`}},
		{name: "metrics", input: `{"ChannelType":"SMS","Address":"2065550182","Metrics":{"a":12,"b":-1.5e2,"c":"7","d":0}}`,
			want: []string{`1 {"ChannelType":"SMS","Address":"2065550182","Metrics":{"a":12,"b":-150,"c":7,"d":0}}`}},
		{name: "nulls are absent", input: `{"ChannelType":"SMS","Address":"2065550182","OptOut":null,"Location":null,"Attributes":{"a":null,"b":[null]}}`, want: []string{"1 " + sms1}},
		{name: "numbers for strings", input: `{"ChannelType":"SMS","Address":2065550182}`, want: []string{"1 " + sms1}},
		{name: "escapes", input: `{"ChannelType":"SMS","Address":"2065550182","Attributes":{"n\u00e9":["a\"b\\c\/d\ne\tf","\ud83d\ude00"]}}`,
			want: []string{`1 {"ChannelType":"SMS","Address":"2065550182","Attributes":{"né":["a\"b\\c/d\ne\tf","😀"]}}`}},
		{name: "unknown member of a group keeps other lines", input: `{"ChannelType":"SMS","Address":"2065550182","Demographic":{"make":"LG"}}` + "\n" + j2,
			want: []string{"1 row ErrInvalidEndpoint", "2 " + sms2}, wantErr: "in:1: Demographic.make: did you mean Demographic.Make?"},
		{name: "unknown key", input: `{"ChannelType":"SMS","Address":"2065550182","Colour":{"a":[1,{"b":true}]}}`, want: []string{"1 row ErrInvalidEndpoint"}, wantErr: "Colour: unknown attribute"},
		{name: "update by Id", input: `{"Id":"ep-1","EndpointStatus":"inactive"}`, want: []string{`1 {"Id":"ep-1","EndpointStatus":"INACTIVE"}`}},
		{name: "empty object", input: `{}`, want: []string{"1 row ErrInvalidEndpoint"}, wantErr: "Id: missing"},

		// Characters SQS cannot carry, escaped, fail their row alone.
		{name: "escaped U+FFFF", input: `{"ChannelType":"SMS","Address":"2065550182","Location":{"City":"\uFFFF"}}` + "\n" + j2,
			want: []string{"1 row ErrInvalidEndpoint", "2 " + sms2}, wantErr: "in:1: Location.City: value holds U+FFFF"},
		{name: "escaped control character", input: `{"ChannelType":"SMS","Address":"2065550182","Attributes":{"a":["x","\b"]}}` + "\n" + j2,
			want: []string{"1 row ErrInvalidEndpoint", "2 " + sms2}, wantErr: "in:1: Attributes.a: value holds the control character U+0008"},
		{name: "escaped U+FFFF in a name", input: `{"ChannelType":"SMS","Address":"2065550182","Metrics":{"\uffff":1}}` + "\n" + j2,
			want: []string{"1 row ErrInvalidEndpoint", "2 " + sms2}, wantErr: "name holds U+FFFF"},
		{name: "metric out of DynamoDB's range", input: `{"ChannelType":"SMS","Address":"2065550182","Metrics":{"m":1e200}}` + "\n" + j2,
			want: []string{"1 row ErrInvalidEndpoint", "2 " + sms2}, wantErr: "in:1: Metrics.m: number out of DynamoDB's range"},

		// Values of the wrong shape are row errors.
		{name: "boolean", input: `{"ChannelType":"SMS","Address":"2065550182","OptOut":true}`, want: []string{"1 row ErrInvalidEndpoint"}, wantErr: "OptOut: expected a string or a number, not a boolean"},
		{name: "list for a single value", input: `{"ChannelType":["SMS"],"Address":"2065550182"}`, want: []string{"1 row ErrInvalidEndpoint"}, wantErr: "ChannelType: expected a single value, not a list"},
		{name: "list for a metric", input: `{"Id":"x","Metrics":{"m":[1,2]}}`, want: []string{"1 row ErrInvalidEndpoint"}, wantErr: "Metrics.m: expected a single value"},
		{name: "object for a value", input: `{"ChannelType":"SMS","Address":{"x":1}}`, want: []string{"1 row ErrInvalidEndpoint"}, wantErr: "Address: expected a string or a number, not an object"},
		{name: "object for a custom attribute", input: `{"Id":"x","Attributes":{"a":{"b":"c"}}}`, want: []string{"1 row ErrInvalidEndpoint"}, wantErr: "Attributes.a: expected a string or a list of strings, not an object"},
		{name: "scalar for a group", input: `{"Id":"x","Location":"USA"}`, want: []string{"1 row ErrInvalidEndpoint"}, wantErr: "Location: expected an object"},
		{name: "object in a list", input: `{"Id":"x","Attributes":{"a":[{"b":1}]}}`, want: []string{"1 row ErrInvalidEndpoint"}, wantErr: "Attributes.a: expected a string or a number"},
		{name: "given twice", input: `{"ChannelType":"SMS","Address":"2065550182","Location":{"Country":"USA"},"Location.Country":"CAN"}`, want: []string{"1 row ErrInvalidEndpoint"}, wantErr: "Location.Country: given more than once"},
		{name: "invalid value", input: `{"ChannelType":"SMS","Address":"2065550182","Location":{"Country":"UK"}}`, want: []string{"1 row ErrInvalidEndpoint"}, wantErr: "Location.Country: not an ISO 3166-1 country code (alpha-2 such as US, or alpha-3 such as USA); did you mean GB?"},

		// Syntax errors are row errors; the next line is decoded.
		{name: "not an object", input: "[1,2]\n" + j2, want: []string{"1 row ErrSyntax", "2 " + sms2}, wantErr: "in:1: invalid JSON at column 1: expected an object"},
		{name: "truncated", input: `{"ChannelType":"SMS"` + "\n" + j2, want: []string{"1 row ErrSyntax", "2 " + sms2}, wantErr: "expected ',' or '}'"},
		{name: "text after the object", input: j1 + " x\n" + j2, want: []string{"1 row ErrSyntax", "2 " + sms2}, wantErr: "text after the endpoint object"},
		{name: "two objects on a line", input: j1 + j2, want: []string{"1 row ErrSyntax"}},
		{name: "unterminated string", input: `{"ChannelType":"SMS`, want: []string{"1 row ErrSyntax"}, wantErr: "string is not closed"},
		{name: "control character in a string", input: "{\"ChannelType\":\"S\tMS\"}", want: []string{"1 row ErrSyntax"}, wantErr: "control character in a string"},
		{name: "bad escape", input: `{"ChannelType":"S\qMS"}`, want: []string{"1 row ErrSyntax"}, wantErr: "invalid escape sequence"},
		{name: "bad unicode escape", input: `{"ChannelType":"S\u00zzMS"}`, want: []string{"1 row ErrSyntax"}, wantErr: `invalid \u escape`},
		{name: "bad number", input: `{"Id":"x","Metrics":{"m":1.}}`, want: []string{"1 row ErrSyntax"}, wantErr: "invalid number"},
		{name: "bad literal", input: `{"Id":"x","OptOut":nul}`, want: []string{"1 row ErrSyntax"}, wantErr: "invalid literal"},
		{name: "missing colon", input: `{"Id" "x"}`, want: []string{"1 row ErrSyntax"}, wantErr: "expected ':'"},
		{name: "deep nesting is bounded", input: `{"X":` + strings.Repeat("[", 100000) + "\n" + j2, want: []string{"1 row ErrSyntax", "2 " + sms2}, wantErr: "nested too deeply"},
		{name: "row over the row limit", input: j1 + "\n" + `{"Id":"` + big + `"}` + "\n" + j2, opts: Options{RowLimit: 1000},
			want: []string{"1 " + sms1, "2 row ErrRowTooLong", "3 " + sms2}, wantErr: "in:2: row is longer than the 1000-byte limit"},

		// Encoding problems stop the file.
		{name: "gzip", input: "\x1f\x8b\x08\x00rest", want: []string{"file ErrCompressed line 1 byte 0"}, wantErr: "gzip-compressed"},
		{name: "zip", input: "PK\x03\x04rest", want: []string{"file ErrCompressed line 1 byte 0"}, wantErr: "zip-compressed"},
		{name: "bzip2", input: "BZh91AY&SY", want: []string{"file ErrCompressed line 1 byte 0"}, wantErr: "bzip2-compressed"},
		{name: "zstd", input: "\x28\xb5\x2f\xfdrest", want: []string{"file ErrCompressed line 1 byte 0"}, wantErr: "zstd-compressed"},
		{name: "Latin-1", input: j1 + "\n" + `{"ChannelType":"SMS","Address":"Jos` + "\xe9" + `"}`, want: []string{"1 " + sms1, "file ErrNotUTF8 line 2 byte 80"},
			wantErr: "in:2: invalid UTF-8 at byte 80 (0xe9)"},
	})
}
