package endpoint

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

// AppendJSON must write what encoding/json writes, with HTML escaping and
// without, for any endpoint: its values fuzzed, its nested objects present,
// empty or absent.
func FuzzAppendJSON(f *testing.F) {
	f.Add("x", "<a&b>", "line\u2028\n\"q\"", 45.5, uint8(0))
	f.Add("", "\xff\x00", "Zoë", 1e-9, uint8(7))
	f.Fuzz(func(t *testing.T, s1, s2, s3 string, num float64, shape uint8) {
		if math.IsInf(num, 0) || math.IsNaN(num) {
			return
		}
		e := &Endpoint{Id: s1, ChannelType: "EMAIL", Address: s2, EffectiveDate: s3, RequestId: s1 + s2}
		if shape&1 != 0 {
			e.Location = &Location{City: s3, Latitude: &num}
		}
		if shape&2 != 0 {
			e.Demographic = &Demographic{}
			if shape&8 != 0 {
				e.Demographic.Make, e.Demographic.Timezone = s2, s1
			}
		}
		if shape&4 != 0 {
			e.User = &User{UserId: s1}
			if shape&16 != 0 {
				e.User.UserAttributes = Lists{{Name: s2, Value: []string{s3, s1}}}
			}
		}
		if shape&32 != 0 {
			e.Attributes = Lists{{Name: s1, Value: []string{s2}}, {Name: s3 + "z", Value: nil}}
			e.Metrics = Metrics{{Name: s2, Value: num}}
		}
		for _, html := range []bool{true, false} {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(html)
			if err := enc.Encode(e); err != nil {
				t.Fatal(err)
			}
			got, err := e.AppendJSON(nil, html)
			if err != nil {
				t.Fatal(err)
			}
			if w := bytes.TrimSuffix(want.Bytes(), []byte("\n")); !bytes.Equal(got, w) {
				t.Fatalf("escapeHTML %v:\n got %s\nwant %s", html, got, w)
			}
		}
	})
}
