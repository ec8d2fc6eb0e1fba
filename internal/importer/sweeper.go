package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/segport/segport/pkg/job"
)

// Sweeper makes every job end, whatever was lost on the way: it records what
// reached the dead-letter queues, sends again the pieces of jobs that made no
// progress for StallAfter, and after MaxTries re-sends without progress settles
// what is still missing as failed, with the reason. Every write of an import is
// idempotent, so sending work again is always safe. It runs on a schedule (the
// SweeperFunction) and, in the local stack, at start-up and periodically.
type Sweeper struct {
	Jobs     JobBook
	Members  MemberCounter
	Parse    Queue
	Finisher *Finisher
	// ParseDLQ and WriteDLQ are the dead-letter queues of the parse and write
	// queues; nil to leave one alone.
	ParseDLQ, WriteDLQ DeadLetters
	// StallAfter is how long a job may go without progress before its work is
	// sent again.
	StallAfter time.Duration
	// MaxTries is how many times a piece is sent again before what is missing
	// of it is settled as failed.
	MaxTries int
	// Pruner, if set, prunes the generations segments no longer keep.
	Pruner Pruner
	Now    Clock
	Log    *slog.Logger
}

// segments is the Finisher's SegmentBook, if any.
func (s *Sweeper) segments() SegmentBook {
	if s.Finisher == nil {
		return nil
	}
	return s.Finisher.Segments
}

// SweepReport says what a sweep did.
type SweepReport struct {
	DeadLetters int // dead-letter messages recorded
	Stalled     int // jobs found without progress
	Resent      int // pieces sent again
	Settled     int // pieces settled as failed after MaxTries
	Finished    int // jobs whose end was computed
	Pruned      int // segments whose old generations were pruned
}

// maxPeek bounds the dead-letter messages one sweep records per queue.
const maxPeek = 10_000

// Sweep runs once.
func (s *Sweeper) Sweep(ctx context.Context) (SweepReport, error) {
	var rep SweepReport
	n, err := s.deadLetters(ctx)
	rep.DeadLetters = n
	if err != nil {
		return rep, err
	}
	running, err := s.Jobs.Running(ctx)
	if err != nil {
		return rep, err
	}
	now := s.Now.now()
	var errs []error
	for _, h := range running {
		if now.Sub(h.Progressed) < s.StallAfter {
			continue
		}
		rep.Stalled++
		if err := s.stalled(ctx, h, &rep); err != nil {
			errs = append(errs, fmt.Errorf("sweep job %s: %w", h.Job.Id, err))
		}
	}
	pruned, err := s.prune(ctx)
	rep.Pruned = pruned
	if err != nil {
		errs = append(errs, err)
	}
	if rep.Stalled > 0 || rep.DeadLetters > 0 {
		logger(s.Log).Info("swept", "deadLetters", rep.DeadLetters, "stalled", rep.Stalled, "resent", rep.Resent,
			"settled", rep.Settled, "finished", rep.Finished)
	}
	return rep, errors.Join(errs...)
}

// stalled sends again the pieces of a job that made no progress, or settles them.
func (s *Sweeper) stalled(ctx context.Context, h *job.Head, rep *SweepReport) error {
	id := h.Job.Id
	if h.Job.JobStatus == job.Created {
		// The trigger stopped before it planned the job; S3 retried it, or its
		// event is in the trigger's failure destination.
		j := *h.Job
		j.JobStatus, j.CompletionDate = job.Failed, s.Now.now().Format(job.DateFormat)
		j.Failures = []string{j.Definition.S3Url + ": the import was never planned: the trigger failed (see its failure destination); import the file again"}
		rep.Finished++
		return s.Jobs.FinishJob(ctx, &j, h.Progress)
	}
	if h.Job.JobStatus == job.Initializing {
		return s.stalledPlanning(ctx, h, rep)
	}
	pieces, err := s.Jobs.Pieces(ctx, id)
	if err != nil {
		return err
	}
	var (
		resend  [][]byte
		indexes []int
	)
	for _, p := range pieces {
		if p.Settled() {
			continue
		}
		if p.Tries < s.MaxTries {
			body, err := json.Marshal(job.ParseMessage{JobId: id, Launch: h.Launch, Piece: p.Plan})
			if err != nil {
				return fmt.Errorf("encode parse message: %w", err)
			}
			resend, indexes = append(resend, body), append(indexes, p.Index)
			continue
		}
		if err := s.giveUp(ctx, id, p); err != nil {
			return err
		}
		rep.Settled++
	}
	if len(resend) > 0 {
		// Sent first, counted after: a sweep that dies in between sends once
		// more, rather than counting a re-send that never left.
		if err := s.Parse.Send(ctx, resend); err != nil {
			return fmt.Errorf("send %d pieces again: %w", len(resend), err)
		}
		rep.Resent += len(resend)
		for _, i := range indexes {
			if _, err := s.Jobs.PieceTried(ctx, id, i); err != nil {
				return err
			}
		}
		return nil
	}
	// Every piece settled, but the job did not end: a settle was lost to a
	// crash. Settle them all again (so that later changes finish the job too),
	// then finish it.
	for _, p := range pieces {
		if _, err := s.Jobs.SettlePiece(ctx, id, p.Index, p.Failed()); err != nil {
			return err
		}
	}
	rep.Finished++
	return s.Finisher.Finish(ctx, id)
}

