package localrun

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/pkg/client"
	"github.com/segport/segport/pkg/job"
)

// putReplacing drops a file that replaces its segment: the drop folder's
// convention, the object metadata segport-mode: replace.
func putReplacing(t *testing.T, rt *Runtime, key, body, jobId string) {
	t.Helper()
	_, err := rt.Stack.S3Client().PutObject(testCtx(t), &s3.PutObjectInput{
		Bucket: aws.String(rt.Stack.Bucket), Key: aws.String(key), Body: strings.NewReader(body),
		Metadata: map[string]string{importer.MetaJobId: jobId, importer.MetaMode: "replace"},
	})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func newClient(rt *Runtime) *client.Client {
	tb := rt.App.Config.Tables
	return client.New(rt.Stack.AWSConfig(), client.Tables{Endpoints: tb.Endpoints, Users: tb.Users,
		Segments: tb.Segments, Members: tb.Members, Jobs: tb.Jobs})
}

// versionIds reads the members of version n (0: the current one) of a segment.
func versionIds(ctx context.Context, t *testing.T, c *client.Client, name string, n int) []string {
	t.Helper()
	var ids []string
	for e, err := range c.VersionMembers(ctx, name, n) {
		if err != nil {
			t.Fatalf("version %d of %s: %v", n, name, err)
		}
		ids = append(ids, e.Id)
	}
	slices.Sort(ids)
	return ids
}

func sortedIds(ids ...[]string) []string {
	var all []string
	for _, s := range ids {
		all = append(all, s...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// TestReplaceImport appends three imports, then replaces with a fourth,
// dropped with segport-mode: replace, while a reader polls the current
// version: it sees the third version's members or the fourth's, never a mix.
// Each version holds exactly what the rule says (an append: the version
// before plus its endpoints; a replace: its endpoints alone), version 2 is
// still readable after the replace, an append after it builds on it, and a
// replace by request (CreateImportJob's Replace) replaces again.
func TestReplaceImport(t *testing.T) {
	// Small pieces and write batches: the replace lands batch by batch.
	rt := openRuntime(t, Options{BatchBytes: 800, Parameters: map[string]string{"PieceSize": "2048"}})
	ctx := testCtx(t)
	c := newClient(rt)
	const name = "replaced"
	files := [][]string{{"a", "b"}, {"b", "c"}, {"d"}}
	want := [][]string{{"a", "b"}, {"a", "b", "c"}, {"a", "b", "c", "d"}}
	for i, ids := range files {
		if j := importFile(t, rt, fmt.Sprintf("imports/%s/f%d.csv", name, i+1), idsFile(ids...)); j.JobStatus != job.Completed || j.Definition.Replace {
			t.Fatalf("import %d: %+v", i+1, j)
		}
	}

	// The replace: 300 endpoints in many write batches, "a" among them.
	big := append(seq("r", 0, 300), "a")
	id := job.NewId(t.Name(), "f4", time.Now().String())
	putReplacing(t, rt, "imports/"+name+"/f4.csv", idsFile(big...), id)
	fourth := sortedIds(big)
	polls, sawNew := 0, false
	for {
		j, err := rt.App.Store.Job(ctx, id)
		if errors.Is(err, job.ErrNotFound) {
			j = &job.Job{JobStatus: job.Created}
		} else if err != nil {
			t.Fatal(err)
		}
		got := versionIds(ctx, t, c, name, 0)
		polls++
		switch {
		case slices.Equal(got, want[2]):
		case slices.Equal(got, fourth):
			sawNew = true
		default:
			t.Fatalf("poll %d: the current version has %d members, neither version 3's nor version 4's", polls, len(got))
		}
		if j.JobStatus.Final() && sawNew {
			if !j.Definition.Replace || j.Definition.Mode() != "REPLACE" || j.TotalPieces < 3 {
				t.Errorf("the replacing job: %d pieces, definition %+v", j.TotalPieces, j.Definition)
			}
			break
		}
		if j.JobStatus.Final() && polls > 50 {
			t.Fatalf("job %+v ended, the current version is still the third", j)
		}
	}
	t.Logf("%d polls during the replace", polls)
	want = append(want, fourth)

	// An append after the replace builds on it.
	if j := importFile(t, rt, "imports/"+name+"/f5.csv", idsFile("e", "b")); j.JobStatus != job.Completed {
		t.Fatalf("import 5: %+v", j)
	}
	want = append(want, sortedIds(fourth, []string{"e", "b"}))

	checkVersions := func(want [][]string, current int, pruned func(n int) bool) {
		t.Helper()
		for i, w := range want {
			n := i + 1
			v, err := c.GetSegmentVersion(ctx, name, n)
			if err != nil {
				t.Fatal(err)
			}
			replace := n == 4 || n == 6
			base := map[bool]int{true: n}[replace]
			if n == 5 {
				base = 4
			}
			if v.EndpointCount == nil || *v.EndpointCount != len(w) || v.Replace != replace || v.Base != base || v.Current != (n == current) || v.Pruned != pruned(n) {
				t.Errorf("version %d: %+v, want %d members, replace %v, generation %d, pruned %v", n, v, len(w), replace, base, pruned(n))
			}
			if pruned(n) {
				if _, err := c.VersionMembersPage(ctx, name, n, client.PageOptions{}); !errors.Is(err, client.ErrPruned) {
					t.Errorf("version %d, pruned: members read with %v", n, err)
				}
				continue
			}
			if got := versionIds(ctx, t, c, name, n); !slices.Equal(got, w) {
				t.Errorf("version %d: %d members %v, want %d", n, len(got), head(got), len(w))
			}
		}
	}
	// After one replace, every version is kept: the generation the replace
	// took over from stays.
	if _, err := rt.App.Sweeper.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	checkVersions(want, 5, func(int) bool { return false })

	// A replace by request, from a folder of the bucket outside imports/.
	put(t, rt, "replace-src/"+name+"/g.csv", idsFile("x", "e"), job.NewId(t.Name(), "src"))
	started, err := rt.App.Trigger.CreateImportJob(ctx, importer.Request{S3Url: "s3://" + rt.Stack.Bucket + "/replace-src/" + name + "/",
		SegmentName: name, Replace: true})
	if err != nil {
		t.Fatal(err)
	}
	if j := waitJob(t, rt, started.Id); j.JobStatus != job.Completed || !j.Definition.Replace {
		t.Fatalf("the requested replace: %+v", j)
	}
	want = append(want, []string{"e", "x"})
	if got := versionIds(ctx, t, c, name, 0); !slices.Equal(got, want[5]) {
		t.Errorf("the current version: %v", got)
	}

	// Now generation 0 (versions 1 to 3) is older than the two kept: the
	// sweeper deletes its member items; the versions' records stay.
	if _, err := rt.App.Sweeper.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	checkVersions(want, 6, func(n int) bool { return n <= 3 })
	seg, err := c.GetSegment(ctx, name)
	if err != nil || seg.Version != 6 || seg.EndpointCount != 2 {
		t.Fatalf("segment: %+v, %v; want version 6 and its 2 endpoints", seg, err)
	}
	if left, err := rt.App.Store.Members(ctx, seg.Id, seg.Shards); err != nil || len(left) != 0 {
		t.Errorf("generation 0 after pruning: %d member items, %v", len(left), err)
	}
	if segs, err := rt.App.Store.Pruning(ctx); err != nil || slices.Contains(segs, seg.Id) {
		t.Errorf("still pruning: %v, %v", segs, err)
	}
}

// TestReplaceThatFails documents the rule for a replace that fails after it
// started (every row bad): it still starts its generation, so the current
// version stays the one before it, and an append after it holds only what
// it adds.
func TestReplaceThatFails(t *testing.T) {
	rt := sharedRuntime(t)
	ctx := testCtx(t)
	c := newClient(rt)
	const name = "replace-fails"
	if j := importFile(t, rt, "imports/"+name+"/f1.csv", idsFile("a", "b")); j.JobStatus != job.Completed {
		t.Fatalf("import 1: %+v", j)
	}
	id := job.NewId(t.Name(), "bad", time.Now().String())
	putReplacing(t, rt, "imports/"+name+"/bad.csv", "Id,ChannelType,Address\nz,EMAIL,not-an-address\n", id)
	if j := waitJob(t, rt, id); j.JobStatus != job.Failed {
		t.Fatalf("the bad replace: %+v", j)
	}
	if got := versionIds(ctx, t, c, name, 0); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("after the failed replace, the current version: %v", got)
	}
	if j := importFile(t, rt, "imports/"+name+"/f3.csv", idsFile("c")); j.JobStatus != job.Completed {
		t.Fatalf("import 3: %+v", j)
	}
	for n, w := range map[int][]string{0: {"c"}, 1: {"a", "b"}, 2: nil, 3: {"c"}} {
		if got := versionIds(ctx, t, c, name, n); !slices.Equal(got, w) {
			t.Errorf("version %d: %v, want %v", n, got, w)
		}
	}
	v, err := c.GetSegmentVersion(ctx, name, 2)
	if err != nil || v.JobStatus != "FAILED" || !v.Replace || v.Current {
		t.Fatalf("version 2: %+v, %v", v, err)
	}
}

func head(ids []string) []string {
	if len(ids) > 8 {
		return append(ids[:8:8], "...")
	}
	return ids
}

// TestReplaceSegmentOfUsers: a replace of a segment of users makes a version
// of exactly its own users, reaching only their endpoints; the version before
// keeps its users.
func TestReplaceSegmentOfUsers(t *testing.T) {
	rt := sharedRuntime(t)
	ctx := testCtx(t)
	c := newClient(rt)
	eps := "Id,ChannelType,Address,User.UserId\nru-1,EMAIL,ru1@example.com,ru-u1\nru-2,EMAIL,ru2@example.com,ru-u2\nru-3,EMAIL,ru3@example.com,ru-u3\n"
	if j := importFile(t, rt, "imports/replace-user-endpoints/e.csv", eps); j.JobStatus != job.Completed {
		t.Fatalf("endpoints: %+v", j)
	}
	const name = "replace-users"
	if j := importFile(t, rt, "imports/"+name+"/u1.csv", "User.UserId\nru-u1\nru-u2\n"); j.JobStatus != job.Completed {
		t.Fatalf("users 1: %+v", j)
	}
	id := job.NewId(t.Name(), "u2", time.Now().String())
	putReplacing(t, rt, "imports/"+name+"/u2.csv", "User.UserId\nru-u3\n", id)
	if j := waitJob(t, rt, id); j.JobStatus != job.Completed {
		t.Fatalf("users 2: %+v", j)
	}
	users := func(n int) []string {
		t.Helper()
		p, err := c.VersionUsersPage(ctx, name, n, client.PageOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p.Items
	}
	if got := users(1); !slices.Equal(got, []string{"ru-u1", "ru-u2"}) {
		t.Errorf("version 1 users: %v", got)
	}
	if got := users(0); !slices.Equal(got, []string{"ru-u3"}) {
		t.Errorf("current users: %v", got)
	}
	if got := versionIds(ctx, t, c, name, 0); !slices.Equal(got, []string{"ru-3"}) {
		t.Errorf("the current version reaches %v", got)
	}
	if got := versionIds(ctx, t, c, name, 1); !slices.Equal(got, []string{"ru-1", "ru-2"}) {
		t.Errorf("version 1 reaches %v", got)
	}
	seg, err := c.GetSegment(ctx, name)
	if err != nil || seg.UserCount != 1 || seg.EndpointCount != 1 {
		t.Errorf("segment %+v, %v; want 1 user reaching 1 endpoint", seg, err)
	}
	v, err := c.GetSegmentVersion(ctx, name, 1)
	if err != nil || v.UserCount != 2 || v.EndpointCount == nil || *v.EndpointCount != 2 {
		t.Errorf("version 1: %+v, %v", v, err)
	}
}
