package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"

	segport "github.com/segport/segport"
	"github.com/segport/segport/internal/meter"
	"github.com/segport/segport/internal/templatecheck"
	"github.com/segport/segport/pkg/segment"
	"github.com/segport/segport/pkg/stats"
)

// iamAction is the IAM action a request needs.
var iamAction = map[string]string{
	"S3.ListObjectsV2": "s3:ListBucket", "S3.GetObject": "s3:GetObject", "S3.HeadObject": "s3:GetObject",
	"SQS.SendMessage": "sqs:SendMessage", "SQS.SendMessageBatch": "sqs:SendMessage",
}

// TestAPIRoleIsLeastPrivilege runs every route of the API on the local stack,
// counting the AWS requests it makes, and holds them to ApiFunction's role in
// template.yaml: every request is granted, and every data action granted is
// one the API makes (logs aside).
func TestAPIRoleIsLeastPrivilege(t *testing.T) {
	rt := runtime(t)
	h := rt.App.API(meter.Config(rt.Stack.AWSConfig()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	counter := stats.NewCounter("")
	serve := func(method, path, body string) string {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body)).WithContext(stats.NewContext(context.Background(), counter))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		return rec.Body.String()
	}
	upload(t, "uploads/iam/a.csv", "Id,ChannelType,Address,User.UserId\niam-1,EMAIL,iam1@example.com,iam-user\n")
	upload(t, "uploads/iam/b", "Id,ChannelType,Address\niam-2,EMAIL,iam2@example.com\n") // no extension: sniffed
	srv := httptest.NewServer(h)
	defer srv.Close()
	j := importVia(t, srv.URL, "s3://segport/uploads/iam/", "iam")
	if j.JobStatus != "COMPLETED" {
		t.Fatalf("import: %+v", j)
	}
	serve("POST", "/v1/jobs/import", `{"S3Url":"s3://segport/uploads/iam/","SegmentName":"iam"}`)
	serve("POST", "/v1/jobs/import", `{"S3Url":"s3://segport/uploads/iam-nothing/","SegmentName":"iam"}`) // fails at once
	serve("POST", "/v1/jobs/import", `{"S3Url":"s3://segport/uploads/iam/","SegmentId":"`+segment.IdOf("iam")+`"}`)
	for _, p := range []string{"/v1/segments", "/v1/segments/iam", "/v1/segments/iam/endpoints", "/v1/endpoints/iam-1",
		"/v1/users/iam-user/endpoints", "/v1/jobs/import", "/v1/jobs/import?segment-id=iam", "/v1/jobs/import/" + j.Id} {
		serve("GET", p, "")
	}
	serve("DELETE", "/v1/endpoints/iam-2", "")
	serve("DELETE", "/v1/users/iam-user", "")
	serve("DELETE", "/v1/segments/iam", "")

	tmpl, err := templatecheck.Parse(segport.Template)
	if err != nil {
		t.Fatal(err)
	}
	grants, problems := tmpl.Permissions("ApiFunction")
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	granted := map[string]bool{}
	for _, g := range grants {
		for _, a := range g.Actions {
			granted[a] = true
		}
	}
	used := map[string]bool{}
	for req := range counter.Stats().Requests {
		a, ok := iamAction[req]
		if !ok {
			svc, op, _ := strings.Cut(req, ".")
			a = strings.ToLower(svc) + ":" + op
		}
		used[a] = true
		if !granted[a] {
			t.Errorf("the API sends %s, which needs %s: ApiRole does not grant it", req, a)
		}
	}
	var unused []string
	for a := range granted {
		if !used[a] && !strings.HasPrefix(a, "logs:") {
			unused = append(unused, a)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Errorf("ApiRole grants %v, which the API never uses", unused)
	}
	keys := make([]string, 0, len(used))
	for a := range used {
		keys = append(keys, a)
	}
	slices.Sort(keys)
	t.Logf("the API used %v", keys)
}
