package localrun

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/segport/segport/pkg/job"
)

// TestSampleEvents feeds every file in events/ to its function, as
// `sam local invoke <Function> -e events/<file>.json` does, and checks the effect.
func TestSampleEvents(t *testing.T) {
	rt := openRuntime(t, Options{})
	ctx := testCtx(t)
	spec, err := os.ReadFile("../../examples/spec-example.csv")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../../events/*.json")
	// The seventh, api-get-segment.json, goes to the API function in internal/httpapi's tests.
	if len(files) != 7 {
		t.Fatalf("events/ holds %d files, want the 6 this test knows and api-get-segment.json", len(files))
	}
	read := func(name string) []byte {
		b, err := os.ReadFile("../../events/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	segId := job.SegmentId("spring customers")

	t.Run("s3-put.json", func(t *testing.T) {
		// The event names imports/spring+customers/...: the key has a space.
		put(t, rt, "imports/spring customers/spec-example.csv", string(spec), "")
		if err := rt.Idle(ctx); err != nil { // the upload's own notification runs a job first
			t.Fatal(err)
		}
		var ev events.S3Event
		if err := json.Unmarshal(read("s3-put.json"), &ev); err != nil {
			t.Fatal(err)
		}
		if _, err := rt.App.Trigger.Handle(ctx, read("s3-put.json")); err != nil {
			t.Fatal(err)
		}
		rec := ev.Records[0].S3
		j := waitJob(t, rt, job.NewId(rec.Bucket.Name, "imports/spring customers/spec-example.csv", rec.Object.Sequencer, rec.Object.ETag))
		if j.JobStatus != job.Completed || j.TotalProcessed != 5 || j.Definition.SegmentName != "spring customers" {
			t.Fatalf("job %+v", j)
		}
	})
	t.Run("sqs-plan.json", func(t *testing.T) {
		// The plan message of the job s3-put.json started, delivered again
		// once the job has ended: it changes nothing.
		var ev events.SQSEvent
		if err := json.Unmarshal(read("sqs-plan.json"), &ev); err != nil {
			t.Fatal(err)
		}
		var m job.ParseMessage
		if err := json.Unmarshal([]byte(ev.Records[0].Body), &m); err != nil || m.Range == nil {
			t.Fatalf("plan message %+v, %v", m, err)
		}
		before := waitJob(t, rt, m.JobId)
		resp, err := rt.App.Parser.HandleSQS(ctx, ev)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("response %+v, %v", resp, err)
		}
		if err := rt.Idle(ctx); err != nil {
			t.Fatal(err)
		}
		if j := waitJob(t, rt, m.JobId); j.JobStatus != job.Completed || j.TotalPieces != before.TotalPieces || j.TotalProcessed != before.TotalProcessed {
			t.Fatalf("job %+v after its plan message came again; before %+v", j, before)
		}
	})
	t.Run("scheduled-sweep.json", func(t *testing.T) {
		var ev events.EventBridgeEvent
		if err := json.Unmarshal(read("scheduled-sweep.json"), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Source != "aws.events" || ev.DetailType != "Scheduled Event" {
			t.Fatalf("event %+v", ev)
		}
		rep, err := rt.App.Sweeper.HandleSchedule(ctx, ev)
		if err != nil || rep.Stalled != 0 || rep.Resent != 0 {
			t.Fatalf("sweep %+v, %v; want nothing stalled on an idle stack", rep, err)
		}
	})
	t.Run("create-import-job.json", func(t *testing.T) {
		out, err := rt.App.Trigger.Handle(ctx, read("create-import-job.json"))
		if err != nil {
			t.Fatal(err)
		}
		j := waitJob(t, rt, out.(*job.Job).Id)
		if j.JobStatus != job.Completed || j.TotalProcessed != 5 || j.Definition.Format != "CSV" || j.Definition.S3Url != "s3://segport/imports/spring customers/" {
			t.Fatalf("job %+v", j)
		}
	})
	t.Run("sqs-parse.json", func(t *testing.T) {
		var ev events.SQSEvent
		if err := json.Unmarshal(read("sqs-parse.json"), &ev); err != nil {
			t.Fatal(err)
		}
		var m job.ParseMessage
		json.Unmarshal([]byte(ev.Records[0].Body), &m)
		startJob(t, rt, m.JobId, segId, 1)
		resp, err := rt.App.Parser.HandleSQS(ctx, ev)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("response %+v, %v", resp, err)
		}
		if j := waitJob(t, rt, m.JobId); j.JobStatus != job.Completed || j.TotalProcessed != 5 {
			t.Fatalf("job %+v", j)
		}
	})
	t.Run("sqs-write.json", func(t *testing.T) {
		var ev events.SQSEvent
		if err := json.Unmarshal(read("sqs-write.json"), &ev); err != nil {
			t.Fatal(err)
		}
		var b job.WriteBatch
		json.Unmarshal([]byte(ev.Records[0].Body), &b)
		startJob(t, rt, b.JobId, segId, 1)
		// The piece was parsed into this one batch.
		if _, err := rt.App.Store.PieceParsed(ctx, b.JobId, 0, job.PieceResult{Batches: 1, Rows: 2}); err != nil {
			t.Fatal(err)
		}
		resp, err := rt.App.Writer.HandleSQS(ctx, ev)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("response %+v, %v", resp, err)
		}
		if j := waitJob(t, rt, b.JobId); j.JobStatus != job.Completed || j.TotalProcessed != 2 {
			t.Fatalf("job %+v", j)
		}
		e, err := rt.App.Store.Endpoint(ctx, "f1ac0032caf20995a1e03a9582adef1c")
		if err != nil || e.User.UserAttributes.Map()["FirstName"][0] != "John" {
			t.Fatalf("endpoint %+v, %v", e, err)
		}
		// A malformed message is reported as a batch item failure, not an error.
		ev.Records[0].Body = "{not json"
		resp, err = rt.App.Writer.HandleSQS(ctx, ev)
		if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != ev.Records[0].MessageId {
			t.Fatalf("response %+v, %v", resp, err)
		}
	})
}

// startJob creates a PROCESSING job, as the trigger would have.
func startJob(t *testing.T, rt *Runtime, id, segId string, pieces int) {
	t.Helper()
	ctx := context.Background()
	j := &job.Job{Id: id, JobStatus: job.Created, CreationDate: "2026-11-01T12:00:00Z",
		Definition: job.Definition{S3Url: "s3://segport/imports/spring customers/spec-example.csv", Format: "CSV", SegmentId: segId, SegmentName: "spring customers"}}
	l := job.Launch{JobOrder: strings.Repeat("0", 10), SegmentId: segId}
	if _, _, err := rt.App.Store.CreateJob(ctx, j, l); err != nil {
		t.Fatal(err)
	}
	plans := make([]job.Piece, pieces)
	for i := range plans {
		plans[i] = job.Piece{Key: "imports/spring customers/spec-example.csv", Index: i}
	}
	if err := rt.App.Store.StartJob(ctx, id, l, plans); err != nil {
		t.Fatal(err)
	}
}
