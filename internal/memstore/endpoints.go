package memstore

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/internal/merge"
	"github.com/segport/segport/pkg/endpoint"
	"github.com/segport/segport/pkg/job"
)

var (
	_ importer.EndpointStore = (*DB)(nil)
	_ importer.Registry      = (*DB)(nil)
)

// endpointItem is an Endpoints item as internal/dynamo writes it: the endpoint
// without its user's attributes, custom families as maps, compacted stamps
// and the optimistic-locking version.
type endpointItem struct {
	*endpoint.Endpoint
	Attributes map[string][]string `json:"Attributes,omitempty"`
	Metrics    map[string]float64  `json:"Metrics,omitempty"`
	UserId     string              `json:"UserId,omitempty"`
	St         string              `json:"St"`
	Sx         map[string]string   `json:"Sx,omitempty"`
	Ver        int64               `json:"Ver"`
	Deleted    string              `json:"Deleted,omitempty"`
}

type userItem struct {
	UserId         string              `json:"UserId"`
	UserAttributes map[string][]string `json:"UserAttributes,omitempty"`
	St             string              `json:"St"`
	Sx             map[string]string   `json:"Sx,omitempty"`
	Ver            int64               `json:"Ver"`
}

// The Endpoints and Users tables are kept as typed records in the form
// internal/dynamo's items read back as: an endpoint without its user's
// attributes, custom families sorted, stamps only for the attributes it has.

type storedEndpoint struct {
	rec *merge.Endpoint
	ver int64
}

type storedUser struct {
	rec *merge.User
	ver int64
}

func cloneEndpoint(r *merge.Endpoint) *merge.Endpoint {
	return &merge.Endpoint{E: r.E.Clone(), Stamps: maps.Clone(r.Stamps), Deleted: r.Deleted}
}

func cloneUser(u *merge.User) *merge.User {
	c := &merge.User{UserId: u.UserId, Attrs: make(map[string][]string, len(u.Attrs)), Stamps: maps.Clone(u.Stamps), Deleted: u.Deleted}
	for k, v := range u.Attrs {
		c.Attrs[k] = slices.Clone(v)
	}
	return c
}

// storedForm is rec as an Endpoints item reads back.
func storedForm(rec *merge.Endpoint) *merge.Endpoint {
	e := rec.E.Clone()
	if e.User != nil {
		e.User = &endpoint.User{UserId: e.User.UserId}
	}
	e.Attributes, e.Metrics = endpoint.CustomOf(e.Attributes.Map()), endpoint.CustomOf(e.Metrics.Map())
	base, except := merge.Compact(rec.Stamps)
	return &merge.Endpoint{E: e, Stamps: merge.Expand(merge.Names(e), base, except), Deleted: rec.Deleted}
}

// item is rec as internal/dynamo writes its item, for sizes.
func endpointItemOf(rec *merge.Endpoint, ver int64) endpointItem {
	e := *rec.E
	it := endpointItem{Endpoint: &e, Attributes: e.Attributes.Map(), Metrics: e.Metrics.Map(), Ver: ver, Deleted: rec.Deleted}
	if e.User != nil {
		it.UserId = e.User.UserId
	}
	it.St, it.Sx = merge.Compact(rec.Stamps)
	return it
}

func userItemOf(u *merge.User, ver int64) userItem {
	it := userItem{UserId: u.UserId, UserAttributes: u.Attrs, Ver: ver}
	it.St, it.Sx = merge.Compact(u.Stamps)
	return it
}

