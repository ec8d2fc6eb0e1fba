package booktest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// RunEraseReplaceBook holds a book to deletes in a replaced segment: an
// endpoint in both generations kept leaves both, one in the older generation
// only leaves it, and every version's count stays exact; a delete repeated
// changes nothing. With del (a store that deletes segments), deleting the
// segment then leaves no member item nor member tombstone of either
// generation.
func RunEraseReplaceBook(t *testing.T, b EraseBook, read ReadVersions, members ReadMembers, del func(ctx context.Context, segId string) error) {
	ctx := context.Background()
	suffix := job.NewId("booktest", "erase-replace", time.Now().String())[:10]
	segId := "erasereplace" + suffix
	if _, err := b.EnsureSegment(ctx, segId, "erase replace "+suffix, "2026-01-02T03:04:05.000Z"); err != nil {
		t.Fatal(err)
	}
	id := func(s string) string { return s + suffix }
	a, bb, c, d := id("a"), id("b"), id("c"), id("d")
	// Version 1 appends a, b and c; version 2 replaces them with a, b and d.
	adds := map[int][]string{1: {a, bb, c}, 2: {a, bb, d}}
	for n := 1; n <= 2; n++ {
		j, l := newJob(t)
		l.SegmentId = segId
		if _, _, err := b.CreateJob(ctx, j, l); err != nil {
			t.Fatal(err)
		}
		v, base, err := b.ReserveVersion(ctx, segId, j.Id, "2026-01-02T03:04:05.000Z", n == 2)
		if err != nil || v != n || base != map[int]int{1: 0, 2: 2}[n] {
			t.Fatalf("reserve %d: version %d, generation %d, %v", n, v, base, err)
		}
		stamps := map[string]string{}
		for _, e := range adds[n] {
			stamps[e] = "1"
		}
		added, err := b.AddMembers(ctx, segment.MemberSet(segId, base), 0, v, j.Id+"#0#0", adds[n], stamps)
		if err != nil || added != 3 {
			t.Fatalf("members of version %d: %d, %v", n, added, err)
		}
		err = b.EndVersion(ctx, segId, job.VersionEnd{JobId: j.Id, Version: v, Base: base, Status: job.Completed,
			Written: job.Tally{Rows: added, New: added}, Now: "2026-01-02T04:00:00.000Z", Progress: 3})
		if err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string, gen0, gen2 []string) {
		t.Helper()
		for set, want := range map[string][]string{segId: gen0, segment.MemberSet(segId, 2): gen2} {
			got, err := members(ctx, set)
			if err != nil {
				t.Fatal(err)
			}
			if slices.Sort(want); !slices.Equal(got, want) {
				t.Errorf("%s: members of %s are %v, want %v", when, set, got, want)
			}
		}
		cur, vs, err := read(ctx, segId)
		if err != nil || cur != 2 || len(vs) != 2 {
			t.Fatalf("%s: current %d, %d versions, %v", when, cur, len(vs), err)
		}
		for i, want := range []int{len(gen0), len(gen2)} {
			if v := vs[i]; v.EndpointCount == nil || *v.EndpointCount != want {
				t.Errorf("%s: version %d counts %v, want %d", when, v.Version, v.EndpointCount, want)
			}
		}
	}
	check("before deletes", []string{a, bb, c}, []string{a, bb, d})
	for range 2 { // repeated: nothing more
		if _, err := b.EraseEndpoints(ctx, map[string]string{a: "2"}); err != nil {
			t.Fatal(err)
		}
	}
	check("after deleting an endpoint of both generations", []string{bb, c}, []string{bb, d})
	if _, err := b.EraseEndpoints(ctx, map[string]string{c: "2"}); err != nil {
		t.Fatal(err)
	}
	check("after deleting an endpoint of the older generation", []string{bb}, []string{bb, d})
	if del == nil {
		return
	}
	if err := del(ctx, segId); err != nil {
		t.Fatal(err)
	}
	for _, set := range []string{segId, segId + "#erased", segment.MemberSet(segId, 2), segment.MemberSet(segId, 2) + "#erased"} {
		if got, err := members(ctx, set); err != nil || len(got) > 0 {
			t.Errorf("after deleting the segment, %s holds %v (%v)", set, got, err)
		}
	}
}
