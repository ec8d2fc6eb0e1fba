package pinpointexport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/segport/segport/internal/dump"
	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/internal/localrun"
	"github.com/segport/segport/internal/localrun/localruntest"
	"github.com/segport/segport/internal/pinpointexport"
	"github.com/segport/segport/internal/pinpointexport/exporttest"
	"github.com/segport/segport/pkg/job"
)

// The stack the migration tests share. Small pieces and batches make an
// uncompressed export split into several pieces, and every import land in many
// write batches.
var stack = localruntest.New(localrun.Options{
	VisibilityTimeout: 5 * time.Second, BatchBytes: 4 << 10, Parameters: map[string]string{"PieceSize": "2048"},
})

func TestMain(m *testing.M) {
	code := m.Run()
	stack.Close()
	os.Exit(code)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// upload puts local files under prefix, as `aws s3 cp --recursive` would.
func upload(t *testing.T, rt *localrun.Runtime, prefix string, paths []string, meta map[string]string) {
	t.Helper()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		err = rt.App.Objects.Put(testCtx(t), rt.App.Config.Bucket, prefix+filepath.Base(p), f, "application/octet-stream", meta)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

func waitJob(t *testing.T, rt *localrun.Runtime, id string) *job.Job {
	t.Helper()
	ctx := testCtx(t)
	for {
		j, err := rt.App.Store.Job(ctx, id)
		if err == nil && j.JobStatus.Final() {
			return j
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job %s did not end: last %+v, err %v", id, j, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// importExport runs a CreateImportJob request for the export under prefix and
// waits for its job.
func importExport(t *testing.T, rt *localrun.Runtime, prefix, segment string) *job.Job {
	t.Helper()
	j, err := rt.App.Trigger.CreateImportJob(testCtx(t), importer.Request{
		S3Url: "s3://" + rt.App.Config.Bucket + "/" + prefix, Format: "PINPOINT_EXPORT", SegmentName: segment,
	})
	if err != nil {
		t.Fatal(err)
	}
	return waitJob(t, rt, j.Id)
}

// members returns the canonical JSON of a segment's endpoints, with their users'
// attributes, sorted.
func members(t *testing.T, rt *localrun.Runtime, segment string) []string {
	t.Helper()
	ctx := testCtx(t)
	seg, err := rt.App.Store.SegmentByName(ctx, segment)
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
	var out []string
	for _, e := range eps {
		b, err := e.MarshalCanonical()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}

func sameLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	t.Errorf("%s: got %d lines, want %d", what, len(got), len(want))
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("line %d:\n got %s\nwant %s", i, g, w)
		}
	}
}

// TestMigrateExport imports a realistic gzip export with a CreateImportJob
// request: the segment holds exactly the exported endpoints, users hold the
// merge of their endpoints' attributes, and importing the export again, or an
// older export of the same endpoints, changes nothing.
func TestMigrateExport(t *testing.T) {
	rt := stack.Runtime(t)
	dir := t.TempDir()
	paths, err := exporttest.Write(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	prefix := "pinpoint-export/" + exporttest.ApplicationId + "/"
	upload(t, rt, prefix, paths, nil)

	n := len(exporttest.Responses())
	j := importExport(t, rt, prefix, "migrated")
	if j.JobStatus != job.Completed || j.TotalProcessed != n || j.TotalFailures != 0 ||
		j.TotalPieces != 3 || j.CompletedPieces != 3 || j.Definition.Format != "PINPOINT_EXPORT" {
		t.Fatalf("job %+v", j)
	}
	sameLines(t, "members", members(t, rt, "migrated"), exporttest.Expected())
	seg, err := rt.App.Store.SegmentByName(testCtx(t), "migrated")
	if err != nil {
		t.Fatal(err)
	}
	if seg.EndpointCount != n || seg.ImportDefinition.Size != n || seg.ImportDefinition.Format != "PINPOINT_EXPORT" {
		t.Errorf("segment %+v", seg)
	}
	users, err := rt.App.Store.AllUsers(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := exporttest.Users(); !reflect.DeepEqual(users, want) {
		t.Errorf("users %v\nwant %v", users, want)
	}
	if ana := users["user-ana"]; strings.Join(ana["FirstName"], ",") != "Ana" || strings.Join(ana["Plan"], ",") != "pro" {
		// The latest EffectiveDate wins per attribute, not the last line.
		t.Errorf("user-ana %v", ana)
	}

	before := dumpLines(t, rt)
	j2 := importExport(t, rt, prefix, "migrated")
	if j2.JobStatus != job.Completed || j2.TotalProcessed != n || j2.Id == j.Id {
		t.Fatalf("second job %+v", j2)
	}
	// An older export of one endpoint: every value it gives is older than what is stored.
	old := exporttest.Responses()[2] // ana-apns
	old.EffectiveDate, old.OptOut = "2022-12-31T00:00:00.000Z", "NONE"
	old.User.UserAttributes = map[string][]string{"FirstName": {"Annie"}, "Plan": {"legacy"}}
	oldPath := filepath.Join(t.TempDir(), "part-00000.gz")
	if err := exporttest.WriteFile(oldPath, []exporttest.Response{old}, true); err != nil {
		t.Fatal(err)
	}
	upload(t, rt, "pinpoint-export/older/", []string{oldPath}, nil)
	if j3 := importExport(t, rt, "pinpoint-export/older/", "migrated"); j3.JobStatus != job.Completed || j3.TotalProcessed != 1 {
		t.Fatalf("older export's job %+v", j3)
	}
	after := dumpLines(t, rt)
	sameLines(t, "dump after importing again", withoutSegments(after), withoutSegments(before))
	seg2, err := rt.App.Store.SegmentByName(testCtx(t), "migrated")
	if err != nil {
		t.Fatal(err)
	}
	if seg2.EndpointCount != n || seg2.Version != 3 || seg2.ImportDefinition.Size != 2*n+1 {
		t.Errorf("segment after three imports %+v", seg2)
	}
}

// dumpLines is the canonical dump without its job and report lines, which
// record every import.
func dumpLines(t *testing.T, rt *localrun.Runtime) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := dump.Write(testCtx(t), &buf, rt.App.Store, rt.App.Objects, dump.Options{}); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if !strings.HasPrefix(l, "job ") && !strings.HasPrefix(l, "report ") {
			out = append(out, l)
		}
	}
	return out
}

// withoutSegments drops from segment lines what every import adds to by design
// (Version, ImportDefinition's Size and ChannelCounts, and the latest S3Url):
// the members, endpoint count, endpoints and users must not move.
func withoutSegments(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l
		if rest, ok := strings.CutPrefix(l, "segment "); ok {
			var s map[string]any
			if json.Unmarshal([]byte(rest), &s) == nil {
				delete(s, "Version")
				delete(s, "ImportDefinition")
				b, _ := json.Marshal(s)
				out[i] = "segment " + string(b)
			}
		}
	}
	return out
}

// TestMigrateDroppedObjects imports export objects dropped under imports/: with
// the segport-format metadata an object is read as an export; without it, a
// gzip object is refused as any compressed import file is. An uncompressed
// export object is split into pieces at newlines like any NDJSON file.
func TestMigrateDroppedObjects(t *testing.T) {
	rt := stack.Runtime(t)
	dir := t.TempDir()
	gz := filepath.Join(dir, "part-00000.gz")
	plain := filepath.Join(dir, "part-00001")
	rs := exporttest.Responses()
	if err := exporttest.WriteFile(gz, rs[:4], true); err != nil {
		t.Fatal(err)
	}
	if err := exporttest.WriteFile(plain, rs, false); err != nil {
		t.Fatal(err)
	}
	drop := func(path, segment string, meta map[string]string) *job.Job {
		id := job.NewId(t.Name(), path, segment)
		meta = map[string]string{importer.MetaJobId: id, importer.MetaFormat: meta[importer.MetaFormat]}
		upload(t, rt, importer.ImportsPrefix+segment+"/", []string{path}, meta)
		return waitJob(t, rt, id)
	}
	export := map[string]string{importer.MetaFormat: string(pinpointexport.Format)}

	if j := drop(gz, "dropped-gz", export); j.JobStatus != job.Completed || j.TotalProcessed != 4 || j.TotalPieces != 1 {
		t.Errorf("gzip export object: job %+v", j)
	}
	if j := drop(gz, "dropped-plain-import", nil); j.JobStatus != job.Failed || !strings.Contains(strings.Join(j.Failures, " "), "gzip-compressed") {
		t.Errorf("gzip object as a plain import: job %+v", j)
	}
	j := drop(plain, "dropped-split", export)
	if j.JobStatus != job.Completed || j.TotalProcessed != len(rs) || j.TotalPieces < 3 {
		t.Fatalf("uncompressed export object: job %+v", j)
	}
	sameLines(t, "members of the split export", members(t, rt, "dropped-split"), exporttest.Expected())
}

// TestParseFormat: the import formats, as a request, the object metadata and the
// HTTP API name them.
func TestParseFormat(t *testing.T) {
	for in, want := range map[string]string{"PINPOINT_EXPORT": "PINPOINT_EXPORT", "pinpoint_export": "PINPOINT_EXPORT", "csv": "CSV", "ndjson": "JSON"} {
		if got, err := importer.ParseFormat(in); err != nil || string(got) != want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := importer.ParseFormat("xml"); err == nil || !strings.Contains(err.Error(), "want csv, json or PINPOINT_EXPORT") {
		t.Errorf("ParseFormat(xml): %v", err)
	}
}
