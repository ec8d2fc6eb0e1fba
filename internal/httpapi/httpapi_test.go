package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segport/segport/internal/httpapi"
	"github.com/segport/segport/pkg/client"
	"github.com/segport/segport/pkg/endpoint"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// list is the shape of every list response.
type list struct {
	Item      []json.RawMessage
	NextToken string
}

// pages follows NextToken through a list route, size items a page, and returns
// every item and the number of pages.
func pages(t *testing.T, u string, size int) ([]json.RawMessage, int) {
	t.Helper()
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	var items []json.RawMessage
	token, n := "", 0
	for {
		q := fmt.Sprintf("%s%spage-size=%d", u, sep, size)
		if token != "" {
			q += "&token=" + url.QueryEscape(token)
		}
		var l list
		if res := call(t, "GET", q, "", &l); res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", q, res.StatusCode)
		}
		if len(l.Item) > size {
			t.Fatalf("GET %s: %d items", q, len(l.Item))
		}
		items, n = append(items, l.Item...), n+1
		if l.NextToken == "" {
			return items, n
		}
		token = l.NextToken
	}
}

// ids returns the Id of each item, failing on a repeat.
func ids(t *testing.T, items []json.RawMessage) map[string]json.RawMessage {
	t.Helper()
	out := map[string]json.RawMessage{}
	for _, it := range items {
		var v struct{ Id string }
		if err := json.Unmarshal(it, &v); err != nil {
			t.Fatal(err)
		}
		if _, dup := out[v.Id]; dup {
			t.Errorf("%s listed twice", v.Id)
		}
		out[v.Id] = it
	}
	return out
}

// TestRoutes imports 25 endpoints through POST /v1/jobs/import and reads them
// back through every route, paging where a route pages.
func TestRoutes(t *testing.T) {
	srv, _ := server(t)
	base := srv.URL
	var file strings.Builder
	for i := range 25 {
		fmt.Fprintf(&file, `{"Id":"api-%02d","ChannelType":"EMAIL","Address":"a%d@example.com","User":{"UserId":"api-user-%d","UserAttributes":{"Plan":["gold"]}}}`+"\n", i, i, i%3)
	}
	upload(t, "uploads/api seg/part-1.json", file.String())
	j := importVia(t, base, "s3://segport/uploads/api seg/", "api seg")
	if j.JobStatus != "COMPLETED" || j.TotalProcessed != 25 || j.Definition.SegmentName != "api seg" {
		t.Fatalf("job %+v", j)
	}
	segId := job.SegmentId("api seg")

	t.Run("segments", func(t *testing.T) {
		items, _ := pages(t, base+"/v1/segments", 1)
		if _, ok := ids(t, items)[segId]; !ok {
			t.Fatalf("segment %s not listed in %s", segId, items)
		}
		for _, id := range []string{segId, url.PathEscape("api seg")} {
			var seg segment.Segment
			if res := call(t, "GET", base+"/v1/segments/"+id, "", &seg); res.StatusCode != 200 || seg.Id != segId ||
				seg.EndpointCount != 25 || seg.ImportDefinition.Size != 25 || seg.ImportDefinition.ChannelCounts["EMAIL"] != 25 {
				t.Errorf("GET /v1/segments/%s: %d %+v", id, res.StatusCode, seg)
			}
		}
	})
	t.Run("segment endpoints", func(t *testing.T) {
		items, n := pages(t, base+"/v1/segments/"+segId+"/endpoints", 7)
		got := ids(t, items)
		if len(got) != 25 || n < 4 {
			t.Fatalf("%d endpoints in %d pages, want 25 in 4 or more", len(got), n)
		}
		var e endpoint.Endpoint
		json.Unmarshal(got["api-04"], &e)
		if e.Address != "a4@example.com" || e.User.UserId != "api-user-1" || e.User.UserAttributes.Map()["Plan"][0] != "gold" {
			t.Errorf("api-04 = %s", got["api-04"])
		}
	})
	t.Run("endpoint", func(t *testing.T) {
		var e endpoint.Endpoint
		if res := call(t, "GET", base+"/v1/endpoints/api-07", "", &e); res.StatusCode != 200 || e.Id != "api-07" || e.User.UserAttributes.Map()["Plan"][0] != "gold" {
			t.Errorf("GET /v1/endpoints/api-07: %d %+v", res.StatusCode, e)
		}
	})
	t.Run("user endpoints", func(t *testing.T) {
		items, n := pages(t, base+"/v1/users/api-user-2/endpoints", 3)
		got := ids(t, items)
		if len(got) != 8 || n < 3 {
			t.Fatalf("%d endpoints of api-user-2 in %d pages, want 8 in 3 or more", len(got), n)
		}
		for id := range got {
			var i int
			if fmt.Sscanf(id, "api-%d", &i); i%3 != 2 {
				t.Errorf("%s is not api-user-2's", id)
			}
		}
	})
	t.Run("jobs", func(t *testing.T) {
		j2 := importVia(t, base, "s3://segport/uploads/api seg/part-1.json", "api seg")
		items, n := pages(t, base+"/v1/jobs/import?segment-id="+url.QueryEscape("api seg"), 1)
		var got []string
		for _, it := range items {
			var v importJob
			json.Unmarshal(it, &v)
			got = append(got, v.Id)
		}
		if len(got) != 2 || got[0] != j2.Id || got[1] != j.Id || n < 2 {
			t.Errorf("jobs of the segment = %v in %d pages, want [%s %s] newest first", got, n, j2.Id, j.Id)
		}
		all, _ := pages(t, base+"/v1/jobs/import", 1)
		byId := ids(t, all)
		if _, ok := byId[j.Id]; !ok {
			t.Errorf("job %s not among all jobs", j.Id)
		}
		var one importJob
		if res := call(t, "GET", base+"/v1/jobs/import/"+j.Id, "", &one); res.StatusCode != 200 || one.Id != j.Id || one.Type != "IMPORT" {
			t.Errorf("GET job: %d %+v", res.StatusCode, one)
		}
	})
}

