package merge

import "github.com/segport/segport/pkg/endpoint"

// Deletes are ordered among rows by the same stamps (job.Stamp): a delete
// stamped D removes every attribute set by a row stamped before D and keeps
// those set after it, and from then on refuses rows stamped before D. The
// latest delete wins (Deleted keeps the greatest stamp), so deletes and rows
// applied in any order, any number of times, give the result of applying them
// once in stamp order.

// Erase applies a delete stamped stamp to s and reports whether anything
// changed. What survives is what rows stamped after the delete set.
func (s *Endpoint) Erase(stamp string) bool {
	if stamp <= s.Deleted {
		return false
	}
	s.Deleted = stamp
	kept := &endpoint.Endpoint{Id: s.E.Id}
	s.E.Each(func(a endpoint.Attr) {
		if a.Kind == endpoint.KindId {
			return
		}
		name := a.Name()
		if s.Stamps[name] > stamp {
			endpoint.Copy(kept, s.E, a)
		} else {
			delete(s.Stamps, name)
		}
	})
	s.E = kept
	return true
}

// Exists reports whether the endpoint holds anything: an endpoint deleted and
// not set again since is a tombstone, its Id and Deleted only.
func (s *Endpoint) Exists() bool { return len(s.Stamps) > 0 }

// UserId is the endpoint's User.UserId, "" if it has none.
func (s *Endpoint) UserId() string {
	if s.E.User == nil {
		return ""
	}
	return s.E.User.UserId
}

// Erase applies a delete stamped stamp to u: the attributes set before it go.
func (u *User) Erase(stamp string) bool {
	if stamp <= u.Deleted {
		return false
	}
	u.Deleted = stamp
	for name, st := range u.Stamps {
		if st <= stamp {
			delete(u.Stamps, name)
			delete(u.Attrs, name)
		}
	}
	return true
}

// Exists reports whether the user holds any attribute.
func (u *User) Exists() bool { return len(u.Stamps) > 0 }
