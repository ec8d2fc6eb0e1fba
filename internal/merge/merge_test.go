package merge

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/segport/segport/pkg/endpoint"
)

type stampedRow struct {
	e     *endpoint.Endpoint
	stamp string
}

// rows builds updates of one endpoint, each giving a random subset of attributes.
func rows(rng *rand.Rand, n int) []stampedRow {
	var out []stampedRow
	for i := 0; i < n; i++ {
		e := &endpoint.Endpoint{Id: "x"}
		if rng.IntN(2) == 0 {
			e.ChannelType = []string{"EMAIL", "SMS"}[rng.IntN(2)]
		}
		if rng.IntN(2) == 0 {
			e.Demographic = &endpoint.Demographic{Make: fmt.Sprint("make", i)}
		}
		if rng.IntN(2) == 0 {
			lat := float64(i)
			e.Location = &endpoint.Location{Latitude: &lat, Country: "USA"}
		}
		if rng.IntN(2) == 0 {
			e.Attributes = endpoint.Lists{{Name: fmt.Sprint("a", rng.IntN(3)), Value: []string{fmt.Sprint(i)}}}
		}
		if rng.IntN(2) == 0 {
			e.Metrics = endpoint.Metrics{{Name: "m", Value: float64(i)}}
		}
		out = append(out, stampedRow{e, fmt.Sprintf("%04d", rng.IntN(50))})
	}
	return out
}

func canonical(t *testing.T, s *Endpoint) string {
	t.Helper()
	b, err := s.E.MarshalCanonical()
	if err != nil {
		t.Fatal(err)
	}
	base, except := Compact(s.Stamps)
	return fmt.Sprintf("%s %s %v", b, base, except)
}

// TestApplyIsOrderIndependent applies the same rows in stamp order, in random
// orders and with duplicates, and expects one result.
func TestApplyIsOrderIndependent(t *testing.T) {
	for seed := uint64(0); seed < 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 1))
		rs := rows(rng, 1+rng.IntN(12))
		for i := range rs { // distinct stamps, as (job, file, line) guarantees
			rs[i].stamp += fmt.Sprintf("|%03d", i)
		}
		want := NewEndpoint("x")
		sorted := append([]stampedRow(nil), rs...)
		for i := 1; i < len(sorted); i++ {
			for k := i; k > 0 && sorted[k].stamp < sorted[k-1].stamp; k-- {
				sorted[k], sorted[k-1] = sorted[k-1], sorted[k]
			}
		}
		for _, r := range sorted {
			want.Apply(r.e, r.stamp)
		}
		for trial := 0; trial < 5; trial++ {
			mixed := append(append([]stampedRow(nil), rs...), rs[:rng.IntN(len(rs)+1)]...)
			rng.Shuffle(len(mixed), func(i, j int) { mixed[i], mixed[j] = mixed[j], mixed[i] })
			got := NewEndpoint("x")
			for _, r := range mixed {
				got.Apply(r.e, r.stamp)
			}
			if g, w := canonical(t, got), canonical(t, want); g != w {
				t.Fatalf("seed %d: order changed the result:\n got %s\nwant %s", seed, g, w)
			}
		}
	}
}

func TestApplyMergesLikeUpdateEndpoint(t *testing.T) {
	s := NewEndpoint("x")
	if !s.Apply(&endpoint.Endpoint{Id: "x", ChannelType: "EMAIL", Address: "a@example.com", Demographic: &endpoint.Demographic{Make: "Apple"}}, "2") {
		t.Fatal("first row changed nothing")
	}
	if s.Apply(&endpoint.Endpoint{Id: "x", Address: "old@example.com"}, "1") {
		t.Error("an older row changed the endpoint")
	}
	if !s.Apply(&endpoint.Endpoint{Id: "x", Demographic: &endpoint.Demographic{Model: "iPhone"}}, "3") {
		t.Error("a newer row changed nothing")
	}
	if s.Apply(&endpoint.Endpoint{Id: "x", Demographic: &endpoint.Demographic{Model: "iPhone"}}, "3") {
		t.Error("a duplicate row changed the endpoint")
	}
	b, _ := s.E.MarshalCanonical()
	want := `{"Id":"x","ChannelType":"EMAIL","Address":"a@example.com","Demographic":{"Make":"Apple","Model":"iPhone"}}`
	if string(b) != want {
		t.Errorf("got %s\nwant %s", b, want)
	}
	base, except := Compact(s.Stamps)
	if base != "2" || len(except) != 1 || except["Demographic.Model"] != "3" {
		t.Errorf("stamps %q %v", base, except)
	}
	if got := Expand(Names(s.E), base, except); fmt.Sprint(got) != fmt.Sprint(s.Stamps) {
		t.Errorf("Expand(Compact) = %v, want %v", got, s.Stamps)
	}
}

func TestUserApply(t *testing.T) {
	u := NewUser("u")
	u.Apply(endpoint.Lists{{Name: "Name", Value: []string{"Ana"}}, {Name: "Tier", Value: []string{"gold"}}}, "2")
	u.Apply(endpoint.Lists{{Name: "Tier", Value: []string{"silver"}}}, "1")
	u.Apply(endpoint.Lists{{Name: "Name", Value: []string{"Ana Maria"}}}, "3")
	if fmt.Sprint(u.Attrs) != "map[Name:[Ana Maria] Tier:[gold]]" {
		t.Errorf("attrs %v", u.Attrs)
	}
}
