package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/segport/segport/internal/decode"
	"github.com/segport/segport/internal/metrics"
	"github.com/segport/segport/internal/pinpointexport"
	"github.com/segport/segport/internal/plan"
	"github.com/segport/segport/pkg/endpoint"
	"github.com/segport/segport/pkg/job"
)

// Planning runs in the parser function, in parallel: the trigger sends one
// plan message per range of whole chunks (a ParseMessage with a Range), each
// scans its range and records its frames (JobBook.RangeScanned), and the scan
// that completes the job's ranges starts the job (launch): it combines the
// frames of each object in order into pieces, ensures the segment, registers
// the headers' custom attribute names in file order, records the pieces and
// queues them. Every step is safe to repeat.

// rangeChunks is how many chunks one plan message scans: 16 chunks of the
// default 64 MiB piece size are 1 GiB, a few seconds of reading.
const rangeChunks = 16

// planRange scans one range of a job being planned. For a job that has
// started, it queues the job's pieces again (a plan message comes back only
// when its handler failed, maybe while queueing them). A job that failed
// because this range could not be scanned is planned again: its message was
// redriven from the dead-letter queue. Any other ended job is left as it is.
func (p *Parser) planRange(ctx context.Context, m *job.ParseMessage) error {
	h, err := p.Jobs.Head(ctx, m.JobId)
	if err != nil {
		return fmt.Errorf("read job %s: %w", m.JobId, err)
	}
	switch h.Job.JobStatus {
	case job.Initializing:
	case job.Processing:
		return p.launch(ctx, m.JobId)
	case job.Failed:
		reopened, err := p.reopen(ctx, h, m.Range.Index)
		if err != nil {
			return err
		}
		if !reopened {
			return failUnstarted(ctx, p.Jobs, p.Segments, h, "", p.Now)
		}
	default:
		return nil
	}
	objects, err := objectsFor(p.Objects, p.Assume, m.Source)
	if err != nil {
		return err
	}
	format, err := ParseFormat(m.Format)
	if err != nil {
		return err
	}
	res, err := scanRange(ctx, objects, m.Bucket, format, *m.Range, p.Concurrency)
	if err != nil {
		return err
	}
	all, err := p.Jobs.RangeScanned(ctx, m.JobId, m.Range.Index, res)
	if err != nil {
		return err
	}
	logger(p.Log).Info("range scanned", "job", m.JobId, "range", m.Range.Index, "chunks", len(res.Frames), "last", all)
	if !all {
		return nil
	}
	return p.launch(ctx, m.JobId)
}

// reopen moves a job that failed before starting because range index gave up
// (the range is not scanned) back to planning.
func (p *Parser) reopen(ctx context.Context, h *job.Head, index int) (bool, error) {
	if h.Job.TotalPieces > 0 {
		return false, nil
	}
	ranges, err := p.Jobs.Ranges(ctx, h.Job.Id)
	if err != nil {
		return false, err
	}
	i := slices.IndexFunc(ranges, func(r *job.RangeState) bool { return r.Index == index })
	if i < 0 || ranges[i].Scanned {
		return false, nil
	}
	reopened, err := p.Jobs.ReopenPlanning(ctx, h.Job.Id, h.Progress, index)
	if reopened {
		logger(p.Log).Info("planning reopened: a range that gave up came back", "job", h.Job.Id, "range", index)
	}
	return reopened, err
}

// scanRange reads the chunks of one range. The range that holds an object's
// first byte also reads its header (CSV), or finds it compressed (an export,
// read as one piece).
func scanRange(ctx context.Context, objects Objects, bucket string, format decode.Format, r job.Range, conc int) (job.RangeResult, error) {
	var res job.RangeResult
	o := &job.Object{Bucket: bucket, Key: r.Key, Size: r.Size}
	if r.First() {
		var err error
		switch format {
		case pinpointexport.Format:
			res.Whole, res.Reason, err = compressed(ctx, objects, o)
		case decode.CSV:
			res.Header, res.Reason, err = readHeader(ctx, objects, o)
		}
		if err != nil || res.Reason != "" || res.Whole {
			return res, err
		}
	}
	open := func(ctx context.Context, start, end int64) (io.ReadCloser, error) {
		return objects.Range(ctx, bucket, r.Key, start, end)
	}
	frames, err := plan.Scan(ctx, r.Size, open, r.Start, r.End,
		plan.Options{PieceSize: r.Chunk, Quotes: format == decode.CSV, Concurrency: conc})
	if errors.Is(err, job.ErrNotFound) {
		return job.RangeResult{Reason: vanished(o)}, nil
	}
	if err != nil {
		return res, fmt.Errorf("scan s3://%s/%s: %w", bucket, r.Key, err)
	}
	res.Frames = frames
	return res, nil
}

func vanished(o *job.Object) string {
	return "s3://" + o.Bucket + "/" + o.Key + ": the file vanished before it was read"
}

