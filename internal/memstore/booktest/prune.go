package booktest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// PruneBook is what the retention suite needs: versions, the members they
// add, and pruning.
type PruneBook interface {
	VersionBook
	importer.Pruner
	AddMembers(ctx context.Context, segmentId string, shards, version int, batch string, ids []string, stamps map[string]string) (int, error)
}

// ReadMembers reads every member item of a member set (segment.MemberSet).
type ReadMembers func(ctx context.Context, set string) ([]string, error)

// RunPruneBook holds a book to the retention: one replace keeps every
// generation; once a second replace is current, the generation before the
// first is pruned, a bounded number of items per call, and only it; pruning
// again changes nothing, and the pruned versions say so.
func RunPruneBook(t *testing.T, b PruneBook, read ReadVersions, members ReadMembers) {
	ctx := context.Background()
	segId := job.NewId("booktest", "prune", time.Now().String())[:16]
	if _, err := b.EnsureSegment(ctx, segId, "prune "+segId, "2026-01-02T03:04:05.000Z"); err != nil {
		t.Fatal(err)
	}
	adds := map[int][]string{1: {"a", "b", "c", "d", "e"}, 2: {"a", "f", "g"}, 3: {"h", "i"}}
	for n := 1; n <= 3; n++ {
		j, l := newJob(t)
		l.SegmentId = segId
		if _, _, err := b.CreateJob(ctx, j, l); err != nil {
			t.Fatal(err)
		}
		v, base, err := b.ReserveVersion(ctx, segId, j.Id, "2026-01-02T03:04:05.000Z", n > 1)
		if err != nil || v != n {
			t.Fatalf("reserve %d: %d, %v", n, v, err)
		}
		added, err := b.AddMembers(ctx, segment.MemberSet(segId, base), 0, v, j.Id+"#0#0", adds[n], nil)
		if err != nil || added != len(adds[n]) {
			t.Fatalf("members of version %d: %d, %v", n, added, err)
		}
		err = b.EndVersion(ctx, segId, job.VersionEnd{JobId: j.Id, Version: v, Base: base, Status: job.Completed,
			Written: job.Tally{Rows: added, New: added}, Now: "2026-01-02T04:00:00.000Z", Progress: 3})
		if err != nil {
			t.Fatal(err)
		}
		if n == 2 {
			// One replace: the generation it took over from is kept.
			if segs, err := b.Pruning(ctx); err != nil || slices.Contains(segs, segId) {
				t.Fatalf("after one replace, pruning %v, %v", segs, err)
			}
		}
	}
	count := func(set string) int {
		t.Helper()
		ids, err := members(ctx, set)
		if err != nil {
			t.Fatal(err)
		}
		return len(ids)
	}
	if segs, err := b.Pruning(ctx); err != nil || !slices.Contains(segs, segId) {
		t.Fatalf("after the second replace, pruning %v, %v", segs, err)
	}
	for _, want := range []struct {
		budget  int
		more    bool
		gen0    int
		pruning bool
	}{{2, true, 3, true}, {2, true, 1, true}, {2, false, 0, false}, {2, false, 0, false}} {
		more, err := b.Prune(ctx, segId, want.budget)
		if err != nil || more != want.more {
			t.Fatalf("Prune = %v, %v; want %v", more, err, want.more)
		}
		if n := count(segId); n != want.gen0 {
			t.Fatalf("generation 0 after pruning: %d members, want %d", n, want.gen0)
		}
		if segs, _ := b.Pruning(ctx); slices.Contains(segs, segId) != want.pruning {
			t.Fatalf("pruning %v after a Prune that left %d", segs, want.gen0)
		}
	}
	if g2, g3 := count(segment.MemberSet(segId, 2)), count(segment.MemberSet(segId, 3)); g2 != 3 || g3 != 2 {
		t.Fatalf("the kept generations hold %d and %d members, want 3 and 2", g2, g3)
	}
	cur, vs, err := read(ctx, segId)
	if err != nil || cur != 3 || len(vs) != 3 {
		t.Fatalf("current %d, %d versions, %v", cur, len(vs), err)
	}
	for _, v := range vs {
		if v.Pruned != (v.Version == 1) || v.EndpointCount == nil || *v.EndpointCount != len(adds[v.Version]) {
			t.Errorf("version %d: pruned %v, count %v", v.Version, v.Pruned, v.EndpointCount)
		}
	}
}
