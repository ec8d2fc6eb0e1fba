// Package booktest is a conformance suite for importer.JobBook: the contract
// written on the interface, checked against any implementation. It runs
// against memstore.DB here, and is meant to run against internal/dynamo's Store on
// the local stack too, so that the in-memory book cannot drift from DynamoDB's.
package booktest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/pkg/job"
)

var counter atomic.Int64

// newJob returns a job with an id of its own, so that the suite can share a
// table with other tests and with earlier runs.
func newJob(t *testing.T) (*job.Job, job.Launch) {
	id := job.NewId("booktest", t.Name(), fmt.Sprint(counter.Add(1)), time.Now().String())
	created := time.Date(2026, 1, 2, 3, 4, 5, int(counter.Load())*int(time.Millisecond), time.UTC)
	j := &job.Job{Id: id, JobStatus: job.Created, CreationDate: created.Format(job.DateFormat),
		Definition: job.Definition{S3Url: "s3://b/imports/s/f.csv", Format: "CSV", SegmentId: "seg", SegmentName: "s"}, Failures: []string{}}
	l := job.Launch{JobOrder: job.Order(created, id), Created: j.CreationDate, Bucket: "b", Format: "CSV", SegmentId: "seg"}
	return j, l
}

func pieces(n int) []job.Piece {
	ps := make([]job.Piece, n)
	for i := range ps {
		ps[i] = job.Piece{Key: "imports/s/f.csv", Index: i, Start: int64(100 * i), End: int64(100 * (i + 1)), Line: 1 + 10*i}
	}
	return ps
}

func tally(n int) job.Tally { return job.Tally{Rows: n, Channels: map[string]int{"SMS": n}} }

