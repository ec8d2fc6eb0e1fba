package memstore

import (
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"

	"github.com/segport/segport/pkg/importer"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

var _ importer.SegmentBook = (*DB)(nil)

// segmentItem is a Segments table item, with the per-job contributions and
// the latest count's date that pkg/dynamo keeps beside the segment's fields.
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
	Contrib          map[string]contribution  `json:"Contrib"`
	LastJob          string                   `json:"LastJob,omitempty"`
	CountedAt        string                   `json:"CountedAt,omitempty"`
}

type contribution struct {
	Size     int            `json:"Size"`
	Channels map[string]int `json:"Channels"`
	V        int            `json:"V"`
}

// EnsureSegment creates the segment's item unless it exists; each field is
// set only if absent (if_not_exists), SegmentType always.
func (d *DB) EnsureSegment(ctx context.Context, id, name, created string) error {
	err := d.do(ctx, "UpdateItem", Segments, true, func() error {
		var it segmentItem
		if _, err := d.get(Segments, id, &it); err != nil {
			return err
		}
		if it.SegmentId == "" {
			it = segmentItem{SegmentId: id, Name: name, CreationDate: created, Shards: d.shards,
				ImportDefinition: segment.ImportDefinition{ChannelCounts: map[string]int{}}, Contrib: map[string]contribution{}}
		}
		it.SegmentType = "IMPORT"
		return d.put(Segments, id, it)
	})
	if err != nil {
		return fmt.Errorf("create segment %s: %w", id, err)
	}
	return nil
}

// SetContribution reads the job's previous contribution, adds the change
// under the condition that it is still the stored one (retrying a lost race),
// then makes the job's Format and S3Url the segment's if it is the latest job.
func (d *DB) SetContribution(ctx context.Context, segmentId string, c job.Contribution) error {
	next := contribution{Size: c.Written.Rows, Channels: maps.Clone(c.Written.Channels)}
	if next.Channels == nil {
		next.Channels = map[string]int{}
	}
	for attempt := 0; ; attempt++ {
		var prev contribution
		found := false
		err := d.do(ctx, "GetItem", Segments, false, func() error {
			var it segmentItem
			if _, err := d.get(Segments, segmentId, &it); err != nil {
				return err
			}
			prev, found = it.Contrib[c.JobId]
			return nil
		})
		if err != nil {
			return fmt.Errorf("read segment %s: %w", segmentId, err)
		}
		if found && prev.Size == next.Size && maps.Equal(prev.Channels, next.Channels) {
			break
		}
		next.V = prev.V + 1
		err = d.addContribution(ctx, segmentId, c, prev, found, next)
		if err == nil {
			break
		}
		if err != job.ErrConflict || attempt >= maxAttempts {
			return err
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

func (d *DB) addContribution(ctx context.Context, segmentId string, c job.Contribution, prev contribution, found bool, next contribution) error {
	return d.do(ctx, "UpdateItem", Segments, true, func() error {
		var it segmentItem
		ok, err := d.get(Segments, segmentId, &it)
		if err != nil {
			return err
		}
		stored, has := it.Contrib[c.JobId]
		if !ok || (found && (!has || stored.V != prev.V)) || (!found && has) {
			return job.ErrConflict
		}
		it.ImportDefinition.Size += next.Size - prev.Size
		it.LastModifiedDate = c.Now
		if it.Contrib == nil {
			it.Contrib = map[string]contribution{}
		}
		it.Contrib[c.JobId] = next
		if !found {
			it.Version++
		}
		if it.ImportDefinition.ChannelCounts == nil {
			it.ImportDefinition.ChannelCounts = map[string]int{}
		}
		for ch, n := range next.Channels {
			it.ImportDefinition.ChannelCounts[ch] += n
		}
		for ch, n := range prev.Channels {
			it.ImportDefinition.ChannelCounts[ch] -= n
		}
		return d.put(Segments, segmentId, it)
	})
}

// CountMembers counts the segment's member items, shard by shard.
func (d *DB) CountMembers(ctx context.Context, segmentId string, shards int) (int, error) {
	if shards < 1 {
		shards = d.shards
	}
	total := 0
	for i := 0; i < shards; i++ {
		shard := fmt.Sprintf("%s#%02d", segmentId, i)
		err := d.do(ctx, "Query", Members, false, func() error {
			total += len(d.members[shard])
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("count shard %d of segment %s: %w", i, segmentId, err)
		}
	}
	return total, nil
}

// SetEndpointCount stores count unless a count taken later is stored.
func (d *DB) SetEndpointCount(ctx context.Context, segmentId string, count int, countedAt string) error {
	err := d.do(ctx, "UpdateItem", Segments, true, func() error {
		var it segmentItem
		if ok, err := d.get(Segments, segmentId, &it); err != nil || !ok || (it.CountedAt != "" && it.CountedAt > countedAt) {
			return err
		}
		it.EndpointCount, it.CountedAt = count, countedAt
		return d.put(Segments, segmentId, it)
	})
	if err != nil {
		return fmt.Errorf("set endpoint count of segment %s: %w", segmentId, err)
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
		EndpointCount: it.EndpointCount, Shards: it.Shards}
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
}

// AddMembers puts one member item per endpoint, 25 per BatchWriteItem.
func (d *DB) AddMembers(ctx context.Context, segmentId string, ids []string) error {
	seen := map[string]bool{}
	var uniq []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	err := d.batchWrite(ctx, Members, len(uniq), func(i int) error {
		sh := shardKey(segmentId, uniq[i], d.shards)
		if d.members[sh] == nil {
			d.members[sh] = map[string]bool{}
		}
		d.members[sh][uniq[i]] = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("add members of segment %s: %w", segmentId, err)
	}
	return nil
}

// MemberIds returns the ids of the segment's member items, sorted, for checks.
func (d *DB) MemberIds(segmentId string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ids []string
	for sh, m := range d.members {
		if strings.HasPrefix(sh, segmentId+"#") {
			for id := range m {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return ids
}
