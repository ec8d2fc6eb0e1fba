package endpoint

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// SetRow must give what Set gives, endpoint or problem, for every row: random
// headers with repeated list columns and awkward names, random values (empty,
// padded, too long, not numbers), under small limits.
func TestSetRowEqualsSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	names := []string{"a", "b", "Interests", "zz", " padded", "a-name-longer-than-the-limit-of-twenty", "m"}
	values := []string{"", "x", " y ", "12", "-3.5", "NaN", "1e3", "a value longer than the limit of twenty", "v"}
	limits := Limits{AttributesPerEndpoint: 2, ValuesPerAttribute: 2, NameLength: 20, ValueLength: 20}
	rows := map[bool]int{} // by whether the row failed
	for h := range 300 {
		attrs := []Attr{{Kind: KindChannelType}, {Kind: KindAddress}, {Kind: KindUserId}}
		for range 1 + rng.IntN(7) {
			kind := []Kind{KindAttribute, KindMetric, KindUserAttribute}[rng.IntN(3)]
			a := Attr{Kind: kind, Custom: names[rng.IntN(len(names))]}
			if kind == KindMetric && slices.Contains(attrs, a) {
				continue // a CSV header never repeats a metric
			}
			attrs = append(attrs, a)
		}
		rng.Shuffle(len(attrs), func(i, j int) { attrs[i], attrs[j] = attrs[j], attrs[i] })
		byColumn, bySet := NewBuilder(limits), NewBuilder(limits)
		byColumn.Reuse = h%2 == 0
		byColumn.SetColumns(attrs)
		for row := range 20 {
			vals := make([]string, len(attrs))
			for i, a := range attrs {
				switch a.Kind {
				case KindChannelType:
					vals[i] = "EMAIL"
				case KindAddress:
					vals[i] = fmt.Sprintf("u%d@example.com", row)
				case KindUserId:
					vals[i] = []string{"", "user"}[rng.IntN(2)]
				default:
					vals[i] = values[rng.IntN(len(values))]
				}
			}
			byColumn.Reset()
			bySet.Reset()
			var text string
			spans := make([]Span, len(attrs))
			for i, a := range attrs {
				spans[i] = Span{len(text), len(text) + len(vals[i])}
				text += vals[i] + ","
				bySet.Set(a, vals[i])
			}
			byColumn.SetRow(text, spans)
			got, gotErr := byColumn.Finish()
			want, wantErr := bySet.Finish()
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				t.Fatalf("header %v, row %q: SetRow fails with %v, Set with %v", attrs, vals, gotErr, wantErr)
			}
			rows[gotErr != nil]++
			if gotErr != nil {
				continue
			}
			g, _ := got.MarshalCanonical()
			w, _ := want.MarshalCanonical()
			if string(g) != string(w) || got.Size() != want.Size() {
				t.Fatalf("header %v, row %q:\nSetRow %s\nSet    %s", attrs, vals, g, w)
			}
		}
	}
	if rows[true] < 500 || rows[false] < 500 {
		t.Fatalf("%d rows failed and %d did not: the test needs many of both", rows[true], rows[false])
	}
}
