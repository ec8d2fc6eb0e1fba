// Package merge applies endpoint definitions to stored endpoints and users with
// Pinpoint's UpdateEndpoint semantics: attributes present in a row replace their old
// values, absent ones keep theirs. Every attribute keeps the stamp of the row that
// set it, and a row only wins where its stamp is greater, so applying rows in any
// order, any number of times, gives the result of applying each once in stamp order.
package merge

import (
	"sort"

	"github.com/segport/segport/pkg/endpoint"
)

// Versioned is a stored record with the version it was read at (0: not stored
// yet); a conditional write of the record succeeds only at that version.
type Versioned[T any] struct {
	Rec *T
	Ver int64
}

// Endpoint is a stored endpoint with the stamp of each of its attributes.
type Endpoint struct {
	E      *endpoint.Endpoint
	Stamps map[string]string // dotted attribute name -> stamp
	// Deleted is the stamp of the latest delete of the endpoint (erase.go):
	// rows stamped before it change nothing.
	Deleted string
}

// NewEndpoint returns an empty stored endpoint with the given Id.
func NewEndpoint(id string) *Endpoint {
	return &Endpoint{E: &endpoint.Endpoint{Id: id}, Stamps: map[string]string{}}
}

// Apply merges row, stamped stamp, into s and reports whether anything changed.
// User.UserAttributes are not touched: they belong to the user (see User.Apply).
func (s *Endpoint) Apply(row *endpoint.Endpoint, stamp string) bool {
	changed := false
	row.Each(func(a endpoint.Attr) {
		if a.Kind == endpoint.KindId {
			return
		}
		name := a.Name()
		if stamp <= s.Deleted {
			return
		}
		if old, ok := s.Stamps[name]; ok && old >= stamp {
			return
		}
		endpoint.Copy(s.E, row, a)
		s.Stamps[name] = stamp
		changed = true
	})
	return changed
}

// User is a stored user: its attributes with their stamps.
type User struct {
	UserId string
	Attrs  map[string][]string
	Stamps map[string]string
	// Deleted is the stamp of the latest delete of the user (erase.go).
	Deleted string
}

// NewUser returns an empty stored user.
func NewUser(id string) *User {
	return &User{UserId: id, Attrs: map[string][]string{}, Stamps: map[string]string{}}
}

// Apply merges a row's User.UserAttributes into u and reports whether anything changed.
func (u *User) Apply(attrs endpoint.Lists, stamp string) bool {
	changed := false
	for _, a := range attrs {
		if stamp <= u.Deleted {
			return changed
		}
		if old, ok := u.Stamps[a.Name]; ok && old >= stamp {
			continue
		}
		u.Attrs[a.Name] = append([]string(nil), a.Value...)
		u.Stamps[a.Name] = stamp
		changed = true
	}
	return changed
}

// Compact stores a stamp map as the most common stamp plus the exceptions, which
// keeps the stamps of an endpoint set by one row down to a single string.
func Compact(stamps map[string]string) (base string, except map[string]string) {
	counts := map[string]int{}
	for _, s := range stamps {
		counts[s]++
	}
	for s, n := range counts {
		if n > counts[base] || (n == counts[base] && s > base) {
			base = s
		}
	}
	for name, s := range stamps {
		if s != base {
			if except == nil {
				except = map[string]string{}
			}
			except[name] = s
		}
	}
	return base, except
}

// Expand is the inverse of Compact for the attributes names.
func Expand(names []string, base string, except map[string]string) map[string]string {
	stamps := make(map[string]string, len(names))
	for _, n := range names {
		if s, ok := except[n]; ok {
			stamps[n] = s
		} else {
			stamps[n] = base
		}
	}
	return stamps
}

// Names lists the stamped attribute names of e, for Expand.
func Names(e *endpoint.Endpoint) []string {
	var names []string
	e.Each(func(a endpoint.Attr) {
		if a.Kind != endpoint.KindId {
			names = append(names, a.Name())
		}
	})
	return names
}

// SortedKeys returns m's keys in order.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
