package memstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// Retention, as internal/dynamo's prune.go: a replace that becomes current
// keeps its generation and the one it took over from (KeptFrom); Prune
// deletes the member items of older generations, oldest first, a bounded
// number per call. Pruning lists the segments with generations left to
// delete (internal/dynamo keeps a marker item for it; here the segments'
// items say it).

// generationOf returns the generation of version n (0 for version 0).
func (d *DB) generationOf(ctx context.Context, segmentId string, n int) (int, error) {
	if n == 0 {
		return 0, nil
	}
	var rec versionItem
	err := d.do(ctx, "GetItem", Jobs, false, func() error {
		_, err := d.get(Jobs, versionKey(segmentId, n), &rec)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("read version %d of segment %s: %w", n, segmentId, err)
	}
	return rec.Base, nil
}

// Prune deletes up to budget member items of the segment's generations that
// are no longer kept and reports whether any remain.
func (d *DB) Prune(ctx context.Context, segmentId string, budget int) (bool, error) {
	var it segmentItem
	err := d.do(ctx, "GetItem", Segments, false, func() error {
		_, err := d.get(Segments, segmentId, &it)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("read segment %s: %w", segmentId, err)
	}
	pruned := it.Pruned
	for pruned < it.KeptFrom {
		n, err := d.deleteGeneration(ctx, segment.MemberSet(segmentId, pruned), budget)
		if err != nil {
			return false, err
		}
		if budget -= n; budget <= 0 {
			return true, nil
		}
		next := it.KeptFrom
		vs := d.Versions(segmentId)
		for _, v := range vs {
			if v.Replace && v.Version > pruned && v.Version < next {
				next = v.Version
			}
		}
		gone := 0 // the pruned generation's count: its last version's
		if next > 1 && next-1 <= len(vs) && vs[next-2].EndpointCount != nil {
			gone = *vs[next-2].EndpointCount
		}
		err = d.do(ctx, "UpdateItem", Segments, true, func() error {
			var cur segmentItem
			if _, err := d.get(Segments, segmentId, &cur); err != nil || cur.Pruned != pruned {
				return err
			}
			cur.Pruned = next
			cur.EndpointCount -= gone
			return d.put(Segments, segmentId, cur)
		})
		if err != nil {
			return false, fmt.Errorf("record the pruning of segment %s: %w", segmentId, err)
		}
		pruned = next
	}
	return false, nil
}

// deleteGeneration deletes up to budget member items of a member set (and its
// member tombstones), one Query and BatchWriteItem a shard page, and returns
// how many.
func (d *DB) deleteGeneration(ctx context.Context, set string, budget int) (int, error) {
	var keys [][2]string
	err := d.do(ctx, "Query", Members, false, func() error {
		for sh, m := range d.members {
			if !strings.HasPrefix(sh, set+"#") || strings.HasPrefix(sh[len(set)+1:], "r") {
				continue
			}
			for id := range m {
				keys = append(keys, [2]string{sh, id})
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for id := range d.erased[set] { // its member tombstones, "<set>#erased#<nn>"
		keys = append(keys, [2]string{set + "#erased", id})
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
	keys = keys[:min(len(keys), budget)]
	err = d.batchWrite(ctx, Members, len(keys), func(i int) error {
		if sh, id := keys[i][0], keys[i][1]; sh == set+"#erased" {
			delete(d.erased[set], id)
		} else {
			delete(d.members[sh], id)
		}
		return nil
	})
	return len(keys), err
}

// Pruning returns the segments whose pruning has not finished.
func (d *DB) Pruning(ctx context.Context) ([]string, error) {
	var ids []string
	err := d.do(ctx, "Query", Jobs, false, func() error {
		for id := range d.tables[Segments] {
			var it segmentItem
			if ok, err := d.get(Segments, id, &it); err == nil && ok && it.Pruned < it.KeptFrom {
				ids = append(ids, id)
			}
		}
		return nil
	})
	slices.Sort(ids)
	return ids, err
}

// unprune deletes the member items a write created in a generation no longer
// kept, then returns job.ErrPruned (internal/dynamo's unprune): one read of
// the segment after the puts, then one conditional delete each; key returns an id's shard and whether
// the delete's condition holds.
func (d *DB) unprune(ctx context.Context, set string, created []string, key func(id string) (string, bool)) error {
	if len(created) == 0 {
		return nil
	}
	segmentId, base := segment.ParseSet(set)
	var it segmentItem
	err := d.do(ctx, "GetItem", Segments, false, func() error {
		_, err := d.get(Segments, segmentId, &it)
		return err
	})
	if err != nil || base >= it.KeptFrom {
		return err
	}
	for _, id := range created {
		err := d.do(ctx, "DeleteItem", Members, true, func() error {
			if sh, ok := key(id); ok {
				delete(d.members[sh], id)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return fmt.Errorf("generation %d of segment %s: %w", base, segmentId, job.ErrPruned)
}
