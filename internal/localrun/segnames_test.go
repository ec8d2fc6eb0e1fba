package localrun

import (
	"errors"
	"strings"
	"testing"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// A dropped file whose folder is no valid segment name fails its job with the
// naming rule's message and makes no segment; a CreateImportJob request with a
// bad name or id is refused before any job exists; one whose SegmentId names no
// segment fails its job and makes none.
func TestSegmentNamesAtTheTrigger(t *testing.T) {
	rt := sharedRuntime(t)
	ctx := testCtx(t)
	for _, folder := range []string{segment.IdOf("spring customers"), "a\u0085b"} {
		key := "imports/" + folder + "/f.csv"
		j := importFile(t, rt, key, "ChannelType,Address\nEMAIL,n@example.com\n")
		want := "s3://segport/" + key + ": " + segment.CheckName(folder).Error()
		if j.JobStatus != job.Failed || len(j.Failures) != 1 || j.Failures[0] != want || j.Definition.SegmentId != "" {
			t.Errorf("job of %q: %+v, want FAILED with %q", key, j, want)
		}
		if _, err := rt.App.Store.Segment(ctx, segment.IdOf(folder)); !errors.Is(err, job.ErrNotFound) {
			t.Errorf("segment of %q: %v, want none", folder, err)
		}
	}

	put(t, rt, "named/f.csv", "ChannelType,Address\nEMAIL,n@example.com\n", "")
	for _, req := range []importer.Request{
		{S3Url: "s3://segport/named/", SegmentName: "../reports"},
		{S3Url: "s3://segport/named/", SegmentId: "ids"},
		{S3Url: "s3://segport/named/", SegmentId: segment.IdOf("a"), SegmentName: "b"},
	} {
		_, err := rt.App.Trigger.CreateImportJob(ctx, req)
		if want := importer.CheckSegment(req.SegmentName, req.SegmentId); err == nil || err.Error() != want.Error() {
			t.Errorf("CreateImportJob(%+v) = %v, want %v", req, err, want)
		}
	}
	j, err := rt.App.Trigger.CreateImportJob(ctx, importer.Request{S3Url: "s3://segport/named/", SegmentId: segment.IdOf("no such segment")})
	if err != nil {
		t.Fatal(err)
	}
	j = waitJob(t, rt, j.Id)
	if j.JobStatus != job.Failed || len(j.Failures) != 1 || !strings.Contains(j.Failures[0], "no segment has this id: give SegmentName") {
		t.Errorf("job with the id of no segment: %+v", j)
	}
	if _, err := rt.App.Store.Segment(ctx, segment.IdOf("no such segment")); !errors.Is(err, job.ErrNotFound) {
		t.Errorf("segment made for a bare SegmentId: %v", err)
	}
}