// TestUserSegment: a segment defined by user IDs shows its users and the
// endpoints it reaches through them, paged.
func TestUserSegment(t *testing.T) {
	srv, _ := server(t)
	base := srv.URL
	var eps strings.Builder
	for i := range 7 {
		fmt.Fprintf(&eps, `{"Id":"us-%d","ChannelType":"EMAIL","Address":"us%d@example.com","User":{"UserId":"us-user-%d"}}`+"\n", i, i, i%3)
	}
	upload(t, "uploads/us eps/e.json", eps.String())
	if j := importVia(t, base, "s3://segport/uploads/us eps/", "us eps"); j.JobStatus != "COMPLETED" {
		t.Fatalf("endpoints: %+v", j)
	}
	upload(t, "uploads/us users/u.csv", "User.UserId\nus-user-0 us-user-2 us-user-none\n")
	if j := importVia(t, base, "s3://segport/uploads/us users/", "us users"); j.JobStatus != "COMPLETED" || j.TotalProcessed != 3 {
		t.Fatalf("users: %+v", j)
	}
	var seg segment.Segment
	if res := call(t, "GET", base+"/v1/segments/"+url.PathEscape("us users"), "", &seg); res.StatusCode != 200 ||
		seg.UserCount != 3 || seg.EndpointCount != 5 || seg.ImportDefinition.Size != 3 {
		t.Fatalf("GET segment: %d %+v", res.StatusCode, seg)
	}
	items, _ := pages(t, base+"/v1/segments/"+seg.Id+"/endpoints", 2)
	got := ids(t, items)
	if len(got) != 5 {
		t.Fatalf("%d endpoints reached, want 5: %s", len(got), items)
	}
	for id := range got {
		var i int
		if fmt.Sscanf(id, "us-%d", &i); i%3 == 1 {
			t.Errorf("%s is us-user-1's", id)
		}
	}
	users, _ := pages(t, base+"/v1/segments/"+seg.Id+"/users", 2)
	var names []string
	for _, u := range users {
		var s string
		json.Unmarshal(u, &s)
		names = append(names, s)
	}
	slices.Sort(names)
	if strings.Join(names, ",") != "us-user-0,us-user-2,us-user-none" {
		t.Fatalf("users %q", names)
	}

	// A second version adds us-user-1; version 1 keeps its users and what
	// they reach.
	upload(t, "uploads/us users 2/u.csv", "User.UserId\nus-user-1 us-user-0\n")
	if j := importVia(t, base, "s3://segport/uploads/us users 2/", "us users"); j.JobStatus != "COMPLETED" {
		t.Fatalf("second users: %+v", j)
	}
	userNames := func(query string) string {
		t.Helper()
		users, _ := pages(t, base+"/v1/segments/"+seg.Id+"/users"+query, 2)
		var names []string
		for _, u := range users {
			var s string
			json.Unmarshal(u, &s)
			names = append(names, s)
		}
		slices.Sort(names)
		return strings.Join(names, ",")
	}
	if got := userNames("?version=1"); got != "us-user-0,us-user-2,us-user-none" {
		t.Errorf("version 1's users %q", got)
	}
	if got := userNames(""); got != "us-user-0,us-user-1,us-user-2,us-user-none" {
		t.Errorf("current users %q", got)
	}
	if items, _ := pages(t, base+"/v1/segments/"+seg.Id+"/endpoints?version=1", 2); len(ids(t, items)) != 5 {
		t.Errorf("version 1 reaches %d endpoints, want 5", len(ids(t, items)))
	}
	if items, _ := pages(t, base+"/v1/segments/"+seg.Id+"/endpoints", 2); len(ids(t, items)) != 7 {
		t.Errorf("version 2 reaches %d endpoints, want 7", len(ids(t, items)))
	}
	var v segment.Version
	if res := call(t, "GET", base+"/v1/segments/"+seg.Id+"/versions/1", "", &v); res.StatusCode != 200 ||
		v.UserCount != 3 || v.EndpointCount == nil || *v.EndpointCount != 5 {
		t.Errorf("GET version 1: %d %+v", res.StatusCode, v)
	}
	var e404 apiError
	if res := call(t, "GET", base+"/v1/segments/"+seg.Id+"/users?version=9", "", &e404); res.StatusCode != 404 {
		t.Errorf("users of version 9: %d %+v", res.StatusCode, e404)
	}
}

