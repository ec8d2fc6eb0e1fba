package merge

import (
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"

	"github.com/segport/segport/pkg/endpoint"
)

// step is a row or a delete (row nil) at a stamp.
type step struct {
	stamp string
	row   *endpoint.Endpoint
}

func apply(s *Endpoint, st step) {
	if st.row == nil {
		s.Erase(st.stamp)
	} else {
		s.Apply(st.row, st.stamp)
	}
}

func TestEraseIsOrderedByStamps(t *testing.T) {
	row := func(addr, city string) *endpoint.Endpoint {
		e := &endpoint.Endpoint{Id: "e", ChannelType: "SMS", Address: addr}
		if city != "" {
			e.Location = &endpoint.Location{City: city}
		}
		return e
	}
	tests := []struct {
		name    string
		steps   []step
		want    *endpoint.Endpoint // nil: a tombstone
		deleted string
	}{
		{name: "older row does not come back", steps: []step{{"1", row("+1", "Oslo")}, {"2", nil}, {"1", row("+1", "Oslo")}}, deleted: "2"},
		{name: "newer row creates it again", steps: []step{{"1", row("+1", "Oslo")}, {"2", nil}, {"3", row("+2", "")}},
			want: row("+2", ""), deleted: "2"},
		{name: "delete keeps what a newer row set", steps: []step{{"3", row("+2", "")}, {"1", row("+1", "Oslo")}, {"2", nil}},
			want: row("+2", ""), deleted: "2"},
		{name: "latest delete wins", steps: []step{{"1", row("+1", "")}, {"4", nil}, {"3", row("+3", "Rome")}, {"2", nil}}, deleted: "4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every order of the steps, repeated, gives the same record.
			for trial := 0; trial < 20; trial++ {
				steps := append(append([]step(nil), tt.steps...), tt.steps...)
				rand.Shuffle(len(steps), func(i, j int) { steps[i], steps[j] = steps[j], steps[i] })
				s := NewEndpoint("e")
				for _, st := range steps {
					apply(s, st)
				}
				if s.Deleted != tt.deleted {
					t.Fatalf("Deleted %q, want %q", s.Deleted, tt.deleted)
				}
				if tt.want == nil {
					if s.Exists() || s.E.Address != "" {
						t.Fatalf("a tombstone holds %+v", s.E)
					}
					continue
				}
				if !reflect.DeepEqual(s.E, tt.want) {
					t.Fatalf("order %v: got %+v, want %+v", steps, s.E, tt.want)
				}
			}
		})
	}
}

func TestUserErase(t *testing.T) {
	u := NewUser("u")
	u.Apply(endpoint.Lists{{Name: "a", Value: []string{"x"}}}, "1")
	u.Apply(endpoint.Lists{{Name: "b", Value: []string{"y"}}}, "3")
	u.Erase("2")
	u.Apply(endpoint.Lists{{Name: "a", Value: []string{"old"}}}, "1")
	names := SortedKeys(u.Attrs)
	sort.Strings(names)
	if !reflect.DeepEqual(names, []string{"b"}) || u.Deleted != "2" {
		t.Fatalf("attrs %v, deleted %q", u.Attrs, u.Deleted)
	}
}
