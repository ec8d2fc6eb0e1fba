package localrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segport/segport/pkg/client"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// idsFile is a CSV file of EMAIL endpoints with the given Ids.
func idsFile(ids ...string) string {
	var b strings.Builder
	b.WriteString("Id,ChannelType,Address\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "%s,EMAIL,%s@example.com\n", id, id)
	}
	return b.String()
}

func seq(prefix string, from, to int) []string {
	var ids []string
	for i := from; i < to; i++ {
		ids = append(ids, fmt.Sprintf("%s%04d", prefix, i))
	}
	return ids
}

// TestSegmentVersions appends three imports to a segment, then a fourth while
// a reader polls the current version: each version holds exactly its own
// members and those of the versions before it, counts them, keeps its own
// ImportDefinition, and a reader of the current version sees the third
// version's members or the fourth's, never part of the fourth. The client,
// the HTTP API and the store agree.
func TestSegmentVersions(t *testing.T) {
	rt := sharedRuntime(t)
	ctx := testCtx(t)
	c := client.New(rt.Stack.AWSConfig(), client.Tables{Endpoints: rt.App.Config.Tables.Endpoints, Users: rt.App.Config.Tables.Users,
		Segments: rt.App.Config.Tables.Segments, Members: rt.App.Config.Tables.Members, Jobs: rt.App.Config.Tables.Jobs})
	files := [][]string{
		{"a", "b"},
		{"b", "c"},
		{"d"},
	}
	want := [][]string{{"a", "b"}, {"a", "b", "c"}, {"a", "b", "c", "d"}}
	var jobs []*job.Job
	for i, ids := range files {
		j := importFile(t, rt, fmt.Sprintf("imports/versions/f%d.csv", i+1), idsFile(ids...))
		if j.JobStatus != job.Completed {
			t.Fatalf("import %d: %+v", i+1, j)
		}
		jobs = append(jobs, j)
	}
	memberIds := func(version int) []string {
		t.Helper()
		var ids []string
		for e, err := range c.VersionMembers(ctx, "versions", version) {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, e.Id)
		}
		slices.Sort(ids)
		return ids
	}
	for i, w := range want {
		if got := memberIds(i + 1); !slices.Equal(got, w) {
			t.Errorf("version %d: members %v, want %v", i+1, got, w)
		}
		v, err := c.GetSegmentVersion(ctx, "versions", i+1)
		if err != nil {
			t.Fatal(err)
		}
		if v.JobId != jobs[i].Id || v.JobStatus != "COMPLETED" || v.EndpointCount == nil || *v.EndpointCount != len(w) ||
			v.ImportDefinition.Size != len(files[i]) || v.ImportDefinition.ChannelCounts["EMAIL"] != len(files[i]) ||
			v.ImportDefinition.S3Url != fmt.Sprintf("s3://segport/imports/versions/f%d.csv", i+1) || v.Current != (i == 2) {
			t.Errorf("version %d: %+v", i+1, v)
		}
	}

	// The fourth import adds 300 endpoints in many write batches; the
	// current version stays the third until the fourth has ended.
	big := seq("n", 0, 300)
	id := job.NewId(t.Name(), "f4", time.Now().String())
	put(t, rt, "imports/versions/f4.csv", idsFile(big...), id)
	fourth := slices.Sorted(slices.Values(append(slices.Clone(want[2]), big...)))
	polls, sawNew := 0, false
	for {
		j, err := rt.App.Store.Job(ctx, id)
		if errors.Is(err, job.ErrNotFound) {
			j = &job.Job{JobStatus: job.Created} // not created yet
		} else if err != nil {
			t.Fatal(err)
		}
		var got []string
		for e, err := range c.SegmentMembers(ctx, "versions") {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, e.Id)
		}
		slices.Sort(got)
		polls++
		switch {
		case slices.Equal(got, want[2]):
		case slices.Equal(got, fourth):
			sawNew = true
		default:
			t.Fatalf("poll %d: the current version has %d members, neither version 3's nor version 4's", polls, len(got))
		}
		if j.JobStatus.Final() && sawNew {
			break
		}
		if j.JobStatus.Final() && polls > 50 {
			t.Fatalf("job %+v ended, the current version is still the third", j)
		}
	}
	t.Logf("%d polls during the fourth import", polls)
	if got := memberIds(2); !slices.Equal(got, want[1]) {
		t.Errorf("version 2 after the fourth import: %v", got)
	}

	// The HTTP API serves the same.
	srv := httptest.NewServer(rt.App.API(rt.Stack.AWSConfig(), slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer srv.Close()
	get := func(path string, out any) int {
		t.Helper()
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
		return res.StatusCode
	}
	var list struct{ Item []segment.Version }
	if code := get("/v1/segments/versions/versions", &list); code != 200 || len(list.Item) != 4 || !list.Item[3].Current ||
		*list.Item[3].EndpointCount != 304 {
		t.Errorf("GET versions: %d %+v", code, list)
	}
	var v segment.Version
	if code := get("/v1/segments/versions/versions/2", &v); code != 200 || v.Version != 2 || *v.EndpointCount != 3 || v.JobId != jobs[1].Id {
		t.Errorf("GET version 2: %d %+v", code, v)
	}
	var eps struct{ Item []struct{ Id string } }
	if code := get("/v1/segments/versions/endpoints?version=1&page-size=1000", &eps); code != 200 || len(eps.Item) != 2 {
		t.Errorf("GET endpoints of version 1: %d %+v", code, eps)
	}
	var apiErr struct{ Code string }
	if code := get("/v1/segments/versions/versions/9", &apiErr); code != 404 || apiErr.Code != "NotFoundException" {
		t.Errorf("GET version 9: %d %+v", code, apiErr)
	}
	if code := get("/v1/segments/versions/endpoints?version=zero", &apiErr); code != 400 {
		t.Errorf("GET endpoints of version zero: %d %+v", code, apiErr)
	}
	seg, err := rt.App.Store.SegmentByName(context.Background(), "versions")
	if err != nil || seg.Version != 4 || seg.EndpointCount != 304 {
		t.Errorf("segment %+v, %v", seg, err)
	}
}