// TestImportWithoutSegment: DefineSegment false upserts the endpoints, creates
// no segment and leaves the segments they belong to as they were.
func TestImportWithoutSegment(t *testing.T) {
	srv, _ := server(t)
	base := srv.URL
	upload(t, "uploads/upd seg/a.csv", "Id,ChannelType,Address,Attributes.Plan\nupd-1,EMAIL,u1@example.com,free\nupd-2,EMAIL,u2@example.com,free\n")
	if j := importVia(t, base, "s3://segport/uploads/upd seg/", "upd seg"); j.JobStatus != "COMPLETED" {
		t.Fatalf("first import %+v", j)
	}
	var before segment.Segment
	call(t, "GET", base+"/v1/segments/"+url.PathEscape("upd seg"), "", &before)

	upload(t, "uploads/upd only/b.csv", "Id,ChannelType,Address,Attributes.Plan\nupd-1,EMAIL,u1@example.com,gold\nupd-3,EMAIL,u3@example.com,gold\n")
	var j struct {
		importJob
		Definition struct {
			SegmentId, SegmentName string
			DefineSegment          *bool
		}
	}
	body := `{"S3Url":"s3://segport/uploads/upd only/","Format":"CSV","DefineSegment":false,"RegisterEndpoints":true}`
	if res := call(t, "POST", base+"/v1/jobs/import", body, &j); res.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %d %+v", res.StatusCode, j)
	}
	for deadline := time.Now().Add(time.Minute); j.JobStatus != "COMPLETED" && j.JobStatus != "FAILED"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("job did not end: %+v", j)
		}
		call(t, "GET", base+"/v1/jobs/import/"+j.Id, "", &j)
	}
	if j.JobStatus != "COMPLETED" || j.TotalProcessed != 2 || j.Definition.SegmentId != "" || j.Definition.SegmentName != "" ||
		j.Definition.DefineSegment == nil || *j.Definition.DefineSegment {
		t.Fatalf("job %+v", j)
	}
	var e endpoint.Endpoint
	if call(t, "GET", base+"/v1/endpoints/upd-1", "", &e); e.Attributes.Map()["Plan"][0] != "gold" {
		t.Errorf("upd-1 not updated: %+v", e)
	}
	if res := call(t, "GET", base+"/v1/endpoints/upd-3", "", &e); res.StatusCode != 200 {
		t.Errorf("upd-3 not stored: %d", res.StatusCode)
	}
	var after segment.Segment
	call(t, "GET", base+"/v1/segments/"+url.PathEscape("upd seg"), "", &after)
	if after.Version != before.Version || after.EndpointCount != 2 || after.ImportDefinition.Size != before.ImportDefinition.Size ||
		after.LastModifiedDate != before.LastModifiedDate {
		t.Errorf("segment changed: before %+v, after %+v", before, after)
	}
	var e404 apiError
	if res := call(t, "GET", base+"/v1/segments/"+url.PathEscape("upd only"), "", &e404); res.StatusCode != 404 {
		t.Errorf("a segment was created: %d", res.StatusCode)
	}
}

