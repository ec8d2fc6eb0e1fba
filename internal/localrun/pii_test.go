package localrun

import (
	"bytes"
	"encoding/json"
	"log/slog"
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
