package importer

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"log/slog"
	"strconv"

	"github.com/segport/segport/pkg/job"
)

// Finisher settles pieces and ends jobs. Every step is idempotent: the parser,
// the writer and the sweeper all call it, as often as messages are redelivered,
// and whoever sees the last piece settle ends the job. The end is computed from
// the pieces' states alone and stored only at the progress it was computed from,
// so a finisher that read a stale state never overwrites a fresh one.
type Finisher struct {
	Jobs     JobBook
	Segments SegmentBook
	Objects  Objects
	Bucket   string
	Now      Clock
	Log      *slog.Logger
}

// PieceProgress settles a piece once it has ended, and ends the job once all its
// pieces have.
func (f *Finisher) PieceProgress(ctx context.Context, jobId string, p *job.PieceState) error {
	if !p.Settled() {
		return nil
	}
	all, err := f.Jobs.SettlePiece(ctx, jobId, p.Index, p.Failed())
	if err != nil || !all {
		return err
	}
	return f.Finish(ctx, jobId)
}

// maxFinishAttempts bounds how often Finish computes again because progress
// moved on while it ran; whoever moved it finishes after it.
const maxFinishAttempts = 5

// Finish ends a job whose pieces have all settled: it sums the pieces, writes the
// error report, sets the job's contribution to its segment, recounts the segment's
// members and stores the job's final state. A job whose pieces have not all
// settled is left alone: the last one to settle finishes it.
func (f *Finisher) Finish(ctx context.Context, jobId string) error {
	for attempt := 1; ; attempt++ {
		err := f.finishOnce(ctx, jobId)
		if !errors.Is(err, job.ErrConflict) || attempt == maxFinishAttempts {
			return err
		}
	}
}

func (f *Finisher) finishOnce(ctx context.Context, jobId string) error {
	h, err := f.Jobs.Head(ctx, jobId)
	if err != nil {
		return err
	}
	if h.Launch.TotalPieces == 0 && !h.Job.JobStatus.Final() && h.Job.JobStatus != job.Processing {
		return nil // not planned yet
	}
	pieces, err := f.Jobs.Pieces(ctx, jobId)
	if err != nil {
		return err
	}
	s := job.Summarize(pieces, h.Launch.TotalPieces)
	if !s.Settled {
		return nil
	}
	j := *h.Job
	j.JobStatus, j.TotalProcessed, j.TotalFailures = s.Status, s.Written.Rows, s.Failures
	j.CompletedPieces, j.FailedPieces, j.Failures = s.Completed, s.FailedN, s.Messages
	if j.Failures == nil {
		j.Failures = []string{}
	}
	// The contribution first, even if the end is the one stored: a finisher
	// that read a stale state may have set its contribution after this end
	// was stored. One computed at a lower progress is never applied.
	now := f.Now.now().Format(job.DateFormat)
	if seg := j.Definition.SegmentId; seg != "" {
		if err := f.Segments.SetContribution(ctx, seg, job.Contribution{
			JobId: jobId, JobOrder: h.Launch.JobOrder, Written: s.Written, Progress: h.Progress,
			Format: j.Definition.Format, S3Url: j.Definition.S3Url, Now: now,
		}); err != nil {
			return err
		}
		// A job that ended with this end has recorded it on its version
		// already (before its end was stored), and moved the segment on.
		if v := h.Launch.Version; v > 0 && !(h.Job.JobStatus.Final() && sameEnd(h.Job, &j)) {
			if err := f.Segments.EndVersion(ctx, seg, job.VersionEnd{
				JobId: jobId, Version: v, Base: h.Launch.Base, Status: s.Status, Written: s.Written, Progress: h.Progress,
				Format: j.Definition.Format, S3Url: j.Definition.S3Url, Now: now,
			}); err != nil {
				return err
			}
		}
	}
	if h.Job.JobStatus.Final() && sameEnd(h.Job, &j) {
		return nil // finished already, and nothing changed since
	}
	parts := s.Reports
	if lost := lostReport(pieces); lost != nil {
		key := lostPartKey(jobId)
		if err := f.Objects.Put(ctx, f.Bucket, key, bytes.NewReader(lost), "text/csv; charset=utf-8", nil); err != nil {
			return err
		}
		parts = append(parts, key)
	}
	j.ErrorReport = ""
	if len(parts) > 0 {
		j.ErrorReport = "s3://" + f.Bucket + "/" + ReportKey(jobId)
		if err := f.Objects.Concat(ctx, f.Bucket, ReportKey(jobId), reportHeader, parts); err != nil {
			return err
		}
	}
	j.CompletionDate = now
	if err := f.Jobs.FinishJob(ctx, &j, h.Progress); err != nil {
		return err
	}
	logger(f.Log).Info("job ended", "job", jobId, "status", j.JobStatus, "processed", j.TotalProcessed, "failures", j.TotalFailures)
	return nil
}

// sameEnd reports whether two ends of a job say the same.
func sameEnd(a, b *job.Job) bool {
	if a.JobStatus != b.JobStatus || a.TotalProcessed != b.TotalProcessed || a.TotalFailures != b.TotalFailures ||
		a.CompletedPieces != b.CompletedPieces || a.FailedPieces != b.FailedPieces || len(a.Failures) != len(b.Failures) {
		return false
	}
	for i := range a.Failures {
		if a.Failures[i] != b.Failures[i] {
			return false
		}
	}
	return true
}

// lostReport is the error report's part for the rows of lost batches: one line
// per batch, at its first row; nil if no batch is lost.
func lostReport(pieces []*job.PieceState) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	for _, p := range pieces {
		for _, seq := range p.Unwritten() {
			lb := p.Lost[seq]
			w.Write([]string{p.Plan.Key, strconv.Itoa(lb.Line), "",
				lb.Message(), ""})
		}
	}
	w.Flush()
	if buf.Len() == 0 {
		return nil
	}
	return buf.Bytes()
}
