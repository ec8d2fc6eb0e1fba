package client_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segport/segport/pkg/client"
	"github.com/segport/segport/pkg/job"
)

// TestSegmentMembersAcrossShards reads a segment of 10K+ members, spread over the
// template's 16 shards, two ways: the parallel iterator, and page by page.
func TestSegmentMembersAcrossShards(t *testing.T) {
	rt := runtime(t)
	c := newClient(rt)
	ctx := testCtx(t, 2*time.Minute)
	start := time.Now()
	segId, want := seed(t, rt, "big", 10_500)
	t.Logf("seeded %d endpoints in %v", len(want), time.Since(start))

	start = time.Now()
	seen := map[string]int{}
	for e, err := range c.SegmentMembers(ctx, segId) {
		if err != nil {
			t.Fatal(err)
		}
		seen[e.Id]++
		if got := canonicalOf(t, e); got != want[e.Id] {
			t.Fatalf("endpoint %s:\n got %s\nwant %s", e.Id, got, want[e.Id])
		}
	}
	checkOnce(t, "iterator", seen, want)
	t.Logf("iterator: %d members in %v", len(seen), time.Since(start))

	// Pages of an odd size end inside shards (about 660 members each) and at their ends.
	const size = 777
	start = time.Now()
	seen, pages := map[string]int{}, 0
	opts := client.PageOptions{Size: size}
	for {
		p, err := c.SegmentMembersPage(ctx, "big", opts) // by name
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) > size {
			t.Fatalf("page of %d items, asked for %d", len(p.Items), size)
		}
		for _, e := range p.Items {
			seen[e.Id]++
		}
		pages++
		if p.NextToken == "" {
			break
		}
		opts.Token = p.NextToken
	}
	checkOnce(t, "pages", seen, want)
	if least := (len(want) + size - 1) / size; pages < least || pages > least+1 {
		t.Errorf("%d pages, want %d or %d", pages, least, least+1)
	}
	t.Logf("pages of %d: %d members in %d pages in %v", size, len(seen), pages, time.Since(start))
}

func checkOnce(t *testing.T, how string, seen map[string]int, want map[string]string) {
	t.Helper()
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s: %s came %d times", how, id, n)
		}
		if _, ok := want[id]; !ok {
			t.Errorf("%s: %s is not a member", how, id)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%s: %d members, want %d", how, len(seen), len(want))
	}
}

func TestSegmentMembersStopsEarly(t *testing.T) {
	rt := runtime(t)
	c := newClient(rt)
	ctx := testCtx(t, time.Minute)
	segId, _ := seed(t, rt, "early", 300)
	n := 0
	for _, err := range c.SegmentMembers(ctx, segId) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 10 {
			break
		}
	}
	if n != 10 {
		t.Fatalf("took %d members, want 10", n)
	}
	for _, err := range c.SegmentMembers(ctx, "no such segment") {
		if !errors.Is(err, client.ErrNotFound) {
			t.Fatalf("members of a missing segment: %v, want ErrNotFound", err)
		}
	}
}

