package importer

import (
	"context"
	"log/slog"
	"sort"
	"time"

	"github.com/segport/segport/pkg/dynamo"
	"github.com/segport/segport/pkg/job"
)

// Finisher settles pieces and ends jobs. Every step is idempotent: the parser and
// the writer both call it, as often as messages are redelivered, and whichever
// sees the last piece settle ends the job.
type Finisher struct {
	Jobs    JobStore
	Objects Objects
	Bucket  string
	Shards  int
	Now     Clock
	Log     *slog.Logger
}

// PieceProgress settles a piece once it is parsed and all its batches are written,
// and ends the job once all its pieces are settled.
func (f *Finisher) PieceProgress(ctx context.Context, jobId string, p *dynamo.PieceRecord) error {
	if !p.Settled() {
		return nil
	}
	all, err := f.Jobs.SettlePiece(ctx, jobId, p.Index, p.Incomplete())
	if err != nil || !all {
		return err
	}
	return f.Finish(ctx, jobId)
}

// Finish ends a job whose pieces have all settled: it sums the pieces, writes the
// error report, sets the job's contribution to its segment, recounts the segment's
// members and stores the job's final state. It is computed from the pieces'
// records alone, so running it again changes nothing, unless a piece's record
// changed (a dead-letter redrive), and then it stores the new truth.
func (f *Finisher) Finish(ctx context.Context, jobId string) error {
	r, err := f.Jobs.JobRecord(ctx, jobId)
	if err != nil {
		return err
	}
	pieces, err := f.Jobs.Pieces(ctx, jobId)
	if err != nil {
		return err
	}
	j, channels, parts := summarize(*r.Job, pieces)
	if r.JobStatus.Final() && r.JobStatus == j.JobStatus && r.TotalProcessed == j.TotalProcessed &&
		r.TotalFailures == j.TotalFailures && len(r.Failures) == len(j.Failures) {
		return nil // finished already, and nothing changed since
	}
	if len(parts) > 0 {
		j.ErrorReport = "s3://" + f.Bucket + "/" + ReportKey(jobId)
		if err := f.Objects.Concat(ctx, f.Bucket, ReportKey(jobId), reportHeader, parts); err != nil {
			return err
		}
	}
	now := f.Now.now().Format(time.RFC3339Nano)
	if seg := j.Definition.SegmentId; seg != "" {
		if err := f.Jobs.AddImport(ctx, seg, dynamo.Import{
			JobId: jobId, JobOrder: r.Order, Size: j.TotalProcessed, Channels: channels,
			Format: j.Definition.Format, S3Url: j.Definition.S3Url, Now: now,
		}); err != nil {
			return err
		}
		if err := f.Recount(ctx, seg); err != nil {
			return err
		}
	}
	j.CompletionDate = now
	if err := f.Jobs.FinishJob(ctx, &j); err != nil {
		return err
	}
	logger(f.Log).Info("job ended", "job", jobId, "status", j.JobStatus, "processed", j.TotalProcessed, "failures", j.TotalFailures)
	return nil
}

// summarize adds up a job's pieces: counts, channel counts, the first failures in
// file order and the parts of the error report.
func summarize(j job.Job, pieces []*dynamo.PieceRecord) (job.Job, map[string]int, []string) {
	j.TotalProcessed, j.TotalFailures, j.Failures = 0, 0, []string{}
	channels := map[string]int{}
	var parts []string
	incomplete := 0
	for _, p := range pieces {
		lost, lostRows := p.Lost()
		failures := append([]string(nil), p.Failures...)
		if p.Parsed {
			j.TotalProcessed += p.Rows - lostRows
			j.TotalFailures += p.Failed + lostRows
			for ch, n := range p.ChannelCounts {
				channels[ch] += n
			}
			if p.Report != "" {
				parts = append(parts, p.Report)
			}
		} else if p.GaveUp != "" {
			failures = append(failures, p.GaveUp)
		}
		if p.Error != "" {
			failures = append(failures, p.Error)
		}
		for _, seq := range sortedSeqs(lost) {
			failures = append(failures, lost[seq].Reason)
		}
		if p.Incomplete() {
			incomplete++
		}
		for _, fl := range failures {
			if len(j.Failures) < job.MaxFailures {
				j.Failures = append(j.Failures, fl)
			}
		}
	}
	j.JobStatus = job.Completed
	if incomplete == len(pieces) {
		j.JobStatus = job.Failed
	}
	return j, channels, parts
}

func sortedSeqs(m map[int]dynamo.FailedBatch) []int {
	seqs := make([]int, 0, len(m))
	for s := range m {
		seqs = append(seqs, s)
	}
	sort.Ints(seqs)
	return seqs
}

// Recount stores the exact number of distinct endpoints in a segment. A count
// only replaces one taken earlier, so concurrent jobs leave the latest.
func (f *Finisher) Recount(ctx context.Context, segmentId string) error {
	at := f.Now.now().Format("2006-01-02T15:04:05.000000000Z")
	n, err := f.Jobs.CountMembers(ctx, segmentId, f.Shards)
	if err != nil {
		return err
	}
	return f.Jobs.SetEndpointCount(ctx, segmentId, n, at)
}
