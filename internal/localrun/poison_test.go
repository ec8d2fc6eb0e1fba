package localrun

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/segport/segport/internal/localstack"
	"github.com/segport/segport/internal/sqsq"
	"github.com/segport/segport/pkg/job"
)

// poisoner makes every message of one function whose body contains a marker fail
// in its handler, while on.
type poisoner struct {
	on       atomic.Bool
	function string
	marker   string
}

func (p *poisoner) wrap(src localstack.EventSource, h localstack.Handler) localstack.Handler {
	if src.Function != p.function {
		return h
	}
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		if !p.on.Load() {
			return h(ctx, ev)
		}
		for i := range ev.Records {
			if strings.Contains(ev.Records[i].Body, p.marker) {
				// A message the handler can read but not process: parse messages
				// name an unknown format, write batches rows without Ids.
				r := strings.NewReplacer(`"Format":"CSV"`, `"Format":"XML"`, `"E":{"Id":`, `"E":{"NoId":`)
				ev.Records[i].Body = r.Replace(ev.Records[i].Body)
			}
		}
		resp, err := h(ctx, ev)
		return resp, err
	}
}

func redriveAll(t *testing.T, rt *Runtime) int {
	t.Helper()
	// Wait for the failed messages to leave their queues for the dead-letter queues.
	if err := rt.Idle(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	total := 0
	for src, dlq := range rt.Stack.DeadLetters {
		n, err := sqsq.New(rt.Stack.SQSClient(), rt.Stack.Resources[src]).Redrive(testCtx(t), rt.Stack.Resources[dlq])
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	return total
}

func waitFor(t *testing.T, rt *Runtime, id string, ok func(*job.Job) bool) *job.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		j, err := rt.App.Store.Job(ctx, id)
		if err == nil && ok(j) {
			return j
		}
		select {
		case <-ctx.Done():
			pieces, _ := rt.App.Store.Pieces(context.Background(), id)
			for _, p := range pieces {
				t.Logf("piece %d: parsed %v batches %d rows %d done %v lost %v gave up %q", p.Index, p.Parsed, p.Result.Batches, p.Result.Rows, p.Done, p.Lost, p.GaveUp)
			}
			t.Fatalf("job %s: never reached the state: last %+v, %v", id, j, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func TestPoisonedBatchEndsTheJobAndRedriveCompletesIt(t *testing.T) {
	t.Parallel() // its own stack: it runs beside the other long tests
	p := &poisoner{function: "WriterFunction", marker: `"Piece":1,`}
	p.on.Store(true)
	rt := openRuntime(t, Options{VisibilityTimeout: time.Second,
		Parameters: map[string]string{"MaxReceiveCount": "2", "PieceSize": "4096"}, Wrap: p.wrap})
	body := bigCSV(400)
	valid, fails := sequential(t, "imports/poison/f.csv", body)
	j := importFile(t, rt, "imports/poison/f.csv", body)
	if j.JobStatus != job.Completed || j.FailedPieces != 1 || j.TotalPieces < 3 ||
		!strings.Contains(strings.Join(j.Failures, "\n"), "piece 1, write batch 0") ||
		!strings.Contains(strings.Join(j.Failures, "\n"), "dead-letter queue") || j.TotalProcessed >= valid {
		t.Fatalf("poisoned job %+v", j)
	}
	p.on.Store(false)
	if n := redriveAll(t, rt); n == 0 {
		t.Fatal("nothing in the dead-letter queues")
	}
	j = waitFor(t, rt, j.Id, func(j *job.Job) bool { return j.FailedPieces == 0 && j.TotalProcessed == valid })
	if j.JobStatus != job.Completed || j.TotalProcessed != valid || j.TotalFailures != len(fails) || j.CompletedPieces != j.TotalPieces {
		t.Fatalf("after redrive: %+v", j)
	}
	seg, err := rt.App.Store.SegmentByName(testCtx(t), "poison")
	if err != nil || seg.EndpointCount != valid || seg.ImportDefinition.Size != valid || seg.Version != 1 {
		t.Fatalf("segment %+v, %v", seg, err)
	}
}

func TestPoisonedPieceFailsTheJobAndRedriveCompletesIt(t *testing.T) {
	t.Parallel() // its own stack: it runs beside the other long tests
	p := &poisoner{function: "ParserFunction", marker: `"Piece":{"Key":"imports/parse-poison/`}
	p.on.Store(true)
	rt := openRuntime(t, Options{VisibilityTimeout: time.Second,
		Parameters: map[string]string{"MaxReceiveCount": "2"}, Wrap: p.wrap})
	j := importFile(t, rt, "imports/parse-poison/f.csv", "ChannelType,Address\nEMAIL,a@example.com\n")
	if j.JobStatus != job.Failed || j.FailedPieces != 1 || len(j.Failures) != 1 || !strings.Contains(j.Failures[0], "dead-letter queue") {
		t.Fatalf("poisoned job %+v", j)
	}
	p.on.Store(false)
	if n := redriveAll(t, rt); n == 0 {
		t.Fatal("nothing in the dead-letter queues")
	}
	j = waitFor(t, rt, j.Id, func(j *job.Job) bool { return j.JobStatus == job.Completed })
	if j.TotalProcessed != 1 || j.FailedPieces != 0 || len(j.Failures) != 0 {
		t.Fatalf("after redrive: %+v", j)
	}
}

// A plan message that fails every delivery fails its job before it starts,
// leaving no segment; redriven once the cause is fixed, it plans the job
// again and the job completes.
func TestPoisonedPlanFailsTheJobAndRedriveCompletesIt(t *testing.T) {
	t.Parallel() // its own stack: it runs beside the other long tests
	p := &poisoner{function: "ParserFunction", marker: `"Range":{"Index":0,"Key":"imports/plan-poison/`}
	p.on.Store(true)
	rt := openRuntime(t, Options{VisibilityTimeout: time.Second,
		Parameters: map[string]string{"MaxReceiveCount": "2"}, Wrap: p.wrap})
	j := importFile(t, rt, "imports/plan-poison/f.csv", "ChannelType,Address\nEMAIL,a@example.com\nEMAIL,b@example.com\n")
	if j.JobStatus != job.Failed || j.TotalPieces != 0 || len(j.Failures) != 1 ||
		!strings.Contains(j.Failures[0], "imports/plan-poison/f.csv: bytes 0-") || !strings.Contains(j.Failures[0], "dead-letter queue") {
		t.Fatalf("poisoned job %+v", j)
	}
	if _, err := rt.App.Store.SegmentByName(testCtx(t), "plan-poison"); !errors.Is(err, job.ErrNotFound) {
		t.Fatalf("segment of a job that never started: %v, want none", err)
	}
	p.on.Store(false)
	if n := redriveAll(t, rt); n != 1 {
		t.Fatalf("%d messages redriven, want the plan message", n)
	}
	j = waitFor(t, rt, j.Id, func(j *job.Job) bool { return j.JobStatus == job.Completed })
	if j.TotalProcessed != 2 || j.TotalPieces != 1 || len(j.Failures) != 0 || j.CompletionDate == "" {
		t.Fatalf("after redrive: %+v", j)
	}
	checkSegment(t, rt, "plan-poison")
}
