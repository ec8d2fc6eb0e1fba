package booktest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// VersionBook is what the versions suite needs: the segment side of the book
// and the job side, as internal/dynamo's Store and memstore.DB both are.
type VersionBook interface {
	importer.SegmentBook
	importer.JobBook
}

// ReadVersions reads a segment's current version and its versions, oldest first.
type ReadVersions func(ctx context.Context, segmentId string) (int, []*segment.Version, error)

// RunVersionBook holds a book to SegmentBook's version contract: numbers
// reserved once per job and without gaps, the current version moved on in
// version order over ended versions only, FAILED versions never current,
// member counts accumulated in version order, and the version of a job that
// failed before it started ended for it.
func RunVersionBook(t *testing.T, b VersionBook, read ReadVersions) {
	ctx := context.Background()
	segId := job.NewId("booktest", "versions", time.Now().String())[:16]
	if _, err := b.EnsureSegment(ctx, segId, "versions "+segId, "2026-01-02T03:04:05.000Z"); err != nil {
		t.Fatal(err)
	}
	jobs := make([]*job.Job, 5)
	for i := range jobs {
		j, l := newJob(t)
		l.SegmentId = segId
		if _, _, err := b.CreateJob(ctx, j, l); err != nil {
			t.Fatal(err)
		}
		jobs[i] = j
	}
	reserve := func(i, want int) {
		t.Helper()
		n, base, err := b.ReserveVersion(ctx, segId, jobs[i].Id, "2026-01-02T03:04:05.000Z", false)
		if err != nil || n != want || base != 0 {
			t.Fatalf("ReserveVersion of job %d = %d (generation %d), %v; want %d (generation 0)", i, n, base, err, want)
		}
	}
	end := func(i, version int, status job.Status, news int) {
		t.Helper()
		err := b.EndVersion(ctx, segId, job.VersionEnd{JobId: jobs[i].Id, Version: version, Status: status,
			Written: job.Tally{Rows: news + 1, Channels: map[string]int{"SMS": news + 1}, New: news}, Now: "2026-01-02T04:00:00.000Z", Progress: 3})
		if err != nil {
			t.Fatalf("EndVersion %d: %v", version, err)
		}
	}
	check := func(wantCurrent int, want string) {
		t.Helper()
		checkVersions(t, read, segId, wantCurrent, want, func(v *segment.Version) string { return fmt.Sprintf("%d", v.Version) })
	}
	reserve(0, 1)
	reserve(1, 2)
	reserve(2, 3)
	reserve(0, 1) // a repeated launch
	check(0, "1:PROCESSING:- 2:PROCESSING:- 3:PROCESSING:- ")
	end(2, 3, job.Completed, 2) // the last one ends first: not current yet
	check(0, "1:PROCESSING:- 2:PROCESSING:- 3:COMPLETED:- ")
	end(0, 1, job.Completed, 3)
	end(0, 1, job.Completed, 3) // a repeated end
	check(1, "1:COMPLETED:3 2:PROCESSING:- 3:COMPLETED:- ")
	end(1, 2, job.Failed, 1) // a FAILED version is never current, its members count
	check(3, "1:COMPLETED:3 2:FAILED:4 3:COMPLETED:6 ")
	end(2, 3, job.Completed, 2) // a late repeat changes nothing
	check(3, "1:COMPLETED:3 2:FAILED:4 3:COMPLETED:6 ")

	// Job 3 reserves version 4, then fails before it starts (its launch
	// stored no version); job 4's end ends version 4 for it.
	reserve(3, 4)
	reserve(4, 5)
	h, err := b.Head(ctx, jobs[3].Id)
	if err != nil {
		t.Fatal(err)
	}
	failed := *h.Job
	failed.JobStatus, failed.CompletionDate, failed.Failures = job.Failed, "2026-01-02T04:00:00.000Z", []string{"could not be planned"}
	if err := b.FinishJob(ctx, &failed, h.Progress); err != nil {
		t.Fatal(err)
	}
	end(4, 5, job.Completed, 1)
	check(5, "1:COMPLETED:3 2:FAILED:4 3:COMPLETED:6 4:FAILED:6 5:COMPLETED:7 ")
	if err := b.AbandonVersion(ctx, segId+"-none", jobs[3].Id, "2026-01-02T05:00:00.000Z"); err != nil {
		t.Fatalf("AbandonVersion in a segment that does not exist (a job that failed before it started makes none): %v", err)
	}
	if err := b.AbandonVersion(ctx, segId, jobs[3].Id, "2026-01-02T05:00:00.000Z"); err != nil { // again: nothing to do
		t.Fatal(err)
	}
	check(5, "1:COMPLETED:3 2:FAILED:4 3:COMPLETED:6 4:FAILED:6 5:COMPLETED:7 ")
	if n, _, err := b.ReserveVersion(ctx, segId, jobs[0].Id, "2026-01-02T05:00:00.000Z", false); err != nil || n != 6 {
		t.Fatalf("a job whose version ended reserves %d, %v; want a new number, 6", n, err)
	}
}

// checkVersions reads a segment's versions and compares its current version
// and the versions, each as name(v), its status and its count ("-" until
// counted), with want.
func checkVersions(t *testing.T, read ReadVersions, segId string, wantCurrent int, want string, name func(*segment.Version) string) {
	t.Helper()
	cur, vs, err := read(context.Background(), segId)
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, v := range vs {
		c := "-"
		if v.EndpointCount != nil {
			c = fmt.Sprint(*v.EndpointCount)
		}
		got += fmt.Sprintf("%s:%s:%s ", name(v), v.JobStatus, c)
	}
	if cur != wantCurrent || got != want {
		t.Fatalf("current %d, versions %s; want current %d, versions %s", cur, got, wantCurrent, want)
	}
}
