package booktest_test

import (
	"context"
	"testing"
	"time"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/internal/memstore"
	"github.com/segport/segport/internal/memstore/booktest"
	"github.com/segport/segport/pkg/segment"
)

func TestJobBookMemstore(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	env := &memstore.Env{Now: func() time.Time { now = now.Add(time.Second); return now }}
	booktest.RunJobBook(t, func() importer.JobBook { return memstore.NewDB(env, 4) })
}

// versionDB is a fresh in-memory book and the reader of its versions.
func versionDB() (*memstore.DB, booktest.ReadVersions) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	env := &memstore.Env{Now: func() time.Time { now = now.Add(time.Second); return now }}
	d := memstore.NewDB(env, 4)
	return d, func(ctx context.Context, segId string) (int, []*segment.Version, error) {
		return d.Segment(segId).Version, d.Versions(segId), nil
	}
}

func TestVersionBookMemstore(t *testing.T) {
	d, read := versionDB()
	booktest.RunVersionBook(t, d, read)
}

func TestReplaceBookMemstore(t *testing.T) {
	d, read := versionDB()
	booktest.RunReplaceBook(t, d, read)
}

func TestPruneBookMemstore(t *testing.T) {
	d, read := versionDB()
	booktest.RunPruneBook(t, d, read, func(ctx context.Context, set string) ([]string, error) { return d.VersionMemberIds(set, 1<<30), nil })
}

func TestEraseBookMemstore(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	env := &memstore.Env{Now: func() time.Time { now = now.Add(time.Second); return now }}
	d := memstore.NewDB(env, 4)
	booktest.RunEraseBook(t, d, func(ctx context.Context, segId string) (booktest.SegmentState, error) {
		st := booktest.SegmentState{Count: d.Segment(segId).EndpointCount, Members: d.MemberIds(segId)}
		for _, v := range d.Versions(segId) {
			if v.EndpointCount != nil {
				st.Versions = append(st.Versions, *v.EndpointCount)
			}
		}
		return st, nil
	})
}

func TestEraseReplaceBookMemstore(t *testing.T) {
	d, read := versionDB()
	booktest.RunEraseReplaceBook(t, d, read, func(ctx context.Context, set string) ([]string, error) { return d.VersionMemberIds(set, 1<<30), nil }, nil)
}
