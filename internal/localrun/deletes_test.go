package localrun

import (
	"fmt"
	"strings"
	"testing"

	"github.com/segport/segport/pkg/job"
)

// TestBulkDeleteFile: a delete file of 10,000 ids, and a few bad rows, runs as
// a job with an import's accounting, and leaves the segment's counts exact.
func TestBulkDeleteFile(t *testing.T) {
	rt := sharedRuntime(t)
	var imp strings.Builder
	imp.WriteString("Id,ChannelType,Address\n")
	for i := range 10500 {
		fmt.Fprintf(&imp, "bulk-%05d,EMAIL,bulk%05d@example.com\n", i, i)
	}
	if j := importFile(t, rt, "imports/bulk/all.csv", imp.String()); j.JobStatus != job.Completed || j.TotalProcessed != 10500 {
		t.Fatalf("import: %+v", j)
	}
	var del strings.Builder
	del.WriteString("Id\n")
	for i := range 10000 {
		fmt.Fprintf(&del, "bulk-%05d\n", i)
		if i == 4999 {
			del.WriteString(strings.Repeat("x", 129) + "\n") // line 5002: no Id is that long
		}
	}
	j := importFile(t, rt, "deletes/bulk/ids.csv", del.String())
	if j.JobStatus != job.Completed || j.TotalProcessed != 10000 || j.TotalFailures != 1 ||
		len(j.Failures) != 1 || !strings.Contains(j.Failures[0], "ids.csv:5002: Id: ") || !j.Definition.Delete || j.Definition.SegmentId != "" {
		t.Fatalf("delete job: %+v", j)
	}
	ctx := testCtx(t)
	// The import's messages the sweeper sent again may still arrive: late
	// rows, older than the delete, which the writer undoes.
	if err := rt.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	seg, err := rt.App.Store.SegmentByName(ctx, "bulk")
	if err != nil {
		t.Fatal(err)
	}
	v, err := rt.App.Store.SegmentVersion(ctx, seg, 1)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := rt.App.Store.Members(ctx, seg.Id, seg.Shards)
	if err != nil {
		t.Fatal(err)
	}
	if seg.EndpointCount != 500 || v.EndpointCount == nil || *v.EndpointCount != 500 || len(ids) != 500 || ids[0] != "bulk-10000" {
		t.Fatalf("after the delete: EndpointCount %d, version 1: %+v, %d members from %v", seg.EndpointCount, v, len(ids), ids[:min(1, len(ids))])
	}
	eps, err := rt.App.Store.Endpoints(ctx, []string{"bulk-00000", "bulk-09999", "bulk-10000"})
	if err != nil || len(eps) != 1 || eps[0].Id != "bulk-10000" {
		t.Fatalf("endpoints left of three: %v (%v)", eps, err)
	}
}

