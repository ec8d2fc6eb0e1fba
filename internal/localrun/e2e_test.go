package localrun

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/segport/segport/internal/decode"
	"github.com/segport/segport/pkg/job"
)

// specEndpoints decodes a file locally, for comparison with what was imported.
func specEndpoints(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fm, _ := decode.FormatOf(path)
	dec := decode.New(fm, f, decode.Options{File: path})
	var out []string
	for {
		row, err := dec.Decode()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := row.Endpoint.MarshalCanonical()
		out = append(out, string(b))
	}
	return out
}

func TestSpecExamplesImport(t *testing.T) {
	rt := sharedRuntime(t)
	csvBody, _ := os.ReadFile("../../examples/spec-example.csv")
	jsonBody, _ := os.ReadFile("../../examples/spec-example.json")
	for _, f := range []struct{ key, body string }{
		{"imports/spec/spec-example.csv", string(csvBody)},
		{"imports/spec/spec-example.json", string(jsonBody)},
	} {
		j := importFile(t, rt, f.key, f.body)
		if j.JobStatus != job.Completed || j.TotalProcessed != 5 || j.TotalFailures != 0 || j.TotalPieces != 1 || j.CompletedPieces != 1 {
			t.Fatalf("%s: job %+v", f.key, j)
		}
	}
	got := members(t, rt, "spec")
	want := specEndpoints(t, "../../examples/spec-example.csv")
	if len(got) != 5 {
		t.Fatalf("segment has %d members, want 5: %v", len(got), got)
	}
	wantSet := map[string]bool{}
	for _, w := range want {
		wantSet[w] = true
	}
	for _, g := range got {
		if !wantSet[g] {
			t.Errorf("member %s is not one of the file's endpoints", g)
		}
	}
	seg, err := rt.App.Store.SegmentByName(testCtx(t), "spec")
	if err != nil {
		t.Fatal(err)
	}
	d := seg.ImportDefinition
	if seg.EndpointCount != 5 || seg.Version != 2 || d.Size != 10 || d.Format != "JSON" ||
		d.ChannelCounts["EMAIL"] != 4 || d.ChannelCounts["SMS"] != 2 || d.ChannelCounts["APNS"] != 2 || d.ChannelCounts["GCM"] != 2 ||
		d.S3Url != "s3://segport/imports/spec/spec-example.json" {
		t.Errorf("segment %+v", seg)
	}
}

func TestBadRowsAreCountedAndReported(t *testing.T) {
	rt := sharedRuntime(t)
	var b strings.Builder
	b.WriteString("ChannelType,Address,Location.Country\n")
	var badLines []int
	line := 2
	for i := 0; i < 300; i++ {
		if i%2 == 0 {
			fmt.Fprintf(&b, "EMAIL,user%d@example.com,USA\n", i)
		} else {
			fmt.Fprintf(&b, "EMAIL,user%d@example.com,UK\n", i) // not an ISO code: a row error
			badLines = append(badLines, line)
		}
		line++
	}
	b.WriteString("SMS,\"206\n555 0182\",USA\n") // a multi-line record with an invalid phone number
	badLines = append(badLines, line)
	j := importFile(t, rt, "imports/bad-rows/people.csv", b.String())
	if j.JobStatus != job.Completed || j.TotalProcessed != 150 || j.TotalFailures != 151 {
		t.Fatalf("job %s: %d processed, %d failures, want COMPLETED, 150, 151", j.JobStatus, j.TotalProcessed, j.TotalFailures)
	}
	if len(j.Failures) != job.MaxFailures {
		t.Fatalf("%d Failures, want %d", len(j.Failures), job.MaxFailures)
	}
	for i, f := range j.Failures {
		want := fmt.Sprintf("imports/bad-rows/people.csv:%d: Location.Country: not an ISO 3166-1 country code (alpha-2 such as US, or alpha-3 such as USA); did you mean GB?", badLines[i])
		if !strings.HasPrefix(f, want) {
			t.Fatalf("Failures[%d] = %q, want prefix %q", i, f, want)
		}
	}
	body, err := rt.App.Objects.Get(testCtx(t), rt.Stack.Bucket, "reports/"+j.Id+".csv")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 152 || strings.Join(recs[0], ",") != "File,Line,Field,Message,Row" {
		t.Fatalf("report has %d records, header %v", len(recs), recs[0])
	}
	last := recs[151]
	if last[1] != fmt.Sprint(badLines[150]) || last[2] != "Address" || last[4] != "SMS,\"206\n555 0182\",USA" {
		t.Errorf("last report record %q", last)
	}
	if j.ErrorReport != "s3://segport/reports/"+j.Id+".csv" {
		t.Errorf("ErrorReport %q", j.ErrorReport)
	}
	if n := len(members(t, rt, "bad-rows")); n != 150 {
		t.Errorf("segment has %d members, want 150", n)
	}
}

