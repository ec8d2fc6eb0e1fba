package localrun

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/internal/localstack"
	"github.com/segport/segport/pkg/job"
)

// The child process of TestKilledStackResumesItsJobs: it imports a file on the
// stack of a data folder and waits to be killed.
const killChildEnv = "SEGPORT_TEST_KILL_CHILD"

func init() {
	dir := os.Getenv(killChildEnv)
	if dir == "" {
		return
	}
	// The child: never returns; the parent kills it with SIGKILL.
	rt, err := Open(context.Background(), Options{DataDir: dir, BatchBytes: 64 << 10, VisibilityTimeout: 2 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	_ = rt
	fmt.Println("ready")
	select {}
}

// TestKilledStackResumesItsJobs kills the process that runs the local stack
// (SIGKILL, with messages in flight) in the middle of an import, then opens the
// stack again on the same data folder: the job ends COMPLETED with every valid
// row a member, as if nothing had happened.
func TestKilledStackResumesItsJobs(t *testing.T) {
	t.Parallel() // its own stack: it runs beside the other long tests
	dir := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), killChildEnv+"="+dir)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	ready := make([]byte, 6)
	if _, err := out.Read(ready); err != nil || string(ready) != "ready\n" {
		t.Fatalf("child: %q, %v", ready, err)
	}

	// Attach to the child's stack, drop a file, and kill the child once part of
	// it is written.
	ctx := testCtx(t)
	st, ok, err := localstack.Attach(ctx, dir)
	if err != nil || !ok {
		t.Fatalf("attach to the child's stack: %v, %v", ok, err)
	}
	attached, err := build(st, Options{}, st.AWSConfig())
	if err != nil {
		t.Fatal(err)
	}
	rt := &Runtime{Stack: st, App: attached, Attached: true}
	body := bigCSV(20000)
	valid, fails := sequential(t, "imports/killed/f.csv", body)
	id := job.NewId("killed")
	put(t, rt, "imports/killed/f.csv", body, id)
	for {
		j, err := rt.App.Store.Job(ctx, id)
		if err == nil && j.TotalProcessed > valid/5 {
			if j.JobStatus.Final() {
				t.Fatalf("the job ended before the kill: %+v", j)
			}
			t.Logf("killing the stack at %d of %d rows written", j.TotalProcessed, valid)
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the job made no progress: %+v, %v", j, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()

	// The emulators die with their parent; open the folder again.
	var again *Runtime
	for {
		again, err = Open(ctx, Options{DataDir: dir, VisibilityTimeout: 2 * time.Second})
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond) // the killed emulators may still hold the folder
	}
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.Resumed != 1 {
		t.Errorf("resumed %d jobs, want 1", again.Resumed)
	}
	j := waitJob(t, again, id)
	if j.JobStatus != job.Completed || j.TotalProcessed != valid || j.TotalFailures != len(fails) {
		pieces, _ := again.App.Store.Pieces(ctx, id)
		for _, p := range pieces {
			t.Logf("piece %d: parsed %v tries %d batches %d done %d lost %d gave up %q error %q", p.Index, p.Parsed, p.Tries, p.Result.Batches, len(p.Done), len(p.Lost), p.GaveUp, p.Result.Error)
		}
		t.Logf("failures %q", j.Failures[:min(3, len(j.Failures))])
		t.Fatalf("job after the restart: %s, %d processed, %d failures; want COMPLETED, %d, %d",
			j.JobStatus, j.TotalProcessed, j.TotalFailures, valid, len(fails))
	}
	if got := members(t, again, "killed"); len(got) != valid {
		t.Fatalf("%d members, want %d", len(got), valid)
	}
	checkSegment(t, again, "killed")
}

// checkSegment checks that a segment's counts agree with its members.
func checkSegment(t *testing.T, rt *Runtime, name string) {
	t.Helper()
	ctx := testCtx(t)
	seg, err := rt.App.Store.SegmentByName(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := rt.App.Store.Members(ctx, seg.Id, seg.Shards)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for _, n := range seg.ImportDefinition.ChannelCounts {
		sum += n
	}
	if sum != seg.ImportDefinition.Size || seg.EndpointCount != len(ids) {
		t.Fatalf("segment %s: ChannelCounts %v add up to %d, Size %d; EndpointCount %d, %d members",
			name, seg.ImportDefinition.ChannelCounts, sum, seg.ImportDefinition.Size, seg.EndpointCount, len(ids))
	}
}

// crasher makes a function's invocations die without an answer (a crash, a
// timeout, an out-of-memory kill) for the messages whose body holds marker:
// the handler's own failure bookkeeping never runs.
func crasher(function, marker string) func(localstack.EventSource, localstack.Handler) localstack.Handler {
	return func(src localstack.EventSource, h localstack.Handler) localstack.Handler {
		if src.Function != function {
			return h
		}
		return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			for _, r := range ev.Records {
				if strings.Contains(r.Body, marker) {
					return events.SQSEventResponse{}, errors.New("the invocation died")
				}
			}
			return h(ctx, ev)
		}
	}
}

// A crash on every delivery of a message, its last included, leaves the
// message in the dead-letter queue with nothing recorded; the sweeper records
// it and the job ends, counted exactly.
func TestCrashOnLastDeliveryEndsTheJob(t *testing.T) {
	t.Parallel() // its own stack: it runs beside the other long tests
	tests := []struct {
		name, function, marker string
		status                 job.Status
	}{
		{name: "parser", function: "ParserFunction", marker: `"Index":1,`, status: job.Completed},
		{name: "writer", function: "WriterFunction", marker: `"Piece":2,"Seq":0,`, status: job.Completed},
		{name: "every parse", function: "ParserFunction", marker: `"Piece":{"Key":"imports/`, status: job.Failed},
		{name: "every plan", function: "ParserFunction", marker: `"Range":{`, status: job.Failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := openRuntime(t, Options{VisibilityTimeout: time.Second, SweepEvery: 500 * time.Millisecond,
				Parameters: map[string]string{"MaxReceiveCount": "2", "PieceSize": "4096"}, Wrap: crasher(tt.function, tt.marker)})
			body := bigCSV(400)
			valid, fails := sequential(t, "imports/crash/f.csv", body)
			j := importFile(t, rt, "imports/crash/f.csv", body)
			if j.JobStatus != tt.status || !strings.Contains(strings.Join(j.Failures, "\n"), "dead-letter queue") {
				t.Fatalf("job %+v", j)
			}
			// A job whose planning gave up never starts: no piece, no
			// segment; any other failure is a piece's.
			if planning := tt.name == "every plan"; planning != (j.TotalPieces == 0) || !planning && j.FailedPieces == 0 ||
				planning && !strings.Contains(j.Failures[0], "imports/crash/f.csv: bytes 0-") {
				t.Fatalf("job %+v", j)
			}
			if tt.name == "every plan" {
				if _, err := rt.App.Store.SegmentByName(testCtx(t), "crash"); !errors.Is(err, job.ErrNotFound) {
					t.Fatalf("segment of a job that never started: %v, want none", err)
				}
				return
			}
			// A lost batch's rows count as failures; the rows of a piece
			// never read are not counted, but its failure says which bytes.
			counted := j.TotalProcessed + j.TotalFailures
			if tt.status == job.Completed && (j.TotalProcessed == 0 || j.TotalProcessed >= valid ||
				tt.function == "WriterFunction" && counted != valid+len(fails) ||
				tt.function == "ParserFunction" && counted >= valid+len(fails)) {
				t.Fatalf("job counts %d processed, %d failures; valid %d, bad %d", j.TotalProcessed, j.TotalFailures, valid, len(fails))
			}
			if got := members(t, rt, "crash"); len(got) != j.TotalProcessed {
				t.Fatalf("%d members, %d processed", len(got), j.TotalProcessed)
			}
			checkSegment(t, rt, "crash")
		})
	}
}

