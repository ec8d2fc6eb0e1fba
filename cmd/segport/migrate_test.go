package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/segport/segport/internal/pinpointexport/exporttest"
)

// exportDir writes the realistic export of exporttest, gzip parts, plus an
// uncompressed part with rows that fail.
func exportDir(t *testing.T, bad bool) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := exporttest.Write(dir, 3); err != nil {
		t.Fatal(err)
	}
	if bad {
		writeFileIn(t, dir, "part-99999",
			`{"Id":"bad-country","ChannelType":"EMAIL","Address":"x@example.com","Location":{"Country":"XX"},"ApplicationId":"a"}`+"\n"+
				`{"ChannelType":"PIGEON","Address":"tok","ApplicationId":"a"}`+"\n"+
				`{"Id":"broken"`+"\n")
	}
	return dir
}

func writeFileIn(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestMigrateCheck(t *testing.T) {
	n := len(exporttest.Responses())
	out, errOut, code := runCLI(t, "migrate-check", exportDir(t, false))
	for _, want := range []string{
		"Pinpoint export: 3 files (3 gzip-compressed), 14 rows\n",
		"endpoints:  14 would import (14 distinct Ids), 2 without an address\n",
		"users:      8\n",
		"channels:   ADM 1, APNS 1, APNS_SANDBOX 1, BAIDU 1, CUSTOM 1, EMAIL 4, GCM 1, IN_APP 1, SMS 2, VOICE 1\n",
		"status:     ACTIVE 12, INACTIVE 2\n",
		"opt-out:    ALL 3, NONE 11\n",
		"custom attribute names: 9 Attributes.interests Attributes.newsletter Attributes.tier Metrics.balance Metrics.cart_value Metrics.sessions User.UserAttributes.FirstName User.UserAttributes.LastName User.UserAttributes.Plan\n",
		"converted:\n  Location.Country: BR -> BRA: 1 row\n",
		"  Location.Country: US -> USA: 3 rows\n",
		"kept (export-only):\n  CreationDate: 14 rows\n",
		"ignored (export-only fields):\n  ApplicationId: 14 rows\n  CohortId: 14 rows\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if code != 0 || strings.Contains(out, "failed") || t.Failed() {
		t.Fatalf("code %d\n%s\n%s", code, out, errOut)
	}
	if n != 14 {
		t.Fatalf("the fixture has %d endpoints; update the expected output", n)
	}

	dir := exportDir(t, true)
	out, _, code = runCLI(t, "migrate-check", dir)
	bad := filepath.Join(dir, "part-99999")
	for _, want := range []string{
		"Pinpoint export: 4 files (3 gzip-compressed), 17 rows\n",
		"failed: 3 rows\n",
		"  " + bad + `:1: Location.Country: not an ISO 3166-1 country code (alpha-2 such as US, or alpha-3 such as USA)` + "\n",
		"  " + bad + `:2: ChannelType: not one of`,
		"  " + bad + ":3: invalid JSON: column 14: unexpected end of JSON input\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}

	out, _, code = runCLI(t, "migrate-check", "--json", dir)
	var c struct {
		Endpoints, Users, Failed int
		Ignored                  map[string]int
		Failures                 []struct{ Line int }
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil || code != 1 || c.Endpoints != 14 || c.Users != 8 || c.Failed != 3 ||
		c.Ignored["ApplicationId"] != 14 || len(c.Failures) != 3 {
		t.Errorf("--json: code %d, %+v (%v)\n%s", code, c, err, out)
	}
	if _, _, code := runCLI(t, "migrate-check"); code != 2 {
		t.Errorf("no path: exit code %d, want 2", code)
	}
}

// TestImportPinpointExport migrates a local export folder with the CLI: one job,
// the segment holds exactly the exported endpoints.
func TestImportPinpointExport(t *testing.T) {
	data := t.TempDir()
	out, errOut, code := runCLI(t, "import", "--data", data, "--json", "--pinpoint-export", exportDir(t, false), "--segment", "from pinpoint")
	var j struct {
		JobStatus      string
		TotalProcessed int
		TotalPieces    int
		Definition     struct{ Format, SegmentName, S3Url string }
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil || code != 0 || j.JobStatus != "COMPLETED" || j.TotalProcessed != 14 ||
		j.TotalPieces != 3 || j.Definition.Format != "PINPOINT_EXPORT" || j.Definition.SegmentName != "from pinpoint" ||
		!strings.HasPrefix(j.Definition.S3Url, "s3://segport/pinpoint-exports/") {
		t.Fatalf("import: code %d, %+v (%v)\n%s\n%s", code, j, err, out, errOut)
	}
	out, _, code = runCLI(t, "segments", "members", "--data", data, "from pinpoint")
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	sort.Strings(got)
	want := exporttest.Expected()
	if code != 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("members: code %d\n%s\nwant\n%s", code, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, _, code := runCLI(t, "import", "--data", data, "--pinpoint-export", filepath.Join(data, "nothing-here")); code == 0 {
		t.Errorf("a missing export imported")
	}
}