// RunJobBook runs the suite; newBook returns the book to test (it may return
// the same book every time: every case makes jobs of its own).
func RunJobBook(t *testing.T, newBook func() importer.JobBook) {
	ctx := context.Background()
	started := func(t *testing.T, b importer.JobBook, n int) *job.Job {
		t.Helper()
		j, l := newJob(t)
		l.TotalPieces = n
		if _, created, err := b.CreateJob(ctx, j, l); err != nil || !created {
			t.Fatalf("CreateJob: created %v, %v", created, err)
		}
		if err := b.StartJob(ctx, j.Id, l, pieces(n)); err != nil {
			t.Fatalf("StartJob: %v", err)
		}
		return j
	}
	t.Run("CreateJob once", func(t *testing.T) {
		b := newBook()
		j, l := newJob(t)
		if _, created, err := b.CreateJob(ctx, j, l); err != nil || !created {
			t.Fatalf("first CreateJob: created %v, %v", created, err)
		}
		again := *j
		again.CreationDate = "2099-01-01T00:00:00.000Z"
		stored, created, err := b.CreateJob(ctx, &again, l)
		if err != nil || created || stored.CreationDate != j.CreationDate || stored.JobStatus != job.Created {
			t.Fatalf("second CreateJob: %+v, created %v, %v; want the first job, not created", stored, created, err)
		}
		h, err := b.Head(ctx, j.Id)
		if err != nil || h.Job.JobStatus != job.Created || h.Launch.JobOrder != l.JobOrder || !reflect.DeepEqual(h.Job.Definition, j.Definition) {
			t.Fatalf("Head: %+v, %v", h, err)
		}
	})
	t.Run("missing job", func(t *testing.T) {
		b := newBook()
		id := job.NewId("booktest", "missing", time.Now().String())
		if _, err := b.Head(ctx, id); !errors.Is(err, job.ErrNotFound) {
			t.Errorf("Head: %v, want job.ErrNotFound", err)
		}
		if _, err := b.PieceParsed(ctx, id, 0, job.PieceResult{}); !errors.Is(err, job.ErrNotFound) {
			t.Errorf("PieceParsed: %v, want job.ErrNotFound", err)
		}
		if _, err := b.BatchDone(ctx, id, 0, 0, tally(1)); !errors.Is(err, job.ErrNotFound) {
			t.Errorf("BatchDone: %v, want job.ErrNotFound", err)
		}
		if _, err := b.SettlePiece(ctx, id, 0, false); !errors.Is(err, job.ErrNotFound) {
			t.Errorf("SettlePiece: %v, want job.ErrNotFound", err)
		}
	})
	t.Run("StartJob", func(t *testing.T) {
		b := newBook()
		j := started(t, b, 3)
		h, err := b.Head(ctx, j.Id)
		if err != nil || h.Job.JobStatus != job.Processing || h.Launch.TotalPieces != 3 {
			t.Fatalf("Head after StartJob: %+v, %v", h, err)
		}
		ps, err := b.Pieces(ctx, j.Id)
		if err != nil || len(ps) != 3 {
			t.Fatalf("Pieces: %d, %v", len(ps), err)
		}
		for i, p := range ps {
			if p.Index != i || p.Plan.Line != 1+10*i || p.Parsed || p.Settled() {
				t.Errorf("piece %d: %+v", i, p)
			}
		}
		if _, err := b.PieceParsed(ctx, j.Id, 1, job.PieceResult{Rows: 5, Batches: 1}); err != nil {
			t.Fatalf("PieceParsed: %v", err)
		}
		if err := b.StartJob(ctx, j.Id, h.Launch, pieces(3)); err != nil {
			t.Fatalf("StartJob again: %v", err)
		}
		if p, err := b.Piece(ctx, j.Id, 1); err != nil || !p.Parsed || p.Result.Rows != 5 {
			t.Errorf("a piece after StartJob again: %+v, %v; want its progress kept", p, err)
		}
	})
	t.Run("Planning", func(t *testing.T) {
		b := newBook()
		j, l := newJob(t)
		if _, _, err := b.CreateJob(ctx, j, l); err != nil {
			t.Fatalf("CreateJob: %v", err)
		}
		ranges := append(job.Ranges("a.csv", 0, 100, 10, 4, 0), job.Ranges("b.csv", 1, 5, 10, 4, 3)...)
		if len(ranges) != 4 {
			t.Fatalf("job.Ranges: %d ranges, want 4", len(ranges))
		}
		if err := b.StartPlanning(ctx, j.Id, ranges); err != nil {
			t.Fatalf("StartPlanning: %v", err)
		}
		if h, err := b.Head(ctx, j.Id); err != nil || h.Job.JobStatus != job.Initializing {
			t.Fatalf("Head after StartPlanning: %+v, %v", h, err)
		}
		frame := job.Frame{To: []int{0, 1, 2, 3, 4}, First: []int64{3, 3, -1, 3, 3}, Before: []int{1, 1, 0, 1, 1}, Newlines: 2}
		for i := range 3 {
			all, err := b.RangeScanned(ctx, j.Id, i, job.RangeResult{Frames: []job.Frame{frame}})
			if err != nil || all {
				t.Fatalf("RangeScanned %d of 4: %v, %v; want not all", i, all, err)
			}
		}
		if n, err := b.RangeTried(ctx, j.Id, 3); err != nil || n != 1 {
			t.Fatalf("RangeTried: %d, %v", n, err)
		}
		if err := b.StartPlanning(ctx, j.Id, ranges); err != nil {
			t.Fatalf("StartPlanning again: %v", err)
		}
		for range 2 { // a repeated last scan still completes the planning
			all, err := b.RangeScanned(ctx, j.Id, 3, job.RangeResult{Header: []string{"Address"}})
			if err != nil || !all {
				t.Fatalf("the last RangeScanned: %v, %v; want all", all, err)
			}
		}
		rs, err := b.Ranges(ctx, j.Id)
		if err != nil || len(rs) != 4 {
			t.Fatalf("Ranges: %d, %v", len(rs), err)
		}
		for i, r := range rs {
			if r.Index != i || r.Plan != ranges[i] || !r.Scanned || r.Tries != 0 {
				t.Errorf("range %d: %+v, want plan %+v scanned, no tries", i, r, ranges[i])
			}
		}
		if f := rs[1].Result.Frames; len(f) != 1 || f[0].First[2] != -1 || f[0].Newlines != 2 || rs[3].Result.Header[0] != "Address" {
			t.Errorf("range results: %+v, %+v", rs[1].Result, rs[3].Result)
		}
		l.Shards = 7
		if err := b.StartJob(ctx, j.Id, l, pieces(2)); err != nil {
			t.Fatalf("StartJob: %v", err)
		}
		h, err := b.Head(ctx, j.Id)
		if err != nil || h.Job.JobStatus != job.Processing || h.Launch.Shards != 7 || h.Launch.TotalPieces != 2 {
			t.Fatalf("Head after StartJob: %+v, %v", h, err)
		}
		if all, err := b.RangeScanned(ctx, j.Id, 3, job.RangeResult{}); err != nil || all {
			t.Errorf("RangeScanned of a started job: %v, %v; want not all", all, err)
		}
		if _, err := b.RangeScanned(ctx, j.Id, 9, job.RangeResult{}); !errors.Is(err, job.ErrNotFound) {
			t.Errorf("RangeScanned of a range that does not exist: %v, want job.ErrNotFound", err)
		}
	})
	t.Run("ReopenPlanning", func(t *testing.T) {
		b := newBook()
		j, l := newJob(t)
		if _, _, err := b.CreateJob(ctx, j, l); err != nil {
			t.Fatalf("CreateJob: %v", err)
		}
		if err := b.StartPlanning(ctx, j.Id, job.Ranges("a.csv", 0, 100, 10, 4, 0)); err != nil {
			t.Fatalf("StartPlanning: %v", err)
		}
		if _, err := b.RangeTried(ctx, j.Id, 1); err != nil {
			t.Fatalf("RangeTried: %v", err)
		}
		h, _ := b.Head(ctx, j.Id)
		if ok, err := b.ReopenPlanning(ctx, j.Id, h.Progress, 1); err != nil || ok {
			t.Fatalf("ReopenPlanning of a job being planned: %v, %v; want not reopened", ok, err)
		}
		failed := *h.Job
		failed.JobStatus, failed.CompletionDate, failed.Failures = job.Failed, "2026-11-01T12:05:00.000Z", []string{"range 1 gave up"}
		if err := b.FinishJob(ctx, &failed, h.Progress); err != nil {
			t.Fatalf("FinishJob: %v", err)
		}
		if ok, err := b.ReopenPlanning(ctx, j.Id, h.Progress-1, 1); err != nil || ok {
			t.Fatalf("ReopenPlanning at a stale progress: %v, %v; want not reopened", ok, err)
		}
		if ok, err := b.ReopenPlanning(ctx, j.Id, h.Progress, 1); err != nil || !ok {
			t.Fatalf("ReopenPlanning: %v, %v; want reopened", ok, err)
		}
		h2, err := b.Head(ctx, j.Id)
		if err != nil || h2.Job.JobStatus != job.Initializing || len(h2.Job.Failures) != 0 || h2.Job.CompletionDate != "" || h2.Progress <= h.Progress {
			t.Fatalf("Head after ReopenPlanning: %+v, %v; want INITIALIZING, no end, progress on", h2, err)
		}
		running, err := b.Running(ctx)
		if err != nil || !slices.ContainsFunc(running, func(r *job.Head) bool { return r.Job.Id == j.Id }) {
			t.Errorf("Running after ReopenPlanning: %v; want the job among the running", err)
		}
		if rs, err := b.Ranges(ctx, j.Id); err != nil || rs[1].Tries != 0 {
			t.Errorf("range 1 after ReopenPlanning: %+v, %v; want its tries counted from 0", rs, err)
		}
		if ok, err := b.ReopenPlanning(ctx, j.Id, h2.Progress, 1); err != nil || ok {
			t.Errorf("ReopenPlanning of a reopened job: %v, %v; want not reopened", ok, err)
		}
	})
	t.Run("piece updates are idempotent", func(t *testing.T) {
		b := newBook()
		j := started(t, b, 1)
		if st, err := b.PieceGaveUp(ctx, j.Id, 0, "first"); err != nil || st.GaveUp != "first" || !st.Settled() {
			t.Fatalf("PieceGaveUp: %+v, %v", st, err)
		}
		if st, err := b.PieceGaveUp(ctx, j.Id, 0, "second"); err != nil || st.GaveUp != "first" {
			t.Fatalf("PieceGaveUp again: %+v, %v; the first reason stays", st, err)
		}
		res := job.PieceResult{Batches: 2, Rows: 5, Cuts: []job.Cut{{Line: 2, Tally: tally(3)}, {Line: 5, Tally: tally(2)}}}
		st, err := b.PieceParsed(ctx, j.Id, 0, res)
		if err != nil || !st.Parsed || st.GaveUp != "" || st.Result.Batches != 2 || st.Settled() {
			t.Fatalf("PieceParsed: %+v, %v; want parsed, GaveUp cleared, not settled", st, err)
		}
		for range 2 {
			if st, err = b.BatchDone(ctx, j.Id, 0, 0, tally(3)); err != nil || len(st.Done) != 1 || st.Done[0].Rows != 3 {
				t.Fatalf("BatchDone: %+v, %v", st, err)
			}
		}
		if st, err = b.BatchLost(ctx, j.Id, 0, 1, job.LostBatch{Tally: tally(2), Line: 5, Reason: "first"}); err != nil || !st.Settled() || !st.Failed() {
			t.Fatalf("BatchLost: %+v, %v; want settled, failed", st, err)
		}
		second := job.LostBatch{Tally: tally(2), Line: 5, Reason: "second"}
		second.New = 1 // another delivery added a member before it too was abandoned
		if st, err = b.BatchLost(ctx, j.Id, 0, 1, second); err != nil || st.Lost[1].Reason != "second" || st.Lost[1].New != 1 {
			t.Fatalf("BatchLost again: %+v, %v; the later record replaces the earlier", st, err)
		}
		if st, err = b.BatchDone(ctx, j.Id, 0, 1, tally(2)); err != nil || st.Failed() || st.Written().Rows != 5 {
			t.Fatalf("BatchDone of a lost batch: %+v, %v; want written after all", st, err)
		}
		for want := 1; want <= 2; want++ {
			if n, err := b.PieceTried(ctx, j.Id, 0); err != nil || n != want {
				t.Fatalf("PieceTried: %d, %v; want %d", n, err, want)
			}
		}
	})
	t.Run("SettlePiece and FinishJob", func(t *testing.T) {
		b := newBook()
		j := started(t, b, 2)
		h0, _ := b.Head(ctx, j.Id)
		for range 2 { // settling again is harmless
			if all, err := b.SettlePiece(ctx, j.Id, 1, true); err != nil || all {
				t.Fatalf("SettlePiece 1: all %v, %v; want not all", all, err)
			}
		}
		h1, _ := b.Head(ctx, j.Id)
		if h1.Progress <= h0.Progress || !h1.Progressed.Equal(h0.Progressed) {
			t.Fatalf("progress %d -> %d, progressed %v -> %v: want progress on, and no progress in time (settling again is none)",
				h0.Progress, h1.Progress, h0.Progressed, h1.Progressed)
		}
		if all, err := b.SettlePiece(ctx, j.Id, 1, false); err != nil || all {
			t.Fatalf("SettlePiece 1 not failed: all %v, %v", all, err)
		}
		if all, err := b.SettlePiece(ctx, j.Id, 0, false); err != nil || !all {
			t.Fatalf("SettlePiece 0: all %v, %v; want all", all, err)
		}
		h, _ := b.Head(ctx, j.Id)
		end := *h.Job
		end.JobStatus, end.CompletionDate, end.TotalProcessed, end.TotalFailures = job.Completed, "2026-01-02T04:00:00.000Z", 7, 1
		end.Failures = []string{"f.csv:3: bad"}
		if err := b.FinishJob(ctx, &end, h.Progress-1); !errors.Is(err, job.ErrConflict) {
			t.Fatalf("FinishJob at a stale progress: %v, want job.ErrConflict", err)
		}
		if err := b.FinishJob(ctx, &end, h.Progress); err != nil {
			t.Fatalf("FinishJob: %v", err)
		}
		got, _ := b.Head(ctx, j.Id)
		if got.Job.JobStatus != job.Completed || got.Job.TotalProcessed != 7 || got.Job.TotalFailures != 1 || len(got.Job.Failures) != 1 {
			t.Fatalf("Head after FinishJob: %+v", got.Job)
		}
		running, err := b.Running(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range running {
			if r.Job.Id == j.Id {
				t.Fatal("an ended job is still Running")
			}
		}
	})
	t.Run("Running oldest first", func(t *testing.T) {
		b := newBook()
		a := started(t, b, 1)
		c := started(t, b, 1)
		running, err := b.Running(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		for _, r := range running {
			if r.Job.Id == a.Id || r.Job.Id == c.Id {
				order = append(order, r.Job.Id)
			}
		}
		if len(order) != 2 || order[0] != a.Id {
			t.Fatalf("Running: %v, want %s then %s", order, a.Id, c.Id)
		}
	})
	t.Run("progress marks", func(t *testing.T) {
		b := newBook()
		j := started(t, b, 1)
		h0, _ := b.Head(ctx, j.Id)
		if h0.Progressed.IsZero() {
			t.Fatal("a started job has no Progressed")
		}
		if _, err := b.PieceParsed(ctx, j.Id, 0, job.PieceResult{}); err != nil {
			t.Fatal(err)
		}
		h1, _ := b.Head(ctx, j.Id)
		if h1.Progressed.Before(h0.Progressed) {
			t.Fatalf("Progressed went back: %v -> %v", h0.Progressed, h1.Progressed)
		}
	})
}
