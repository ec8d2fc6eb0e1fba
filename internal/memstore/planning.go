package memstore

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/segport/segport/pkg/job"
)

// A job's ranges, laid out as internal/dynamo lays them out: one item per
// range under Sk "range#<nnnnnn>" (kept as JSON, like the untyped tables), the
// scanned set beside the settled one, TotalRanges on the job's item.

func rangeKey(id string, i int) string { return fmt.Sprintf("%s\x00range#%06d", id, i) }
func rangePrefix(id string) string     { return id + "\x00range#" }

type rangeItem struct {
	JobId   string          `json:"JobId"`
	Index   int             `json:"Index"`
	Plan    job.Range       `json:"Plan"`
	Scanned bool            `json:"Scanned"`
	Result  job.RangeResult `json:"Result"`
	Tries   int             `json:"Tries,omitempty"`
}

func (it *rangeItem) state() *job.RangeState {
	return &job.RangeState{Index: it.Index, Plan: it.Plan, Scanned: it.Scanned, Result: it.Result, Tries: it.Tries}
}

// StartPlanning puts each range's item unless it exists (PutItem with
// attribute_not_exists), then moves a CREATED job to INITIALIZING.
func (d *DB) StartPlanning(ctx context.Context, jobId string, ranges []job.Range) error {
	for _, r := range ranges {
		err := d.do(ctx, "PutItem", Jobs, true, func() error {
			var it rangeItem
			if ok, err := d.get(Jobs, rangeKey(jobId, r.Index), &it); ok || err != nil {
				return err
			}
			return d.put(Jobs, rangeKey(jobId, r.Index), &rangeItem{JobId: jobId, Index: r.Index, Plan: r})
		})
		if err != nil {
			return fmt.Errorf("record the ranges of job %s: %w", jobId, err)
		}
	}
	err := d.do(ctx, "UpdateItem", Jobs, true, func() error {
		it, ok := d.getJob(jobId)
		if !ok || it.JobStatus != job.Created {
			return nil // a failed condition is no error here
		}
		it.JobStatus, it.TotalRanges, it.Progressed = job.Initializing, len(ranges), d.stamp()
		return d.putJob(it)
	})
	if err != nil {
		return fmt.Errorf("start planning job %s: %w", jobId, err)
	}
	return nil
}

// RangeScanned sets the range's Scanned and Result, adds it to the scanned
// set, marks the job as progressing and reports whether every range of a job
// still INITIALIZING is scanned.
func (d *DB) RangeScanned(ctx context.Context, jobId string, index int, r job.RangeResult) (bool, error) {
	if _, err := d.updateRange(ctx, jobId, index, func(it *rangeItem) {
		it.Scanned, it.Result, it.Tries = true, r, 0
	}); err != nil {
		return false, err
	}
	all := false
	err := d.do(ctx, "UpdateItem", Jobs, true, func() error {
		it, ok := d.getJob(jobId)
		if !ok {
			return fmt.Errorf("job %s: %w", jobId, job.ErrNotFound)
		}
		it.Scanned = addToSet(it.Scanned, index)
		if err := d.putJob(it); err != nil {
			return err
		}
		all = it.JobStatus == job.Initializing && len(it.Scanned) >= it.TotalRanges
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("count range %d of job %s as scanned: %w", index, jobId, err)
	}
	running, err := d.markProgressed(ctx, jobId)
	return all && running, err
}

// markProgressed sets a running job's Progressed and reports whether it runs.
func (d *DB) markProgressed(ctx context.Context, jobId string) (bool, error) {
	running := false
	err := d.do(ctx, "UpdateItem", Jobs, true, func() error {
		it, ok := d.getJob(jobId)
		if !ok || it.Running == "" {
			return nil
		}
		running, it.Progressed = true, d.stamp()
		return d.putJob(it)
	})
	if err != nil {
		return false, fmt.Errorf("mark job %s as progressing: %w", jobId, err)
	}
	return running, nil
}

// RangeTried adds one to the range's Tries and marks the job as progressing.
func (d *DB) RangeTried(ctx context.Context, jobId string, index int) (int, error) {
	st, err := d.updateRange(ctx, jobId, index, func(it *rangeItem) { it.Tries++ })
	if err != nil {
		return 0, err
	}
	if _, err := d.markProgressed(ctx, jobId); err != nil {
		return 0, err
	}
	return st.Tries, nil
}

// ReopenPlanning moves a job that failed before it started back to
// INITIALIZING (condition: FAILED, no pieces, Progress unchanged) and clears
// the range's Tries.
func (d *DB) ReopenPlanning(ctx context.Context, jobId string, progress int64, index int) (bool, error) {
	reopened := false
	err := d.do(ctx, "UpdateItem", Jobs, true, func() error {
		it, ok := d.getJob(jobId)
		if !ok || it.JobStatus != job.Failed || it.TotalPieces != 0 || it.Progress != progress {
			return nil // a failed condition
		}
		it.JobStatus, it.Running, it.Failures, it.Progressed = job.Initializing, "1", []string{}, d.stamp()
		it.CompletionDate, it.ErrorReport = "", ""
		it.Progress++
		reopened = true
		return d.putJob(it)
	})
	if err != nil || !reopened {
		return false, err
	}
	if _, err := d.updateRange(ctx, jobId, index, func(it *rangeItem) { it.Tries = 0 }); err != nil {
		return false, err
	}
	return true, nil
}

// updateRange applies fn to a range's item (UpdateItem, condition
// attribute_exists, ALL_NEW).
func (d *DB) updateRange(ctx context.Context, jobId string, index int, fn func(*rangeItem)) (*job.RangeState, error) {
	var st *job.RangeState
	err := d.do(ctx, "UpdateItem", Jobs, true, func() error {
		var it rangeItem
		ok, err := d.get(Jobs, rangeKey(jobId, index), &it)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("range %d of job %s: %w", index, jobId, job.ErrNotFound)
		}
		fn(&it)
		if err := d.put(Jobs, rangeKey(jobId, index), &it); err != nil {
			return err
		}
		st = it.state()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update range %d of job %s: %w", index, jobId, err)
	}
	return st, nil
}

// Ranges queries the job's range items, in range order.
func (d *DB) Ranges(ctx context.Context, jobId string) ([]*job.RangeState, error) {
	var ranges []*job.RangeState
	err := d.do(ctx, "Query", Jobs, false, func() error {
		for k := range d.tables[Jobs] {
			if !strings.HasPrefix(k, rangePrefix(jobId)) {
				continue
			}
			var it rangeItem
			if _, err := d.get(Jobs, k, &it); err != nil {
				return err
			}
			ranges = append(ranges, it.state())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(ranges, func(i, j int) bool { return ranges[i].Index < ranges[j].Index })
	return ranges, nil
}