// launch starts a job whose ranges are all scanned: it fails the job with the
// first file-level problem found, or records its pieces and queues them. It
// is safe to repeat, also once the job runs: pieces already recorded keep
// their progress, and pieces queued again are absorbed.
func (p *Parser) launch(ctx context.Context, jobId string) error {
	h, err := p.Jobs.Head(ctx, jobId)
	if err != nil {
		return fmt.Errorf("read job %s: %w", jobId, err)
	}
	if h.Job.JobStatus.Final() {
		return nil
	}
	ranges, err := p.Jobs.Ranges(ctx, jobId)
	if err != nil {
		return err
	}
	a := assemble(ranges)
	if a.unscanned > 0 {
		return nil
	}
	log := logger(p.Log).With("job", jobId)
	if a.reason != "" {
		log.Warn("job failed before parsing", "reason", a.reason)
		return failUnstarted(ctx, p.Jobs, p.Segments, h, a.reason, p.Now)
	}
	launch := h.Launch
	if seg := h.Job.Definition; seg.SegmentId != "" {
		launch.Shards, err = p.Segments.EnsureSegment(ctx, seg.SegmentId, seg.SegmentName, launch.Created)
		if errors.Is(err, job.ErrNotFound) {
			reason := "SegmentId " + seg.SegmentId + ": no segment has this id: give SegmentName to create a segment"
			log.Warn("job failed before parsing", "reason", reason)
			return failUnstarted(ctx, p.Jobs, p.Segments, h, reason, p.Now)
		}
		if err != nil {
			return err
		}
		// Reserved before the start, so that the job's stored launch, which
		// every parse message and re-send carries, always names its version.
		if launch.Version == 0 {
			if launch.Version, launch.Base, err = p.Segments.ReserveVersion(ctx, seg.SegmentId, jobId, p.Now.now().Format(job.DateFormat), seg.Replace); err != nil {
				return err
			}
		}
	}
	if err := registerNames(ctx, p.Registry, p.Limits.CustomAttributeNames, a.names); err != nil {
		return err
	}
	if err := p.Jobs.StartJob(ctx, jobId, launch, a.pieces); err != nil {
		return err
	}
	// The pieces go with the launch as stored: a launch that raced another
	// (both read the job before either started it) may hold a version
	// number of its own, which the job does not use (it ends FAILED, unused,
	// once the job has ended). A job that failed before it started stays so.
	if h, err = p.Jobs.Head(ctx, jobId); err != nil {
		return fmt.Errorf("read job %s: %w", jobId, err)
	}
	if reserved := launch.Version; reserved > 0 && h.Launch.Version != reserved {
		// This launch raced one that started the job and reserved a number
		// after that one's version ended: the number is unused, and ending it
		// now keeps it from holding the segment's later versions back.
		if err := p.Segments.AbandonVersion(ctx, h.Job.Definition.SegmentId, jobId, p.Now.now().Format(job.DateFormat)); err != nil {
			return err
		}
	}
	if h.Job.JobStatus != job.Processing {
		return nil
	}
	launch = h.Launch
	launch.TotalPieces = len(a.pieces)
	bodies := make([][]byte, len(a.pieces))
	for i, pc := range a.pieces {
		if bodies[i], err = json.Marshal(job.ParseMessage{JobId: jobId, Launch: launch, Piece: pc}); err != nil {
			return fmt.Errorf("encode parse message: %w", err)
		}
	}
	if err := sendAll(ctx, p.Parse, bodies, p.Concurrency); err != nil {
		return fmt.Errorf("queue %d pieces of job %s: %w", len(a.pieces), jobId, err)
	}
	log.Info("job started", "pieces", len(a.pieces), "ranges", len(ranges))
	created, _ := time.Parse(time.RFC3339Nano, launch.Created)
	record(p.Metrics, metrics.Record{Handler: "Trigger", Job: jobId, Pieces: len(a.pieces), Since: created})
	return nil
}

// failUnstarted fails a job that has not started parsing, with reason, and
// ends the segment version its launch may have reserved. A job that has moved
// on meanwhile is left to whatever moved it.
func failUnstarted(ctx context.Context, jobs JobBook, segs SegmentBook, h *job.Head, reason string, now Clock) error {
	j := *h.Job
	switch {
	case j.JobStatus == job.Created || j.JobStatus == job.Initializing:
		j.JobStatus, j.CompletionDate, j.Failures = job.Failed, now.now().Format(job.DateFormat), []string{reason}
		err := jobs.FinishJob(ctx, &j, h.Progress)
		if errors.Is(err, job.ErrConflict) {
			return nil
		}
		if err != nil {
			return err
		}
	case j.JobStatus != job.Failed || h.Launch.Version != 0:
		return nil
	} // else failed before it started already: what failed it may have died before the version's end
	if segs == nil || j.Definition.SegmentId == "" {
		return nil
	}
	return segs.AbandonVersion(ctx, j.Definition.SegmentId, j.Id, j.CompletionDate)
}