// TestErrors checks each error's status, stable code and request id.
func TestErrors(t *testing.T) {
	srv, _ := server(t)
	base := srv.URL
	tests := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/v1/segments/no-such-segment", "", 404, "NotFoundException"},
		{"GET", "/v1/segments/no-such-segment/endpoints", "", 404, "NotFoundException"},
		{"GET", "/v1/segments/no-such-segment/users", "", 404, "NotFoundException"},
		{"GET", "/v1/segments/no-such-segment/users?version=0", "", 400, "BadRequestException"},
		{"GET", "/v1/endpoints/no-such-endpoint", "", 404, "NotFoundException"},
		{"GET", "/v1/users/no-such-user/endpoints", "", 404, "NotFoundException"},
		{"GET", "/v1/jobs/import/00000000000000000000000000000000", "", 404, "NotFoundException"},
		{"GET", "/v1/jobs/import?segment-id=no-such-segment", "", 404, "NotFoundException"},
		{"GET", "/v2/nothing", "", 404, "NotFoundException"},
		{"DELETE", "/v1/segments", "", 405, "MethodNotAllowedException"},
		{"GET", "/v1/segments?page-size=0", "", 400, "BadRequestException"},
		{"GET", "/v1/segments?page-size=many", "", 400, "BadRequestException"},
		{"GET", "/v1/segments?page-size=1001", "", 400, "BadRequestException"},
		{"GET", "/v1/segments?token=bogus", "", 400, "BadRequestException"},
		{"POST", "/v1/jobs/import", `{"S3Url":"http://x","SegmentName":"s"}`, 400, "BadRequestException"},
		{"POST", "/v1/jobs/import", `{"S3Url":"s3://elsewhere/x/","SegmentName":"s"}`, 400, "BadRequestException"},
		{"POST", "/v1/jobs/import", `{"S3Url":"s3://segport/imports/s/"}`, 400, "BadRequestException"},
		{"POST", "/v1/jobs/import", `{"S3Url":"s3://segport/imports/s/","SegmentName":"s","Format":"XML"}`, 400, "BadRequestException"},
		{"POST", "/v1/jobs/import", `{"S3Url":"s3://segport/imports/s/","SegmentName":"s","Bucket":"b"}`, 400, "BadRequestException"},
		{"POST", "/v1/jobs/import", `{"S3Url":"s3://segport/imports/s/","SegmentName":"s","JobId":"x"}`, 400, "BadRequestException"},
		{"POST", "/v1/jobs/import", `{"S3Url":"s3://segport/imports/s/","SegmentName":"s","RegisterEndpoints":false}`, 400, "BadRequestException"},
		{"POST", "/v1/jobs/import", `{"S3Url":"s3://segport/imports/s/","DefineSegment":true}`, 400, "BadRequestException"},
		{"POST", "/v1/jobs/import", `not json`, 400, "BadRequestException"},
		{"POST", "/v1/jobs/import", `{"S3Url":"` + strings.Repeat("x", 70000) + `"}`, 413, "PayloadTooLargeException"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			var e apiError
			res := call(t, tc.method, base+tc.path, tc.body, &e)
			if res.StatusCode != tc.status || e.Code != tc.code || e.Message == "" || e.RequestID == "" {
				t.Errorf("%d %+v, want %d %s with a message and a request id", res.StatusCode, e, tc.status, tc.code)
			}
			if got := res.Header.Get("X-Amzn-ErrorType"); got != tc.code {
				t.Errorf("X-Amzn-ErrorType %q", got)
			}
		})
	}
}

