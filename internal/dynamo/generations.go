package dynamo

import (
	"context"
	"fmt"

	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// Generations (pkg/segment's MemberSet). A replacing import starts a
// generation: its members, and those of the versions after it up to the next
// replace, are kept in member partitions named "<SegmentId>#r<base>#<nn>"
// (and "<SegmentId>#r<base>#user#<nn>" for users), base being the replace's
// version number; generation 0, the versions before any replace, keeps the
// segment's own partitions. Each version's item records its generation
// (Base); the segment's item records the latest replace reserved
// (LastReplace) and, per running job, the generation of its version (Bases),
// both set by ReserveVersion's one conditional update.

// ErrPruned means a version's members are no longer kept: its generation is
// older than the retention (its version record stays).
var ErrPruned = job.ErrPruned

// AtVersion returns seg as its version n is read, and n (the current version
// for 0): a copy whose Id names the member partitions of the version's
// generation (segment.MemberSet), for the member reads (MembersPage,
// ShardMembers, ReachedPage, UserMembersPage, VersionMembers). A version the
// segment does not have is ErrNotFound.
func (s *Store) AtVersion(ctx context.Context, seg *segment.Segment, n int) (*segment.Segment, int, error) {
	if n == 0 {
		n = seg.Version
		if n == 0 || seg.LastReplace == 0 {
			return seg, n, nil // no version yet, or generation 0 only
		}
	}
	rec, found, err := s.versionRecord(ctx, seg.Id, n)
	if err != nil {
		return nil, 0, err
	}
	if !found {
		return nil, 0, fmt.Errorf("version %d of segment %s: %w", n, seg.Id, ErrNotFound)
	}
	at, err := s.inGeneration(ctx, seg, rec.Base)
	return at, n, err
}

// inGeneration returns a copy of seg whose Id names generation base's member
// partitions; ErrPruned if the generation is no longer kept.
func (s *Store) inGeneration(ctx context.Context, seg *segment.Segment, base int) (*segment.Segment, error) {
	kept, err := s.keptFrom(ctx, seg)
	if err != nil {
		return nil, err
	}
	if base < kept {
		return nil, fmt.Errorf("generation %d of segment %s: %w", base, seg.Id, ErrPruned)
	}
	if base == 0 {
		return seg, nil
	}
	at := *seg
	at.Id = segment.MemberSet(seg.Id, base)
	return &at, nil
}

// keptFrom returns the oldest generation of seg whose members are kept.
func (s *Store) keptFrom(ctx context.Context, seg *segment.Segment) (int, error) {
	if seg.LastReplace == 0 {
		return 0, nil // never replaced: one generation, kept
	}
	var c versionCounters
	if err := s.counters(ctx, seg.Id, &c); err != nil {
		return 0, err
	}
	return c.KeptFrom, nil
}

// resolveReplaced sets the EndpointCount (and UserCount) of a segment that
// was replaced to its current version's.
func (s *Store) resolveReplaced(ctx context.Context, seg *segment.Segment) error {
	v, err := s.SegmentVersion(ctx, seg, seg.Version)
	if err == nil {
		err = s.ResolveVersion(ctx, seg, v)
	}
	if err != nil {
		return err
	}
	if v.EndpointCount != nil {
		seg.EndpointCount = *v.EndpointCount
	}
	seg.UserCount = v.UserCount
	return nil
}