// GetEndpoints reads endpoints (BatchGetItem, strongly consistent).
func (d *DB) GetEndpoints(ctx context.Context, ids []string) (map[string]merge.Versioned[merge.Endpoint], error) {
	out := map[string]merge.Versioned[merge.Endpoint]{}
	err := d.do(ctx, "BatchGetItem", Endpoints, false, func() error {
		for _, id := range ids {
			if st, ok := d.endpoints[id]; ok {
				out[id] = merge.Versioned[merge.Endpoint]{Rec: cloneEndpoint(st.rec), Ver: st.ver}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("batch get from %s: %w", Endpoints, err)
	}
	return out, nil
}

// PutEndpoint stores rec if its item is still at version ver (0: absent).
func (d *DB) PutEndpoint(ctx context.Context, rec *merge.Endpoint, ver int64) error {
	id := rec.E.Id
	return d.putVersioned(ctx, Endpoints, id, ver, func() error {
		if err := checkEndpointNumbers(rec.E); err != nil {
			return err
		}
		if rec.E.Size()+64*len(rec.Stamps) > MaxItemBytes/2 {
			b, err := json.Marshal(endpointItemOf(rec, ver+1))
			if err != nil {
				return err
			}
			if err := checkItem(Endpoints, b); err != nil {
				return err
			}
		}
		return nil
	}, func(v int64, ok bool) {
		d.endpoints[id] = &storedEndpoint{rec: storedForm(rec), ver: ver + 1}
	}, func() (int64, bool) {
		st, ok := d.endpoints[id]
		if !ok {
			return 0, false
		}
		return st.ver, true
	})
}

func checkEndpointNumbers(e *endpoint.Endpoint) error {
	for _, m := range e.Metrics {
		if err := checkNumber("Metrics."+m.Name, m.Value); err != nil {
			return err
		}
	}
	if l := e.Location; l != nil {
		for i, p := range []*float64{l.Latitude, l.Longitude} {
			if p != nil {
				if err := checkNumber([]string{"Location.Latitude", "Location.Longitude"}[i], *p); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// putVersioned stores an item (store) if the stored item's version (stored)
// is ver, 0 meaning no item yet; check refuses what DynamoDB would refuse.
func (d *DB) putVersioned(ctx context.Context, table, key string, ver int64, check func() error, store func(int64, bool), stored func() (int64, bool)) error {
	err := d.do(ctx, "PutItem", table, true, func() error {
		if key == "" {
			return &ValidationError{Service: "dynamodb", Msg: "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value."}
		}
		if err := check(); err != nil {
			return err
		}
		have, ok := stored()
		if (ver == 0 && ok) || (ver != 0 && (!ok || have != ver)) {
			return job.ErrConflict
		}
		store(have, ok)
		return nil
	})
	if err == job.ErrConflict {
		return err
	}
	if err != nil {
		return fmt.Errorf("put %s item: %w", table, err)
	}
	return nil
}

// GetUsers reads users (BatchGetItem, strongly consistent).
func (d *DB) GetUsers(ctx context.Context, ids []string) (map[string]merge.Versioned[merge.User], error) {
	out := map[string]merge.Versioned[merge.User]{}
	err := d.do(ctx, "BatchGetItem", Users, false, func() error {
		for _, id := range ids {
			if st, ok := d.users[id]; ok {
				out[id] = merge.Versioned[merge.User]{Rec: cloneUser(st.rec), Ver: st.ver}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("batch get from %s: %w", Users, err)
	}
	return out, nil
}

// PutUser stores u if its item is still at version ver (0: absent).
func (d *DB) PutUser(ctx context.Context, u *merge.User, ver int64) error {
	id := u.UserId
	return d.putVersioned(ctx, Users, id, ver, func() error {
		n := 64
		for k, v := range u.Attrs {
			n += len(k) + 64
			for _, s := range v {
				n += len(s) + 1
			}
		}
		if n > MaxItemBytes/2 {
			b, err := json.Marshal(userItemOf(u, ver+1))
			if err != nil {
				return err
			}
			return checkItem(Users, b)
		}
		return nil
	}, func(int64, bool) {
		c := cloneUser(u)
		base, except := merge.Compact(c.Stamps)
		c.Stamps = merge.Expand(merge.SortedKeys(c.Attrs), base, except)
		d.users[id] = &storedUser{rec: c, ver: ver + 1}
	}, func() (int64, bool) {
		st, ok := d.users[id]
		if !ok {
			return 0, false
		}
		return st.ver, true
	})
}

// Endpoint returns a stored endpoint with its stamps (nil if there is none),
// for checks.
func (d *DB) Endpoint(id string) *merge.Endpoint {
	v, err := d.GetEndpoints(context.Background(), []string{id})
	if err != nil {
		return nil
	}
	return v[id].Rec
}

// EndpointIds returns the ids of every stored endpoint, sorted, for checks.
func (d *DB) EndpointIds() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Sorted(maps.Keys(d.endpoints))
}

// UserIds returns the ids of every stored user, sorted, for checks.
func (d *DB) UserIds() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Sorted(maps.Keys(d.users))
}

// User returns a stored user (nil if there is none), for checks.
func (d *DB) User(id string) *merge.User {
	v, err := d.GetUsers(context.Background(), []string{id})
	if err != nil {
		return nil
	}
	return v[id].Rec
}

type registryItem struct {
	Key   string   `json:"Key"`
	Names []string `json:"Names,omitempty"`
	Ver   int64    `json:"Ver"`
}

const registryKey = "custom-attributes"

// Register adds names to the registry item if the total stays within limit,
// all or none, by a conditional write on its version (retried on a lost race).
func (d *DB) Register(ctx context.Context, names []string, limit int) ([]string, bool, error) {
	for attempt := 0; ; attempt++ {
		var it registryItem
		err := d.do(ctx, "GetItem", Registry, false, func() error {
			_, err := d.get(Registry, registryKey, &it)
			return err
		})
		if err != nil {
			return nil, false, fmt.Errorf("read attribute registry: %w", err)
		}
		have := make(map[string]bool, len(it.Names))
		for _, n := range it.Names {
			have[n] = true
		}
		var fresh []string
		for _, n := range names {
			if !have[n] {
				have[n] = true
				fresh = append(fresh, n)
			}
		}
		if len(fresh) == 0 {
			return it.Names, true, nil
		}
		if len(it.Names)+len(fresh) > limit {
			return it.Names, false, nil
		}
		err = d.do(ctx, "UpdateItem", Registry, true, func() error {
			var cur registryItem
			if _, err := d.get(Registry, registryKey, &cur); err != nil {
				return err
			}
			if cur.Ver != it.Ver {
				return job.ErrConflict
			}
			cur.Key, cur.Ver = registryKey, it.Ver+1
			cur.Names = append(cur.Names, fresh...)
			sort.Strings(cur.Names) // a string set has no order
			return d.put(Registry, registryKey, cur)
		})
		if err == nil {
			return append(it.Names, fresh...), true, nil
		}
		if err != job.ErrConflict || attempt >= maxAttempts {
			return nil, false, fmt.Errorf("register attribute names: %w", err)
		}
	}
}
