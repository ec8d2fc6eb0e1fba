package localrun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/segport/segport/internal/csvframe"
	"github.com/segport/segport/internal/decode"
	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/internal/localstack"
	"github.com/segport/segport/internal/plan"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/stats"
)

// bigCSV has quoted line breaks, doubled quotes, CRLF and bad rows.
func bigCSV(rows int) string {
	var b strings.Builder
	b.WriteString("\xEF\xBB\xBFChannelType,Address,Location.City,Attributes.Note\r\n")
	for i := 0; i < rows; i++ {
		switch i % 5 {
		case 0:
			fmt.Fprintf(&b, "EMAIL,p%d@example.com,\"Two\nlines, \"\"quoted\"\"\",n%d\r\n", i, i%9)
		case 1:
			fmt.Fprintf(&b, "EMAIL,p%d@example.com,\"\n\",x\n", i)
		case 2:
			fmt.Fprintf(&b, "SMS,bad-%d,Town,y\n", i)
		default:
			fmt.Fprintf(&b, "EMAIL,p%d@example.com,Town %d,z\n", i, i)
		}
	}
	return b.String()
}

// sequential returns the valid-row count and failure lines of a local parse.
func sequential(t *testing.T, key, body string) (int, []string) {
	f, _ := decode.FormatOf(key)
	dec := decode.New(f, strings.NewReader(body), decode.Options{File: key})
	valid := 0
	var failures []string
	for {
		_, err := dec.Decode()
		if err == io.EOF {
			return valid, failures
		}
		if err != nil {
			re, ok := err.(*decode.RowError)
			if !ok {
				t.Fatal(err)
			}
			failures = append(failures, job.Failure(re.File, re.Line, re.Field, re.Msg))
			continue
		}
		valid++
	}
}

func TestBigFileInManyPieces(t *testing.T) {
	t.Parallel() // its own stack: it runs beside the other long tests
	rt := openRuntime(t, Options{Parameters: map[string]string{"PieceSize": "4096"}})
	body := bigCSV(3000)
	key := "imports/big/file.csv"
	valid, failures := sequential(t, key, body)
	j := importFile(t, rt, key, body)
	if j.TotalPieces < 20 || j.CompletedPieces != j.TotalPieces || j.JobStatus != job.Completed {
		t.Fatalf("job %s: %d pieces, %d completed", j.JobStatus, j.TotalPieces, j.CompletedPieces)
	}
	if j.TotalProcessed != valid || j.TotalFailures != len(failures) {
		t.Fatalf("%d processed, %d failed; a sequential parse has %d and %d", j.TotalProcessed, j.TotalFailures, valid, len(failures))
	}
	if strings.Join(j.Failures, "\n") != strings.Join(failures[:job.MaxFailures], "\n") {
		t.Fatalf("Failures differ from a sequential parse:\n%s\n--\n%s", strings.Join(j.Failures[:3], "\n"), strings.Join(failures[:3], "\n"))
	}
	if n := len(members(t, rt, "big")); n != valid {
		t.Errorf("%d members, want %d", n, valid)
	}
}

