package memstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

var _ importer.SegmentBook = (*DB)(nil)

// segmentItem is a Segments table item, with the Pending map of contributions
// being added and the latest job's order that internal/dynamo keeps beside the
// segment's fields.
type segmentItem struct {
	SegmentId        string                   `json:"SegmentId"`
	Name             string                   `json:"Name"`
	SegmentType      string                   `json:"SegmentType"`
	Version          int                      `json:"Version"`
	CreationDate     string                   `json:"CreationDate"`
	LastModifiedDate string                   `json:"LastModifiedDate,omitempty"`
	ImportDefinition segment.ImportDefinition `json:"ImportDefinition"`
	EndpointCount    int                      `json:"EndpointCount"`
	Shards           int                      `json:"Shards"`
	Pending          map[string]pending       `json:"Pending"`
	LastJob          string                   `json:"LastJob,omitempty"`
	// The version counters (internal/dynamo's versions.go).
	Reserved     map[string]int `json:"Reserved"`
	Bases        map[string]int `json:"Bases"`
	LastReplace  int            `json:"LastReplace"`
	KeptFrom     int            `json:"KeptFrom"`
	Pruned       int            `json:"Pruned"`
	Versions     int            `json:"Versions"`
	Ended        int            `json:"Ended"`
	EndedMembers int            `json:"EndedMembers"`
	Epoch        int            `json:"Epoch"`
}

// contribution and pending are internal/dynamo's (segments.go).
type contribution struct {
	Size     int            `json:"Size"`
	Channels map[string]int `json:"Channels"`
	New      int            `json:"New"`
	V        int            `json:"V"`
	Progress int64          `json:"Progress"`
}

func (c contribution) same(o contribution) bool {
	return c.Size == o.Size && c.New == o.New && maps.Equal(c.Channels, o.Channels)
}

type pending struct {
	Token   string       `json:"Token"`
	Lease   time.Time    `json:"Lease"`
	Applied bool         `json:"Applied"`
	C       contribution `json:"C"`
}

// contributionLease is internal/dynamo's.
const contributionLease = 20 * time.Second

// EnsureSegment creates the segment's item unless it exists; each field is
// set only if absent (if_not_exists), SegmentType always. It returns the
// segment's shard count.
func (d *DB) EnsureSegment(ctx context.Context, id, name, created string) (int, error) {
	shards := 0
	err := d.do(ctx, "UpdateItem", Segments, true, func() error {
		var it segmentItem
		if _, err := d.get(Segments, id, &it); err != nil {
			return err
		}
		if it.SegmentId == "" && name == "" {
			return fmt.Errorf("segment %s: %w", id, job.ErrNotFound)
		}
		if it.SegmentId == "" {
			it = segmentItem{SegmentId: id, Name: name, CreationDate: created, Shards: d.shards,
				ImportDefinition: segment.ImportDefinition{ChannelCounts: map[string]int{}}, Pending: map[string]pending{}}
		}
		if it.Reserved == nil {
			it.Reserved = map[string]int{}
		}
		if it.Bases == nil {
			it.Bases = map[string]int{}
		}
		it.SegmentType = "IMPORT"
		shards = it.Shards
		return d.put(Segments, id, it)
	})
	if errors.Is(err, job.ErrNotFound) {
		return 0, err
	}
	if err != nil {
		return 0, fmt.Errorf("create segment %s: %w", id, err)
	}
	return shards, nil
}

// SetContribution follows internal/dynamo's protocol, one request a step, so that
// a crash may fall between any two: lock the job's Pending entry, read the
// applied contribution from the job's item, add the change and mark the entry
// applied, record it on the job's item, remove the entry.
func (d *DB) SetContribution(ctx context.Context, segmentId string, c job.Contribution) error {
	next := contribution{Size: c.Written.Rows, Channels: maps.Clone(c.Written.Channels), New: c.Written.New, Progress: c.Progress}
	if next.Channels == nil {
		next.Channels = map[string]int{}
	}
	for attempt := 0; ; attempt++ {
		if attempt == maxAttempts {
			return fmt.Errorf("add job %s to segment %s: %w", c.JobId, segmentId, job.ErrConflict)
		}
		done, err := d.contributeOnce(ctx, segmentId, c, next)
		if err != nil {
			return err
		}
		if done {
			break
		}
	}
	err := d.do(ctx, "UpdateItem", Segments, true, func() error {
		var it segmentItem
		if ok, err := d.get(Segments, segmentId, &it); err != nil || !ok || (it.LastJob != "" && it.LastJob > c.JobOrder) {
			return err
		}
		it.ImportDefinition.Format, it.ImportDefinition.S3Url, it.LastJob = c.Format, c.S3Url, c.JobOrder
		return d.put(Segments, segmentId, it)
	})
	if err != nil {
		return fmt.Errorf("set import definition of segment %s: %w", segmentId, err)
	}
	return nil
}

