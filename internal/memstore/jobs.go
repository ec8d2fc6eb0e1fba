package memstore

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/pkg/job"
)

var _ importer.JobBook = (*DB)(nil)

// Jobs table items, laid out as internal/dynamo lays them out: the job's own item
// under Sk "job", one item per piece under Sk "piece#<nnnnnn>".

func jobKey(id string) string          { return id + "\x00job" }
func pieceKey(id string, i int) string { return fmt.Sprintf("%s\x00piece#%06d", id, i) }
func piecePrefix(id string) string     { return id + "\x00piece#" }

type jobItem struct {
	JobId           string         `json:"JobId"`
	JobStatus       job.Status     `json:"JobStatus"`
	JobOrder        string         `json:"JobOrder"`
	SegmentId       string         `json:"SegmentId,omitempty"`
	Running         string         `json:"Running,omitempty"`
	CreationDate    string         `json:"CreationDate"`
	CompletionDate  string         `json:"CompletionDate,omitempty"`
	TotalPieces     int            `json:"TotalPieces"`
	TotalRanges     int            `json:"TotalRanges,omitempty"`
	CompletedPieces int            `json:"CompletedPieces"`
	FailedPieces    int            `json:"FailedPieces"`
	TotalProcessed  int            `json:"TotalProcessed"`
	TotalFailures   int            `json:"TotalFailures"`
	Failures        []string       `json:"Failures,omitempty"`
	Definition      job.Definition `json:"Definition"`
	ErrorReport     string         `json:"ErrorReport,omitempty"`
	Launch          job.Launch     `json:"Launch"`
	Progress        int64          `json:"Progress"`
	Progressed      string         `json:"Progressed,omitempty"`
	Applied         contribution   `json:"Applied"`           // the contribution added to the segment
	Settled         []int          `json:"Settled,omitempty"` // number sets
	FailedSet       []int          `json:"FailedSet,omitempty"`
	Scanned         []int          `json:"Scanned,omitempty"` // the ranges scanned
}

func (it *jobItem) head() *job.Head {
	j := &job.Job{
		Id: it.JobId, JobStatus: it.JobStatus, CreationDate: it.CreationDate, CompletionDate: it.CompletionDate,
		TotalPieces: it.TotalPieces, CompletedPieces: it.CompletedPieces, FailedPieces: it.FailedPieces,
		TotalProcessed: it.TotalProcessed, TotalFailures: it.TotalFailures, Failures: it.Failures,
		Definition: it.Definition, ErrorReport: it.ErrorReport,
	}
	if j.Failures == nil {
		j.Failures = []string{}
	}
	h := &job.Head{Job: j, Launch: it.Launch, Progress: it.Progress}
	h.Progressed, _ = time.Parse(time.RFC3339Nano, it.Progressed)
	h.Launch.TotalPieces = it.TotalPieces
	return h
}

type pieceItem struct {
	JobId  string                   `json:"JobId"`
	Index  int                      `json:"Index"`
	Plan   job.Piece                `json:"Plan"`
	Parsed bool                     `json:"Parsed"`
	Result job.PieceResult          `json:"Result"`
	Done   map[string]job.Tally     `json:"Done"`
	Lost   map[string]job.LostBatch `json:"Lost"`
	GaveUp string                   `json:"GaveUp,omitempty"`
	Tries  int                      `json:"Tries,omitempty"`
}

func (it *pieceItem) state() *job.PieceState {
	p := &job.PieceState{Index: it.Index, Plan: it.Plan, Parsed: it.Parsed, Result: it.Result, GaveUp: it.GaveUp, Tries: it.Tries,
		Done: make(map[int]job.Tally, len(it.Done)), Lost: make(map[int]job.LostBatch, len(it.Lost))}
	for k, t := range it.Done {
		seq, _ := strconv.Atoi(k)
		p.Done[seq] = t
	}
	for k, l := range it.Lost {
		seq, _ := strconv.Atoi(k)
		p.Lost[seq] = l
	}
	return p
}

func (d *DB) stamp() string { return d.env.now().Format(time.RFC3339Nano) }