// A folder whose objects are all empty has nothing to import: its job fails at
// once, saying so.
func TestEmptyFolderFailsAtOnce(t *testing.T) {
	rt := sharedRuntime(t)
	ctx := testCtx(t)
	for _, k := range []string{"empty-src/a.csv", "empty-src/sub/b.csv"} {
		put(t, rt, k, "", "")
	}
	j, err := rt.App.Trigger.CreateImportJob(ctx, importer.Request{S3Url: "s3://" + rt.Stack.Bucket + "/empty-src/", SegmentName: "empty"})
	if err != nil {
		t.Fatal(err)
	}
	if j.JobStatus != job.Failed || len(j.Failures) != 1 || !strings.Contains(j.Failures[0], "every file is empty") {
		t.Fatalf("job %+v", j)
	}
}

// Values AWS would refuse fail their own row at validation and never the rows
// around them: a number DynamoDB cannot store, a character SQS cannot carry, a
// stray quote inside an unquoted CSV field.
func TestRefusedValuesFailOnlyTheirRow(t *testing.T) {
	rt := sharedRuntime(t)
	var b strings.Builder
	b.WriteString("ChannelType,Address,Metrics.m,Demographic.Model\n")
	good := 0
	for i := range 300 {
		switch i {
		case 50:
			fmt.Fprintf(&b, "EMAIL,x%d@example.com,1e200,phone\n", i)
		case 150:
			fmt.Fprintf(&b, "EMAIL,x%d@example.com,1,\uFFFF\n", i)
		case 250:
			fmt.Fprintf(&b, "EMAIL,x%d@example.com,1,15\" screen\n", i)
		default:
			fmt.Fprintf(&b, "EMAIL,x%d@example.com,%d,phone\n", i, i)
			good++
		}
	}
	j := importFile(t, rt, "imports/refused/f.csv", b.String())
	if j.JobStatus != job.Completed || j.TotalProcessed != good || j.TotalFailures != 3 || len(j.Failures) != 3 {
		t.Fatalf("job %s: %d processed, %d failures %q; want COMPLETED, %d, 3", j.JobStatus, j.TotalProcessed, j.TotalFailures, j.Failures, good)
	}
	for k, line := range []string{":52: Metrics.m", ":152: Demographic.Model", ":252:"} {
		if !strings.Contains(j.Failures[k], line) {
			t.Errorf("failure %d = %q, want it at %s", k, j.Failures[k], line)
		}
	}
	checkSegment(t, rt, "refused")
}
