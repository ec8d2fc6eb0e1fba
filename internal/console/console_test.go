package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/segport/segport/internal/console"
	"github.com/segport/segport/internal/httpapi"
	"github.com/segport/segport/internal/localrun"
	"github.com/segport/segport/internal/localrun/localruntest"
	"github.com/segport/segport/pkg/endpoint"
)

var stack = localruntest.New(localrun.Options{VisibilityTimeout: 5 * time.Second})

// TestMain stops the local stack the tests share.
func TestMain(m *testing.M) {
	code := m.Run()
	stack.Close()
	os.Exit(code)
}

// server serves the console of the shared local stack, as segport dev does:
// behind httpapi.Loopback, so that the pages' own requests are checked to pass it.
func server(t *testing.T) *httptest.Server {
	t.Helper()
	rt := stack.Runtime(t)
	h := rt.App.Console(rt.Stack.AWSConfig(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = httpapi.Loopback(h, srv.Listener.Addr().String(), nil)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// sessionServer is server with the console's session required, as segport
// dev requires it (or SigV4) of every request; it returns the URL that opens
// the session.
func sessionServer(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	rt := stack.Runtime(t)
	h := rt.App.Console(rt.Stack.AWSConfig(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	sess, err := console.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = httpapi.Loopback(sess.Wrap(h), srv.Listener.Addr().String(), sess.Verify)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, sess.URL(srv.URL)
}

// bare is a console without a stack: enough for what needs none.
func bare(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(console.New(console.Options{
		API: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }),
	}))
	t.Cleanup(srv.Close)
	return srv
}

// send makes a request with headers h and returns the status and body.
func send(t *testing.T, method, url string, body io.Reader, h map[string]string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func decodeJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
}

// TestGuard: loopback hosts only, and nothing a page of another origin sends;
// curl (no Origin) and a link followed from elsewhere are served.
func TestGuard(t *testing.T) {
	srv := bare(t)
	own := strings.TrimPrefix(srv.URL, "http://")
	tests := []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		want    int
		wantMsg string
	}{
		{"curl", "GET", "/v1/segments", nil, http.StatusTeapot, ""},
		{"same origin POST", "POST", "/v1/jobs/import", map[string]string{"Origin": srv.URL, "Sec-Fetch-Site": "same-origin"}, http.StatusTeapot, ""},
		{"localhost", "GET", "/v1/segments", map[string]string{"Host": "localhost:1234"}, http.StatusTeapot, ""},
		{"ipv6 loopback", "GET", "/v1/segments", map[string]string{"Host": "[::1]:1234"}, http.StatusTeapot, ""},
		{"rebound name", "GET", "/v1/segments", map[string]string{"Host": "evil.example:" + strings.Split(own, ":")[1]}, http.StatusForbidden, "or localhost, not Host"},
		{"other origin POST", "POST", "/v1/jobs/import", map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden, "requests from other origins are refused"},
		{"other port", "POST", "/console/api/dry-run", map[string]string{"Origin": "http://127.0.0.1:1"}, http.StatusForbidden, "other origins"},
		{"null origin", "PUT", "/console/api/uploads/x/y", map[string]string{"Origin": "null"}, http.StatusForbidden, "other origins"},
		{"cross-site fetch", "GET", "/v1/segments", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}, http.StatusForbidden, "other sites"},
		{"cross-site download", "GET", "/console/api/jobs/x/report", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, http.StatusForbidden, "other sites"},
		{"link followed", "GET", "/console/", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := send(t, tt.method, srv.URL+tt.path, nil, tt.headers)
			if status != tt.want || !strings.Contains(string(body), tt.wantMsg) {
				t.Errorf("%s %s: %d %s, want %d %q", tt.method, tt.path, status, body, tt.want, tt.wantMsg)
			}
			if tt.want == http.StatusForbidden && !strings.Contains(string(body), `"Code":"ForbiddenException"`) {
				t.Errorf("403 body %s lacks the API's error shape", body)
			}
		})
	}
}

