package console_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/segport/segport/internal/console"
)

// TestForwarder is `segport console --aws` on the local stack: the console's
// calls reach the query API only through the Forwarder, each signed with SigV4
// for execute-api with the user's credentials and nothing of the browser's but
// the method, path, query, body, Accept and Content-Type; uploads, the start of
// one job per format, the users count and the report all work through it.
func TestForwarder(t *testing.T) {
	rt := stack.Runtime(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	api := rt.App.API(rt.Stack.AWSConfig(), log)
	creds := credentials.NewStaticCredentialsProvider("AKIDCONSOLETEST", "secret", "session-token")
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var problems []string
	requests := 0
	deployed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// Sign the same request again: the signature must be the same.
		again := r.Clone(context.Background())
		again.URL.Scheme, again.URL.Host = "http", r.Host
		for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "Accept-Encoding", "User-Agent", "Content-Length"} {
			again.Header.Del(h)
		}
		sum := sha256.Sum256(body)
		c, _ := creds.Retrieve(context.Background())
		v4.NewSigner().SignHTTP(context.Background(), c, again, hex.EncodeToString(sum[:]), "execute-api", "eu-west-1", now)
		mu.Lock()
		requests++
		if got, want := r.Header.Get("Authorization"), again.Header.Get("Authorization"); got != want || !strings.HasPrefix(got, "AWS4-HMAC-SHA256 Credential=AKIDCONSOLETEST/20261204/eu-west-1/execute-api/aws4_request") {
			problems = append(problems, r.Method+" "+r.URL.String()+": Authorization "+got+", want "+want)
		}
		if r.Header.Get("X-Amz-Security-Token") != "session-token" {
			problems = append(problems, r.URL.String()+": no session token")
		}
		for _, h := range []string{"Origin", "Cookie", "Sec-Fetch-Site", "Referer"} {
			if r.Header.Get(h) != "" {
				problems = append(problems, r.URL.String()+": forwarded "+h)
			}
		}
		mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(deployed.Close)
	fwd, err := console.NewForwarder(deployed.URL, aws.Config{Credentials: creds, Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	fwd.Now = func() time.Time { return now }
	srv := httptest.NewServer(console.New(console.Options{
		API: fwd, Reader: console.APIReader{API: fwd}, Importer: console.APIImporter{API: fwd},
		Objects: rt.App.Objects, Bucket: rt.App.Config.Bucket, Limits: rt.App.Config.Limits, Log: log,
	}))
	t.Cleanup(srv.Close)

	files := map[string]string{"customers.csv": readExample(t, "customers.csv"), "spec-example.json": readExample(t, "spec-example.json")}
	jobs := uploadFiles(t, srv.URL, "00000000000000000000000000000f0f", "forwarded segment", []string{"customers.csv", "spec-example.json"}, files)
	if len(jobs) != 2 {
		t.Fatalf("jobs %+v", jobs)
	}
	for _, j := range jobs {
		if j = wait(t, srv.URL, j); j.JobStatus != "COMPLETED" {
			t.Errorf("job %+v", j)
		}
	}
	var users struct{ Users, Members int }
	_, body := send(t, "GET", srv.URL+"/console/api/segments/"+url.PathEscape("forwarded segment")+"/users", nil, map[string]string{"Origin": srv.URL, "Cookie": "a=b"})
	decodeJSON(t, body, &users)
	if users.Users != 2 || users.Members != 9 {
		t.Errorf("users through the forwarder: %s", body)
	}
	bad := uploadFiles(t, srv.URL, "00000000000000000000000000000f10", "forwarded bad", []string{"bad.csv"}, map[string]string{"bad.csv": "ChannelType,Address\nSMS,2065550182\nFAX,1\n"})
	wait(t, srv.URL, bad[0])
	if status, body := send(t, "GET", srv.URL+"/console/api/jobs/"+bad[0].Id+"/report", nil, nil); status != http.StatusOK || !strings.Contains(string(body), "bad.csv,3,ChannelType,") {
		t.Errorf("report through the forwarder: %d %s", status, body)
	}
	// What the browser sends besides is not forwarded.
	if status, body := send(t, "GET", srv.URL+"/v1/segments?page-size=2", nil, map[string]string{"Origin": srv.URL, "Cookie": "a=b", "Sec-Fetch-Site": "same-origin", "Referer": srv.URL + "/console/"}); status != http.StatusOK || !strings.Contains(string(body), `"Item":[`) {
		t.Errorf("GET /v1/segments: %d %s", status, body)
	}
	// The API's errors come back as they are.
	if status, body := send(t, "GET", srv.URL+"/v1/endpoints/no-such-id", nil, nil); status != http.StatusNotFound || !strings.Contains(string(body), `endpoint \"no-such-id\" not found`) {
		t.Errorf("an API error: %d %s", status, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if requests < 5 || len(problems) > 0 {
		t.Errorf("%d requests reached the API; problems:\n%s", requests, strings.Join(problems, "\n"))
	}
	// An unreachable API is a 502 that says so.
	down, _ := console.NewForwarder("http://127.0.0.1:1", aws.Config{Credentials: creds, Region: "eu-west-1"})
	rec := httptest.NewRecorder()
	down.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/segments", nil))
	if rec.Code != http.StatusBadGateway || !strings.Contains(rec.Body.String(), "the deployed API could not be reached") {
		t.Errorf("API down: %d %s", rec.Code, rec.Body)
	}
}
