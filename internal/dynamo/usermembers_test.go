package dynamo_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/segport/segport/internal/dynamo"
	"github.com/segport/segport/internal/localrun"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// TestUserMemberVersions: a user member keeps the lowest version that named
// it, whatever the order of the puts, and a version's reads skip the users of
// later versions even when whole query pages hold none of its own.
func TestUserMemberVersions(t *testing.T) {
	rt, err := localrun.Open(context.Background(), localrun.Options{DataDir: t.TempDir(), VisibilityTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	st := rt.App.Store
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	segId := job.NewId("usermembers", time.Now().String())[:16]
	if _, err := st.EnsureSegment(ctx, segId, "users "+segId, "2026-01-02T03:04:05.000Z"); err != nil {
		t.Fatal(err)
	}
	var later []string
	for i := range 250 {
		later = append(later, fmt.Sprintf("u%03d", i))
	}
	// One shard, so that the 250 users of version 2 fill whole query pages
	// before the one user of version 1.
	if err := st.AddUserMembers(ctx, segId, 1, 2, later); err != nil {
		t.Fatal(err)
	}
	if err := st.AddUserMembers(ctx, segId, 1, 1, []string{"u999", "u000"}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddUserMembers(ctx, segId, 1, 3, []string{"u999", "u001"}); err != nil { // changes nothing
		t.Fatal(err)
	}
	seg := &segment.Segment{Id: segId, Shards: 1, HasUsers: true}
	for _, tt := range []struct {
		version int
		want    int
	}{{1, 2}, {2, 251}, {3, 251}, {dynamo.AllVersions, 251}} {
		got, err := st.VersionUserMembers(ctx, seg, tt.version)
		if err != nil || len(got) != tt.want {
			t.Fatalf("version %d: %d users, %v; want %d", tt.version, len(got), err, tt.want)
		}
		var paged []string
		for token := ""; ; {
			ids, next, err := st.UserMembersPage(ctx, seg, tt.version, 7, token)
			if err != nil {
				t.Fatalf("version %d: page: %v", tt.version, err)
			}
			paged = append(paged, ids...)
			if next == "" {
				break
			}
			token = next
		}
		if !slices.Equal(paged, got) {
			t.Fatalf("version %d: paged %d users, want %d", tt.version, len(paged), len(got))
		}
		// None of these users has endpoints: the reach is empty, and reading
		// it ends.
		for token := ""; ; {
			ids, next, err := st.ReachedPage(ctx, seg, tt.version, 100, token)
			if err != nil || len(ids) != 0 {
				t.Fatalf("version %d: reached %q, %v", tt.version, ids, err)
			}
			if next == "" {
				break
			}
			token = next
		}
	}
	if got, _ := st.VersionUserMembers(ctx, seg, 1); !slices.Equal(got, []string{"u000", "u999"}) {
		t.Fatalf("version 1's users %q", got)
	}
}
