package booktest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// RunReplaceBook holds a book to the generations of replacing imports: a
// replace's version starts a generation of its own number, the versions
// reserved after it (appends) belong to it whatever its end, a repeated
// reservation keeps its generation, a replace's count starts over and an
// append's adds to the version before it, and a replace that fails still
// starts its generation (the versions after it hold only what they add).
func RunReplaceBook(t *testing.T, b VersionBook, read ReadVersions) {
	ctx := context.Background()
	segId := job.NewId("booktest", "replace", time.Now().String())[:16]
	if _, err := b.EnsureSegment(ctx, segId, "replace "+segId, "2026-01-02T03:04:05.000Z"); err != nil {
		t.Fatal(err)
	}
	jobs := make([]*job.Job, 7)
	for i := range jobs {
		j, l := newJob(t)
		l.SegmentId = segId
		if _, _, err := b.CreateJob(ctx, j, l); err != nil {
			t.Fatal(err)
		}
		jobs[i] = j
	}
	bases := map[int]int{}
	reserve := func(i int, replace bool, want, wantBase int) {
		t.Helper()
		n, base, err := b.ReserveVersion(ctx, segId, jobs[i].Id, "2026-01-02T03:04:05.000Z", replace)
		if err != nil || n != want || base != wantBase {
			t.Fatalf("ReserveVersion of job %d (replace %v) = %d in generation %d, %v; want %d in generation %d", i, replace, n, base, err, want, wantBase)
		}
		bases[n] = base
	}
	end := func(i, version int, status job.Status, news int) {
		t.Helper()
		err := b.EndVersion(ctx, segId, job.VersionEnd{JobId: jobs[i].Id, Version: version, Base: bases[version], Status: status,
			Written: job.Tally{Rows: news, Channels: map[string]int{"SMS": news}, New: news}, Now: "2026-01-02T04:00:00.000Z", Progress: 3})
		if err != nil {
			t.Fatalf("EndVersion %d: %v", version, err)
		}
	}
	check := func(wantCurrent int, want string) {
		t.Helper()
		checkVersions(t, read, segId, wantCurrent, want, func(v *segment.Version) string {
			mode := "a"
			if v.Replace {
				mode = "r"
			}
			return fmt.Sprintf("%d%s%d", v.Version, mode, v.Base)
		})
	}
	reserve(0, false, 1, 0)
	reserve(1, false, 2, 0)
	reserve(2, true, 3, 3)  // a replace starts generation 3
	reserve(3, false, 4, 3) // an append after it builds on it, though it has not ended
	reserve(2, false, 3, 3) // a repeated launch keeps number and generation
	end(0, 1, job.Completed, 2)
	end(1, 2, job.Completed, 3)
	end(3, 4, job.Completed, 1) // ends before the replace: not current yet
	check(2, "1a0:COMPLETED:2 2a0:COMPLETED:5 3r3:PROCESSING:- 4a3:COMPLETED:- ")
	end(2, 3, job.Completed, 4) // the replace's count starts over
	check(4, "1a0:COMPLETED:2 2a0:COMPLETED:5 3r3:COMPLETED:4 4a3:COMPLETED:5 ")

	// A replace that fails still starts its generation: the append after it
	// holds what it adds, after what the replace added (nothing here).
	reserve(4, true, 5, 5)
	reserve(5, false, 6, 5)
	end(4, 5, job.Failed, 0)
	check(4, "1a0:COMPLETED:2 2a0:COMPLETED:5 3r3:COMPLETED:4 4a3:COMPLETED:5 5r5:FAILED:0 6a5:PROCESSING:- ")
	end(5, 6, job.Completed, 2)
	check(6, "1a0:COMPLETED:2 2a0:COMPLETED:5 3r3:COMPLETED:4 4a3:COMPLETED:5 5r5:FAILED:0 6a5:COMPLETED:2 ")

	// A replace whose job fails before it starts, after it reserved: its
	// version ends FAILED in its own generation, from the segment's Bases.
	reserve(6, true, 7, 7)
	h, err := b.Head(ctx, jobs[6].Id)
	if err != nil {
		t.Fatal(err)
	}
	failed := *h.Job
	failed.JobStatus, failed.CompletionDate, failed.Failures = job.Failed, "2026-01-02T04:00:00.000Z", []string{"could not be planned"}
	if err := b.FinishJob(ctx, &failed, h.Progress); err != nil {
		t.Fatal(err)
	}
	if err := b.AbandonVersion(ctx, segId, jobs[6].Id, "2026-01-02T05:00:00.000Z"); err != nil {
		t.Fatal(err)
	}
	check(6, "1a0:COMPLETED:2 2a0:COMPLETED:5 3r3:COMPLETED:4 4a3:COMPLETED:5 5r5:FAILED:0 6a5:COMPLETED:2 7r7:FAILED:0 ")
	if _, base, err := b.ReserveVersion(ctx, segId, jobs[0].Id, "2026-01-02T05:00:00.000Z", false); err != nil || base != 7 {
		t.Fatalf("an append after the abandoned replace is in generation %d, %v; want 7", base, err)
	}
}
