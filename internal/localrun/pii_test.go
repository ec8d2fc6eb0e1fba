package localrun

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/segport/segport/internal/metrics"
	"github.com/segport/segport/pkg/job"
)

// lockedBuffer collects log lines written from many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestNoPIIInLogs imports files whose addresses and attribute values are known,
// valid and invalid rows alike, with every log line and metric record of the
// stack and the handlers going to one JSON buffer, and checks that none of the
// values appears in any line while the lines still say which job, piece and
// batch they are about.
func TestNoPIIInLogs(t *testing.T) {
	var out lockedBuffer
	log := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rt := openRuntime(t, Options{Log: log, Metrics: &metrics.EMF{W: &out}})

	secrets := []string{
		"pii.alice@example.com", "+14255550123", "pii.bob@example.net", "a9f8e7d6c5b4a3928170pii",
		"Zebediah", "Quillfeather", "kitesurfing-xyzzy", "marmalade-4471", "pii-user-ulysses",
		"pigeon-post-secret", "not-an-email-qwerty",
	}
	csv := "ChannelType,Address,User.UserId,User.UserAttributes.FirstName,User.UserAttributes.LastName,Attributes.Hobby,Attributes.Hobby\n" +
		"EMAIL,pii.alice@example.com,pii-user-ulysses,Zebediah,Quillfeather,kitesurfing-xyzzy,marmalade-4471\n" +
		"SMS,+14255550123,,,,kitesurfing-xyzzy,\n" +
		"PIGEON,pigeon-post-secret,,,,,\n" + // an unknown channel: a failure record
		"EMAIL,\"not-an-email-qwerty\",pii-user-ulysses,Zebediah,,\"" + strings.Repeat("x", 120) + "\",\n" // a value over the limit
	ndjson := `{"ChannelType":"EMAIL","Address":"pii.bob@example.net","User":{"UserId":"pii-user-ulysses","UserAttributes":{"FirstName":["Zebediah"]}},"Attributes":{"Hobby":["marmalade-4471"]}}` + "\n" +
		`{"ChannelType":"APNS","Address":"a9f8e7d6c5b4a3928170pii","Demographic":{"Platform":"iOS"}}` + "\n"

	jobs := []*job.Job{
		importFile(t, rt, "imports/pii-check/people.csv", csv),
		importFile(t, rt, "imports/pii-check/deeper/people.ndjson", ndjson),
	}
	if jobs[0].JobStatus != job.Completed || jobs[0].TotalProcessed < 2 || jobs[0].TotalFailures < 1 {
		t.Fatalf("csv job %+v: want COMPLETED with good and bad rows", jobs[0])
	}
	if jobs[1].JobStatus != job.Completed || jobs[1].TotalProcessed != 2 {
		t.Fatalf("ndjson job %+v", jobs[1])
	}
	if err := rt.Idle(testCtx(t)); err != nil {
		t.Fatal(err)
	}

	seen := map[string]bool{} // keys that carried a job's id
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for _, line := range lines {
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Errorf("not a JSON log line: %s", line)
			continue
		}
		for _, s := range secrets {
			if strings.Contains(strings.ToLower(line), strings.ToLower(s)) {
				t.Errorf("a log line shows %q in clear: %s", s, line)
			}
		}
		if obj["job"] == jobs[0].Id || obj["job"] == jobs[1].Id {
			for _, k := range []string{"piece", "batch"} {
				if _, ok := obj[k]; ok {
					seen[k] = true
				}
			}
			seen["job"] = true
		}
	}
	for _, k := range []string{"job", "piece", "batch"} {
		if !seen[k] {
			t.Errorf("no log line about the jobs carries %q (%d lines)", k, len(lines))
		}
	}
}

// A CSV file without its header row, whose first field is an address, and a
// file whose columns are shifted so that addresses land in checked fields: no
// address or value reaches a log line, the job's Failures or what the API
// serves of the job.
func TestNoValueInFailures(t *testing.T) {
	var out lockedBuffer
	log := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rt := openRuntime(t, Options{Log: log, Metrics: &metrics.EMF{W: &out}})
	secrets := []string{"jane.doe@example.com", "john.roe@example.net", "+14255550199", "Olympus-Mons-9", "qwerty-locale"}
	headerless := importFile(t, rt, "imports/pii-headerless/people.csv", "jane.doe@example.com,EMAIL,Jane\njohn.roe@example.net,EMAIL,John\n")
	if headerless.JobStatus != job.Failed || len(headerless.Failures) != 1 ||
		!strings.Contains(headerless.Failures[0], "header column 1: unknown attribute") {
		t.Fatalf("headerless job %+v: want FAILED naming header column 1", headerless)
	}
	// Columns shifted by a missing field: the addresses land in ChannelType,
	// Location.Country, Demographic.Timezone and the others.
	shifted := "Address,ChannelType,Location.Country,Location.Latitude,Demographic.Timezone,Demographic.Locale,EndpointStatus,Metrics.m\n" +
		"EMAIL,jane.doe@example.com,john.roe@example.net,+14255550199,Olympus-Mons-9,qwerty-locale,jane.doe@example.com,john.roe@example.net\n" +
		"a@example.com,EMAIL,USA,1,UTC,en_US,ACTIVE,1\n"
	j := importFile(t, rt, "imports/pii-shifted/people.csv", shifted)
	if j.JobStatus != job.Completed || j.TotalFailures != 1 {
		t.Fatalf("shifted job %+v", j)
	}
	api := rt.App.API(rt.Stack.AWSConfig(), log)
	var served strings.Builder
	for _, id := range []string{headerless.Id, j.Id} {
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/jobs/import/"+id, nil))
		served.WriteString(rec.Body.String())
	}
	failures, _ := json.Marshal([]*job.Job{headerless, j})
	for _, s := range secrets {
		for what, text := range map[string]string{"logs": out.String(), "Failures": string(failures), "API": served.String()} {
			if strings.Contains(strings.ToLower(text), strings.ToLower(s)) {
				t.Errorf("%s show %q: %s", what, s, text)
			}
		}
	}
	if !strings.Contains(string(failures), "ChannelType: not one of") {
		t.Errorf("Failures %s: want the field and the rule", failures)
	}
}