func TestReimportCreatesNoDuplicates(t *testing.T) {
	rt := sharedRuntime(t)
	body := "ChannelType,Address,Demographic.Make\nEMAIL,a@example.com,Apple\nSMS,+1 206 555 0100,LG\n"
	importFile(t, rt, "imports/again/x.csv", body)
	first := members(t, rt, "again")
	j := importFile(t, rt, "imports/again/x.csv", body)
	if j.JobStatus != job.Completed || j.TotalProcessed != 2 {
		t.Fatalf("second import: %+v", j)
	}
	second := members(t, rt, "again")
	if strings.Join(first, "\n") != strings.Join(second, "\n") || len(second) != 2 {
		t.Errorf("re-import changed the segment:\n%v\n%v", first, second)
	}
	seg, _ := rt.App.Store.SegmentByName(testCtx(t), "again")
	if seg.EndpointCount != 2 || seg.ImportDefinition.Size != 4 || seg.Version != 2 {
		t.Errorf("segment %+v", seg)
	}
}

const richCSV = `Id,ChannelType,Address,EndpointStatus,OptOut,EffectiveDate,Location.Country,Location.City,Location.Latitude,Location.Longitude,Demographic.Timezone,Demographic.Locale,Attributes.Interests,Attributes.Interests,Metrics.Sessions,User.UserId,User.UserAttributes.FirstName
,EMAIL,Ana@Example.com,ACTIVE,NONE,20171011T150548Z,PRT,"Lisbon, Old Town",38.72,-9.14,Europe/Lisbon,pt_PT,cycling,"books, ""rare""",12,u-1,Ana
ep-2,SMS,+351 912 345 678,INACTIVE,ALL,2018-01-02T03:04:05+01:00,PRT,Porto,41.15,-8.61,Europe/Lisbon,pt_PT,running,,3.5,u-1,Ana
ep-3,APNS,token-3,,,,,,,,,,,,,u-2,
`

const richJSON = `{"ChannelType":"EMAIL","Address":"Ana@Example.com","EndpointStatus":"ACTIVE","OptOut":"NONE","EffectiveDate":"20171011T150548Z","Location":{"Country":"PRT","City":"Lisbon, Old Town","Latitude":38.72,"Longitude":-9.14},"Demographic":{"Timezone":"Europe/Lisbon","Locale":"pt_PT"},"Attributes":{"Interests":["cycling","books, \"rare\""]},"Metrics":{"Sessions":12},"User":{"UserId":"u-1","UserAttributes":{"FirstName":["Ana"]}}}
{"Id":"ep-2","ChannelType":"SMS","Address":"+351 912 345 678","EndpointStatus":"INACTIVE","OptOut":"ALL","EffectiveDate":"2018-01-02T03:04:05+01:00","Location":{"Country":"PRT","City":"Porto","Latitude":41.15,"Longitude":-8.61},"Demographic":{"Timezone":"Europe/Lisbon","Locale":"pt_PT"},"Attributes":{"Interests":["running"]},"Metrics":{"Sessions":3.5},"User":{"UserId":"u-1","UserAttributes":{"FirstName":["Ana"]}}}
{"Id":"ep-3","ChannelType":"APNS","Address":"token-3","User":{"UserId":"u-2"}}
`

func TestCSVAndJSONImportAlike(t *testing.T) {
	rt := sharedRuntime(t)
	for _, f := range []struct{ key, body string }{
		{"imports/rich-csv/rich.csv", richCSV},
		{"imports/rich-json/rich.ndjson", richJSON},
	} {
		if j := importFile(t, rt, f.key, f.body); j.JobStatus != job.Completed || j.TotalProcessed != 3 {
			t.Fatalf("%s: %+v", f.key, j)
		}
	}
	c, js := members(t, rt, "rich-csv"), members(t, rt, "rich-json")
	if len(c) != 3 || strings.Join(c, "\n") != strings.Join(js, "\n") {
		t.Fatalf("CSV and JSON imports differ:\n%s\n--\n%s", strings.Join(c, "\n"), strings.Join(js, "\n"))
	}
	if !strings.Contains(strings.Join(c, "\n"), `"Address":"ana@example.com"`) {
		t.Errorf("email address not normalised: %v", c)
	}
}

