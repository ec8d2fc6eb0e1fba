package client_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/pkg/client"
	"github.com/segport/segport/pkg/endpoint"
	"github.com/segport/segport/pkg/job"
)

// TestMembersDuringImport lists a segment over and over while an import writes
// it in small batches: every endpoint listed is complete (the writer puts an
// endpoint whole, with one PutItem, after its user's attributes; it records
// membership first, which orders it against deletes, and a member whose
// endpoint is not written yet is not listed); listings of the current version see none of the import until
// it has ended, and listings of the version being imported (1) catch it half
// done.
func TestMembersDuringImport(t *testing.T) {
	rt := runtime(t)
	c := newClient(rt)
	ctx := testCtx(t, 2*time.Minute)
	const n = 2000
	var body strings.Builder
	want := make(map[string]string, n)
	for i := range n {
		e := genEndpoint("live", i)
		line := canonicalOf(t, e)
		body.WriteString(line + "\n")
		want[e.Id] = line
	}
	jobId := job.NewId(t.Name(), time.Now().String())
	_, err := rt.Stack.S3Client().PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(rt.Stack.Bucket), Key: aws.String("imports/live/endpoints.json"),
		Body: strings.NewReader(body.String()), Metadata: map[string]string{importer.MetaJobId: jobId},
	})
	if err != nil {
		t.Fatal(err)
	}
	segId := job.SegmentId("live")
	check := func(e *endpoint.Endpoint) {
		if got := canonicalOf(t, e); got != want[e.Id] {
			t.Fatalf("listed an incomplete endpoint:\n got %s\nwant %s", got, want[e.Id])
		}
	}
	var counts []int
	for round := 0; ; round++ {
		j, err := rt.App.Store.Job(ctx, jobId)
		done := err == nil && j.JobStatus.Final()
		count := 0
		if round%2 == 0 {
			for e, err := range c.SegmentMembers(ctx, segId) {
				if errors.Is(err, client.ErrNotFound) {
					break // the trigger has not created the segment yet
				}
				if err != nil {
					t.Fatal(err)
				}
				check(e)
				count++
			}
		} else {
			count = listPages(t, c, segId, 1, check)
		}
		counts = append(counts, count)
		if round%2 == 0 && count != 0 && count != n {
			t.Fatalf("a listing of the current version found %d members of the version being imported", count)
		}
		if done {
			if j.JobStatus != job.Completed || count != n {
				t.Fatalf("job %s %s, %d members listed after it, want %d", jobId, j.JobStatus, count, n)
			}
			break
		}
	}
	partial := 0
	for _, k := range counts {
		if k > 0 && k < n {
			partial++
		}
	}
	t.Logf("member counts of %d listings during the import: %v", len(counts), counts)
	if partial == 0 {
		t.Errorf("no listing caught the import half done: %v", counts)
	}
}

// listPages lists a version of a segment (0: the current one) page by page,
// 500 at a time, and returns the count.
func listPages(t *testing.T, c *client.Client, segId string, version int, check func(*endpoint.Endpoint)) int {
	t.Helper()
	ctx := testCtx(t, time.Minute)
	count := 0
	opts := client.PageOptions{Size: 500}
	for {
		p, err := c.VersionMembersPage(ctx, segId, version, opts)
		if errors.Is(err, client.ErrNotFound) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Items {
			check(e)
		}
		count += len(p.Items)
		if p.NextToken == "" {
			return count
		}
		opts.Token = p.NextToken
	}
}
