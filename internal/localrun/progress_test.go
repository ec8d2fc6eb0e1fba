package localrun

import (
	"context"
	"testing"
	"time"

	"github.com/segport/segport/pkg/job"
)

// The figures a running import shows rise monotonically to the written total:
// TotalProcessed counts rows written, never rows merely parsed, and the rows
// expected never fall below it.
func TestProgressRisesToTheWrittenTotal(t *testing.T) {
	t.Parallel() // its own stack: it runs beside the other long tests
	rt := openRuntime(t, Options{BatchBytes: 32 << 10, Parameters: map[string]string{"PieceSize": "1048576"}})
	body := bigCSV(50_000) // issue 17 asks for a 50K-row import
	valid, _ := sequential(t, "imports/progress/f.csv", body)
	id := job.NewId("progress")
	put(t, rt, "imports/progress/f.csv", body, id)
	last, samples, rising := -1, 0, 0
	var w stallWatch
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		j, err := rt.App.Store.Job(ctx, id)
		cancel()
		if err == nil {
			samples++
			if j.TotalProcessed < last {
				t.Fatalf("written went down from %d to %d", last, j.TotalProcessed)
			}
			if j.TotalProcessed > last && last > 0 {
				rising++
			}
			if exp := j.ExpectedRows(); !j.JobStatus.Final() && exp < j.TotalProcessed {
				t.Fatalf("%d rows expected, fewer than the %d written", exp, j.TotalProcessed)
			}
			last = j.TotalProcessed
			if j.JobStatus.Final() {
				if j.TotalProcessed != valid {
					t.Fatalf("ended at %d written, want %d", j.TotalProcessed, valid)
				}
				break
			}
		}
		if w.stalled(jobState(j)) {
			t.Fatalf("the job did not end: no progress for %s at %d of %d written", stallLimit, last, valid)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if rising < 3 {
		t.Fatalf("the written count rose %d times in %d samples: no progress shown", rising, samples)
	}
	t.Logf("%d samples, the written count rose %d times to %d", samples, rising, valid)
}
