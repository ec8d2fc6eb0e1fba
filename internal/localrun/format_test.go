package localrun

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/pkg/job"
)

// putObjects uploads files outside imports/, where only a request imports them.
func putObjects(t *testing.T, rt *Runtime, files map[string]string) {
	t.Helper()
	for k, body := range files {
		_, err := rt.Stack.S3Client().PutObject(testCtx(t), &s3.PutObjectInput{Bucket: aws.String(rt.Stack.Bucket), Key: aws.String(k), Body: strings.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func requestImport(t *testing.T, rt *Runtime, req importer.Request) *job.Job {
	t.Helper()
	started, err := rt.App.Trigger.CreateImportJob(testCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	return waitJob(t, rt, started.Id)
}

func noSegment(t *testing.T, rt *Runtime, name string) {
	t.Helper()
	if seg, err := rt.App.Store.SegmentByName(testCtx(t), name); !errors.Is(err, job.ErrNotFound) {
		t.Fatalf("segment %q: %+v, %v; want none", name, seg, err)
	}
}

// TestRequestedFormat: a request that names a Format imports the folder's
// objects of that format and lists the others on the job as skipped; without a
// Format a mixed folder fails. A job that fails before reading a row leaves no
// segment behind.
func TestRequestedFormat(t *testing.T) {
	rt := sharedRuntime(t)
	putObjects(t, rt, map[string]string{
		"fmt/mixed/a.csv":          "ChannelType,Address\nEMAIL,fa@example.com\nEMAIL,fb@example.com\n",
		"fmt/mixed/sub/b.json":     `{"ChannelType":"EMAIL","Address":"fc@example.com"}` + "\n",
		"fmt/mixed/sub/c.ndjson":   `{"ChannelType":"EMAIL","Address":"fd@example.com"}` + "\n",
		"fmt/mixed/d-no-extension": `{"ChannelType":"EMAIL","Address":"fe@example.com"}` + "\n", // sniffed: JSON
		"fmt/json-only/a.json":     `{"ChannelType":"EMAIL","Address":"ff@example.com"}` + "\n",
		"fmt/json-only/b.json":     `{"ChannelType":"EMAIL","Address":"fg@example.com"}` + "\n",
		"fmt/bad-header/a.csv":     "ChannelType,Address,FavouriteColour\nEMAIL,fh@example.com,blue\n",
	})

	j := requestImport(t, rt, importer.Request{S3Url: "s3://segport/fmt/mixed/", SegmentName: "fmt csv", Format: "CSV"})
	wantSkipped := []string{"s3://segport/fmt/mixed/d-no-extension", "s3://segport/fmt/mixed/sub/b.json", "s3://segport/fmt/mixed/sub/c.ndjson"}
	if j.JobStatus != job.Completed || j.TotalProcessed != 2 || j.Definition.Format != "CSV" || !slices.Equal(j.Definition.Skipped, wantSkipped) {
		t.Fatalf("Format CSV: job %+v", j)
	}
	if n := len(members(t, rt, "fmt csv")); n != 2 {
		t.Errorf("Format CSV: %d members, want 2", n)
	}

	j = requestImport(t, rt, importer.Request{S3Url: "s3://segport/fmt/mixed/", SegmentName: "fmt json", Format: "json"})
	if j.JobStatus != job.Completed || j.TotalProcessed != 3 || j.Definition.Format != "JSON" ||
		!slices.Equal(j.Definition.Skipped, []string{"s3://segport/fmt/mixed/a.csv"}) {
		t.Fatalf("Format JSON: job %+v", j)
	}

	// Failures before any row is read: no segment is created.
	for _, tc := range []struct {
		req  importer.Request
		want string
	}{
		{importer.Request{S3Url: "s3://segport/fmt/mixed/", SegmentName: "fmt none"},
			"the import mixes formats (one format per import; name a Format to import only that one): CSV fmt/mixed/a.csv; JSON fmt/mixed/d-no-extension, fmt/mixed/sub/b.json, fmt/mixed/sub/c.ndjson"},
		{importer.Request{S3Url: "s3://segport/fmt/json-only/", SegmentName: "fmt all skipped", Format: "CSV"},
			"s3://segport/fmt/json-only/: nothing to import: the request asks for CSV and every object is of the other format (2 skipped)"},
		{importer.Request{S3Url: "s3://segport/fmt/bad-header/", SegmentName: "fmt bad header", Format: "CSV"},
			"header column 3: unknown attribute"},
	} {
		j := requestImport(t, rt, tc.req)
		if j.JobStatus != job.Failed || len(j.Failures) != 1 || !strings.Contains(j.Failures[0], tc.want) {
			t.Errorf("%s: job %+v, want FAILED with %q", tc.req.SegmentName, j, tc.want)
		}
		noSegment(t, rt, tc.req.SegmentName)
	}
}