// stalledPlanning sends again the ranges of a job being planned that are not
// scanned, or, when all are, all of them (the last scan counted then starts the
// job); after MaxTries it fails the job: it cannot start without every range.
func (s *Sweeper) stalledPlanning(ctx context.Context, h *job.Head, rep *SweepReport) error {
	ranges, err := s.Jobs.Ranges(ctx, h.Job.Id)
	if err != nil {
		return err
	}
	var todo []*job.RangeState
	for _, r := range ranges {
		if !r.Scanned {
			todo = append(todo, r)
		}
	}
	if len(todo) == 0 {
		// Every range is scanned, yet the job did not start: a scan died
		// between recording its result and counting it. Scanning them all
		// again counts them all.
		todo = ranges
	}
	var bodies [][]byte
	for _, r := range todo {
		if r.Tries >= s.MaxTries {
			rep.Finished++
			return failUnstarted(ctx, s.Jobs, s.segments(), h, rangeGaveUp(r.Plan, fmt.Sprintf("no progress after %d re-sends", s.MaxTries)), s.Now)
		}
		body, err := json.Marshal(job.ParseMessage{JobId: h.Job.Id, Launch: h.Launch, Range: &r.Plan})
		if err != nil {
			return fmt.Errorf("encode plan message: %w", err)
		}
		bodies = append(bodies, body)
	}
	if len(bodies) == 0 { // no ranges recorded: nothing can start it
		rep.Finished++
		return failUnstarted(ctx, s.Jobs, s.segments(), h, h.Job.Definition.S3Url+": the import was never planned; import the file again", s.Now)
	}
	if err := s.Parse.Send(ctx, bodies); err != nil {
		return fmt.Errorf("send %d ranges again: %w", len(bodies), err)
	}
	rep.Resent += len(bodies)
	for _, r := range todo {
		if _, err := s.Jobs.RangeTried(ctx, h.Job.Id, r.Index); err != nil {
			return err
		}
	}
	return nil
}

// giveUp settles what is missing of a piece as failed.
func (s *Sweeper) giveUp(ctx context.Context, jobId string, p *job.PieceState) error {
	why := fmt.Sprintf("no progress after %d re-sends", s.MaxTries)
	if !p.Parsed {
		st, err := s.Jobs.PieceGaveUp(ctx, jobId, p.Index, pieceGaveUp(p.Plan, why))
		if err != nil {
			return err
		}
		return s.Finisher.PieceProgress(ctx, jobId, st)
	}
	st := p
	for seq, cut := range p.Result.Cuts {
		_, done := p.Done[seq]
		_, lost := p.Lost[seq]
		if done || lost {
			continue
		}
		var err error
		st, err = s.Jobs.BatchLost(ctx, jobId, p.Index, seq, job.LostBatch{Tally: cut.Tally, Line: cut.Line,
			Reason: fmt.Sprintf("piece %d, write batch %d never arrived: %s", p.Index, seq, why)})
		if err != nil {
			return err
		}
	}
	return s.Finisher.PieceProgress(ctx, jobId, st)
}

