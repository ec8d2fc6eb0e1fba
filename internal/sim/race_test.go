package sim

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/segport/segport/pkg/job"
)

// TestSimFinisherRace is a schedule written by hand: two finishers of one job
// interleaved. Finisher A reads the pieces while a batch is recorded lost;
// the batch is then written after all and finisher B ends the job with it;
// A then sets the job's contribution to the segment from what it read, loses
// FinishJob to B's progress, finds the job ended as it would end it, and stops.
func TestSimFinisherRace(t *testing.T) {
	w := newWorld(1, FaultInterleave)
	w.faults, w.horizon = FaultInterleave, 1<<30
	w.wire(scenario{pieceSize: 1000, batchBytes: 1000})
	ctx := context.Background()
	seg := job.SegmentId("alpha")
	j := &job.Job{Id: job.NewId("race"), JobStatus: job.Created, CreationDate: epoch.Format(job.DateFormat),
		Definition: job.Definition{S3Url: "s3://b/imports/alpha/f.csv", Format: "CSV", SegmentId: seg, SegmentName: "alpha"}, Failures: []string{}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	sms := func(n int) job.Tally { return job.Tally{Rows: n, Channels: map[string]int{"SMS": n}} }
	l := job.Launch{JobOrder: job.Order(epoch, j.Id), Created: j.CreationDate, SegmentId: seg, TotalPieces: 1}
	_, _, err := w.db.CreateJob(ctx, j, l)
	must(err)
	_, err = w.db.EnsureSegment(ctx, seg, "alpha", j.CreationDate)
	must(err)
	must(w.db.StartJob(ctx, j.Id, l, []job.Piece{{Key: "imports/alpha/f.csv", End: 100, Line: 1}}))
	_, err = w.db.PieceParsed(ctx, j.Id, 0, job.PieceResult{Batches: 2, Rows: 5,
		Cuts: []job.Cut{{Line: 2, Tally: sms(3)}, {Line: 5, Tally: sms(2)}}})
	must(err)
	_, err = w.db.BatchDone(ctx, j.Id, 0, 0, sms(3))
	must(err)
	_, err = w.db.BatchLost(ctx, j.Id, 0, 1, job.LostBatch{Tally: sms(2), Line: 5, Reason: "throttled on its last delivery"})
	must(err)
	_, err = w.db.SettlePiece(ctx, j.Id, 0, true)
	must(err)

	fin := w.parser.Finisher
	a := w.start("finish A", nil, nil, func(ctx context.Context) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{}, fin.Finish(ctx, j.Id)
	})
	for range 3 { // to its first request, past Head, past Pieces
		w.resume(a)
	}
	w.now = w.now.Add(time.Second)
	_, err = w.db.BatchDone(ctx, j.Id, 0, 1, sms(2)) // the lost batch, written after all
	must(err)
	_, err = w.db.SettlePiece(ctx, j.Id, 0, false)
	must(err)
	must(fin.Finish(ctx, j.Id)) // finisher B
	for !a.done {
		w.resume(a)
	}
	if a.err != nil {
		t.Fatalf("finisher A: %v", a.err)
	}
	h := w.db.Job(j.Id)
	s := w.db.Segment(seg)
	t.Logf("1 schedules")
	if s.ImportDefinition.Size != h.Job.TotalProcessed || h.Job.TotalProcessed != 5 {
		t.Fatalf("segment Size %d, its one job's TotalProcessed %d (want 5): finisher A's stale contribution stands",
			s.ImportDefinition.Size, h.Job.TotalProcessed)
	}
}
