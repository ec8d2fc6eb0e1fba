package localrun

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/segport/segport/internal/dump"
	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/pkg/job"
)

var (
	sharedOnce sync.Once
	shared     *Runtime
	sharedErr  error
	sharedDir  string
)

// TestMain stops the shared runtime after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Close()
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

// sharedRuntime is one local stack that most tests share, each in segments of its own.
func sharedRuntime(t *testing.T) *Runtime {
	t.Helper()
	sharedOnce.Do(func() {
		sharedDir, sharedErr = os.MkdirTemp("", "segport-e2e-")
		if sharedErr == nil {
			shared, sharedErr = Open(context.Background(), Options{DataDir: sharedDir, VisibilityTimeout: 2 * time.Second})
		}
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

func openRuntime(t *testing.T, opts Options) *Runtime {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.VisibilityTimeout == 0 {
		opts.VisibilityTimeout = 2 * time.Second
	}
	rt, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt
}

// testCtx bounds a test's waits. It is a liveness bound, not a timing goal:
// a job that never ends fails the test, a slow machine does not. On a
// two-core machine also compiling and running other packages, a chaos import
// of a few thousand rows has taken over 90 s.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// put uploads body to key as `segport import` does, with the job id in metadata.
func put(t *testing.T, rt *Runtime, key, body, jobId string) {
	t.Helper()
	_, err := rt.Stack.S3Client().PutObject(testCtx(t), &s3.PutObjectInput{
		Bucket: aws.String(rt.Stack.Bucket), Key: aws.String(key), Body: strings.NewReader(body),
		Metadata: map[string]string{importer.MetaJobId: jobId},
	})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// importFile uploads one file and waits for its job to end.
func importFile(t *testing.T, rt *Runtime, key, body string) *job.Job {
	t.Helper()
	id := job.NewId(t.Name(), key, time.Now().String())
	put(t, rt, key, body, id)
	return waitJob(t, rt, id)
}

func waitJob(t *testing.T, rt *Runtime, id string) *job.Job {
	t.Helper()
	var w stallWatch
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		j, err := rt.App.Store.Job(ctx, id)
		cancel()
		if err == nil && j.JobStatus.Final() {
			return j
		}
		if w.stalled(jobState(j)) {
			t.Fatalf("job %s did not end: no progress for %s; last %+v, err %v", id, stallLimit, j, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stallLimit bounds how long a job may go without progress in these tests. It
// is a liveness bound, not a timing goal: a loaded machine makes a job slow,
// which passes; a job that stops moving fails its test. (Within it, stalled
// work is sent again by the sweeper, in seconds here.)
const stallLimit = 3 * time.Minute

// stallWatch tells when what it watches has not changed for stallLimit.
type stallWatch struct {
	last  string
	since time.Time
}

// stalled records state and reports whether it has been the same for longer
// than stallLimit.
func (w *stallWatch) stalled(state string) bool {
	if w.since.IsZero() || state != w.last {
		w.last, w.since = state, time.Now()
		return false
	}
	return time.Since(w.since) > stallLimit
}

// jobState is what moves while a job makes progress ("" before it exists).
func jobState(j *job.Job) string {
	if j == nil {
		return ""
	}
	return fmt.Sprint(j.JobStatus, j.TotalPieces, j.CompletedPieces, j.FailedPieces, j.TotalProcessed, j.TotalFailures)
}

// members returns the canonical JSON of a segment's endpoints, sorted by Id.
func members(t *testing.T, rt *Runtime, segName string) []string {
	t.Helper()
	ctx := testCtx(t)
	seg, err := rt.App.Store.SegmentByName(ctx, segName)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := rt.App.Store.Members(ctx, seg.Id, seg.Shards)
	if err != nil {
		t.Fatal(err)
	}
	eps, err := rt.App.Store.Endpoints(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(eps))
	for i, e := range eps {
		b, err := e.MarshalCanonical()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = string(b)
	}
	return out
}

func dumpOf(t *testing.T, rt *Runtime) string {
	t.Helper()
	var buf bytes.Buffer
	if err := dump.Write(testCtx(t), &buf, rt.App.Store, rt.App.Objects, dump.Options{}); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}