// deadLetters records the messages of the dead-letter queues, however they got
// there (a handler that returned an error, or one that crashed, timed out or ran
// out of memory on the last delivery): a parse message gives its piece up, a
// write batch is lost. A message whose piece already shows it (parsed or given
// up; its batch written, or lost with the members it had added) changes
// nothing; one that changes a job that has ended ends it again. Messages stay
// in their queue, to be redriven.
func (s *Sweeper) deadLetters(ctx context.Context) (int, error) {
	n := 0
	ended := map[string]bool{}      // jobs read this sweep, and whether they had ended
	refinished := map[string]bool{} // ended jobs whose end this sweep computed again
	record := func(jobId string, index int, known func(*job.PieceState) bool, update func() (*job.PieceState, error)) error {
		p, err := s.Jobs.Piece(ctx, jobId, index)
		if errors.Is(err, job.ErrNotFound) {
			return nil // a job since deleted, or not one of this deployment's
		}
		if err != nil {
			return err
		}
		if known(p) {
			// Recorded at an earlier sweep. Its job may still wait for the
			// step after (a settle that failed): settling again is harmless,
			// and is no progress in time, so the job can still stall.
			e, ok := ended[jobId]
			if !ok {
				h, err := s.Jobs.Head(ctx, jobId)
				if err != nil {
					return err
				}
				e = h.Job.JobStatus.Final()
				ended[jobId] = e
			}
			if e {
				// Its change may have been recorded after the job ended,
				// by a delivery that died before it settled: end the job
				// again (nothing is stored if its end still holds), once a
				// sweep.
				if refinished[jobId] {
					return nil
				}
				refinished[jobId] = true
				return s.Finisher.Finish(ctx, jobId)
			}
		} else {
			if p, err = update(); err != nil {
				return err
			}
			n++
		}
		return s.Finisher.PieceProgress(ctx, jobId, p)
	}
	if s.ParseDLQ != nil {
		bodies, err := s.ParseDLQ.Peek(ctx, maxPeek)
		if err != nil {
			return n, fmt.Errorf("read the parse dead-letter queue: %w", err)
		}
		for _, body := range bodies {
			var m job.ParseMessage
			if json.Unmarshal(body, &m) != nil || m.JobId == "" {
				continue
			}
			if m.Range != nil {
				failed, err := s.deadRange(ctx, &m)
				if err != nil {
					return n, err
				}
				if failed {
					n++
				}
				continue
			}
			if err := record(m.JobId, m.Piece.Index, func(p *job.PieceState) bool { return p.Parsed || p.GaveUp != "" },
				func() (*job.PieceState, error) {
					return s.Jobs.PieceGaveUp(ctx, m.JobId, m.Piece.Index, pieceGaveUp(m.Piece, "its message "+deadLetterReason))
				}); err != nil {
				return n, err
			}
		}
	}
	if s.WriteDLQ != nil {
		bodies, err := s.WriteDLQ.Peek(ctx, maxPeek)
		if err != nil {
			return n, fmt.Errorf("read the write dead-letter queue: %w", err)
		}
		for _, body := range bodies {
			var b job.WriteBatch
			if json.Unmarshal(body, &b) != nil || b.JobId == "" {
				continue
			}
			lost := job.LostBatch{Tally: b.Tally(), Line: b.FirstLine(), Reason: fmt.Sprintf("piece %d, write batch %d %s", b.Piece, b.Seq, deadLetterReason)}
			var err error
			if lost.New, err = countAdded(ctx, s.Members, &b); err != nil {
				return n, err
			}
			known := func(p *job.PieceState) bool {
				_, done := p.Done[b.Seq]
				l, ok := p.Lost[b.Seq]
				return done || ok && l.New == lost.New
			}
			if err := record(b.JobId, b.Piece, known, func() (*job.PieceState, error) {
				return s.Jobs.BatchLost(ctx, b.JobId, b.Piece, b.Seq, lost)
			}); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// deadRange fails the job of a plan message found in the dead-letter queue,
// if the job is still being planned and the range still unscanned.
func (s *Sweeper) deadRange(ctx context.Context, m *job.ParseMessage) (bool, error) {
	h, err := s.Jobs.Head(ctx, m.JobId)
	if errors.Is(err, job.ErrNotFound) {
		return false, nil
	}
	if err == nil && h.Job.JobStatus == job.Failed {
		// Failed before it started, maybe by this message's last
		// delivery, which may have died before it ended the version the
		// job reserved.
		return false, failUnstarted(ctx, s.Jobs, s.segments(), h, "", s.Now)
	}
	if err != nil || h.Job.JobStatus != job.Initializing {
		return false, err
	}
	ranges, err := s.Jobs.Ranges(ctx, m.JobId)
	if err != nil {
		return false, err
	}
	for _, r := range ranges {
		if r.Index == m.Range.Index && r.Scanned {
			return false, nil
		}
	}
	return true, failUnstarted(ctx, s.Jobs, s.segments(), h, rangeGaveUp(*m.Range, "its message "+deadLetterReason), s.Now)
}

// deadLetterReason is why a message found in a dead-letter queue failed, when
// no handler could say (it crashed, timed out or ran out of memory).
const deadLetterReason = "is in the dead-letter queue: every delivery failed or ended without an answer (a crash, timeout or out-of-memory); redrive it once the cause is fixed"

// HandleSchedule is the Lambda entry point: a scheduled EventBridge event.
func (s *Sweeper) HandleSchedule(ctx context.Context, _ events.EventBridgeEvent) (SweepReport, error) {
	return s.Sweep(ctx)
}