// CreateJob stores j unless a job with its id exists (PutItem with
// attribute_not_exists), then reads the stored one.
func (d *DB) CreateJob(ctx context.Context, j *job.Job, launch job.Launch) (*job.Job, bool, error) {
	created := false
	err := d.do(ctx, "PutItem", Jobs, true, func() error {
		if _, ok := d.jobs[j.Id]; ok {
			return nil
		}
		created = true
		return d.putJob(&jobItem{JobId: j.Id, JobStatus: j.JobStatus, JobOrder: launch.JobOrder,
			SegmentId: j.Definition.SegmentId, Running: "1", CreationDate: j.CreationDate, Definition: j.Definition,
			Launch: launch, Progressed: d.stamp()})
	})
	if err != nil {
		return nil, false, fmt.Errorf("create job %s: %w", j.Id, err)
	}
	if created {
		return j, true, nil
	}
	h, err := d.Head(ctx, j.Id)
	if err != nil {
		return nil, false, err
	}
	return h.Job, false, nil
}

// StartJob puts each piece's item unless it exists (PutItem with
// attribute_not_exists), then moves a CREATED or INITIALIZING job to
// PROCESSING with launch.
func (d *DB) StartJob(ctx context.Context, jobId string, launch job.Launch, pieces []job.Piece) error {
	for _, p := range pieces {
		err := d.do(ctx, "PutItem", Jobs, true, func() error {
			if _, ok := d.getPiece(jobId, p.Index); ok {
				return nil
			}
			return d.putPiece(&pieceItem{JobId: jobId, Index: p.Index, Plan: p,
				Done: map[string]job.Tally{}, Lost: map[string]job.LostBatch{}})
		})
		if err != nil {
			return fmt.Errorf("record the pieces of job %s: %w", jobId, err)
		}
	}
	err := d.do(ctx, "UpdateItem", Jobs, true, func() error {
		it, ok := d.getJob(jobId)
		if !ok || it.JobStatus != job.Created && it.JobStatus != job.Initializing {
			return nil // a failed condition is no error here
		}
		launch.TotalPieces = len(pieces)
		it.JobStatus, it.TotalPieces, it.Launch, it.Progressed = job.Processing, len(pieces), launch, d.stamp()
		it.Progress++
		return d.putJob(it)
	})
	if err != nil {
		return fmt.Errorf("start job %s: %w", jobId, err)
	}
	return nil
}

// Head reads the job's own item.
func (d *DB) Head(ctx context.Context, id string) (*job.Head, error) {
	var h *job.Head
	err := d.do(ctx, "GetItem", Jobs, false, func() error {
		it, ok := d.getJob(id)
		if !ok {
			return fmt.Errorf("job %s: %w", id, job.ErrNotFound)
		}
		h = it.head()
		return nil
	})
	return h, err
}

// FinishJob stores the job's end if its Progress is still progress; like
// internal/dynamo it answers job.ErrConflict when the condition fails, also for a
// job that does not exist.
func (d *DB) FinishJob(ctx context.Context, j *job.Job, progress int64) error {
	return d.do(ctx, "UpdateItem", Jobs, true, func() error {
		it, ok := d.getJob(j.Id)
		if !ok || it.Progress != progress {
			return job.ErrConflict
		}
		it.JobStatus, it.CompletionDate = j.JobStatus, j.CompletionDate
		it.TotalProcessed, it.TotalFailures = j.TotalProcessed, j.TotalFailures
		it.CompletedPieces, it.FailedPieces = j.CompletedPieces, j.FailedPieces
		it.Failures = append([]string{}, j.Failures...)
		it.ErrorReport, it.Running = j.ErrorReport, ""
		return d.putJob(it)
	})
}

// updatePiece applies fn to a piece's item (UpdateItem, condition
// attribute_exists, ALL_NEW) and returns the piece's new state.
// Piece reads one piece (GetItem).
func (d *DB) Piece(ctx context.Context, jobId string, index int) (*job.PieceState, error) {
	var st *job.PieceState
	err := d.do(ctx, "GetItem", Jobs, false, func() error {
		it, ok := d.getPiece(jobId, index)
		if !ok {
			return fmt.Errorf("piece %d of job %s: %w", index, jobId, job.ErrNotFound)
		}
		st = it.state()
		return nil
	})
	return st, err
}

