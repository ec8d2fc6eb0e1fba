package localrun

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/segport/segport/pkg/client"
	"github.com/segport/segport/pkg/job"
)

// The example files of Pinpoint's current user guide (testdata/guide): endpoint
// definitions with alpha-2 countries and user IDs, and files of user IDs.

func guideFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "guide", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// guideEndpoints are the guide's five endpoints as stored, sorted by Id, with
// their countries in form ("CAN"/"USA"/"CHN" or "CA"/"US"/"CN").
func guideEndpoints(ca, us, cn string) []string {
	eps := []string{
		`{"Id":"e2889debfbb366b1a7b3c0217c2efef0","ChannelType":"SMS","Address":"+16045550182","Location":{"Country":"` + ca + `"},"Demographic":{"Make":"LG","Platform":"Android"},"User":{"UserId":"example-user-id-1"}}`,
		`{"Id":"90fd114cfdd9a506d0888cd355605098","ChannelType":"APNS","Address":"1a2b3c4d5e6f7g8h9i0j1a2b3c4d5e6f","Location":{"Country":"` + us + `"},"Demographic":{"Make":"Apple","Platform":"iOS"},"User":{"UserId":"example-user-id-2"}}`,
		`{"Id":"f1ac0032caf20995a1e03a9582adef1c","ChannelType":"EMAIL","Address":"john.stiles@example.com","Location":{"Country":"` + us + `"},"Demographic":{"Make":"Apple","Platform":"iOS"},"User":{"UserId":"example-user-id-2"}}`,
		`{"Id":"40eb6096c20b1ab6cc05cc174c4f5487","ChannelType":"GCM","Address":"4d5e6f1a2b3c4d5e6f7g8h9i0j1a2b3c","Location":{"Country":"` + cn + `"},"Demographic":{"Make":"Google","Platform":"Android"},"User":{"UserId":"example-user-id-3"}}`,
		`{"Id":"e62d13699e92abd134fcc7b021c3f395","ChannelType":"EMAIL","Address":"wang.xiulan@example.com","Location":{"Country":"` + cn + `"},"Demographic":{"Make":"OnePlus","Platform":"Android"},"User":{"UserId":"example-user-id-3"}}`,
	}
	slices.Sort(eps)
	return eps
}

func sortedMembers(t *testing.T, rt *Runtime, seg string) []string {
	t.Helper()
	m := members(t, rt, seg)
	slices.Sort(m)
	return m
}

