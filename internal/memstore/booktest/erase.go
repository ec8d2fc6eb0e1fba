package booktest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/internal/merge"
	"github.com/segport/segport/pkg/endpoint"
	"github.com/segport/segport/pkg/job"
)

// EraseBook is what the deletion suite needs: the endpoint store, its
// deletes and the segment and job books that count members.
type EraseBook interface {
	importer.EndpointStore
	importer.SegmentBook
	importer.JobBook
}

// SegmentState is what the suite reads back of a segment: its EndpointCount,
// its member ids (sorted) and each version's EndpointCount, oldest first.
type SegmentState struct {
	Count    int
	Members  []string
	Versions []int
}

// ReadSegment reads a segment's state.
type ReadSegment func(ctx context.Context, segmentId string) (SegmentState, error)

// RunEraseBook holds a book to the deletion contract (importer.Eraser):
// deletes ordered by stamps against rows and members, in any order and
// repeated, with the segment's and its versions' counts exact.
func RunEraseBook(t *testing.T, b EraseBook, read ReadSegment) {
	ctx := context.Background()
	suffix := job.NewId("booktest", "erase", time.Now().String())[:10]
	segId := "erase" + suffix
	if _, err := b.EnsureSegment(ctx, segId, "erase "+suffix, "2026-01-02T03:04:05.000Z"); err != nil {
		t.Fatal(err)
	}
	id := func(s string) string { return s + suffix }
	put := func(eid, stamp, user string) {
		t.Helper()
		for {
			recs, err := b.GetEndpoints(ctx, []string{eid})
			if err != nil {
				t.Fatal(err)
			}
			v, ok := recs[eid]
			if !ok {
				v = merge.Versioned[merge.Endpoint]{Rec: merge.NewEndpoint(eid)}
			}
			row := &endpoint.Endpoint{Id: eid, ChannelType: "SMS", Address: "+1206555" + stamp}
			if user != "" {
				row.User = &endpoint.User{UserId: user}
			}
			if !v.Rec.Apply(row, stamp) {
				return
			}
			if err := b.PutEndpoint(ctx, v.Rec, v.Ver); err != job.ErrConflict {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
		}
	}
	add := func(batch string, version int, stamp string, ids ...string) int {
		t.Helper()
		stamps := map[string]string{}
		for _, i := range ids {
			stamps[i] = stamp
		}
		n, err := b.AddMembers(ctx, segId, 0, version, batch, ids, stamps)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	state := func() SegmentState {
		t.Helper()
		st, err := read(ctx, segId)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	// One job, version 1, adds a, b, c and d (stamp 1), and ends.
	j, l := newJob(t)
	l.SegmentId = segId
	if _, _, err := b.CreateJob(ctx, j, l); err != nil {
		t.Fatal(err)
	}
	v, _, err := b.ReserveVersion(ctx, segId, j.Id, j.CreationDate, false)
	if err != nil {
		t.Fatal(err)
	}
	a, bb, c, d := id("a"), id("b"), id("c"), id("d")
	for _, e := range []string{a, bb, c, d} {
		put(e, "1", "")
	}
	put(c, "1", id("user"))
	put(d, "1", id("user"))
	if n := add(j.Id+"#b1", v, "1", a, bb, c, d); n != 4 {
		t.Fatalf("AddMembers counted %d, want 4", n)
	}
	written := job.Tally{Rows: 4, Channels: map[string]int{"SMS": 4}, New: 4}
	if err := b.SetContribution(ctx, segId, job.Contribution{JobId: j.Id, JobOrder: l.JobOrder, Written: written, Progress: 1, Now: j.CreationDate}); err != nil {
		t.Fatal(err)
	}
	if err := b.EndVersion(ctx, segId, job.VersionEnd{JobId: j.Id, Version: v, Status: job.Completed, Written: written, Now: j.CreationDate, Progress: 1}); err != nil {
		t.Fatal(err)
	}
	if st := state(); st.Count != 4 || len(st.Members) != 4 || !slices.Equal(st.Versions, []int{4}) {
		t.Fatalf("before deletes: %+v", st)
	}

	t.Run("a deleted endpoint is a tombstone out of every version", func(t *testing.T) {
		for range 2 { // repeated: nothing more
			if _, err := b.EraseEndpoints(ctx, map[string]string{a: "2"}); err != nil {
				t.Fatal(err)
			}
		}
		recs, err := b.GetEndpoints(ctx, []string{a})
		if err != nil {
			t.Fatal(err)
		}
		if r := recs[a].Rec; r == nil || r.Exists() || r.Deleted != "2" || r.E.Address != "" {
			t.Fatalf("endpoint after the delete: %+v", r)
		}
		if st := state(); st.Count != 3 || slices.Contains(st.Members, a) || !slices.Equal(st.Versions, []int{3}) {
			t.Fatalf("after the delete: %+v", st)
		}
	})
	t.Run("a row older than the delete does not bring it back", func(t *testing.T) {
		put(a, "1", "")
		// The batch delivered again counts as it did, and the writer erases
		// the member it made again (orderAgainstDeletes).
		if n := add(j.Id+"#b1", v, "1", a); n != 1 {
			t.Fatalf("the batch again counted %d, want 1", n)
		}
		if err := b.EraseMember(ctx, segId, 0, a, "2"); err != nil {
			t.Fatal(err)
		}
		recs, _ := b.GetEndpoints(ctx, []string{a})
		if recs[a].Rec.Exists() {
			t.Fatalf("an older row set the deleted endpoint again: %+v", recs[a].Rec.E)
		}
		if st := state(); st.Count != 3 || slices.Contains(st.Members, a) {
			t.Fatalf("after an older row: %+v", st)
		}
	})
	t.Run("a member made by a row after the delete stays", func(t *testing.T) {
		put(bb, "3", "")
		add(j.Id+"#b9", v, "3", bb) // another batch names it later: S rises
		if _, err := b.EraseEndpoints(ctx, map[string]string{bb: "2"}); err != nil {
			t.Fatal(err)
		}
		recs, _ := b.GetEndpoints(ctx, []string{bb})
		if r := recs[bb].Rec; !r.Exists() || r.E.Address != "+12065553" {
			t.Fatalf("the newer row's endpoint: %+v", r.E)
		}
		if st := state(); st.Count != 3 || !slices.Contains(st.Members, bb) {
			t.Fatalf("after a delete older than the member: %+v", st)
		}
	})
	t.Run("deleting a user deletes its endpoints", func(t *testing.T) {
		if _, err := b.EraseUsers(ctx, map[string]string{id("user"): "2"}); err != nil {
			t.Fatal(err)
		}
		recs, _ := b.GetEndpoints(ctx, []string{c, d})
		for _, e := range []string{c, d} {
			if r := recs[e].Rec; r.Exists() || r.UserId() != "" {
				t.Fatalf("endpoint %s of the deleted user: %+v", e, r.E)
			}
		}
		users, _ := b.GetUsers(ctx, []string{id("user")})
		if u := users[id("user")].Rec; u == nil || u.Exists() || u.Deleted != "2" {
			t.Fatalf("user after its delete: %+v", u)
		}
		if st := state(); st.Count != 1 || !slices.Equal(st.Members, []string{bb}) || !slices.Equal(st.Versions, []int{1}) {
			t.Fatalf("after the user's delete: %+v", st)
		}
	})
	t.Run("a newer import makes it a member again", func(t *testing.T) {
		put(a, "5", "")
		if n := add(j.Id+"#b2", v, "5", a); n != 1 {
			t.Fatalf("the newer batch counted %d, want 1", n)
		}
		written.New++
		if err := b.SetContribution(ctx, segId, job.Contribution{JobId: j.Id, JobOrder: l.JobOrder, Written: written, Progress: 2, Now: j.CreationDate}); err != nil {
			t.Fatal(err)
		}
		if st := state(); st.Count != 2 || !slices.Contains(st.Members, a) {
			t.Fatalf("after a newer import: %+v", st)
		}
	})
}
