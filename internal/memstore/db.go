package memstore

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"sync"
)

// The tables, named as template.yaml names them less the stack prefix.
const (
	Endpoints = "Endpoints"
	Users     = "Users"
	Segments  = "Segments"
	Members   = "Members"
	Jobs      = "Jobs"
	Registry  = "Registry"
)

// DB is an in-memory DynamoDB holding segport's tables. Items are kept as the
// JSON of the item layouts internal/dynamo writes, so that a record read back is a
// copy, sizes can be estimated, and what a reader sees is what was stored.
type DB struct {
	env    *Env
	shards int

	mu     sync.Mutex
	tables map[string]map[string][]byte // table -> key -> item JSON
	jobs   map[string]*jobItem          // the Jobs table's job items, by job id
	pieces map[string]*pieceItem        // its piece items, by pieceKey
	// The Endpoints and Users tables, typed (see endpoints.go).
	endpoints map[string]*storedEndpoint
	users     map[string]*storedUser
	members   map[string]map[string]member // Members: shard -> endpoint id -> the batch that added it, its version
	tokens    int                          // the locks SetContribution has taken
	erased    map[string]map[string]int    // member tombstones: segment -> "<id>#<AddedBy>" -> its version (erase.go)
}

// NewDB returns an empty DB; shards is how many partitions a segment's
// membership is spread over (as dynamo.New).
func NewDB(env *Env, shards int) *DB {
	if shards < 1 {
		shards = 1
	}
	return &DB{env: env, shards: shards, tables: map[string]map[string][]byte{},
		jobs: map[string]*jobItem{}, pieces: map[string]*pieceItem{},
		endpoints: map[string]*storedEndpoint{}, users: map[string]*storedUser{}, members: map[string]map[string]member{}, erased: map[string]map[string]int{}}
}

// maxAttempts bounds the retries of unprocessed batch items and of
// conditional read-modify-write loops, as internal/dynamo bounds them.
const maxAttempts = 12

// get reads an item into v; false if there is none. The caller holds mu.
func (d *DB) get(table, key string, v any) (bool, error) {
	b, ok := d.tables[table][key]
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("decode %s item %s: %w", table, key, err)
	}
	return true, nil
}

// put stores v unless it is larger than DynamoDB takes. The caller holds mu.
func (d *DB) put(table, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s item %s: %w", table, key, err)
	}
	if err := checkItem(table, b); err != nil {
		return err
	}
	t := d.tables[table]
	if t == nil {
		t = map[string][]byte{}
		d.tables[table] = t
	}
	t[key] = b
	return nil
}

// do serves one request under the lock.
func (d *DB) do(ctx context.Context, name, table string, write bool, fn func() error) error {
	return d.env.call(ctx, Op{Service: "dynamodb", Name: name, Table: table, Write: write}, func() error {
		d.mu.Lock()
		defer d.mu.Unlock()
		return fn()
	})
}

// batchWrite puts n items 25 at a time, as BatchWriteItem does, retrying the
// items Faults leaves unprocessed; put(i) stores the i-th under the lock.
func (d *DB) batchWrite(ctx context.Context, table string, n int, put func(i int) error) error {
	for start := 0; start < n; start += 25 {
		pending := make([]int, 0, 25)
		for i := start; i < min(start+25, n); i++ {
			pending = append(pending, i)
		}
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt == maxAttempts {
				return fmt.Errorf("batch write to %s: %d items still unprocessed", table, len(pending))
			}
			op := Op{Service: "dynamodb", Name: "BatchWriteItem", Table: table, Write: true}
			err := d.env.call(ctx, op, func() error {
				left := d.env.unprocessed(ctx, op, len(pending))
				d.mu.Lock()
				defer d.mu.Unlock()
				done := pending[:len(pending)-left]
				for _, i := range done {
					if err := put(i); err != nil {
						return err
					}
				}
				pending = append([]int(nil), pending[len(pending)-left:]...)
				return nil
			})
			if err != nil {
				return fmt.Errorf("batch write to %s: %w", table, err)
			}
		}
	}
	return nil
}

// checkNumber refuses a number DynamoDB cannot store: its magnitude must lie
// between 1E-130 and 9.9999999999999999999999999999999999999E+125 (or be 0).
func checkNumber(name string, f float64) error {
	a := math.Abs(f)
	if math.IsNaN(f) || math.IsInf(f, 0) || a >= 1e126 || (a != 0 && a < 1e-130) {
		return &ValidationError{Service: "dynamodb", Msg: fmt.Sprintf("Number overflow or underflow: %s = %g", name, f)}
	}
	return nil
}

// Items returns every item of a table as JSON, by key, for checks.
func (d *DB) Items(table string) map[string][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string][]byte, len(d.tables[table]))
	for k, v := range d.tables[table] {
		out[k] = v
	}
	switch table {
	case Endpoints:
		for k, st := range d.endpoints {
			out[k], _ = json.Marshal(endpointItemOf(st.rec, st.ver))
		}
	case Members:
		for sh, m := range d.members {
			for id, mb := range m {
				out[sh+"\x00"+id], _ = json.Marshal(memberItem{Shard: sh, EndpointId: id, AddedBy: mb.by, V: mb.v})
			}
		}
	case Users:
		for k, st := range d.users {
			out[k], _ = json.Marshal(userItemOf(st.rec, st.ver))
		}
	}
	if table == Jobs {
		for k, it := range d.jobs {
			out[k+"\x00job"], _ = json.Marshal(it)
		}
		for k, it := range d.pieces {
			out[k], _ = json.Marshal(it)
		}
	}
	return out
}

// Tables lists the tables that hold items.
func (d *DB) Tables() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var names []string
	for t := range d.tables {
		names = append(names, t)
	}
	for t, n := range map[string]int{Jobs: len(d.jobs), Endpoints: len(d.endpoints), Users: len(d.users), Members: len(d.members)} {
		if n > 0 && d.tables[t] == nil {
			names = append(names, t)
		}
	}
	sort.Strings(names)
	sort.Strings(names)
	return names
}
