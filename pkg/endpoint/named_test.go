package endpoint

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"testing"
)

// The JSON of a Custom must be byte for byte what encoding/json writes for the map
// it replaced: canonical endpoints, stored batches and reports depend on it.
func TestCustomJSONEqualsMapJSON(t *testing.T) {
	tests := []struct {
		name  string
		lists map[string][]string
		nums  map[string]float64
	}{
		{name: "empty"},
		{name: "plain", lists: map[string][]string{"b": {"x", "y"}, "a": {"z"}}, nums: map[string]float64{"n": 1, "m": -2.5}},
		{name: "escapes", lists: map[string][]string{"q\"\\": {"<a&b>", "tab\there", "nl\n\r", "\x00\x01\x1f\x7f", "\b\f"}}},
		{name: "unicode", lists: map[string][]string{"ü": {"日本", "line\u2028sep\u2029", "bad\xffutf8", "\u00e9"}}},
		{name: "numbers", nums: map[string]float64{"a": 1e21, "b": 1e-7, "c": 123456789.125, "d": 1e20, "e": -1e-6, "f": 0, "g": 3.0e-300, "h": math.MaxFloat64, "i": 5e-324}},
		{name: "empty list", lists: map[string][]string{"a": {}, "b": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, escape := range []bool{false, true} {
				check(t, escape, tt.lists, CustomOf(tt.lists))
				check(t, escape, tt.nums, CustomOf(tt.nums))
			}
		})
	}
}

func check[V any](t *testing.T, escapeHTML bool, m map[string]V, c Custom[V]) {
	t.Helper()
	enc := func(v any) string {
		var buf bytes.Buffer
		e := json.NewEncoder(&buf)
		e.SetEscapeHTML(escapeHTML)
		if err := e.Encode(v); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	if m == nil {
		m = map[string]V{} // a nil Custom is written as {} only through omitempty's absence
		c = Custom[V]{}
	}
	if got, want := enc(c), enc(m); got != want {
		t.Errorf("escapeHTML=%v:\n got %s\nwant %s", escapeHTML, got, want)
	}
	var back Custom[V]
	var backMap map[string]V
	if err := json.Unmarshal([]byte(enc(c)), &back); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(enc(m)), &backMap); err != nil {
		t.Fatal(err)
	}
	if got, want := enc(back), enc(backMap); got != want {
		t.Errorf("round trip: got %s, want %s", got, want)
	}
}

func FuzzCustomJSON(f *testing.F) {
	f.Add("name", "value", 1.5)
	f.Add("\u2028<", "\xff\x00\"", 1e-9)
	f.Fuzz(func(t *testing.T, name, value string, num float64) {
		if math.IsInf(num, 0) || math.IsNaN(num) {
			return
		}
		check(t, false, map[string][]string{name: {value, name}}, Lists{{name, []string{value, name}}})
		check(t, true, map[string]float64{name: num}, Metrics{{name, num}})
	})
}

func TestCustomPutGet(t *testing.T) {
	var c Lists
	for _, n := range []string{"m", "a", "z", "m", "b"} {
		c.Put(n, []string{n + "!"})
	}
	var got []string
	for _, n := range c {
		got = append(got, n.Name)
	}
	if !slices.Equal(got, []string{"a", "b", "m", "z"}) {
		t.Fatalf("names %v, want [a b m z]", got)
	}
	if v, ok := c.Get("m"); !ok || v[0] != "m!" {
		t.Fatalf("Get(m) = %v, %v", v, ok)
	}
	if _, ok := c.Get("c"); ok {
		t.Fatal("Get(c) found a name never put")
	}
}