func (d *DB) contributeOnce(ctx context.Context, segmentId string, c job.Contribution, next contribution) (bool, error) {
	var (
		p     pending
		found bool
	)
	err := d.do(ctx, "GetItem", Segments, false, func() error {
		var it segmentItem
		if _, err := d.get(Segments, segmentId, &it); err != nil {
			return err
		}
		p, found = it.Pending[c.JobId]
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("read segment %s: %w", segmentId, err)
	}
	if found {
		if p.Applied {
			return false, d.settleContribution(ctx, segmentId, c.JobId, p)
		}
		if d.env.now().Sub(p.Lease) > contributionLease {
			return false, d.removeLock(ctx, segmentId, c.JobId, p.Token)
		}
		return false, nil
	}
	d.tokens++
	token := fmt.Sprint(d.tokens)
	locked := false
	err = d.do(ctx, "UpdateItem", Segments, true, func() error {
		var it segmentItem
		ok, err := d.get(Segments, segmentId, &it)
		if err != nil || !ok {
			return err
		}
		if _, has := it.Pending[c.JobId]; has {
			return nil
		}
		if it.Pending == nil {
			it.Pending = map[string]pending{}
		}
		it.Pending[c.JobId] = pending{Token: token, Lease: d.env.now()}
		locked = true
		return d.put(Segments, segmentId, it)
	})
	if err != nil || !locked {
		return false, err
	}
	var applied contribution
	err = d.do(ctx, "GetItem", Jobs, false, func() error {
		if it, ok := d.getJob(c.JobId); ok {
			applied = it.Applied
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("read job %s: %w", c.JobId, err)
	}
	if applied.V > 0 && (applied.same(next) || applied.Progress > next.Progress) {
		return true, d.removeLock(ctx, segmentId, c.JobId, token)
	}
	next.V = applied.V + 1
	p = pending{Token: token, Applied: true, C: next}
	ok := false
	err = d.do(ctx, "UpdateItem", Segments, true, func() error {
		var it segmentItem
		if _, err := d.get(Segments, segmentId, &it); err != nil {
			return err
		}
		if cur, has := it.Pending[c.JobId]; !has || cur.Token != token || cur.Applied {
			return nil
		}
		it.ImportDefinition.Size += next.Size - applied.Size
		it.EndpointCount += next.New - applied.New
		it.LastModifiedDate = c.Now
		if it.ImportDefinition.ChannelCounts == nil {
			it.ImportDefinition.ChannelCounts = map[string]int{}
		}
		for ch, n := range next.Channels {
			it.ImportDefinition.ChannelCounts[ch] += n
		}
		for ch, n := range applied.Channels {
			it.ImportDefinition.ChannelCounts[ch] -= n
		}
		it.Pending[c.JobId] = p
		ok = true
		return d.put(Segments, segmentId, it)
	})
	if err != nil || !ok {
		return false, err
	}
	return true, d.settleContribution(ctx, segmentId, c.JobId, p)
}

// settleContribution records an applied entry on the job's item, then removes it.
func (d *DB) settleContribution(ctx context.Context, segmentId, jobId string, p pending) error {
	err := d.do(ctx, "UpdateItem", Jobs, true, func() error {
		it, ok := d.getJob(jobId)
		if !ok || (it.Applied.V > 0 && it.Applied.V >= p.C.V) {
			return nil
		}
		it.Applied = p.C
		return d.putJob(it)
	})
	if err != nil {
		return fmt.Errorf("record the contribution of job %s: %w", jobId, err)
	}
	return d.removePending(ctx, segmentId, jobId, p.Token)
}

// removePending removes the job's entry if it still bears token.
func (d *DB) removePending(ctx context.Context, segmentId, jobId, token string) error {
	return d.removeEntry(ctx, segmentId, jobId, token, false)
}

// removeLock removes the job's entry if it is still the lock of token, not
// applied (internal/dynamo's removeLock).
func (d *DB) removeLock(ctx context.Context, segmentId, jobId, token string) error {
	return d.removeEntry(ctx, segmentId, jobId, token, true)
}

func (d *DB) removeEntry(ctx context.Context, segmentId, jobId, token string, onlyUnapplied bool) error {
	err := d.do(ctx, "UpdateItem", Segments, true, func() error {
		var it segmentItem
		if _, err := d.get(Segments, segmentId, &it); err != nil {
			return err
		}
		if cur, has := it.Pending[jobId]; !has || cur.Token != token || onlyUnapplied && cur.Applied {
			return nil
		}
		delete(it.Pending, jobId)
		return d.put(Segments, segmentId, it)
	})
	if err != nil {
		return fmt.Errorf("unlock segment %s for job %s: %w", segmentId, jobId, err)
	}
	return nil
}

// Segment reads a segment (nil if there is none), for checks.
func (d *DB) Segment(id string) *segment.Segment {
	d.mu.Lock()
	defer d.mu.Unlock()
	var it segmentItem
	if ok, _ := d.get(Segments, id, &it); !ok {
		return nil
	}
	return &segment.Segment{Id: it.SegmentId, Name: it.Name, SegmentType: it.SegmentType, Version: it.Version,
		CreationDate: it.CreationDate, LastModifiedDate: it.LastModifiedDate, ImportDefinition: it.ImportDefinition,
		EndpointCount: it.EndpointCount - d.keptErased(id, it), Shards: it.Shards, LastReplace: it.LastReplace}
}

// shardKey is the Members partition key of an endpoint (dynamo.ShardKey).
func shardKey(segmentId, endpointId string, shards int) string {
	h := fnv.New32a()
	h.Write([]byte(endpointId))
	return fmt.Sprintf("%s#%02d", segmentId, int(h.Sum32()%uint32(shards)))
}

type memberItem struct {
	Shard      string `json:"Shard"`
	EndpointId string `json:"EndpointId"`
	AddedBy    string `json:"AddedBy"`
	V          int    `json:"V,omitempty"`
}

// member is a Members item: the batch that made the endpoint a member first,
// and that batch's segment version (0: none).
type member struct {
	by string
	v  int
	s  string // the greatest stamp of the rows that made it a member
}

// AddMembers puts one member item per endpoint, conditionally: a member
// keeps the batch that added it first, and the count returned is of the ids
// whose member is this batch's (internal/dynamo's AddMembers).
func (d *DB) AddMembers(ctx context.Context, segmentId string, shards, version int, batch string, ids []string, stamps map[string]string) (int, error) {
	if shards < 1 {
		shards = d.shards
	}
	var (
		added   int
		created []string // this batch's, to undo in a pruned generation
	)
	for _, id := range uniq(ids) {
		err := d.do(ctx, "UpdateItem", Members, true, func() error {
			sh := shardKey(segmentId, id, shards)
			if d.members[sh] == nil {
				d.members[sh] = map[string]member{}
			}
			mb, ok := d.members[sh][id]
			if !ok {
				mb = member{by: batch, v: version}
			}
			_, erased := d.erased[segmentId][id+"#"+batch]
			switch {
			case mb.by == batch:
				added++
				created = append(created, id)
			case erased:
				added++ // this batch's add was erased since (dynamo's AddMembers)
			}
			mb.s = max(mb.s, stamps[id])
			d.members[sh][id] = mb
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("add members of segment %s: %w", segmentId, err)
		}
	}
	err := d.unprune(ctx, segmentId, created, func(id string) (string, bool) {
		sh := shardKey(segmentId, id, shards)
		return sh, d.members[sh][id].by == batch
	})
	if err != nil {
		return 0, fmt.Errorf("add members of segment %s: %w", segmentId, err)
	}
	return added, nil
}

// AddUserMembers records users as members of the segment, as dynamo's does:
// in partitions "<segment>#user#<nn>" of the Members table, each keeping the
// lowest version that added it (0: every version).
func (d *DB) AddUserMembers(ctx context.Context, segmentId string, shards, version int, userIds []string) error {
	if shards < 1 {
		shards = d.shards
	}
	for _, id := range uniq(userIds) {
		err := d.do(ctx, "PutItem", Members, true, func() error {
			sh := shardKey(segmentId+"#user", id, shards)
			if d.members[sh] == nil {
				d.members[sh] = map[string]member{}
			}
			if mb, ok := d.members[sh][id]; ok && mb.v <= version {
				return nil
			}
			d.members[sh][id] = member{by: "user", v: version}
			return nil
		})
		if err != nil {
			return fmt.Errorf("add users of segment %s: %w", segmentId, err)
		}
	}
	err := d.unprune(ctx, segmentId, uniq(userIds), func(id string) (string, bool) {
		return shardKey(segmentId+"#user", id, shards), true
	})
	if err != nil {
		return fmt.Errorf("add users of segment %s: %w", segmentId, err)
	}
	return nil
}

// CountAdded counts the ids whose member batch added (BatchGetItem).
func (d *DB) CountAdded(ctx context.Context, segmentId string, shards int, batch string, ids []string) (int, error) {
	if shards < 1 {
		shards = d.shards
	}
	n := 0
	err := d.do(ctx, "BatchGetItem", Members, false, func() error {
		for _, id := range uniq(ids) {
			_, erased := d.erased[segmentId][id+"#"+batch]
			if d.members[shardKey(segmentId, id, shards)][id].by == batch || erased {
				n++ // an add a delete erased since counts too (dynamo's CountAdded)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("read members of segment %s: %w", segmentId, err)
	}
	return n, nil
}

func uniq(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// MemberIds returns the ids of the segment's member items, sorted, for checks.
func (d *DB) MemberIds(segmentId string) []string {
	return d.VersionMemberIds(segmentId, -1)
}

// VersionMemberIds returns the ids of the members of a version of the
// segment (those without a version or of a version up to it; every member
// item for a negative version), sorted, for checks. segmentId may be a member
// set (segment.MemberSet): a segment's id alone reads every generation.
func (d *DB) VersionMemberIds(segmentId string, version int) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ids []string
	for sh, m := range d.members {
		if strings.HasPrefix(sh, segmentId+"#") && (version < 0 || !strings.HasPrefix(sh[len(segmentId)+1:], "r")) {
			for id, mb := range m {
				if version < 0 || mb.v <= version {
					ids = append(ids, id)
				}
			}
		}
	}
	slices.Sort(ids)
	return ids
}
