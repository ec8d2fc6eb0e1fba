package localrun

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/segport/segport/pkg/client"
	"github.com/segport/segport/pkg/job"
)

// TestVersionsOfUserSegments: the users of a segment of users are members
// of the versions too. A user keeps the lowest version that named it; each
// version reaches its own member endpoints and every endpoint of its users,
// each once, even when an endpoint a version reaches through a user is a
// member of a later version only; versions count their users and what they
// reach.
func TestVersionsOfUserSegments(t *testing.T) {
	rt := openRuntime(t, Options{})
	c := guideClient(rt)
	ctx := testCtx(t)
	if j := importFile(t, rt, "imports/vu-endpoints/endpoints.csv", guideFile(t, "endpoints.csv")); j.TotalProcessed != 5 {
		t.Fatalf("endpoints: %+v", j)
	}
	files := []string{
		"User.UserId\nexample-user-id-1\n",                                      // v1: user 1
		"ChannelType,Address,User.UserId\nSMS,+16045550182,example-user-id-1\n", // v2: user 1's endpoint as a member
		"User.UserId\nexample-user-id-2 example-user-id-1\n",                    // v3: users 2 and 1 again
	}
	for i, body := range files {
		if j := importFile(t, rt, fmt.Sprintf("imports/vusers/v%d.csv", i+1), body); j.JobStatus != job.Completed {
			t.Fatalf("import %d: %+v", i+1, j)
		}
	}
	sms, apns, john := "+16045550182", "1a2b3c4d5e6f7g8h9i0j1a2b3c4d5e6f", "john.stiles@example.com"
	tests := []struct {
		version        int
		users, reached []string
		endpointCount  int
	}{
		{1, []string{"example-user-id-1"}, []string{sms}, 1},
		{2, []string{"example-user-id-1"}, []string{sms}, 1},
		{3, []string{"example-user-id-1", "example-user-id-2"}, []string{sms, apns, john}, 3},
		{0, []string{"example-user-id-1", "example-user-id-2"}, []string{sms, apns, john}, 3}, // the current version: 3
	}
	for _, tt := range tests {
		var users []string
		for opts := (client.PageOptions{Size: 1}); ; {
			p, err := c.VersionUsersPage(ctx, "vusers", tt.version, opts)
			if err != nil {
				t.Fatalf("version %d: users: %v", tt.version, err)
			}
			users = append(users, p.Items...)
			if p.NextToken == "" {
				break
			}
			opts.Token = p.NextToken
		}
		slices.Sort(users)
		if !slices.Equal(users, tt.users) {
			t.Errorf("version %d: users %q, want %q", tt.version, users, tt.users)
		}
		var streamed, paged []string
		for e, err := range c.VersionMembers(ctx, "vusers", tt.version) {
			if err != nil {
				t.Fatalf("version %d: members: %v", tt.version, err)
			}
			streamed = append(streamed, e.Address)
		}
		for opts := (client.PageOptions{Size: 1}); ; {
			p, err := c.VersionMembersPage(ctx, "vusers", tt.version, opts)
			if err != nil {
				t.Fatalf("version %d: members page: %v", tt.version, err)
			}
			for _, e := range p.Items {
				paged = append(paged, e.Address)
			}
			if p.NextToken == "" {
				break
			}
			opts.Token = p.NextToken
		}
		want := slices.Sorted(slices.Values(tt.reached))
		slices.Sort(streamed)
		slices.Sort(paged)
		if !slices.Equal(streamed, want) || !slices.Equal(paged, want) {
			t.Errorf("version %d: reached\n%s\npaged\n%s\nwant\n%s", tt.version, strings.Join(streamed, "\n"), strings.Join(paged, "\n"), strings.Join(want, "\n"))
		}
		if tt.version == 0 {
			continue
		}
		v, err := c.GetSegmentVersion(ctx, "vusers", tt.version)
		if err != nil || v.EndpointCount == nil || *v.EndpointCount != tt.endpointCount || v.UserCount != len(tt.users) {
			t.Errorf("version %d: %+v, %v; want %d endpoints, %d users", tt.version, v, err, tt.endpointCount, len(tt.users))
		}
	}
	s, err := c.GetSegment(ctx, "vusers")
	if err != nil || s.Version != 3 || s.UserCount != 2 || s.EndpointCount != 3 {
		t.Fatalf("segment %+v, %v; want version 3, 2 users, 3 endpoints", s, err)
	}
}