// TestPages: the pages are embedded and served with a strict content policy, /
// leads to them, unknown console endpoints are the console's 404s.
func TestPages(t *testing.T) {
	srv := bare(t)
	res, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.Request.URL.Path != console.Path || !bytes.Contains(page, []byte(`<script type="module" src="app.js"></script>`)) {
		t.Fatalf("GET /: ended at %s with %.200s", res.Request.URL, page)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	for _, f := range []string{"app.js", "style.css", "js/ui.js", "js/segments.js", "js/jobs.js", "js/import.js", "js/endpoints.js"} {
		if status, body := send(t, "GET", srv.URL+console.Path+f, nil, nil); status != http.StatusOK || len(body) < 1000 {
			t.Errorf("GET %s: %d, %d bytes", f, status, len(body))
		}
	}
	if status, body := send(t, "GET", srv.URL+"/console/api/nothing", nil, nil); status != http.StatusNotFound || !strings.Contains(string(body), "no console endpoint GET /console/api/nothing") {
		t.Errorf("unknown console endpoint: %d %s", status, body)
	}
}

// dryRunResult is what the dry run answers.
type dryRunResult struct {
	Format         string
	Bytes, Checked int
	Valid, Invalid int
	Partial        bool
	Rows           []struct {
		Line           int
		Endpoint       *endpoint.Endpoint
		Field, Message string
	}
	Error *struct {
		Line    int
		Message string
	}
}

// TestDryRun: the first rows of a file through the parser's decoder, with their
// errors, and the file-level errors an import would stop at.
func TestDryRun(t *testing.T) {
	srv := httptest.NewServer(console.New(console.Options{Limits: endpoint.DefaultLimits()}))
	t.Cleanup(srv.Close)
	spec, err := os.ReadFile("../../examples/spec-example.csv")
	if err != nil {
		t.Fatal(err)
	}
	bad := "ChannelType,Address\nSMS,2065550182\nFAX,123\nEMAIL,not-an-email\n"
	long := "ChannelType,Address\n" + strings.Repeat("EMAIL,someone@example.com\n", 100) + "EMAIL,cut-off@exa"
	quoted := "ChannelType,Address,Attributes.Note\nEMAIL,a@example.com,\"two\nlines"
	tests := []struct {
		name, query, body string
		check             func(t *testing.T, r dryRunResult)
	}{
		{"spec csv", "name=spec-example.csv", string(spec), func(t *testing.T, r dryRunResult) {
			if r.Format != "CSV" || r.Checked != 5 || r.Valid != 5 || r.Rows[0].Line != 2 || r.Rows[0].Endpoint.Address != "2065550182" {
				t.Errorf("%+v", r)
			}
		}},
		{"bad rows", "name=bad.csv", bad, func(t *testing.T, r dryRunResult) {
			if r.Valid != 1 || r.Invalid != 2 || r.Rows[1].Line != 3 || r.Rows[1].Field != "ChannelType" || r.Rows[2].Message != "not a valid email address" {
				t.Errorf("%+v", r)
			}
		}},
		{"sniffed json", "name=endpoints", `{"ChannelType":"SMS","Address":"2065550182"}` + "\n", func(t *testing.T, r dryRunResult) {
			if r.Format != "JSON" || r.Valid != 1 {
				t.Errorf("%+v", r)
			}
		}},
		{"format given", "name=x.txt&format=json", `{"ChannelType":"SMS","Address":"2065550182"}`, func(t *testing.T, r dryRunResult) {
			if r.Format != "JSON" || r.Valid != 1 {
				t.Errorf("%+v", r)
			}
		}},
		{"cut line left out", "name=long.csv&partial=1", long, func(t *testing.T, r dryRunResult) {
			if !r.Partial || r.Checked != 100 || r.Invalid != 0 || len(r.Rows) != 20 || r.Error != nil {
				t.Errorf("%+v", r)
			}
		}},
		{"cut quoted field left out", "name=q.csv&partial=1", quoted, func(t *testing.T, r dryRunResult) {
			if r.Checked != 0 || r.Error != nil {
				t.Errorf("%+v", r)
			}
		}},
		{"unterminated quote in a whole file", "name=q.csv", quoted, func(t *testing.T, r dryRunResult) {
			if r.Error == nil || !strings.Contains(r.Error.Message, "q.csv:2: a quoted field opened in the record starting on this line is never closed") {
				t.Errorf("%+v", r)
			}
		}},
		{"unknown header", "name=h.csv", "ChannelType,Address,Demographic.make\nSMS,2065550182,LG\n", func(t *testing.T, r dryRunResult) {
			if r.Error == nil || !strings.Contains(r.Error.Message, "did you mean Demographic.Make?") {
				t.Errorf("%+v", r)
			}
		}},
		{"compressed", "name=x.csv", "\x1f\x8b\x08\x00rest", func(t *testing.T, r dryRunResult) {
			if r.Error == nil || !strings.Contains(r.Error.Message, "compressed") {
				t.Errorf("%+v", r)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := send(t, "POST", srv.URL+"/console/api/dry-run?"+tt.query, strings.NewReader(tt.body), nil)
			if status != http.StatusOK {
				t.Fatalf("%d %s", status, body)
			}
			var r dryRunResult
			decodeJSON(t, body, &r)
			tt.check(t, r)
		})
	}
	if status, body := send(t, "POST", srv.URL+"/console/api/dry-run?name=x&format=xml", strings.NewReader("a"), nil); status != http.StatusBadRequest || !strings.Contains(string(body), `unknown format \"xml\"`) {
		t.Errorf("bad format: %d %s", status, body)
	}
	big := strings.NewReader(strings.Repeat("x", console.DryRunBytes+1))
	if status, body := send(t, "POST", srv.URL+"/console/api/dry-run?name=x.csv", big, nil); status != http.StatusRequestEntityTooLarge {
		t.Errorf("too long: %d %s", status, body)
	}
}

// job is the part of an import job the tests read.
type job struct {
	Id, JobStatus                 string
	TotalProcessed, TotalFailures int
	ErrorReport                   string
	Definition                    struct{ S3Url, Format, SegmentName string }
}

// uploadFiles uploads files (name -> content) as one upload and starts it into
// segment; it returns the jobs the start answered with.
func uploadFiles(t *testing.T, base, batch, segment string, names []string, files map[string]string) []job {
	t.Helper()
	for _, name := range names {
		status, body := send(t, "PUT", base+"/console/api/uploads/"+batch+"/"+name, strings.NewReader(files[name]), map[string]string{"Origin": base})
		if status != http.StatusCreated {
			t.Fatalf("PUT %s: %d %s", name, status, body)
		}
	}
	status, body := send(t, "POST", base+"/console/api/uploads/"+batch+"/start", strings.NewReader(`{"SegmentName":"`+segment+`"}`), map[string]string{"Origin": base})
	if status != http.StatusCreated {
		t.Fatalf("start: %d %s", status, body)
	}
	var out struct{ Jobs []job }
	decodeJSON(t, body, &out)
	return out.Jobs
}

// wait polls a job through the query API until it ends.
func wait(t *testing.T, base string, j job) job {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for j.JobStatus != "COMPLETED" && j.JobStatus != "FAILED" {
		if time.Now().After(deadline) {
			t.Fatalf("job %s did not end: %+v", j.Id, j)
		}
		time.Sleep(100 * time.Millisecond)
		_, body := send(t, "GET", base+"/v1/jobs/import/"+j.Id, nil, nil)
		decodeJSON(t, body, &j)
	}
	return j
}

func readExample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestUploadMakesOneJobPerFormat uploads two CSV files and a JSON file: two jobs,
// each importing its format's folder, into one segment; the users count reads
// its members.
func TestUploadMakesOneJobPerFormat(t *testing.T) {
	srv := server(t)
	files := map[string]string{
		"spec-example.csv": readExample(t, "spec-example.csv"), "customers.csv": readExample(t, "customers.csv"),
		"spec-example.json": readExample(t, "spec-example.json"),
	}
	const batch = "0123456789abcdef0123456789abcdef"
	jobs := uploadFiles(t, srv.URL, batch, "uploaded", []string{"spec-example.csv", "spec-example.json", "customers.csv"}, files)
	if len(jobs) != 2 {
		t.Fatalf("%d jobs, want one per format: %+v", len(jobs), jobs)
	}
	want := map[string]struct {
		url       string
		processed int
	}{
		"CSV":  {"s3://segport/uploads/" + batch + "/csv/", 9},
		"JSON": {"s3://segport/uploads/" + batch + "/json/", 5},
	}
	for _, j := range jobs {
		j = wait(t, srv.URL, j)
		w := want[j.Definition.Format]
		if j.JobStatus != "COMPLETED" || j.Definition.S3Url != w.url || j.TotalProcessed != w.processed || j.Definition.SegmentName != "uploaded" {
			t.Errorf("job %+v, want %+v", j, w)
		}
	}
	var seg struct {
		EndpointCount    int
		ImportDefinition struct{ Size int }
	}
	_, body := send(t, "GET", srv.URL+"/v1/segments/uploaded", nil, nil)
	decodeJSON(t, body, &seg)
	if seg.EndpointCount != 9 || seg.ImportDefinition.Size != 14 {
		t.Errorf("segment: %s", body)
	}
	var users struct {
		Users, Members int
		Complete       bool
	}
	_, body = send(t, "GET", srv.URL+"/console/api/segments/uploaded/users", nil, nil)
	decodeJSON(t, body, &users)
	if users.Users != 2 || users.Members != 9 || !users.Complete {
		t.Errorf("users: %s", body)
	}
	// Starting the upload again names the same jobs.
	_, body = send(t, "POST", srv.URL+"/console/api/uploads/"+batch+"/start", strings.NewReader(`{"SegmentName":"uploaded"}`), nil)
	var again struct{ Jobs []job }
	decodeJSON(t, body, &again)
	if len(again.Jobs) != 2 || again.Jobs[0].Id != jobs[0].Id || again.Jobs[1].Id != jobs[1].Id {
		t.Errorf("started again: %s", body)
	}
}

// TestUploadRefuses: every mistake an upload can make, with its message.
func TestUploadRefuses(t *testing.T) {
	srv := server(t)
	const batch = "00000000000000000000000000000001"
	for i := range console.MaxFiles {
		if status, body := send(t, "PUT", fmt.Sprintf("%s/console/api/uploads/%s/f%d.csv", srv.URL, batch, i), strings.NewReader("ChannelType,Address\n"), nil); status != http.StatusCreated {
			t.Fatalf("file %d: %d %s", i, status, body)
		}
	}
	tests := []struct {
		name, method, path, body, want string
		status                         int
	}{
		{"eleventh file", "PUT", "/console/api/uploads/" + batch + "/more.csv", "a", "an upload takes at most 10 files", 400},
		{"same file again", "PUT", "/console/api/uploads/" + batch + "/f0.csv", "ChannelType,Address\n", "", 201},
		{"bad upload id", "PUT", "/console/api/uploads/xyz/a.csv", "a", `upload id \"xyz\": want 32 lower-case hex digits`, 400},
		{"empty file", "PUT", "/console/api/uploads/00000000000000000000000000000004/a.csv", "", "a.csv is empty", 400},
		{"control character in the name", "PUT", "/console/api/uploads/" + batch + "/a%01.csv", "a", "no slashes or control characters", 400},
		{"start with nothing", "POST", "/console/api/uploads/00000000000000000000000000000002/start", `{"SegmentName":"x"}`, "holds no files: upload them first", 400},
		{"start without a segment", "POST", "/console/api/uploads/" + batch + "/start", `{}`, "SegmentName is required", 400},
		{"segment with a slash", "POST", "/console/api/uploads/" + batch + "/start", `{"SegmentName":"a/b"}`, "no slashes", 400},
		{"unknown field", "POST", "/console/api/uploads/" + batch + "/start", `{"Segment":"a"}`, "unknown field", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := send(t, tt.method, srv.URL+tt.path, strings.NewReader(tt.body), nil)
			if status != tt.status || !strings.Contains(string(body), tt.want) {
				t.Errorf("%d %s, want %d %q", status, body, tt.status, tt.want)
			}
		})
	}
}

// TestErrorReport downloads the report of a job with bad rows, as the Jobs page
// links it.
func TestErrorReport(t *testing.T) {
	srv := server(t)
	bad := "ChannelType,Address\nSMS,2065550182\nFAX,123\nEMAIL,not-an-email\n"
	jobs := uploadFiles(t, srv.URL, "00000000000000000000000000000003", "with-errors", []string{"bad.csv"}, map[string]string{"bad.csv": bad})
	j := wait(t, srv.URL, jobs[0])
	if j.TotalFailures != 2 || j.ErrorReport == "" {
		t.Fatalf("job %+v", j)
	}
	res, err := http.Get(srv.URL + "/console/api/jobs/" + j.Id + "/report")
	if err != nil {
		t.Fatal(err)
	}
	report, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		res.Header.Get("Content-Disposition") != `attachment; filename="segport-errors-`+j.Id+`.csv"` {
		t.Fatalf("report: %d %v", res.StatusCode, res.Header)
	}
	for _, want := range []string{"File,Line,Field,Message,Row\n", "bad.csv,3,ChannelType,", "bad.csv,4,Address,not a valid email address,\"EMAIL,not-an-email\""} {
		if !strings.Contains(string(report), want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if status, body := send(t, "GET", srv.URL+"/console/api/jobs/00000000000000000000000000000000/report", nil, nil); status != http.StatusNotFound || !strings.Contains(string(body), `import job \"00000000000000000000000000000000\" not found`) {
		t.Errorf("missing job: %d %s", status, body)
	}
	if status, body := send(t, "GET", srv.URL+"/console/api/segments/nothing-here/users", nil, nil); status != http.StatusNotFound || !strings.Contains(string(body), `segment \"nothing-here\" not found`) {
		t.Errorf("missing segment: %d %s", status, body)
	}
}