func (d *DB) updatePiece(ctx context.Context, jobId string, index int, fn func(*pieceItem)) (*job.PieceState, error) {
	var st *job.PieceState
	err := d.do(ctx, "UpdateItem", Jobs, true, func() error {
		it, ok := d.getPiece(jobId, index)
		if !ok {
			return fmt.Errorf("piece %d of job %s: %w", index, jobId, job.ErrNotFound)
		}
		if it.Done == nil {
			it.Done = map[string]job.Tally{}
		}
		if it.Lost == nil {
			it.Lost = map[string]job.LostBatch{}
		}
		fn(it)
		if err := d.putPiece(it); err != nil {
			return err
		}
		st = it.state()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update piece %d of job %s: %w", index, jobId, err)
	}
	return st, nil
}

// progressed updates a piece, then marks its job as progressing if it runs.
func (d *DB) progressed(ctx context.Context, jobId string, index int, fn func(*pieceItem)) (*job.PieceState, error) {
	st, err := d.updatePiece(ctx, jobId, index, fn)
	if err != nil {
		return nil, err
	}
	err = d.do(ctx, "UpdateItem", Jobs, true, func() error {
		it, ok := d.getJob(jobId)
		if !ok || it.Running == "" {
			return nil
		}
		it.Progressed = d.stamp()
		return d.putJob(it)
	})
	if err != nil {
		return nil, fmt.Errorf("mark job %s as progressing: %w", jobId, err)
	}
	return st, nil
}

// PieceParsed sets Parsed and Result and removes GaveUp.
func (d *DB) PieceParsed(ctx context.Context, jobId string, index int, r job.PieceResult) (*job.PieceState, error) {
	return d.progressed(ctx, jobId, index, func(it *pieceItem) {
		it.Parsed, it.Result, it.GaveUp, it.Tries = true, cloneResult(r), "", 0
	})
}

// BatchDone sets Done[seq].
func (d *DB) BatchDone(ctx context.Context, jobId string, index, seq int, t job.Tally) (*job.PieceState, error) {
	return d.progressed(ctx, jobId, index, func(it *pieceItem) {
		it.Done[strconv.Itoa(seq)] = t
		it.Tries = 0
	})
}

// BatchLost sets Lost[seq].
func (d *DB) BatchLost(ctx context.Context, jobId string, index, seq int, lost job.LostBatch) (*job.PieceState, error) {
	return d.updatePiece(ctx, jobId, index, func(it *pieceItem) {
		it.Lost[strconv.Itoa(seq)] = lost
	})
}

// PieceGaveUp sets GaveUp if it is not set.
func (d *DB) PieceGaveUp(ctx context.Context, jobId string, index int, reason string) (*job.PieceState, error) {
	return d.updatePiece(ctx, jobId, index, func(it *pieceItem) {
		if it.GaveUp == "" {
			it.GaveUp = reason
		}
	})
}

// PieceTried adds one to Tries.
func (d *DB) PieceTried(ctx context.Context, jobId string, index int) (int, error) {
	st, err := d.progressed(ctx, jobId, index, func(it *pieceItem) { it.Tries++ })
	if err != nil {
		return 0, err
	}
	return st.Tries, nil
}

// SettlePiece adds the piece to Settled (and to FailedSet, or removes it from
// it) and one to Progress, and reports whether every piece has settled.
func (d *DB) SettlePiece(ctx context.Context, jobId string, index int, failed bool) (bool, error) {
	all := false
	err := d.do(ctx, "UpdateItem", Jobs, true, func() error {
		it, ok := d.getJob(jobId)
		if !ok {
			return fmt.Errorf("job %s: %w", jobId, job.ErrNotFound)
		}
		it.Settled = addToSet(it.Settled, index)
		if failed {
			it.FailedSet = addToSet(it.FailedSet, index)
		} else {
			it.FailedSet = removeFromSet(it.FailedSet, index)
		}
		it.Progress++ // Progressed stays: settling again is no progress
		if err := d.putJob(it); err != nil {
			return err
		}
		all = it.JobStatus.Final() || it.TotalPieces > 0 && len(it.Settled) >= it.TotalPieces
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("settle piece %d of job %s: %w", index, jobId, err)
	}
	return all, nil
}

func addToSet(s []int, v int) []int {
	i := sort.SearchInts(s, v)
	if i < len(s) && s[i] == v {
		return s
	}
	return append(s[:i], append([]int{v}, s[i:]...)...)
}

func removeFromSet(s []int, v int) []int {
	i := sort.SearchInts(s, v)
	if i < len(s) && s[i] == v {
		return append(s[:i], s[i+1:]...)
	}
	return s
}

// Pieces queries the job's piece items, in piece order.
func (d *DB) Pieces(ctx context.Context, jobId string) ([]*job.PieceState, error) {
	var pieces []*job.PieceState
	err := d.do(ctx, "Query", Jobs, false, func() error {
		for k, it := range d.pieces {
			if strings.HasPrefix(k, piecePrefix(jobId)) {
				pieces = append(pieces, it.clone().state())
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(pieces, func(i, k int) bool { return pieces[i].Index < pieces[k].Index })
	return pieces, nil
}

// Running queries the jobs whose Running flag is set, oldest first.
func (d *DB) Running(ctx context.Context) ([]*job.Head, error) {
	var items []jobItem
	err := d.do(ctx, "Query", Jobs, false, func() error {
		for _, it := range d.jobs {
			if it.Running != "" {
				items = append(items, *it.clone())
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(items, func(i, k int) bool {
		if items[i].JobOrder != items[k].JobOrder {
			return items[i].JobOrder < items[k].JobOrder
		}
		return items[i].JobId < items[k].JobId
	})
	heads := make([]*job.Head, len(items))
	for i := range items {
		heads[i] = items[i].head()
	}
	return heads, nil
}

// Job reads a job's own item (nil if there is none), for checks.
func (d *DB) Job(id string) *job.Head {
	d.mu.Lock()
	defer d.mu.Unlock()
	it, ok := d.getJob(id)
	if !ok {
		return nil
	}
	return it.head()
}

// The Jobs table is kept as typed items, cloned in and out, rather than as
// JSON: the finisher and the sweeper read every piece of a job often.

func (it *jobItem) clone() *jobItem {
	c := *it
	c.Failures = slices.Clone(it.Failures)
	c.Settled = slices.Clone(it.Settled)
	c.FailedSet = slices.Clone(it.FailedSet)
	return &c
}

func cloneTally(t job.Tally) job.Tally {
	t.Channels = maps.Clone(t.Channels)
	return t
}

func cloneResult(r job.PieceResult) job.PieceResult {
	r.Failures = slices.Clone(r.Failures)
	cuts := make([]job.Cut, len(r.Cuts))
	for i, c := range r.Cuts {
		cuts[i] = job.Cut{Line: c.Line, Tally: cloneTally(c.Tally)}
	}
	if r.Cuts != nil {
		r.Cuts = cuts
	}
	return r
}

func (it *pieceItem) clone() *pieceItem {
	c := *it
	c.Result = cloneResult(it.Result)
	c.Done = make(map[string]job.Tally, len(it.Done))
	for k, t := range it.Done {
		c.Done[k] = cloneTally(t)
	}
	c.Lost = make(map[string]job.LostBatch, len(it.Lost))
	for k, l := range it.Lost {
		l.Tally = cloneTally(l.Tally)
		c.Lost[k] = l
	}
	return &c
}

// size estimates a piece item's size from its strings, which are what can
// grow; a large one is measured.
func (it *pieceItem) size() int {
	n := 256 + len(it.GaveUp) + len(it.Result.Error) + len(it.Result.Report) + len(it.Plan.Key)
	for _, h := range it.Plan.Header {
		n += len(h) + 1
	}
	for _, f := range it.Result.Failures {
		n += len(f) + 1
	}
	n += 48 * (len(it.Done) + len(it.Result.Cuts))
	for _, l := range it.Lost {
		n += 48 + len(l.Reason)
	}
	return n
}

func (it *jobItem) size() int {
	n := 512 + len(it.Definition.S3Url) + len(it.ErrorReport) + 4*(len(it.Settled)+len(it.FailedSet))
	for _, f := range it.Failures {
		n += len(f) + 1
	}
	return n
}

// getJob returns a copy of the job's item; the caller holds mu.
func (d *DB) getJob(id string) (*jobItem, bool) {
	it, ok := d.jobs[id]
	if !ok {
		return nil, false
	}
	return it.clone(), true
}

func (d *DB) putJob(it *jobItem) error {
	if err := checkTyped(Jobs, it.size(), it); err != nil {
		return err
	}
	d.jobs[it.JobId] = it.clone()
	return nil
}

func (d *DB) getPiece(jobId string, i int) (*pieceItem, bool) {
	it, ok := d.pieces[pieceKey(jobId, i)]
	if !ok {
		return nil, false
	}
	return it.clone(), true
}

func (d *DB) putPiece(it *pieceItem) error {
	if err := checkTyped(Jobs, it.size(), it); err != nil {
		return err
	}
	d.pieces[pieceKey(it.JobId, it.Index)] = it.clone()
	return nil
}

// checkTyped measures an item whose estimate comes near the limit.
func checkTyped(table string, estimate int, v any) error {
	if estimate < MaxItemBytes/2 {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s item: %w", table, err)
	}
	return checkItem(table, b)
}

// JobIds returns every job's id, sorted, for checks.
func (d *DB) JobIds() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Sorted(maps.Keys(d.jobs))
}
