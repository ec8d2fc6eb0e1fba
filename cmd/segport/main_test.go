package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runCLI runs the CLI in process and returns stdout, stderr and the exit code.
// Its deadline leaves room for a first stack start, which on a fresh machine
// waits for the emulators' npm install.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	err := run(ctx, args, &out, &errOut)
	code := 0
	if err != nil {
		code = exitCode(err)
		var ee *exitError
		if !errors.As(err, &ee) || ee.err != errSilent {
			errOut.WriteString(err.Error())
		}
	}
	return out.String(), errOut.String(), code
}

func TestValidate(t *testing.T) {
	good := writeFile(t, "good.csv", "ChannelType,Address\nEMAIL,a@example.com\n")
	bad := writeFile(t, "bad.csv", "ChannelType,Address,Location.Country\nEMAIL,a@example.com,UK\nFAX,1,USA\nSMS,2065550182,USA\n")
	broken := writeFile(t, "broken.csv", "Demographic.make\nx\n")
	noext := writeFile(t, "people", `{"ChannelType":"SMS","Address":"2065550182"}`+"\n")
	tests := []struct {
		name     string
		args     []string
		wantOut  []string
		wantCode int
	}{
		{"valid", []string{"validate", good}, []string{good + ": 1 rows, 1 valid, 0 invalid"}, 0},
		{"bad rows", []string{"validate", bad}, []string{
			bad + `:2: Location.Country: not an ISO 3166-1 country code (alpha-2 such as US, or alpha-3 such as USA); did you mean GB?`,
			bad + `:3: ChannelType: not one of`,
			bad + ": 3 rows, 1 valid, 2 invalid"}, 1},
		{"file error", []string{"validate", good, broken}, []string{broken + ":1: header column 1: unknown attribute, did you mean Demographic.Make?"}, 2},
		{"sniffed json", []string{"validate", noext}, []string{noext + ": 1 rows, 1 valid, 0 invalid"}, 0},
		{"forced format", []string{"validate", "--format", "csv", noext}, []string{noext + ":1: header column 2: a double quote in an unquoted field"}, 2},
		{"json output", []string{"validate", "--json", bad}, []string{`{"File":"` + bad + `","Format":"CSV","Rows":3,"Valid":1,"Invalid":2,"Failures":[{"Line":2,"Field":"Location.Country","Message":"not an ISO 3166-1 country code (alpha-2 such as US, or alpha-3 such as USA); did you mean GB?"}`}, 1},
		{"no file", []string{"validate"}, nil, 2},
		{"bad flag", []string{"validate", "--nope", good}, nil, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d\nstdout %s\nstderr %s", code, tc.wantCode, out, errOut)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestParse(t *testing.T) {
	f := writeFile(t, "p.csv", "Id,ChannelType,Address,Location.Latitude\nx1,EMAIL,A@Example.com,47.61\nx2,EMAIL,broken,\n")
	out, errOut, code := runCLI(t, "parse", f)
	if code != 1 || out != `{"Id":"x1","ChannelType":"EMAIL","Address":"a@example.com","Location":{"Latitude":47.6}}`+"\n" ||
		!strings.Contains(errOut, f+":3: Address: not a valid email address") {
		t.Errorf("code %d\nstdout %s\nstderr %s", code, out, errOut)
	}
}

func TestImportAndQueryLocally(t *testing.T) {
	data := t.TempDir()
	out, errOut, code := runCLI(t, "import", "--data", data, "--json", "--segment", "cli seg", "../../examples/spec-example.csv")
	if code != 0 {
		t.Fatalf("import: code %d\n%s\n%s", code, out, errOut)
	}
	var j struct {
		Id             string
		JobStatus      string
		TotalProcessed int
		Definition     struct{ SegmentName string }
		Stats          struct {
			Requests           map[string]int
			DynamoDBWriteUnits float64
			LambdaInvocations  int
			EstimatedCostUSD   float64
		}
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil || j.JobStatus != "COMPLETED" || j.TotalProcessed != 5 || j.Definition.SegmentName != "cli seg" {
		t.Fatalf("import printed %s (%v)", out, err)
	}
	// Five new endpoints: five endpoint puts, each with its member, and the job's bookkeeping.
	if st := j.Stats; st.Requests["DynamoDB.PutItem"] < 5 || st.DynamoDBWriteUnits < 10 || st.LambdaInvocations < 3 || st.EstimatedCostUSD <= 0 {
		t.Errorf("import stats %+v", st)
	}
	out, _, code = runCLI(t, "jobs", "get", "--data", data, j.Id)
	if code != 0 || !strings.Contains(out, "  requests:  DynamoDB.BatchGetItem ") || !strings.Contains(out, "  cost:      $0.0000") {
		t.Errorf("jobs get: code %d\n%s", code, out)
	}
	out, _, code = runCLI(t, "segments", "members", "--data", data, "cli seg")
	if code != 0 || strings.Count(out, "\n") != 5 || !strings.Contains(out, `"Address":"john.stiles@example.com"`) {
		t.Fatalf("members: code %d\n%s", code, out)
	}
	out, _, code = runCLI(t, "segments", "get", "--json", "--data", data, "cli seg")
	if code != 0 || !strings.Contains(out, `"EndpointCount":5`) {
		t.Fatalf("segments get: code %d\n%s", code, out)
	}
	bad := writeFile(t, "bad.csv.gz", "\x1f\x8b\x08\x00")
	out, _, code = runCLI(t, "import", "--data", data, "--segment", "cli seg", "--format", "csv", bad)
	if code != 1 || !strings.Contains(out, "FAILED") || !strings.Contains(out, "gzip-compressed") {
		t.Fatalf("failed import: code %d\n%s", code, out)
	}
	out, _, code = runCLI(t, "jobs", "list", "--data", data)
	if code != 0 || strings.Count(out, "\n") != 2 {
		t.Fatalf("jobs list: code %d\n%s", code, out)
	}
	// The job that failed before it started made no version.
	out, _, code = runCLI(t, "segments", "versions", "--data", data, "cli seg")
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(out, "version 1 (current) append: COMPLETED, job "+j.Id) || !strings.Contains(out, "5 endpoints") {
		t.Fatalf("segments versions: code %d\n%s", code, out)
	}
	out, _, code = runCLI(t, "segments", "get", "--json", "--data", data, "cli seg", "--version", "1")
	if code != 0 || !strings.Contains(out, `"Version":1,"JobId":"`+j.Id+`"`) || !strings.Contains(out, `"EndpointCount":5`) || !strings.Contains(out, `"Current":true`) {
		t.Fatalf("segments get --version 1: code %d\n%s", code, out)
	}
	out, _, code = runCLI(t, "segments", "members", "--data", data, "--version", "1", "cli seg")
	if code != 0 || strings.Count(out, "\n") != 5 {
		t.Fatalf("members --version 1: code %d\n%s", code, out)
	}
	if _, errOut, code := runCLI(t, "segments", "members", "--data", data, "--version", "9", "cli seg"); code != 2 || !strings.Contains(errOut, "version 9") {
		t.Fatalf("members --version 9: code %d\n%s", code, errOut)
	}
}

func TestPlan(t *testing.T) {
	out, _, code := runCLI(t, "plan", "--piece-size", "100", "../../examples/spec-example.csv")
	want := "../../examples/spec-example.csv: CSV, 307 bytes, 3 pieces of about 100 bytes\n" +
		" piece          start            end       line      ~rows\n" +
		"     0              0            105          1          1\n" +
		"     1            105            201          3          2\n" +
		"     2            201            307          5          2\n"
	if code != 0 || out != want {
		t.Errorf("code %d, output\n%s\nwant\n%s", code, out, want)
	}
	if _, _, code := runCLI(t, "plan", "--piece-size", "0", "../../examples/spec-example.csv"); code != 2 {
		t.Errorf("a zero piece size gave exit code %d, want 2", code)
	}
}

// TestParseGuideFiles: the CSV and JSON endpoint files of Pinpoint's current guide
// give the same endpoints, countries in the form asked for.
func TestParseGuideFiles(t *testing.T) {
	dir := "../../internal/localrun/testdata/guide/"
	for _, form := range []struct{ flag, us string }{{"alpha-3", `"Country":"USA"`}, {"alpha-2", `"Country":"US"`}} {
		csvOut, errOut, code := runCLI(t, "parse", "--country-codes", form.flag, dir+"endpoints.csv")
		if code != 0 || errOut != "" {
			t.Fatalf("parse csv: %d %s", code, errOut)
		}
		jsonOut, errOut, code := runCLI(t, "parse", "--country-codes", form.flag, dir+"endpoints.json")
		if code != 0 || errOut != "" {
			t.Fatalf("parse json: %d %s", code, errOut)
		}
		if csvOut != jsonOut || strings.Count(csvOut, "\n") != 5 || strings.Count(csvOut, form.us) != 2 {
			t.Fatalf("%s: csv\n%s\njson\n%s", form.flag, csvOut, jsonOut)
		}
	}
	if _, errOut, code := runCLI(t, "parse", "--country-codes", "numeric", dir+"endpoints.csv"); code != 2 || !strings.Contains(errOut, "--country-codes") {
		t.Fatalf("bad form: %d %s", code, errOut)
	}
}

// TestImportWithoutSegment: --define-segment=false upserts the endpoints of a
// file and of an s3:// prefix and touches no segment.
func TestImportWithoutSegment(t *testing.T) {
	data := t.TempDir()
	first := writeFile(t, "first.csv", "Id,ChannelType,Address,Attributes.Plan\nu-1,EMAIL,u1@example.com,free\n")
	if out, errOut, code := runCLI(t, "import", "--data", data, "--segment", "kept", first); code != 0 {
		t.Fatalf("import: %d\n%s\n%s", code, out, errOut)
	}
	segBefore, _, _ := runCLI(t, "segments", "get", "--json", "--data", data, "kept")
	update := writeFile(t, "update.csv", "Id,ChannelType,Address,Attributes.Plan\nu-1,EMAIL,u1@example.com,gold\nu-2,EMAIL,u2@example.com,gold\n")
	out, errOut, code := runCLI(t, "import", "--data", data, "--json", "--define-segment=false", update)
	var j struct {
		JobStatus      string
		TotalProcessed int
		Definition     struct {
			S3Url, SegmentId string
			DefineSegment    *bool
		}
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil || code != 0 || j.JobStatus != "COMPLETED" || j.TotalProcessed != 2 ||
		j.Definition.SegmentId != "" || j.Definition.DefineSegment == nil || *j.Definition.DefineSegment ||
		!strings.HasPrefix(j.Definition.S3Url, "s3://segport/endpoint-updates/") {
		t.Fatalf("import --define-segment=false: %d %v\n%s\n%s", code, err, out, errOut)
	}
	out, _, _ = runCLI(t, "endpoints", "get", "--data", data, "u-1")
	if !strings.Contains(out, `"Attributes":{"Plan":["gold"]}`) {
		t.Errorf("u-1 not updated: %s", out)
	}
	if segAfter, _, _ := runCLI(t, "segments", "get", "--json", "--data", data, "kept"); segAfter != segBefore {
		t.Errorf("segment changed:\n%s\n%s", segBefore, segAfter)
	}
	out, _, _ = runCLI(t, "segments", "list", "--data", data)
	if strings.Count(out, "\n") != 1 { // "kept" alone
		t.Errorf("segments list:\n%s", out)
	}
	// An s3:// prefix: the copy the first import left.
	out, errOut, code = runCLI(t, "import", "--data", data, "--define-segment=false", "s3://segport/endpoint-updates/")
	if code != 0 || !strings.Contains(out, "COMPLETED") {
		t.Fatalf("import s3:// --define-segment=false: %d\n%s\n%s", code, out, errOut)
	}
}

// TestUserIdSegment: the guide's files through the CLI: a segment of users
// shows its users and the endpoints it reaches.
func TestUserIdSegment(t *testing.T) {
	data := t.TempDir()
	dir := "../../internal/localrun/testdata/guide/"
	if out, errOut, code := runCLI(t, "import", "--data", data, "--segment", "guide endpoints", dir+"endpoints.csv"); code != 0 {
		t.Fatalf("import endpoints: %d\n%s\n%s", code, out, errOut)
	}
	if out, errOut, code := runCLI(t, "import", "--data", data, "--segment", "guide users", dir+"user-ids.csv"); code != 0 || !strings.Contains(out, "3 imported, 0 failed") {
		t.Fatalf("import user ids: %d\n%s\n%s", code, out, errOut)
	}
	out, _, code := runCLI(t, "segments", "members", "--data", data, "guide users")
	if code != 0 || strings.Count(out, "\n") != 5 || strings.Count(out, `"UserId":"example-user-id-`) != 5 {
		t.Fatalf("members: %d\n%s", code, out)
	}
	out, _, code = runCLI(t, "segments", "users", "--data", data, "guide users")
	if code != 0 || out != "example-user-id-1\nexample-user-id-2\nexample-user-id-3\n" {
		t.Fatalf("users: %d\n%s", code, out)
	}
	out, _, code = runCLI(t, "segments", "get", "--data", data, "guide users")
	if code != 0 || !strings.Contains(out, "5 endpoints (3 users); imported 3 definitions [UNSPECIFIED=3]") {
		t.Fatalf("get: %d\n%s", code, out)
	}
	// A second version names a user of the first and a new one without
	// endpoints: version 1 keeps its users.
	more := filepath.Join(t.TempDir(), "more.csv")
	os.WriteFile(more, []byte("User.UserId\nexample-user-id-1 example-user-id-9\n"), 0o644)
	if out, errOut, code := runCLI(t, "import", "--data", data, "--segment", "guide users", more); code != 0 {
		t.Fatalf("import more user ids: %d\n%s\n%s", code, out, errOut)
	}
	out, _, code = runCLI(t, "segments", "users", "--data", data, "--version", "1", "guide users")
	if code != 0 || out != "example-user-id-1\nexample-user-id-2\nexample-user-id-3\n" {
		t.Fatalf("users --version 1: %d\n%s", code, out)
	}
	out, _, code = runCLI(t, "segments", "users", "--data", data, "guide users")
	if code != 0 || out != "example-user-id-1\nexample-user-id-2\nexample-user-id-3\nexample-user-id-9\n" {
		t.Fatalf("users of version 2: %d\n%s", code, out)
	}
	out, _, code = runCLI(t, "segments", "get", "--data", data, "--version", "1", "guide users")
	if code != 0 || !strings.Contains(out, "5 endpoints (3 users)") {
		t.Fatalf("get --version 1: %d\n%s", code, out)
	}
}

// TestImportFolderWithFormat: --format skips a folder's files of the other
// format, as a request's Format does, and says so.
func TestImportFolderWithFormat(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.csv"), []byte("ChannelType,Address\nEMAIL,a@example.com\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.json"), []byte(`{"ChannelType":"EMAIL","Address":"b@example.com"}`+"\n"), 0o644)
	out, errOut, code := runCLI(t, "import", "--data", t.TempDir(), "--format", "csv", "--segment", "fmt", dir)
	if code != 0 || strings.Count(out, "COMPLETED") != 1 || !strings.Contains(errOut, "skipped "+filepath.Join(dir, "b.json")+": JSON, not CSV") {
		t.Fatalf("code %d\n%s\n%s", code, out, errOut)
	}
}
