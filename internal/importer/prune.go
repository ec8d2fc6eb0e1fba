package importer

import (
	"context"
	"errors"
	"fmt"
)

// Pruner deletes the members of the generations a segment no longer keeps
// (its retention: see SegmentBook.ReserveVersion for generations).
type Pruner interface {
	// Prune deletes up to budget member items of the segment's generations
	// that are no longer kept and reports whether any remain; once none
	// remain, the segment leaves Pruning's list. Safe to repeat and to run
	// concurrently.
	Prune(ctx context.Context, segmentId string, budget int) (more bool, err error)
	// Pruning returns the segments whose pruning has not finished.
	Pruning(ctx context.Context) ([]string, error)
}

// PruneBudget bounds the member items one sweep deletes per segment, so
// that a sweep's duration does not grow with the size of what it prunes:
// a large generation is pruned over several sweeps.
const PruneBudget = 20_000

// prune runs Pruner over the segments being pruned, PruneBudget items each.
func (s *Sweeper) prune(ctx context.Context) (int, error) {
	if s.Pruner == nil {
		return 0, nil
	}
	segs, err := s.Pruner.Pruning(ctx)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, id := range segs {
		if _, err := s.Pruner.Prune(ctx, id, PruneBudget); err != nil {
			errs = append(errs, fmt.Errorf("prune segment %s: %w", id, err))
		}
	}
	return len(segs), errors.Join(errs...)
}
