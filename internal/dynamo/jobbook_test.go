package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/internal/localrun"
	"github.com/segport/segport/internal/memstore/booktest"
	"github.com/segport/segport/pkg/segment"
)

// TestJobBookDynamo holds the DynamoDB adapter to the JobBook contract with the
// same suite the in-memory book passes (internal/memstore/booktest), so that the
// simulator's book cannot drift from DynamoDB's behaviour.
func TestJobBookDynamo(t *testing.T) {
	rt, err := localrun.Open(context.Background(), localrun.Options{DataDir: t.TempDir(), VisibilityTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	booktest.RunJobBook(t, func() importer.JobBook { return rt.App.Store })
}

// TestVersionBookDynamo holds the adapter's segment versions to the suite the
// in-memory book passes.
func TestVersionBookDynamo(t *testing.T) {
	rt, err := localrun.Open(context.Background(), localrun.Options{DataDir: t.TempDir(), VisibilityTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	st := rt.App.Store
	read := func(ctx context.Context, segId string) (int, []*segment.Version, error) {
		seg, err := st.Segment(ctx, segId)
		if err != nil {
			return 0, nil, err
		}
		vs, err := st.Versions(ctx, seg)
		return seg.Version, vs, err
	}
	t.Run("versions", func(t *testing.T) { booktest.RunVersionBook(t, st, read) })
	t.Run("replace", func(t *testing.T) { booktest.RunReplaceBook(t, st, read) })
	t.Run("prune", func(t *testing.T) {
		booktest.RunPruneBook(t, st, read, func(ctx context.Context, set string) ([]string, error) { return st.Members(ctx, set, 0) })
	})
	t.Run("erase after replace", func(t *testing.T) {
		booktest.RunEraseReplaceBook(t, st, read, func(ctx context.Context, set string) ([]string, error) { return st.Members(ctx, set, 0) }, st.DeleteSegment)
	})
}

// TestEraseBookDynamo holds the adapter's deletes to the suite the in-memory
// store passes.
func TestEraseBookDynamo(t *testing.T) {
	rt, err := localrun.Open(context.Background(), localrun.Options{DataDir: t.TempDir(), VisibilityTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	st := rt.App.Store
	booktest.RunEraseBook(t, st, func(ctx context.Context, segId string) (booktest.SegmentState, error) {
		seg, err := st.Segment(ctx, segId)
		if err != nil {
			return booktest.SegmentState{}, err
		}
		s := booktest.SegmentState{Count: seg.EndpointCount}
		if s.Members, err = st.Members(ctx, segId, seg.Shards); err != nil {
			return s, err
		}
		vs, err := st.Versions(ctx, seg)
		for _, v := range vs {
			if v.EndpointCount != nil {
				s.Versions = append(s.Versions, *v.EndpointCount)
			}
		}
		return s, err
	})
}
