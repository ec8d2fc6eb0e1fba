package httpapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/segport/segport/pkg/client"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// TestDeleteRoutes deletes an endpoint, a user and a segment through the API
// and reads back what is left: every GET agrees with the delete, and the
// segment's count and its version's stay exact.
func TestDeleteRoutes(t *testing.T) {
	srv, _ := server(t)
	base := srv.URL
	var file strings.Builder
	for i := range 6 {
		fmt.Fprintf(&file, `{"Id":"del-%d","ChannelType":"EMAIL","Address":"del%d@example.com","User":{"UserId":"del-user-%d"}}`+"\n", i, i, i%2)
	}
	upload(t, "uploads/del/a.json", file.String())
	if j := importVia(t, base, "s3://segport/uploads/del/", "del"); j.JobStatus != "COMPLETED" {
		t.Fatalf("import: %+v", j)
	}
	segId := job.SegmentId("del")
	count := func(want int) {
		t.Helper()
		var seg segment.Segment
		call(t, "GET", base+"/v1/segments/"+segId, "", &seg)
		var v segment.Version
		call(t, "GET", base+"/v1/segments/"+segId+"/versions/1", "", &v)
		if seg.EndpointCount != want || v.EndpointCount == nil || *v.EndpointCount != want {
			t.Fatalf("EndpointCount %d, version 1's %v; want %d", seg.EndpointCount, v.EndpointCount, want)
		}
		items, _ := pages(t, base+"/v1/segments/"+segId+"/endpoints", 10)
		if len(items) != want {
			t.Fatalf("%d members listed, want %d", len(items), want)
		}
	}
	count(6)

	var res client.DeleteResult
	if r := call(t, "DELETE", base+"/v1/endpoints/del-0", "", &res); r.StatusCode != 200 || res.Found != 1 || res.Stamp == "" {
		t.Fatalf("DELETE endpoint: %d %+v", r.StatusCode, res)
	}
	if r := call(t, "GET", base+"/v1/endpoints/del-0", "", nil); r.StatusCode != 404 {
		t.Fatalf("GET a deleted endpoint: %d", r.StatusCode)
	}
	count(5)
	if r := call(t, "DELETE", base+"/v1/endpoints/del-0", "", &res); r.StatusCode != 200 || res.Found != 0 {
		t.Fatalf("DELETE it again: %d %+v", r.StatusCode, res)
	}
	count(5)

	if r := call(t, "DELETE", base+"/v1/users/del-user-1", "", &res); r.StatusCode != 200 || res.Found != 1 {
		t.Fatalf("DELETE user: %d %+v", r.StatusCode, res)
	}
	if r := call(t, "GET", base+"/v1/users/del-user-1/endpoints", "", nil); r.StatusCode != 404 {
		t.Fatalf("GET the deleted user's endpoints: %d", r.StatusCode)
	}
	count(2) // del-2 and del-4 are left

	var e apiError
	if r := call(t, "DELETE", base+"/v1/segments/no-such-segment", "", &e); r.StatusCode != 404 || e.Code != "NotFoundException" {
		t.Fatalf("DELETE a segment that is not: %d %+v", r.StatusCode, e)
	}
	if r := call(t, "DELETE", base+"/v1/segments/del", "", nil); r.StatusCode != 200 {
		t.Fatalf("DELETE segment: %d", r.StatusCode)
	}
	if r := call(t, "GET", base+"/v1/segments/"+segId, "", nil); r.StatusCode != 404 {
		t.Fatalf("GET the deleted segment: %d", r.StatusCode)
	}
	if r := call(t, "GET", base+"/v1/endpoints/del-2", "", nil); r.StatusCode != 200 {
		t.Fatalf("an endpoint of the deleted segment: %d, want it kept", r.StatusCode)
	}
}
