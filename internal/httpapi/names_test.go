package httpapi_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/pkg/segment"
)

// TestSegmentNames: the API refuses every name the rule refuses, with the
// rule's own message (the CLI shows the same one), and resolves names as the
// CLI does, so a request's SegmentId cannot make a segment that shadows
// another's name.
func TestSegmentNames(t *testing.T) {
	srv, _ := server(t)
	base := srv.URL
	rt := runtime(t)
	huge := strings.Repeat("x", 60<<10)
	for _, name := range []string{"a/b", "../reports", "../../evil", "..", ".", "a\x1bb", "", segment.IdOf("ids"), huge} {
		want := segment.CheckName(name).Error()
		if name == "" {
			want = importer.ErrNoSegment.Error()
		}
		body, _ := json.Marshal(map[string]string{"S3Url": "s3://segport/imports/names/", "SegmentName": name})
		var e apiError
		if res := call(t, "POST", base+"/v1/jobs/import", string(body), &e); res.StatusCode != 400 || e.Code != "BadRequestException" || e.Message != want {
			t.Errorf("POST SegmentName %.40q: %d %+v, want 400 %q", name, res.StatusCode, e, want)
		}
		if name == "" || name == "." || name == ".." {
			continue // a URL path cannot name them: HTTP cleans dot segments
		}
		if res := call(t, "GET", base+"/v1/segments/"+url.PathEscape(name), "", &e); name != segment.IdOf("ids") &&
			(res.StatusCode != 400 || e.Message != want) {
			t.Errorf("GET /v1/segments/%.40q: %d %+v, want 400 %q", name, res.StatusCode, e, want)
		}
	}
	for _, id := range []string{"ids", "../reports", huge, "22FD417F064FF33E"} {
		want := segment.CheckId(id).Error()
		body, _ := json.Marshal(map[string]string{"S3Url": "s3://segport/imports/names/", "SegmentId": id})
		var e apiError
		if res := call(t, "POST", base+"/v1/jobs/import", string(body), &e); res.StatusCode != 400 || e.Message != want {
			t.Errorf("POST SegmentId %.40q: %d %+v, want 400 %q", id, res.StatusCode, e, want)
		}
	}

	// The hijack: a segment named "ids", then a request whose SegmentId
	// is "ids". The id is refused (above); an id of the right form that names no
	// segment makes none.
	upload(t, "uploads/names/a.csv", "ChannelType,Address\nEMAIL,ids@example.com\n")
	j := importVia(t, base, "s3://segport/uploads/names/a.csv", "ids")
	if j.JobStatus != "COMPLETED" || j.Definition.SegmentId != segment.IdOf("ids") {
		t.Fatalf("import into ids: %+v", j)
	}
	var e apiError
	body := `{"S3Url":"s3://segport/uploads/names/a.csv","SegmentId":"` + segment.IdOf("nothing here") + `"}`
	if res := call(t, "POST", base+"/v1/jobs/import", body, &e); res.StatusCode != 404 || e.Code != "NotFoundException" {
		t.Errorf("POST with the id of no segment: %d %+v, want 404", res.StatusCode, e)
	}
	body = `{"S3Url":"s3://segport/uploads/names/a.csv","SegmentId":"` + segment.IdOf("ids") + `","SegmentName":"other"}`
	if res := call(t, "POST", base+"/v1/jobs/import", body, &e); res.StatusCode != 400 || !strings.Contains(e.Message, "is not the id of the SegmentName") {
		t.Errorf("POST with a SegmentId that is not the SegmentName's: %d %+v, want 400", res.StatusCode, e)
	}
	// A SegmentId of an existing segment adds to it, under its name.
	var j2 importJob
	body = `{"S3Url":"s3://segport/uploads/names/a.csv","SegmentId":"` + segment.IdOf("ids") + `"}`
	if res := call(t, "POST", base+"/v1/jobs/import", body, &j2); res.StatusCode != 201 || j2.Definition.SegmentName != "ids" {
		t.Errorf("POST with the id of ids: %d %+v", res.StatusCode, j2)
	}
	// The API and the CLI's store resolve "ids" and its id to the same segment.
	var bySeg, byName segment.Segment
	call(t, "GET", base+"/v1/segments/ids", "", &byName)
	call(t, "GET", base+"/v1/segments/"+segment.IdOf("ids"), "", &bySeg)
	cli, err := rt.App.Store.SegmentByName(testCtx(t), "ids")
	if err != nil || byName.Id != segment.IdOf("ids") || bySeg.Id != byName.Id || cli.Id != byName.Id || byName.Name != "ids" {
		t.Errorf("ids resolves to API %q / %q, CLI %+v %v", byName.Id, bySeg.Id, cli, err)
	}
}
