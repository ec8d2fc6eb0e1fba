package memstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// Segment versions, laid out and updated as internal/dynamo's versions.go
// does, one request a step: the version items in the Jobs table, in a
// partition per segment, the counters on the segment's item.

func versionKey(segmentId string, n int) string {
	return fmt.Sprintf("%s#versions\x00version#%010d", segmentId, n)
}

// versionItem is internal/dynamo's.
type versionItem struct {
	Version          int                      `json:"Version"`
	Job              string                   `json:"Job"`
	JobStatus        string                   `json:"JobStatus"`
	CreationDate     string                   `json:"CreationDate"`
	CompletionDate   string                   `json:"CompletionDate,omitempty"`
	ImportDefinition segment.ImportDefinition `json:"ImportDefinition"`
	Added            int                      `json:"Added"`
	EndpointCount    *int                     `json:"EndpointCount,omitempty"`
	Latest           int                      `json:"Latest"`
	CountedStatus    string                   `json:"CountedStatus"`
	CountedAdded     int                      `json:"CountedAdded"`
	Progress         int64                    `json:"Progress"`
	Base             int                      `json:"Base"`
}

func (it *versionItem) replace() bool { return it.Base > 0 && it.Base == it.Version }

func (it *versionItem) miscounted() bool {
	return it.EndpointCount != nil && (it.CountedStatus != it.JobStatus || it.CountedAdded != it.Added)
}

func (it *versionItem) ended() bool {
	return it.JobStatus == string(job.Completed) || it.JobStatus == string(job.Failed)
}

