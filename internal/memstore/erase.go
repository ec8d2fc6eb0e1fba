package memstore

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/segport/segport/internal/merge"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// Deletes as internal/dynamo's erase.go makes them: tombstones in place of
// the endpoint and user items, member tombstones that cancel the counts of
// erased members, one request a step.

// EraseMember removes a member made before stamp and leaves its tombstone,
// reading again when a later row raised the member meanwhile (dynamo's).
func (d *DB) EraseMember(ctx context.Context, segmentId string, shards int, id, stamp string) error {
	if shards < 1 {
		shards = d.shards
	}
	sh := shardKey(segmentId, id, shards)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		var (
			mb    member
			found bool
		)
		err := d.do(ctx, "GetItem", Members, false, func() error {
			mb, found = d.members[sh][id]
			return nil
		})
		if err != nil || !found {
			return err
		}
		tomb := id + "#" + mb.by
		if mb.s >= stamp {
			return d.do(ctx, "DeleteItem", Members, true, func() error {
				delete(d.erased[segmentId], tomb)
				return nil
			})
		}
		err = d.do(ctx, "PutItem", Members, true, func() error {
			if d.erased[segmentId] == nil {
				d.erased[segmentId] = map[string]int{}
			}
			d.erased[segmentId][tomb] = mb.v
			return nil
		})
		if err != nil {
			return err
		}
		deleted := false
		err = d.do(ctx, "DeleteItem", Members, true, func() error {
			if cur, ok := d.members[sh][id]; ok && cur.by == mb.by && cur.s < stamp {
				delete(d.members[sh], id)
				deleted = true
			}
			return nil
		})
		if err != nil || deleted {
			return err
		}
	}
	return fmt.Errorf("erase a member of segment %s: %w", segmentId, job.ErrConflict)
}

// keptSets returns the member sets of a segment's kept generations
// (dynamo's keptSets): KeptFrom's and every replace's after it. The caller
// holds mu.
func (d *DB) keptSets(segmentId string, it segmentItem) []string {
	sets := []string{segment.MemberSet(segmentId, it.KeptFrom)}
	if it.LastReplace == 0 {
		return sets
	}
	var bases []int
	for k, b := range d.tables[Jobs] {
		if !strings.HasPrefix(k, segmentId+"#versions\x00") {
			continue
		}
		var v versionItem
		if err := json.Unmarshal(b, &v); err == nil && v.replace() && v.Version > it.KeptFrom {
			bases = append(bases, v.Version)
		}
	}
	slices.Sort(bases)
	for _, b := range bases {
		sets = append(sets, segment.MemberSet(segmentId, b))
	}
	return sets
}

// keptErased counts the member tombstones of a segment's kept generations.
// The caller holds mu.
func (d *DB) keptErased(segmentId string, it segmentItem) int {
	n := 0
	for _, set := range d.keptSets(segmentId, it) {
		n += d.erasedCount(set, -1)
	}
	return n
}

// erasedCount counts a member set's member tombstones of versions up to version
// (every one for a negative version). The caller holds mu.
func (d *DB) erasedCount(segmentId string, version int) int {
	n := 0
	for _, v := range d.erased[segmentId] {
		if version < 0 || v <= version {
			n++
		}
	}
	return n
}

// EraseEndpoints tombstones the endpoints, each at its stamp, and erases
// their memberships.
func (d *DB) EraseEndpoints(ctx context.Context, stamps map[string]string) (int, error) {
	existed := 0
	for _, id := range slices.Sorted(maps.Keys(stamps)) {
		stamp := stamps[id]
		had, err := d.tombstoneEndpoint(ctx, id, stamp)
		if err != nil {
			return 0, err
		}
		if had {
			existed++
		}
		for _, seg := range d.segmentShards() {
			if err := d.EraseMember(ctx, seg.set, seg.shards, id, stamp); err != nil {
				return 0, err
			}
		}
	}
	return existed, nil
}

func (d *DB) tombstoneEndpoint(ctx context.Context, id, stamp string) (bool, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		recs, err := d.GetEndpoints(ctx, []string{id})
		if err != nil {
			return false, err
		}
		v, ok := recs[id]
		if !ok {
			v = merge.Versioned[merge.Endpoint]{Rec: merge.NewEndpoint(id)}
		}
		had := v.Rec.Exists()
		if !v.Rec.Erase(stamp) {
			return had, nil
		}
		if err := d.PutEndpoint(ctx, v.Rec, v.Ver); err != job.ErrConflict {
			return had, err
		}
	}
	return false, fmt.Errorf("delete endpoint: %w", job.ErrConflict)
}

// EraseUsers tombstones the users, each at its stamp, deletes their
// endpoints and removes them from segments of users.
func (d *DB) EraseUsers(ctx context.Context, stamps map[string]string) (int, error) {
	existed := 0
	for _, u := range slices.Sorted(maps.Keys(stamps)) {
		stamp := stamps[u]
		had, err := d.tombstoneUser(ctx, u, stamp)
		if err != nil {
			return 0, err
		}
		ids := d.userEndpointIds(u)
		if had || len(ids) > 0 {
			existed++
		}
		eps := map[string]string{}
		for _, id := range ids {
			eps[id] = stamp
		}
		if _, err := d.EraseEndpoints(ctx, eps); err != nil {
			return 0, err
		}
		for _, seg := range d.segmentShards() {
			err := d.do(ctx, "DeleteItem", Members, true, func() error {
				delete(d.members[shardKey(seg.set+"#user", u, seg.shards)], u)
				return nil
			})
			if err != nil {
				return 0, err
			}
		}
	}
	return existed, nil
}

func (d *DB) tombstoneUser(ctx context.Context, id, stamp string) (bool, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		recs, err := d.GetUsers(ctx, []string{id})
		if err != nil {
			return false, err
		}
		v, ok := recs[id]
		if !ok {
			v = merge.Versioned[merge.User]{Rec: merge.NewUser(id)}
		}
		had := v.Rec.Exists()
		if !v.Rec.Erase(stamp) {
			return had, nil
		}
		if err := d.PutUser(ctx, v.Rec, v.Ver); err != job.ErrConflict {
			return had, err
		}
	}
	return false, fmt.Errorf("delete user: %w", job.ErrConflict)
}

// userEndpointIds reads the ByUser index: the endpoints whose user is u.
func (d *DB) userEndpointIds(u string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ids []string
	for id, st := range d.endpoints {
		if st.rec.UserId() == u {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

type segmentShard struct {
	set    string // the member set of one of its kept generations
	shards int
}

// segmentShards lists the segments (a Scan), once per kept generation.
func (d *DB) segmentShards() []segmentShard {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []segmentShard
	for _, key := range slices.Sorted(maps.Keys(d.tables[Segments])) {
		var it segmentItem
		if ok, _ := d.get(Segments, key, &it); ok {
			for _, set := range d.keptSets(it.SegmentId, it) {
				out = append(out, segmentShard{set: set, shards: it.Shards})
			}
		}
	}
	return out
}