func TestGetters(t *testing.T) {
	rt := runtime(t)
	c := newClient(rt)
	ctx := testCtx(t, time.Minute)
	segId, want := seed(t, rt, "getters", 30)

	seg, err := c.GetSegment(ctx, "getters")
	if err != nil || seg.Id != segId || seg.Name != "getters" {
		t.Fatalf("GetSegment by name = %+v, %v", seg, err)
	}
	if seg, err = c.GetSegment(ctx, segId); err != nil || seg.Name != "getters" {
		t.Fatalf("GetSegment by id = %+v, %v", seg, err)
	}
	e, err := c.GetEndpoint(ctx, "getters-000010")
	if err != nil || canonicalOf(t, e) != want["getters-000010"] || e.User.UserAttributes.Map()["FirstName"][0] != "Name10" {
		t.Fatalf("GetEndpoint = %+v, %v", e, err)
	}
	eps, err := c.GetUserEndpoints(ctx, "getters-user-000020")
	if err != nil || len(eps) != 1 || canonicalOf(t, eps[0]) != want["getters-000020"] {
		t.Fatalf("GetUserEndpoints = %v, %v", eps, err)
	}
	if eps, err := c.GetUserEndpoints(ctx, "nobody"); err != nil || len(eps) != 0 {
		t.Fatalf("GetUserEndpoints(nobody) = %v, %v", eps, err)
	}
	for name, err := range map[string]error{
		"GetSegment":         second(c.GetSegment(ctx, "missing")),
		"GetEndpoint":        second(c.GetEndpoint(ctx, "missing")),
		"GetImportJob":       second(c.GetImportJob(ctx, strings.Repeat("0", 32))),
		"SegmentMembersPage": second(c.SegmentMembersPage(ctx, "missing", client.PageOptions{})),
		"ListImportJobs":     second(c.ListImportJobs(ctx, "missing", client.PageOptions{})),
	} {
		if !errors.Is(err, client.ErrNotFound) {
			t.Errorf("%s of a missing id: %v, want ErrNotFound", name, err)
		}
	}
	if _, err := c.SegmentMembersPage(ctx, segId, client.PageOptions{Token: "bogus"}); !errors.Is(err, client.ErrBadToken) {
		t.Errorf("bogus token: %v, want ErrBadToken", err)
	}
	p, err := c.SegmentMembersPage(ctx, segId, client.PageOptions{Size: 5})
	if err != nil {
		t.Fatal(err)
	}
	otherId, _ := seed(t, rt, "getters-other", 3)
	if _, err := c.SegmentMembersPage(ctx, otherId, client.PageOptions{Token: p.NextToken}); !errors.Is(err, client.ErrBadToken) {
		t.Errorf("a token used on another segment: %v, want ErrBadToken", err)
	}
}

func second[T any](_ T, err error) error { return err }

// TestListSegmentsAndJobs pages through segments and jobs, including a segment's
// jobs newest first.
func TestListSegmentsAndJobs(t *testing.T) {
	rt := runtime(t)
	c := newClient(rt)
	ctx := testCtx(t, time.Minute)
	for i := range 7 {
		seed(t, rt, fmt.Sprintf("listed-%d", i), 1)
	}
	names := map[string]int{}
	opts := client.PageOptions{Size: 2}
	for {
		p, err := c.ListSegments(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range p.Items {
			names[s.Name]++
		}
		if p.NextToken == "" {
			break
		}
		opts.Token = p.NextToken
	}
	for i := range 7 {
		if n := names[fmt.Sprintf("listed-%d", i)]; n != 1 {
			t.Errorf("segment listed-%d listed %d times", i, n)
		}
	}

	segId := job.SegmentId("jobs-seg")
	var ids []string
	for i := range 5 {
		id := job.NewId("jobs-seg", fmt.Sprint(i))
		created := time.Date(2026, 11, 1, 12, i, 0, 0, time.UTC)
		j := &job.Job{Id: id, JobStatus: job.Created, CreationDate: created.Format(time.RFC3339Nano),
			Definition: job.Definition{S3Url: "s3://segport/imports/jobs-seg/", Format: "CSV", SegmentId: segId, SegmentName: "jobs-seg"}}
		if _, _, err := rt.App.Store.CreateJob(ctx, j, job.Launch{JobOrder: job.Order(created, id), SegmentId: segId}); err != nil {
			t.Fatal(err)
		}
		if _, err := rt.App.Store.EnsureSegment(ctx, segId, "jobs-seg", j.CreationDate); err != nil {
			t.Fatal(err)
		}
		ids = append([]string{id}, ids...) // newest first
	}
	var got []string
	opts = client.PageOptions{Size: 2}
	for {
		p, err := c.ListImportJobs(ctx, "jobs-seg", opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range p.Items {
			got = append(got, j.Id)
		}
		if p.NextToken == "" {
			break
		}
		opts.Token = p.NextToken
	}
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Errorf("jobs of the segment = %v, want newest first %v", got, ids)
	}
	all := map[string]int{}
	opts = client.PageOptions{Size: 2}
	for {
		p, err := c.ListImportJobs(ctx, "", opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) > 2 {
			t.Fatalf("page of %d jobs", len(p.Items))
		}
		for _, j := range p.Items {
			all[j.Id]++
		}
		if p.NextToken == "" {
			break
		}
		opts.Token = p.NextToken
	}
	for _, id := range ids {
		if all[id] != 1 {
			t.Errorf("job %s listed %d times among all jobs", id, all[id])
		}
	}
	if j, err := c.GetImportJob(ctx, ids[0]); err != nil || j.Definition.SegmentName != "jobs-seg" {
		t.Errorf("GetImportJob = %+v, %v", j, err)
	}
}