// ReserveVersion reserves the next version number for a job (the one it has
// for a job that holds one) and its generation (internal/dynamo's), then
// records the version as PROCESSING.
func (d *DB) ReserveVersion(ctx context.Context, segmentId, jobId, created string, replace bool) (int, int, error) {
	n, base := 0, 0
	err := d.do(ctx, "UpdateItem", Segments, true, func() error {
		var it segmentItem
		ok, err := d.get(Segments, segmentId, &it)
		if err != nil || !ok {
			return err
		}
		if r, has := it.Reserved[jobId]; has {
			n, base = r, it.Bases[jobId] // the condition fails; GetItem reads them below
			return nil
		}
		it.Versions++
		if it.Reserved == nil {
			it.Reserved = map[string]int{}
		}
		if it.Bases == nil {
			it.Bases = map[string]int{}
		}
		if replace {
			it.LastReplace = it.Versions
		}
		it.Reserved[jobId], it.Bases[jobId] = it.Versions, it.LastReplace
		n, base = it.Versions, it.LastReplace
		return d.put(Segments, segmentId, it)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("reserve a version of segment %s: %w", segmentId, err)
	}
	if n == 0 {
		return 0, 0, fmt.Errorf("reserve a version of segment %s: job %s has none, and its version has ended", segmentId, jobId)
	}
	err = d.do(ctx, "UpdateItem", Jobs, true, func() error {
		var it versionItem
		if _, err := d.get(Jobs, versionKey(segmentId, n), &it); err != nil {
			return err
		}
		it.Version, it.Job, it.Base = n, jobId, base
		if it.CreationDate == "" {
			it.CreationDate = created
		}
		if it.JobStatus == "" {
			it.JobStatus = string(job.Processing)
		}
		return d.put(Jobs, versionKey(segmentId, n), it)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("record version %d of segment %s: %w", n, segmentId, err)
	}
	return n, base, nil
}

// EndVersion records how a version ended, ends its reservation and moves the
// segment's current version on.
func (d *DB) EndVersion(ctx context.Context, segmentId string, v job.VersionEnd) error {
	if err := d.recordEnd(ctx, segmentId, v); err != nil {
		return err
	}
	var (
		rec   versionItem
		found bool
	)
	err := d.do(ctx, "GetItem", Jobs, false, func() error {
		var err error
		found, err = d.get(Jobs, versionKey(segmentId, v.Version), &rec)
		return err
	})
	if err != nil {
		return fmt.Errorf("read version %d of segment %s: %w", v.Version, segmentId, err)
	}
	if err := d.rewind(ctx, segmentId, v.Version, found && rec.miscounted()); err != nil {
		return err
	}
	return d.advance(ctx, segmentId)
}

func (d *DB) recordEnd(ctx context.Context, segmentId string, v job.VersionEnd) error {
	err := d.do(ctx, "UpdateItem", Jobs, true, func() error {
		var it versionItem
		found, err := d.get(Jobs, versionKey(segmentId, v.Version), &it)
		if err != nil {
			return err
		}
		if found && it.Progress > v.Progress {
			return nil
		}
		if it.CreationDate == "" {
			it.CreationDate = v.Now
		}
		if !found {
			it.Base = v.Base
		}
		chans := maps.Clone(v.Written.Channels)
		if chans == nil {
			chans = map[string]int{}
		}
		it.Version, it.Job, it.JobStatus, it.CompletionDate, it.Added, it.Progress = v.Version, v.JobId, string(v.Status), v.Now, v.Written.New, v.Progress
		it.ImportDefinition = segment.ImportDefinition{Size: v.Written.Rows, ChannelCounts: chans, Format: v.Format, S3Url: v.S3Url}
		return d.put(Jobs, versionKey(segmentId, v.Version), it)
	})
	if err != nil {
		return fmt.Errorf("end version %d of segment %s: %w", v.Version, segmentId, err)
	}
	err = d.do(ctx, "UpdateItem", Segments, true, func() error {
		var it segmentItem
		if ok, err := d.get(Segments, segmentId, &it); err != nil || !ok || it.Reserved[v.JobId] != v.Version {
			return err
		}
		delete(it.Reserved, v.JobId)
		delete(it.Bases, v.JobId)
		return d.put(Segments, segmentId, it)
	})
	if err != nil {
		return fmt.Errorf("end the reservation of version %d of segment %s: %w", v.Version, segmentId, err)
	}
	return nil
}

// rewind moves Ended back to before version n if it had passed it
// (internal/dynamo's rewind).
func (d *DB) rewind(ctx context.Context, segmentId string, n int, back bool) error {
	members, latest := 0, 0
	if back && n > 1 {
		var (
			prev  versionItem
			found bool
		)
		err := d.do(ctx, "GetItem", Jobs, false, func() error {
			var err error
			found, err = d.get(Jobs, versionKey(segmentId, n-1), &prev)
			return err
		})
		if err != nil {
			return fmt.Errorf("read version %d of segment %s: %w", n-1, segmentId, err)
		}
		if found && prev.EndpointCount != nil {
			members, latest = *prev.EndpointCount, prev.Latest
		}
	}
	err := d.do(ctx, "UpdateItem", Segments, true, func() error {
		var it segmentItem
		if ok, err := d.get(Segments, segmentId, &it); err != nil || !ok {
			return err
		}
		if back && it.Ended >= n {
			it.Ended, it.EndedMembers, it.Version = n-1, members, latest
		}
		it.Epoch++
		return d.put(Segments, segmentId, it)
	})
	if err != nil {
		return fmt.Errorf("move segment %s back to version %d: %w", segmentId, n-1, err)
	}
	return nil
}

// advance moves Ended and the current Version on over the versions that have
// ended, one conditional update each (internal/dynamo's advance).
func (d *DB) advance(ctx context.Context, segmentId string) error {
	for attempt := 0; attempt < 1000; attempt++ {
		var c segmentItem
		err := d.do(ctx, "GetItem", Segments, false, func() error {
			_, err := d.get(Segments, segmentId, &c)
			return err
		})
		if err != nil {
			return fmt.Errorf("read segment %s: %w", segmentId, err)
		}
		n := c.Ended + 1
		if n > c.Versions {
			return nil
		}
		var (
			rec   versionItem
			found bool
		)
		err = d.do(ctx, "GetItem", Jobs, false, func() error {
			found, err = d.get(Jobs, versionKey(segmentId, n), &rec)
			return err
		})
		if err != nil {
			return fmt.Errorf("read version %d of segment %s: %w", n, segmentId, err)
		}
		if !found || !rec.ended() {
			abandoned, err := d.abandonVersion(ctx, segmentId, n, &rec, &c)
			if err != nil || !abandoned {
				return err
			}
			continue
		}
		members, latest := countVersion(c.EndedMembers, c.Version, &rec)
		if rec.EndpointCount == nil || *rec.EndpointCount != members || rec.Latest != latest || rec.miscounted() {
			err := d.do(ctx, "UpdateItem", Jobs, true, func() error {
				var it versionItem
				if _, err := d.get(Jobs, versionKey(segmentId, n), &it); err != nil {
					return err
				}
				it.EndpointCount, it.Latest, it.CountedStatus, it.CountedAdded = &members, latest, rec.JobStatus, rec.Added
				return d.put(Jobs, versionKey(segmentId, n), it)
			})
			if err != nil {
				return fmt.Errorf("count version %d of segment %s: %w", n, segmentId, err)
			}
		}
		kept := -1
		if rec.replace() && latest == n {
			// A replace becomes current (internal/dynamo's advance).
			if kept, err = d.generationOf(ctx, segmentId, c.Version); err != nil {
				return err
			}
		}
		err = d.do(ctx, "UpdateItem", Segments, true, func() error {
			var it segmentItem
			if _, err := d.get(Segments, segmentId, &it); err != nil || it.Ended != c.Ended || it.Epoch != c.Epoch {
				return err
			}
			it.Ended, it.EndedMembers, it.Version = n, members, latest
			if kept >= 0 {
				it.KeptFrom = kept
			}
			return d.put(Segments, segmentId, it)
		})
		if err != nil {
			return fmt.Errorf("move segment %s on to version %d: %w", segmentId, n, err)
		}
	}
	return fmt.Errorf("move segment %s on: %w", segmentId, job.ErrConflict)
}

// AbandonVersion ends the version a job reserved, if it holds one, as FAILED.
func (d *DB) AbandonVersion(ctx context.Context, segmentId, jobId, now string) error {
	n, base := 0, 0
	err := d.do(ctx, "GetItem", Segments, false, func() error {
		var it segmentItem
		_, err := d.get(Segments, segmentId, &it)
		n, base = it.Reserved[jobId], it.Bases[jobId]
		return err
	})
	if err != nil {
		return err
	}
	if n > 0 {
		if err := d.recordEnd(ctx, segmentId, job.VersionEnd{JobId: jobId, Version: n, Base: base, Status: job.Failed, Now: now, Progress: 1 << 62}); err != nil {
			return err
		}
	}
	return d.advance(ctx, segmentId)
}

// countVersion is internal/dynamo's: a replace starts its generation's count
// over, an append adds to the count before it.
func countVersion(members, latest int, rec *versionItem) (int, int) {
	if rec.replace() {
		members = 0
	}
	if rec.JobStatus == string(job.Completed) {
		latest = rec.Version
	}
	return members + rec.Added, latest
}

// abandonVersion ends version n as FAILED if its job ended without it.
func (d *DB) abandonVersion(ctx context.Context, segmentId string, n int, rec *versionItem, c *segmentItem) (bool, error) {
	jobId, base := rec.Job, rec.Base
	for _, j := range slices.Sorted(maps.Keys(c.Reserved)) {
		if c.Reserved[j] == n {
			jobId, base = j, c.Bases[j]
		}
	}
	if jobId == "" {
		return false, nil
	}
	h, err := d.Head(ctx, jobId)
	if err != nil && !errors.Is(err, job.ErrNotFound) {
		return false, err
	}
	if h != nil && (!h.Job.JobStatus.Final() || h.Launch.Version == n) {
		return false, nil
	}
	now := ""
	if h != nil {
		now = h.Job.CompletionDate
	}
	err = d.recordEnd(ctx, segmentId, job.VersionEnd{JobId: jobId, Version: n, Base: base, Status: job.Failed, Now: now, Progress: 1 << 62})
	return err == nil, err
}

// Versions returns a segment's versions, oldest first, for checks.
func (d *DB) Versions(segmentId string) []*segment.Version {
	d.mu.Lock()
	defer d.mu.Unlock()
	var it segmentItem
	d.get(Segments, segmentId, &it)
	var out []*segment.Version
	for k, b := range d.tables[Jobs] {
		if !strings.HasPrefix(k, segmentId+"#versions\x00") {
			continue
		}
		var v versionItem
		if err := json.Unmarshal(b, &v); err != nil {
			continue
		}
		if v.EndpointCount != nil && v.Base >= it.KeptFrom { // a pruned version keeps its count
			n := *v.EndpointCount - d.erasedCount(segment.MemberSet(segmentId, v.Base), v.Version)
			v.EndpointCount = &n
		}
		out = append(out, &segment.Version{SegmentId: segmentId, Name: it.Name, Version: v.Version, JobId: v.Job, JobStatus: v.JobStatus,
			CreationDate: v.CreationDate, CompletionDate: v.CompletionDate, ImportDefinition: v.ImportDefinition,
			EndpointCount: v.EndpointCount, Current: v.Version == it.Version, Replace: v.replace(), Base: v.Base, Pruned: v.Base < it.KeptFrom})
	}
	slices.SortFunc(out, func(a, b *segment.Version) int { return a.Version - b.Version })
	return out
}