// rangeGaveUp is the located reason a job fails when a range cannot be scanned.
func rangeGaveUp(r job.Range, why string) string {
	return fmt.Sprintf("%s: bytes %d-%d could not be planned, so nothing was imported: %s", r.Key, r.Start, r.End, why)
}

// abandonRange fails the job of a plan message that goes to the dead-letter
// queue: a job cannot start without every range.
func (p *Parser) abandonRange(ctx context.Context, m *job.ParseMessage, cause error) {
	h, err := p.Jobs.Head(ctx, m.JobId)
	if err == nil {
		err = failUnstarted(ctx, p.Jobs, p.Segments, h, rangeGaveUp(*m.Range, "its message "+abandonReason(p.MaxReceive, cause)), p.Now)
	}
	if err != nil {
		logger(p.Log).Error("abandoned range not recorded", "job", m.JobId, "range", m.Range.Index, "err", err)
	}
}

// assembly is what a job's scanned ranges combine into.
type assembly struct {
	pieces    []job.Piece
	names     []string // the custom attribute names of the CSV headers, in file and column order
	reason    string   // the first file-level problem, in file order
	unscanned int
}

// assemble combines the ranges, in order, into the job's pieces: each
// object's frames, in order, give its piece boundaries (plan.Combine), and a
// CSV header travels with every piece after an object's first.
func assemble(ranges []*job.RangeState) assembly {
	var a assembly
	seen := map[string]bool{}
	for i := 0; i < len(ranges); {
		first := ranges[i]
		k := i + 1
		for k < len(ranges) && ranges[k].Plan.File == first.Plan.File {
			k++
		}
		obj := ranges[i:k]
		i = k
		var frames []job.Frame
		for _, r := range obj {
			if !r.Scanned {
				a.unscanned++
			}
			frames = append(frames, r.Result.Frames...)
		}
		res, r := first.Result, first.Plan
		if a.unscanned > 0 || a.reason != "" {
			continue
		}
		if res.Reason != "" {
			a.reason = res.Reason
			continue
		}
		if res.Whole {
			a.pieces = append(a.pieces, job.Piece{Key: r.Key, Index: len(a.pieces), File: r.File, Start: 0, End: r.Size, Line: 1})
			continue
		}
		for _, pc := range plan.Combine(r.Size, r.Chunk, frames) {
			piece := job.Piece{Key: r.Key, Index: len(a.pieces), File: r.File, Start: pc.Start, End: pc.End, Line: pc.Line}
			if pc.Start > 0 {
				piece.Header = res.Header
			}
			a.pieces = append(a.pieces, piece)
		}
		for _, col := range res.Header {
			attr, err := endpoint.Lookup(strings.TrimSpace(col))
			if err == nil && attr.Custom != "" && !seen[attr.Name()] {
				seen[attr.Name()] = true
				a.names = append(a.names, attr.Name())
			}
		}
	}
	if a.unscanned > 0 || a.reason != "" {
		a.pieces, a.names = nil, nil
	}
	return a
}

// registerNames registers the custom attribute names of a job's CSV headers,
// in order, as many as fit the deployment's limit, before any piece is
// parsed: which names fit does not depend on the order pieces are parsed in.
// Rows that set a name that did not fit fail when they are parsed.
func registerNames(ctx context.Context, reg Registry, limit int, names []string) error {
	if len(names) == 0 || reg == nil {
		return nil
	}
	if _, ok, err := reg.Register(ctx, names, limit); err != nil || ok {
		return err
	}
	for _, n := range names {
		if _, ok, err := reg.Register(ctx, []string{n}, limit); err != nil || !ok {
			return err
		}
	}
	return nil
}

// sendAll sends bodies a hundred at a time, conc sends at once (0 means 4): a
// job of thousands of pieces is queued in seconds.
func sendAll(ctx context.Context, q Queue, bodies [][]byte, conc int) error {
	const per = 100
	n := (len(bodies) + per - 1) / per
	return eachAtOnce(ctx, n, conc, func(i int) error {
		return q.Send(ctx, bodies[i*per:min(len(bodies), (i+1)*per)])
	})
}

// eachAtOnce runs fn(0) ... fn(n-1), conc at once (0 means 4; 1 runs them in
// order), and joins their errors.
func eachAtOnce(ctx context.Context, n, conc int, fn func(i int) error) error {
	if conc <= 0 {
		conc = 4
	}
	errs := make([]error, n)
	if conc == 1 || n <= 1 {
		for i := range n {
			if errs[i] = fn(i); errs[i] != nil {
				break
			}
		}
		return errors.Join(errs...)
	}
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i := range n {
		if ctx.Err() != nil {
			errs[i] = ctx.Err()
			break
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