func TestFolderImport(t *testing.T) {
	rt := openRuntime(t, Options{Parameters: map[string]string{"PieceSize": "4096"}})
	ctx := testCtx(t)
	files := map[string]string{
		"src/a.csv":            bigCSV(300),
		"src/sub/b.csv":        "ChannelType,Address\nEMAIL,b1@example.com\nEMAIL,b2@example.com\n",
		"src/sub/deeper/c.csv": "ChannelType,Address\nEMAIL,c1@example.com\nFAX,x\n",
		"src/sub/empty.csv":    "", // an empty file adds nothing
		"mixed/a.csv":          "ChannelType,Address\nEMAIL,m@example.com\n",
		"mixed/b.json":         `{"ChannelType":"EMAIL","Address":"n@example.com"}` + "\n",
	}
	for k, body := range files {
		_, err := rt.Stack.S3Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(rt.Stack.Bucket), Key: aws.String(k), Body: strings.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
	}
	valid, fails := sequential(t, "a.csv", files["src/a.csv"])
	started, err := rt.App.Trigger.CreateImportJob(ctx, importer.Request{S3Url: "s3://segport/src/", SegmentName: "folder"})
	if err != nil {
		t.Fatal(err)
	}
	j := waitJob(t, rt, started.Id)
	if j.JobStatus != job.Completed || j.TotalPieces < 5 || j.CompletedPieces != j.TotalPieces ||
		j.TotalProcessed != valid+3 || j.TotalFailures != len(fails)+1 || j.Definition.Format != "CSV" {
		t.Fatalf("folder job %+v", j)
	}
	if n := len(members(t, rt, "folder")); n != valid+3 {
		t.Errorf("%d members, want %d", n, valid+3)
	}
	for _, tc := range []struct{ url, want string }{
		{"s3://segport/mixed/", "mixes formats (one format per import; name a Format to import only that one): CSV mixed/a.csv; JSON mixed/b.json"},
		{"s3://segport/nothing-here/", "no objects under s3://segport/nothing-here/"},
	} {
		started, err := rt.App.Trigger.CreateImportJob(ctx, importer.Request{S3Url: tc.url, SegmentName: "folder"})
		if err != nil {
			t.Fatal(err)
		}
		if j := waitJob(t, rt, started.Id); j.JobStatus != job.Failed || len(j.Failures) != 1 || !strings.Contains(j.Failures[0], tc.want) {
			t.Errorf("%s: job %+v", tc.url, j)
		}
	}
}

func TestVanishedObjectFailsItsPieces(t *testing.T) {
	var rt *Runtime
	rt = openRuntime(t, Options{Parameters: map[string]string{"PieceSize": "4096"},
		Wrap: func(src localstack.EventSource, h localstack.Handler) localstack.Handler {
			if src.Function != "ParserFunction" {
				return h
			}
			return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				// Once planned, before its pieces are read.
				if strings.Contains(ev.Records[0].Body, `"Piece":{"Key":"imports/gone/`) {
					rt.Stack.S3Client().DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(rt.Stack.Bucket), Key: aws.String("imports/gone/f.csv")})
				}
				return h(ctx, ev)
			}
		}})
	j := importFile(t, rt, "imports/gone/f.csv", bigCSV(400))
	if j.JobStatus != job.Failed || j.FailedPieces != j.TotalPieces || j.TotalPieces < 2 ||
		!strings.Contains(strings.Join(j.Failures, "\n"), "imports/gone/f.csv: the file vanished before it was read") {
		t.Fatalf("job %+v", j)
	}
}