// importGuideEndpoints imports the guide's endpoint files, each into a segment
// of its own, and checks that each gives exactly want.
func importGuideEndpoints(t *testing.T, rt *Runtime, prefix string, want []string, names ...string) {
	t.Helper()
	for _, name := range names {
		seg := prefix + strings.ReplaceAll(name, ".", "-")
		j := importFile(t, rt, "imports/"+seg+"/"+name, guideFile(t, name))
		if j.JobStatus != job.Completed || j.TotalProcessed != 5 || j.TotalFailures != 0 {
			t.Fatalf("%s: job %s, %d processed, %d failed %q", name, j.JobStatus, j.TotalProcessed, j.TotalFailures, j.Failures)
		}
		if got := sortedMembers(t, rt, seg); !slices.Equal(got, want) {
			t.Fatalf("%s: members\n%s\nwant\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestGuideEndpointFilesAlpha3: with the default CountryCodes, the guide's CSV and
// JSON endpoint files import unchanged, every row, into the same endpoints with
// alpha-3 countries.
func TestGuideEndpointFilesAlpha3(t *testing.T) {
	importGuideEndpoints(t, sharedRuntime(t), "guide-a3-", guideEndpoints("CAN", "USA", "CHN"), "endpoints.csv", "endpoints.json")
}

// TestGuideEndpointFilesAlpha2: a deployment with CountryCodes=alpha-2 stores
// today's Pinpoint's form, and converts alpha-3 countries to it.
func TestGuideEndpointFilesAlpha2(t *testing.T) {
	rt := openRuntime(t, Options{Parameters: map[string]string{"CountryCodes": "alpha-2"}})
	importGuideEndpoints(t, rt, "guide-a2-", guideEndpoints("CA", "US", "CN"), "endpoints.json", "endpoints.csv")
	// The spec's alpha-3 file is stored in alpha-2 too.
	j := importFile(t, rt, "imports/guide-a2-spec/x.csv", "ChannelType,Address,Location.Country\nSMS,2065550182,USA\nEMAIL,a@example.com,egy\n")
	if j.TotalProcessed != 2 {
		t.Fatalf("spec file: %d processed, %q", j.TotalProcessed, j.Failures)
	}
	got := strings.Join(sortedMembers(t, rt, "guide-a2-spec"), "\n")
	if !strings.Contains(got, `"Country":"US"`) || !strings.Contains(got, `"Country":"EG"`) {
		t.Fatalf("spec file members: %s", got)
	}
}

// TestPushChannel: PUSH, a ChannelType of Pinpoint's API that exports show, is
// accepted in any case, stored as PUSH and counted under it.
func TestPushChannel(t *testing.T) {
	rt := sharedRuntime(t)
	j := importFile(t, rt, "imports/push/devices.csv", "ChannelType,Address,User.UserId\nPUSH,device-token-1,u1\npush,device-token-2,u2\nPUSH,a token,u3\n")
	if j.JobStatus != job.Completed || j.TotalProcessed != 2 || j.TotalFailures != 1 || !strings.Contains(j.Failures[0], ":4: Address:") {
		t.Fatalf("job %s, %d processed, failures %q", j.JobStatus, j.TotalProcessed, j.Failures)
	}
	seg, err := rt.App.Store.SegmentByName(testCtx(t), "push")
	if err != nil {
		t.Fatal(err)
	}
	if n := seg.ImportDefinition.ChannelCounts["PUSH"]; n != 2 || seg.ImportDefinition.Size != 2 || seg.EndpointCount != 2 {
		t.Fatalf("segment %+v", seg)
	}
	for _, m := range members(t, rt, "push") {
		if !strings.Contains(m, `"ChannelType":"PUSH","Address":"device-token-`) {
			t.Fatalf("member %s", m)
		}
	}
}

// TestUnknownColumnSuggestsCustomFamilies: the job of a file with an unknown
// plain column fails, naming the custom attributes the column could be.
func TestUnknownColumnSuggestsCustomFamilies(t *testing.T) {
	rt := sharedRuntime(t)
	j := importFile(t, rt, "imports/colours/people.csv", "ChannelType,Address,FavouriteColour\nEMAIL,a@example.com,blue\n")
	// (The cell is not repeated: a header cell may be a value of a headerless file.)
	want := "imports/colours/people.csv:1: header column 3: unknown attribute; custom attributes are named Attributes.<name>, Metrics.<name> or User.UserAttributes.<name>"
	if j.JobStatus != job.Failed || len(j.Failures) == 0 || !strings.Contains(strings.Join(j.Failures, "\n"), want) {
		t.Fatalf("job %s, failures %q; want FAILED with %q", j.JobStatus, j.Failures, want)
	}
}

func guideClient(rt *Runtime) *client.Client {
	t := rt.App.Config.Tables
	return client.New(rt.Stack.AWSConfig(), client.Tables{Endpoints: t.Endpoints, Users: t.Users, Segments: t.Segments, Members: t.Members, Jobs: t.Jobs})
}

// reached returns the canonical JSON of every endpoint a segment reaches, through
// the client, sorted, and checks that paging a page at a time gives the same.
func reached(t *testing.T, c *client.Client, seg string) []string {
	t.Helper()
	var all, paged []string
	for e, err := range c.SegmentMembers(testCtx(t), seg) {
		if err != nil {
			t.Fatal(err)
		}
		b, _ := e.MarshalCanonical()
		all = append(all, string(b))
	}
	for opts := (client.PageOptions{Size: 1}); ; {
		p, err := c.SegmentMembersPage(testCtx(t), seg, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Items {
			b, _ := e.MarshalCanonical()
			paged = append(paged, string(b))
		}
		if p.NextToken == "" {
			break
		}
		opts.Token = p.NextToken
	}
	slices.Sort(all)
	slices.Sort(paged)
	if !slices.Equal(all, paged) {
		t.Fatalf("SegmentMembers\n%s\nSegmentMembersPage\n%s", strings.Join(all, "\n"), strings.Join(paged, "\n"))
	}
	return all
}

// TestGuideUserIdSegments: the guide's user-ID files define segments of users
// that reach exactly the endpoints of those users, and endpoints imported later
// for them too; a user without endpoints is kept.
func TestGuideUserIdSegments(t *testing.T) {
	rt := openRuntime(t, Options{})
	c := guideClient(rt)
	if j := importFile(t, rt, "imports/guide-endpoints/endpoints.csv", guideFile(t, "endpoints.csv")); j.TotalProcessed != 5 {
		t.Fatalf("endpoints: %+v", j)
	}
	want := guideEndpoints("CAN", "USA", "CHN")
	for _, name := range []string{"user-ids.csv", "user-ids.json"} {
		seg := "guide-users-" + strings.ReplaceAll(name, ".", "-")
		j := importFile(t, rt, "imports/"+seg+"/"+name, guideFile(t, name))
		if j.JobStatus != job.Completed || j.TotalProcessed != 3 || j.TotalFailures != 0 {
			t.Fatalf("%s: job %+v", name, j)
		}
		if got := reached(t, c, seg); !slices.Equal(got, want) {
			t.Fatalf("%s: reached\n%s\nwant\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		s, err := c.GetSegment(testCtx(t), seg)
		if err != nil || s.UserCount != 3 || s.EndpointCount != 5 || s.ImportDefinition.Size != 3 || s.ImportDefinition.ChannelCounts["UNSPECIFIED"] != 3 {
			t.Fatalf("%s: segment %+v, %v", name, s, err)
		}
		var users []string
		for u, err := range c.SegmentUsers(testCtx(t), seg) {
			if err != nil {
				t.Fatal(err)
			}
			users = append(users, u)
		}
		slices.Sort(users)
		if !slices.Equal(users, []string{"example-user-id-1", "example-user-id-2", "example-user-id-3"}) {
			t.Fatalf("%s: users %q", name, users)
		}
	}

	// A user without endpoints yet is kept; an endpoint imported later for
	// one of the users is reached.
	if j := importFile(t, rt, "imports/guide-users-user-ids-csv/more.csv", "User.UserId\nexample-user-id-4\n"); j.JobStatus != job.Completed || j.TotalProcessed != 1 {
		t.Fatalf("user without endpoints: %+v", j)
	}
	if s, _ := c.GetSegment(testCtx(t), "guide-users-user-ids-csv"); s.UserCount != 4 || s.EndpointCount != 5 || s.ImportDefinition.Size != 4 {
		t.Fatalf("after a user without endpoints: %+v", s)
	}
	later := "ChannelType,Address,User.UserId\nEMAIL,later@example.com,example-user-id-4\nSMS,+12065550100,example-user-id-1\nEMAIL,stranger@example.com,someone-else\n"
	if j := importFile(t, rt, "imports/guide-later/later.csv", later); j.TotalProcessed != 3 {
		t.Fatalf("later endpoints: %+v", j)
	}
	got := reached(t, c, "guide-users-user-ids-csv")
	if len(got) != 7 || !strings.Contains(strings.Join(got, "\n"), "later@example.com") || !strings.Contains(strings.Join(got, "\n"), "+12065550100") ||
		strings.Contains(strings.Join(got, "\n"), "stranger@example.com") {
		t.Fatalf("after later endpoints: %d reached\n%s", len(got), strings.Join(got, "\n"))
	}
	if s, _ := c.GetSegment(testCtx(t), "guide-users-user-ids-csv"); s.UserCount != 4 || s.EndpointCount != 7 {
		t.Fatalf("after later endpoints: %+v", s)
	}
	// The JSON-defined segment has not got example-user-id-4.
	if n := len(reached(t, c, "guide-users-user-ids-json")); n != 6 {
		t.Fatalf("json segment reaches %d endpoints, want 6", n)
	}
}
