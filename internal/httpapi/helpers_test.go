package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/segport/segport/internal/localrun"
	"github.com/segport/segport/internal/localrun/localruntest"
)

var stack = localruntest.New(localrun.Options{VisibilityTimeout: 5 * time.Second})

// TestMain stops the local stack the tests share.
func TestMain(m *testing.M) {
	code := m.Run()
	stack.Close()
	os.Exit(code)
}

func runtime(t *testing.T) *localrun.Runtime { return stack.Runtime(t) }

// server serves the API of the shared local stack over real HTTP; log collects
// its log lines.
func server(t *testing.T) (*httptest.Server, *bytes.Buffer) {
	t.Helper()
	rt := runtime(t)
	var log bytes.Buffer
	h := rt.App.API(rt.Stack.AWSConfig(), slog.New(slog.NewTextHandler(&log, nil)))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, &log
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// call sends a request and decodes the JSON response into out (when not nil).
func call(t *testing.T, method, url string, body string, out any) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q, body %s", method, url, ct, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, url, err, b)
		}
	}
	return res
}

// apiError is the JSON of an error response.
type apiError struct {
	Code, Message, RequestID string
}

// upload puts a file where an import can name it.
func upload(t *testing.T, key, body string) {
	t.Helper()
	rt := runtime(t)
	_, err := rt.Stack.S3Client().PutObject(testCtx(t), &s3.PutObjectInput{
		Bucket: aws.String(rt.Stack.Bucket), Key: aws.String(key), Body: strings.NewReader(body),
	})
	if err != nil {
		t.Fatal(err)
	}
}

// importJob is the part of an ImportJobResponse the tests read.
type importJob struct {
	Id             string
	Type           string
	JobStatus      string
	TotalProcessed int
	Definition     struct{ SegmentId, SegmentName string }
}

// importVia starts an import with POST /v1/jobs/import and polls the job until
// it ends.
func importVia(t *testing.T, base, s3url, segment string) importJob {
	t.Helper()
	var j importJob
	req, _ := json.Marshal(map[string]string{"S3Url": s3url, "SegmentName": segment})
	if res := call(t, "POST", base+"/v1/jobs/import", string(req), &j); res.StatusCode != http.StatusCreated || j.Type != "IMPORT" {
		t.Fatalf("POST /v1/jobs/import: %d %+v", res.StatusCode, j)
	}
	deadline := time.Now().Add(time.Minute)
	for j.JobStatus != "COMPLETED" && j.JobStatus != "FAILED" {
		if time.Now().After(deadline) {
			t.Fatalf("job %s did not end: %+v", j.Id, j)
		}
		time.Sleep(100 * time.Millisecond)
		call(t, "GET", base+"/v1/jobs/import/"+j.Id, "", &j)
	}
	return j
}