// TestDeleteFileRows: a delete file's rows other than an Id or user IDs fail,
// each at its line, and the others are applied.
func TestDeleteFileRows(t *testing.T) {
	rt := sharedRuntime(t)
	importFile(t, rt, "imports/delrows/a.csv", "Id,ChannelType,Address,User.UserId\ndr-1,EMAIL,dr1@example.com,dr-user\ndr-2,EMAIL,dr2@example.com,dr-user\ndr-3,EMAIL,dr3@example.com,\n")
	j := importFile(t, rt, "deletes/rows.json", `{"Id":"dr-3"}`+"\n"+`{"Id":"dr-9","Address":"x@example.com","ChannelType":"EMAIL"}`+"\n")
	if j.JobStatus != job.Completed || j.TotalProcessed != 1 || j.TotalFailures != 1 || !strings.Contains(j.Failures[0], "rows.json:2: ChannelType: a delete file names endpoints by Id or users by User.UserId") {
		t.Fatalf("delete job: %+v", j)
	}
	j = importFile(t, rt, "deletes/users.csv", "User.UserId\ndr-user\n")
	if j.JobStatus != job.Completed || j.TotalProcessed != 1 {
		t.Fatalf("delete job of users: %+v", j)
	}
	if err := rt.Idle(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := members(t, rt, "delrows"); len(got) != 0 {
		t.Fatalf("members after deleting all: %v", got)
	}
	if d := dumpOf(t, rt); strings.Contains(d, "dr1@example.com") || strings.Contains(d, "dr3@example.com") || strings.Contains(d, `"dr-user"`) {
		t.Fatalf("the dump still holds a deleted endpoint or user:\n%s", d)
	}
}

// raceFiles are an import, a delete of half its endpoints and a newer import
// of some of those: applied in order, x00-x19 stay deleted, x20-x49 remain.
var raceFiles = []struct{ key, body string }{
	{"imports/race/a.csv", func() string {
		var b strings.Builder
		b.WriteString("Id,ChannelType,Address,User.UserId,User.UserAttributes.Tier\n")
		for i := range 50 {
			fmt.Fprintf(&b, "x%02d,EMAIL,x%02d@example.com,rx%d,t%d\n", i, i, i%10, i)
		}
		return b.String()
	}()},
	{"deletes/race.csv", func() string {
		var b strings.Builder
		b.WriteString("Id\n")
		for i := range 25 {
			fmt.Fprintf(&b, "x%02d\n", i)
		}
		return b.String()
	}()},
	{"deletes/race-users.csv", "User.UserId\nrx0\n"},
	{"imports/race/b.csv", func() string {
		var b strings.Builder
		b.WriteString("Id,ChannelType,Address\n")
		for i := 20; i < 30; i++ {
			fmt.Fprintf(&b, "x%02d,SMS,+1206555%04d\n", i, i)
		}
		return b.String()
	}()},
}

// runRace puts the files one after another, so that their jobs are ordered
// alike in every run; with wait it lets each job end before the next. Jobs
// created in the same millisecond are ordered by id: the ids follow the order
// of the files.
func runRace(t *testing.T, rt *Runtime, wait bool) string {
	ids := make([]string, len(raceFiles))
	for i, f := range raceFiles {
		ids[i] = fmt.Sprintf("%032x", 0xace0+i)
		put(t, rt, f.key, f.body, ids[i])
		if wait {
			waitJob(t, rt, ids[i])
		}
	}
	for i, id := range ids {
		if j := waitJob(t, rt, id); j.JobStatus != job.Completed {
			t.Fatalf("%s: %+v", raceFiles[i].key, j)
		}
	}
	if err := rt.Idle(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	return dumpOf(t, rt)
}

// TestDeleteRacingImportsEqualsInOrder: deletes racing imports of the same
// endpoints, delivered duplicated and shuffled, end as applying them in order.
func TestDeleteRacingImportsEqualsInOrder(t *testing.T) {
	const batchBytes = 600
	inOrder := runRace(t, openRuntime(t, Options{BatchBytes: batchBytes}), true)
	var rt *Runtime
	rt = openRuntime(t, Options{BatchBytes: batchBytes, Wrap: redeliver(&rt, 11)})
	raced := runRace(t, rt, false)
	if raced != inOrder {
		t.Fatalf("racing deletes changed the result (%s):\n%s", keepDumps(inOrder, raced), firstDiff(inOrder, raced))
	}
	var want []string
	for i := 20; i < 50; i++ {
		if i >= 30 && i%10 == 0 {
			continue // rx0's, deleted with the user
		}
		want = append(want, fmt.Sprintf("x%02d", i))
	}
	wantMembers := `members {"EndpointIds":["` + strings.Join(want, `","`) + `"],"Segment":"race"}`
	for _, s := range []string{wantMembers, fmt.Sprintf(`"EndpointCount":%d`, len(want)), `"Address":"+12065550020"`} {
		if !strings.Contains(inOrder, s) {
			t.Errorf("the dump lacks %s:\n%s", s, inOrder)
		}
	}
	for _, s := range []string{"x00@example.com", "x19@example.com", `"rx0"`, "x30@example.com"} {
		if strings.Contains(inOrder, s) {
			t.Errorf("the dump holds %s, which a delete erased:\n%s", s, inOrder)
		}
	}
}