// failing is a Reader whose every call fails with an internal detail.
type failing struct{ httpapi.Reader }

func (failing) GetSegment(context.Context, string) (*segment.Segment, error) {
	return nil, errors.New("dial tcp 10.0.0.7:443: secret detail")
}

func TestInternalErrorsStayInTheLog(t *testing.T) {
	var log bytes.Buffer
	h := httpapi.New(httpapi.Options{Reader: failing{}, Log: slog.New(slog.NewTextHandler(&log, nil))})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/segments/x", nil))
	var e apiError
	json.Unmarshal(rec.Body.Bytes(), &e)
	if rec.Code != 500 || e.Code != "InternalServerErrorException" || strings.Contains(rec.Body.String(), "secret") {
		t.Errorf("response %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(log.String(), "secret detail") || !strings.Contains(log.String(), e.RequestID) {
		t.Errorf("log lacks the error or the request id %q: %s", e.RequestID, log.String())
	}
}

// TestLargePagesShrink lists with a response budget smaller than a page: pages
// shrink and the listing still returns every endpoint once.
func TestLargePagesShrink(t *testing.T) {
	rt := runtime(t)
	t.Run("import", func(t *testing.T) {
		srv, _ := server(t)
		var file strings.Builder
		for i := range 40 {
			fmt.Fprintf(&file, `{"Id":"big-%02d","ChannelType":"SMS","Address":"+1206555%04d","Attributes":{"Notes":[%q]}}`+"\n", i, i, strings.Repeat("n", 90))
		}
		upload(t, "uploads/shrink/file.json", file.String())
		if j := importVia(t, srv.URL, "s3://segport/uploads/shrink/", "shrink"); j.JobStatus != "COMPLETED" {
			t.Fatalf("job %+v", j)
		}
	})
	t2 := rt.App.Config.Tables
	c := client.New(rt.Stack.AWSConfig(), client.Tables{Endpoints: t2.Endpoints, Users: t2.Users, Segments: t2.Segments, Members: t2.Members, Jobs: t2.Jobs})
	srv := httptest.NewServer(httpapi.New(httpapi.Options{Reader: c, MaxBody: 1500}))
	defer srv.Close()
	items, n := pages(t, srv.URL+"/v1/segments/shrink/endpoints", 40)
	if got := ids(t, items); len(got) != 40 || n < 4 {
		t.Errorf("%d endpoints in %d pages, want 40 in pages of at most 1500 bytes", len(got), n)
	}
}