// TestPlanningRunsInParallelMessages plans a folder of many times the bytes
// one plan message may scan: the trigger reads no object, every plan message
// scans at most RangeChunks chunks, and every piece boundary is where a
// sequential parse starts a record, as one function's plan.Split finds it.
func TestPlanningRunsInParallelMessages(t *testing.T) {
	t.Parallel() // its own stack: it runs beside the other long tests
	const pieceSize, perRange = 4096, 2
	var (
		mu      sync.Mutex
		spans   = map[int]int64{} // each range's bytes, by its index: a redelivered plan message counts once
		largest int64
	)
	rt := openRuntime(t, Options{Parameters: map[string]string{"PieceSize": fmt.Sprint(pieceSize)},
		Wrap: func(src localstack.EventSource, h localstack.Handler) localstack.Handler {
			if src.Function != "ParserFunction" {
				return h
			}
			return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				for _, rec := range ev.Records {
					var m job.ParseMessage
					if json.Unmarshal([]byte(rec.Body), &m) == nil && m.Range != nil {
						mu.Lock()
						spans[m.Range.Index] = m.Range.End - m.Range.Start
						largest = max(largest, m.Range.End-m.Range.Start)
						mu.Unlock()
					}
				}
				return h(ctx, ev)
			}
		}})
	rt.App.Trigger.RangeChunks = perRange
	ctx := testCtx(t)
	bodies := map[string]string{}
	var total int64
	wantValid, wantFailed := 0, 0
	for i := range 24 {
		key := fmt.Sprintf("wide/part-%02d.csv", i)
		bodies[key] = bigCSV(150 + 37*i)
		total += int64(len(bodies[key]))
		valid, fails := sequential(t, key, bodies[key])
		wantValid, wantFailed = wantValid+valid, wantFailed+len(fails)
		if _, err := rt.Stack.S3Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(rt.Stack.Bucket), Key: aws.String(key), Body: strings.NewReader(bodies[key])}); err != nil {
			t.Fatal(err)
		}
	}
	if budget := int64(pieceSize * perRange); total < 50*budget {
		t.Fatalf("the folder holds %d bytes, not far more than the %d one plan message scans", total, budget)
	}
	counter := stats.NewCounter("trigger")
	started, err := rt.App.Trigger.CreateImportJob(stats.NewContext(ctx, counter), importer.Request{S3Url: "s3://segport/wide/", SegmentName: "wide"})
	if err != nil {
		t.Fatal(err)
	}
	trig := counter.Stats()
	if trig.S3GetRequests != 0 {
		t.Errorf("the trigger read objects: %d GET requests", trig.S3GetRequests)
	}
	j := waitJob(t, rt, started.Id)
	// The trigger's work is a list, the job and one item and one message per
	// range (ten to a SendMessageBatch): nothing per byte.
	mu.Lock()
	ranges := int64(len(spans))
	mu.Unlock()
	t.Logf("trigger for %d objects, %d bytes, %d ranges: requests %v", len(bodies), total, ranges, trig.Requests)
	if put, batches := trig.Requests["DynamoDB.PutItem"], trig.Requests["SQS.SendMessageBatch"]; put != 1+ranges || batches != (ranges+9)/10 {
		t.Errorf("the trigger sent %d PutItem and %d SendMessageBatch for %d ranges; want 1 + one per range, and one batch per ten", put, batches, ranges)
	}
	if j.JobStatus != job.Completed || j.TotalProcessed != wantValid || j.TotalFailures != wantFailed {
		t.Fatalf("job %s: %d processed, %d failed; sequential parses find %d and %d", j.JobStatus, j.TotalProcessed, j.TotalFailures, wantValid, wantFailed)
	}
	mu.Lock()
	chunks := int((total + pieceSize - 1) / pieceSize)
	if len(spans) < chunks/perRange || largest > pieceSize*perRange {
		t.Errorf("%d plan messages scanned up to %d bytes each; want at least %d of at most %d", len(spans), largest, chunks/perRange, pieceSize*perRange)
	}
	mu.Unlock()
	pieces, err := rt.App.Store.Pieces(ctx, started.Id)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]plan.Piece{}
	for _, p := range pieces {
		got[p.Plan.Key] = append(got[p.Plan.Key], plan.Piece{Start: p.Plan.Start, End: p.Plan.End, Line: p.Plan.Line})
		body := bodies[p.Plan.Key]
		if p.Plan.Start > 0 && (body[p.Plan.Start-1] != '\n' || csvframe.FieldStart.After([]byte(body[3:p.Plan.Start])) != csvframe.FieldStart) {
			t.Errorf("%s: a piece starts at byte %d, where a sequential parse starts no record", p.Plan.Key, p.Plan.Start)
		}
	}
	for key, body := range bodies {
		open := func(_ context.Context, start, end int64) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(body[start:end])), nil
		}
		want, err := plan.Split(ctx, int64(len(body)), open, plan.Options{PieceSize: pieceSize, Quotes: true, Concurrency: 1})
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			want[i].Lines = 0
		}
		if fmt.Sprint(got[key]) != fmt.Sprint(want) {
			t.Errorf("%s: pieces %v, one function's plan %v", key, got[key], want)
		}
	}
}
