package httpapi_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/segport/segport/pkg/segment"
)

// TestImportReplace: Replace in POST /v1/jobs/import makes the job's version
// exactly its endpoints; the job says so, the version before stays readable,
// and Replace without a segment is refused.
func TestImportReplace(t *testing.T) {
	srv, _ := server(t)
	base := srv.URL
	upload(t, "uploads/rep seg/a.csv", "Id,ChannelType,Address\nrep-1,EMAIL,r1@example.com\nrep-2,EMAIL,r2@example.com\n")
	if j := importVia(t, base, "s3://segport/uploads/rep seg/a.csv", "rep seg"); j.JobStatus != "COMPLETED" {
		t.Fatalf("first import %+v", j)
	}
	upload(t, "uploads/rep new/b.csv", "Id,ChannelType,Address\nrep-3,EMAIL,r3@example.com\n")
	var j struct {
		importJob
		Definition struct{ Replace bool }
	}
	body := `{"S3Url":"s3://segport/uploads/rep new/","SegmentName":"rep seg","Replace":true}`
	if res := call(t, "POST", base+"/v1/jobs/import", body, &j); res.StatusCode != http.StatusCreated || !j.Definition.Replace {
		t.Fatalf("POST: %d %+v", res.StatusCode, j)
	}
	for deadline := time.Now().Add(time.Minute); j.JobStatus != "COMPLETED" && j.JobStatus != "FAILED"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("job did not end: %+v", j)
		}
		call(t, "GET", base+"/v1/jobs/import/"+j.Id, "", &j)
	}
	if j.JobStatus != "COMPLETED" || !j.Definition.Replace {
		t.Fatalf("job %+v", j)
	}
	ids := func(query string) []string {
		t.Helper()
		var page struct{ Item []struct{ Id string } }
		if res := call(t, "GET", base+"/v1/segments/"+url.PathEscape("rep seg")+"/endpoints"+query, "", &page); res.StatusCode != 200 {
			t.Fatalf("members%s: %d", query, res.StatusCode)
		}
		var out []string
		for _, e := range page.Item {
			out = append(out, e.Id)
		}
		return out
	}
	if got := ids(""); len(got) != 1 || got[0] != "rep-3" {
		t.Errorf("the current version: %v, want [rep-3]", got)
	}
	if got := ids("?version=1"); len(got) != 2 {
		t.Errorf("version 1: %v, want its 2 endpoints", got)
	}
	var v segment.Version
	if res := call(t, "GET", base+"/v1/segments/"+url.PathEscape("rep seg")+"/versions/2", "", &v); res.StatusCode != 200 || !v.Replace || v.Base != 2 || *v.EndpointCount != 1 {
		t.Errorf("version 2: %d %+v", res.StatusCode, v)
	}
	var e apiError
	body = `{"S3Url":"s3://segport/uploads/rep new/","DefineSegment":false,"Replace":true}`
	if res := call(t, "POST", base+"/v1/jobs/import", body, &e); res.StatusCode != http.StatusBadRequest {
		t.Errorf("Replace without a segment: %d %+v", res.StatusCode, e)
	}
}
