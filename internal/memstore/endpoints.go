package memstore

import (
	"context"
	"fmt"
	"sort"

	"github.com/segport/segport/pkg/endpoint"
	"github.com/segport/segport/pkg/importer"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/merge"
)

var (
	_ importer.EndpointStore = (*DB)(nil)
	_ importer.Registry      = (*DB)(nil)
)

// endpointItem is an Endpoints item as pkg/dynamo writes it: the endpoint
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
}

type userItem struct {
	UserId         string              `json:"UserId"`
	UserAttributes map[string][]string `json:"UserAttributes,omitempty"`
	St             string              `json:"St"`
	Sx             map[string]string   `json:"Sx,omitempty"`
	Ver            int64               `json:"Ver"`
}

// GetEndpoints reads endpoints (BatchGetItem, strongly consistent).
func (d *DB) GetEndpoints(ctx context.Context, ids []string) (map[string]merge.Versioned[merge.Endpoint], error) {
	out := map[string]merge.Versioned[merge.Endpoint]{}
	err := d.do(ctx, "BatchGetItem", Endpoints, false, func() error {
		for _, id := range ids {
			var it endpointItem
			ok, err := d.get(Endpoints, id, &it)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			e := it.Endpoint
			e.Attributes, e.Metrics = endpoint.CustomOf(it.Attributes), endpoint.CustomOf(it.Metrics)
			rec := &merge.Endpoint{E: e, Stamps: merge.Expand(merge.Names(e), it.St, it.Sx)}
			out[e.Id] = merge.Versioned[merge.Endpoint]{Rec: rec, Ver: it.Ver}
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
	e := *rec.E
	it := endpointItem{Endpoint: &e, Attributes: e.Attributes.Map(), Metrics: e.Metrics.Map(), Ver: ver + 1}
	if e.User != nil {
		e.User = &endpoint.User{UserId: e.User.UserId}
		it.UserId = e.User.UserId
	}
	it.St, it.Sx = merge.Compact(rec.Stamps)
	return d.putVersioned(ctx, Endpoints, e.Id, ver, it, func() error { return checkEndpointNumbers(&e) })
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

// putVersioned puts item if the stored item's Ver is ver (0: no item yet).
func (d *DB) putVersioned(ctx context.Context, table, key string, ver int64, item any, check func() error) error {
	err := d.do(ctx, "PutItem", table, true, func() error {
		if key == "" {
			return &ValidationError{Service: "dynamodb", Msg: "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value."}
		}
		if check != nil {
			if err := check(); err != nil {
				return err
			}
		}
		var stored struct {
			Ver int64 `json:"Ver"`
		}
		ok, err := d.get(table, key, &stored)
		if err != nil {
			return err
		}
		if (ver == 0 && ok) || (ver != 0 && (!ok || stored.Ver != ver)) {
			return job.ErrConflict
		}
		return d.put(table, key, item)
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
			var it userItem
			ok, err := d.get(Users, id, &it)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if it.UserAttributes == nil {
				it.UserAttributes = map[string][]string{}
			}
			u := &merge.User{UserId: it.UserId, Attrs: it.UserAttributes,
				Stamps: merge.Expand(merge.SortedKeys(it.UserAttributes), it.St, it.Sx)}
			out[it.UserId] = merge.Versioned[merge.User]{Rec: u, Ver: it.Ver}
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
	it := userItem{UserId: u.UserId, UserAttributes: u.Attrs, Ver: ver + 1}
	it.St, it.Sx = merge.Compact(u.Stamps)
	return d.putVersioned(ctx, Users, u.UserId, ver, it, nil)
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
func (d *DB) EndpointIds() []string { return d.keys(Endpoints) }

// UserIds returns the ids of every stored user, sorted, for checks.
func (d *DB) UserIds() []string { return d.keys(Users) }

// User returns a stored user (nil if there is none), for checks.
func (d *DB) User(id string) *merge.User {
	v, err := d.GetUsers(context.Background(), []string{id})
	if err != nil {
		return nil
	}
	return v[id].Rec
}

func (d *DB) keys(table string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.keysWithPrefix(table, "")
}

func sortStrings(s []string) { sort.Strings(s) }

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