func TestKeyWithSpacesAndNonASCII(t *testing.T) {
	rt := sharedRuntime(t)
	j := importFile(t, rt, "imports/Sommer Kunden ü/neue Datei ä+b.csv", "ChannelType,Address\nEMAIL,x@example.com\n")
	if j.JobStatus != job.Completed || j.Definition.SegmentName != "Sommer Kunden ü" ||
		j.Definition.S3Url != "s3://segport/imports/Sommer Kunden ü/neue Datei ä+b.csv" {
		t.Fatalf("job %+v", j)
	}
	if n := len(members(t, rt, "Sommer Kunden ü")); n != 1 {
		t.Errorf("%d members, want 1", n)
	}
}

func TestTwoFilesIntoOneSegment(t *testing.T) {
	rt := sharedRuntime(t)
	importFile(t, rt, "imports/two/a.csv", "ChannelType,Address\nEMAIL,a@example.com\nEMAIL,shared@example.com\n")
	importFile(t, rt, "imports/two/deeper/folder/b.json", `{"ChannelType":"EMAIL","Address":"shared@example.com"}`+"\n"+`{"ChannelType":"EMAIL","Address":"b@example.com"}`+"\n")
	seg, err := rt.App.Store.SegmentByName(testCtx(t), "two")
	if err != nil {
		t.Fatal(err)
	}
	if seg.EndpointCount != 3 || seg.ImportDefinition.Size != 4 || seg.Version != 2 {
		t.Errorf("segment %+v", seg)
	}
}

func TestMergeAndSharedUserAttributes(t *testing.T) {
	rt := sharedRuntime(t)
	importFile(t, rt, "imports/merge/1.csv",
		"Id,ChannelType,Address,Demographic.Make,Demographic.Model,User.UserId,User.UserAttributes.Plan\n"+
			"m-1,EMAIL,m1@example.com,Apple,iPhone,mu,gold\n"+
			"m-2,EMAIL,m2@example.com,LG,G6,mu,gold\n")
	importFile(t, rt, "imports/merge/2.csv",
		"Id,Demographic.Model,User.UserId,User.UserAttributes.Plan\n"+
			"m-1,iPhone 15,mu,platinum\n")
	got := members(t, rt, "merge")
	want := []string{
		`{"Id":"m-1","ChannelType":"EMAIL","Address":"m1@example.com","Demographic":{"Make":"Apple","Model":"iPhone 15"},"User":{"UserId":"mu","UserAttributes":{"Plan":["platinum"]}}}`,
		`{"Id":"m-2","ChannelType":"EMAIL","Address":"m2@example.com","Demographic":{"Make":"LG","Model":"G6"},"User":{"UserId":"mu","UserAttributes":{"Plan":["platinum"]}}}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestUnreadableFileFailsTheJob(t *testing.T) {
	rt := sharedRuntime(t)
	j := importFile(t, rt, "imports/broken/data.csv", "\x1f\x8b\x08\x00compressed")
	if j.JobStatus != job.Failed || j.Definition.Format != "CSV" || len(j.Failures) != 1 || !strings.Contains(j.Failures[0], "gzip-compressed") {
		t.Fatalf("job %+v", j)
	}
	j = importFile(t, rt, "imports/broken/header.csv", "ChannelType,Adress\nEMAIL,a@example.com\n")
	if j.JobStatus != job.Failed || !strings.Contains(strings.Join(j.Failures, ""), "did you mean Address?") {
		t.Fatalf("job %+v", j)
	}
}

func TestCustomAttributeLimitMidFile(t *testing.T) {
	rt := openRuntime(t, Options{Parameters: map[string]string{"MaxCustomAttributeNames": "3"}})
	body := "ChannelType,Address,Attributes.a,Attributes.b,Metrics.c,Attributes.d\n" +
		"EMAIL,1@example.com,x,y,,\n" + // registers a, b
		"EMAIL,2@example.com,,,1,\n" + // registers c: 3 names
		"EMAIL,3@example.com,x,,,z\n" + // d would be a 4th: fails
		"EMAIL,4@example.com,,y,2,\n" // known names: fine
	j := importFile(t, rt, "imports/limit/f.csv", body)
	if j.JobStatus != job.Completed || j.TotalProcessed != 3 || j.TotalFailures != 1 ||
		!strings.HasPrefix(j.Failures[0], "imports/limit/f.csv:4: Attributes.d: the deployment already has 3 custom attribute names") {
		t.Fatalf("job %+v", j)
	}
	names, err := rt.App.Store.RegisteredNames(context.Background())
	if err != nil || strings.Join(names, ",") != "Attributes.a,Attributes.b,Metrics.c" {
		t.Errorf("registry %v %v", names, err)
	}
}
