package functions

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	segport "github.com/segport/segport"
	"github.com/segport/segport/internal/app"
	"github.com/segport/segport/internal/config"
	"github.com/segport/segport/internal/localstack"
	"github.com/segport/segport/internal/templatecheck"
	"github.com/segport/segport/pkg/job"
)

// rieModule is the Runtime Interface Emulator's main package, a tool dependency in go.mod.
const rieModule = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

// directInvokes names the function of each sample event that is not shaped like
// an event source's (a direct `aws lambda invoke` payload).
var directInvokes = map[string]string{"create-import-job.json": "TriggerFunction"}

// pii is what the sample events and examples/spec-example.csv hold of addresses
// and user attributes: none of it may appear in a function's output.
var pii = []string{"2065550182", "john.stiles@example.com", "wang.xiulan@example.com",
	"1a2b3c4d5e6f7g8h9i0j1a2b3c4d5e6f", `"John"`}

// TestSamLocalInvoke runs each function's bootstrap, built for this machine by
// its Makefile target, under the Lambda Runtime Interface Emulator with every
// file in events/, one invoke at a time and each in a fresh emulator, as
// `sam local invoke <Function> -e events/<file> --env-vars env.json` does with
// env.json pointing the function at the local stack (AWS_ENDPOINT_URL_*). It
// checks each response and its effect on the stack.
func TestSamLocalInvoke(t *testing.T) {
	tmpl := template(t)
	files, _ := filepath.Glob(filepath.Join(root, "events", "*.json"))
	if len(files) == 0 {
		t.Fatal("no sample events")
	}
	targets := map[string]string{} // file → function
	for _, f := range files {
		fn, err := functionFor(tmpl, f)
		if err != nil {
			t.Fatal(err)
		}
		targets[filepath.Base(f)] = fn
	}

	// Build the emulator and the bootstraps while the stack starts. Neither
	// counts against the invocations' deadline: on a cold build cache the
	// builds alone take minutes.
	var rie string
	var bootstraps map[string]string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rie = buildRIE(t)
		var fns []string
		for _, fn := range targets {
			if !slices.Contains(fns, fn) {
				fns = append(fns, fn)
			}
		}
		bootstraps = buildAll(t, fns, "LAMBDA_ARCH="+runtime.GOARCH)
	}()
	st := startStack(t)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env := st.Env()
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	a := app.New(cfg, st.AWSConfig(), app.Options{})
	h := &harness{t: t, ctx: ctx, st: st, app: a, tmpl: tmpl, rie: rie, bootstraps: bootstraps}

	spec, err := os.ReadFile(filepath.Join(root, "examples", "spec-example.csv"))
	if err != nil {
		t.Fatal(err)
	}
	// s3-put.json and sqs-parse.json name this object.
	h.put("imports/spring customers/spec-example.csv", spec)

	// Trigger events first: the others read the segment they create.
	order := slices.SortedFunc(maps.Keys(targets), func(a, b string) int {
		ra, rb := rank(a, targets[a]), rank(b, targets[b])
		if ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	var output bytes.Buffer
	for _, name := range order {
		t.Run(name, func(t *testing.T) {
			h.t = t
			payload, err := os.ReadFile(filepath.Join(root, "events", name))
			if err != nil {
				t.Fatal(err)
			}
			if check, ok := eventChecks[name]; ok {
				check(h, targets[name], payload)
			} else {
				h.invokeOK(targets[name], payload)
			}
		})
		output.Write(h.output.Bytes())
		h.output.Reset()
	}
	for _, line := range strings.Split(output.String(), "\n") {
		for _, s := range pii {
			if strings.Contains(line, s) {
				t.Errorf("the functions' output shows %s in clear: %s", s, line)
			}
		}
	}
}

// rank orders the sample events: the trigger's first, then the plan message
// that starts the trigger's job and creates its segment, which the others read.
func rank(name, fn string) int {
	switch {
	case fn == "TriggerFunction":
		return 0
	case name == "sqs-plan.json":
		return 1
	}
	return 2
}

// eventChecks invoke a sample event and check what it did.
var eventChecks = map[string]func(h *harness, fn string, payload []byte){
	"scheduled-sweep.json": func(h *harness, fn string, payload []byte) {
		var rep struct{ DeadLetters, Stalled, Resent, Settled, Finished *int }
		h.decode(h.invokeOK(fn, payload), &rep)
		if rep.DeadLetters == nil || rep.Stalled == nil || rep.Resent == nil || rep.Settled == nil || rep.Finished == nil {
			h.t.Errorf("sweep report %+v: want every count", rep)
		}
	},
	"s3-put.json": func(h *harness, fn string, payload []byte) {
		var ev events.S3Event
		h.decode(payload, &ev)
		if out := h.invokeOK(fn, payload); string(out) != "null" {
			h.t.Errorf("response %s, want null", out)
		}
		rec := ev.Records[0].S3
		id := job.NewId(rec.Bucket.Name, rec.Object.URLDecodedKey, rec.Object.Sequencer, rec.Object.ETag)
		j := h.job(id)
		if j.JobStatus != job.Initializing || j.Definition.SegmentName != "spring customers" {
			h.t.Errorf("job %+v, want INITIALIZING (being planned) in segment spring customers", j)
		}
		// The one plan message is the body of events/sqs-plan.json, which
		// the next check delivers to the parser.
		got := h.expectMessage("ParseQueue", id)
		var sample events.SQSEvent
		plan, err := os.ReadFile(filepath.Join(root, "events", "sqs-plan.json"))
		if err != nil {
			h.t.Fatal(err)
		}
		h.decode(plan, &sample)
		var want, sent job.ParseMessage
		h.decode([]byte(sample.Records[0].Body), &want)
		h.decode([]byte(got), &sent)
		if !reflect.DeepEqual(sent, want) || want.Range == nil {
			h.t.Errorf("plan message %s,\nwant events/sqs-plan.json's body %s", got, sample.Records[0].Body)
		}
	},
	"create-import-job.json": func(h *harness, fn string, payload []byte) {
		var got job.Job
		h.decode(h.invokeOK(fn, payload), &got)
		if got.Id == "" || got.JobStatus != job.Initializing || got.Definition.S3Url != "s3://segport/imports/spring customers/" {
			h.t.Fatalf("response job %+v, want INITIALIZING", got)
		}
		if j := h.job(got.Id); j.JobStatus != job.Initializing {
			h.t.Errorf("stored job %+v", j)
		}
		h.expectMessage("ParseQueue", got.Id)
	},
	"sqs-plan.json": func(h *harness, fn string, payload []byte) {
		var ev events.SQSEvent
		h.decode(payload, &ev)
		var m job.ParseMessage
		h.decode([]byte(ev.Records[0].Body), &m)
		h.expectNoFailures(h.invokeOK(fn, payload))
		// The job's one range is scanned: the job starts with one piece in a
		// segment that now exists, and its piece is queued.
		if j := h.job(m.JobId); j.JobStatus != job.Processing || j.TotalPieces != 1 {
			h.t.Errorf("job %+v, want PROCESSING with 1 piece", j)
		}
		if _, err := h.app.Store.Segment(h.ctx, m.SegmentId); err != nil {
			h.t.Errorf("segment %s: %v", m.SegmentId, err)
		}
		h.expectMessage("ParseQueue", m.JobId)
	},
	"sqs-parse.json": func(h *harness, fn string, payload []byte) {
		var ev events.SQSEvent
		h.decode(payload, &ev)
		var m job.ParseMessage
		h.decode([]byte(ev.Records[0].Body), &m)
		h.startJob(m.JobId, m.SegmentId)
		h.expectNoFailures(h.invokeOK(fn, payload))
		pieces, err := h.app.Store.Pieces(h.ctx, m.JobId)
		if err != nil || len(pieces) != 1 || !pieces[0].Parsed || pieces[0].Result.Rows != 5 || pieces[0].Result.Batches != 1 {
			h.t.Errorf("pieces %+v, %v; want one parsed piece of 5 rows in 1 batch", pieces, err)
		}
		h.expectMessage("WriteQueue", m.JobId)
		h.expectFailureShape(fn, ev)
	},
	"sqs-write.json": func(h *harness, fn string, payload []byte) {
		var ev events.SQSEvent
		h.decode(payload, &ev)
		var b job.WriteBatch
		h.decode([]byte(ev.Records[0].Body), &b)
		h.startJob(b.JobId, b.SegmentId)
		if _, err := h.app.Store.PieceParsed(h.ctx, b.JobId, 0, job.PieceResult{Batches: 1, Rows: 2}); err != nil {
			h.t.Fatal(err)
		}
		h.expectNoFailures(h.invokeOK(fn, payload))
		if j := h.job(b.JobId); j.JobStatus != job.Completed || j.TotalProcessed != 2 {
			h.t.Errorf("job %+v, want COMPLETED with 2 rows", j)
		}
		e, err := h.app.Store.Endpoint(h.ctx, "f1ac0032caf20995a1e03a9582adef1c")
		if err != nil || e.User == nil || len(e.User.UserAttributes.Map()["FirstName"]) != 1 {
			h.t.Errorf("endpoint %+v, %v", e, err)
		}
		h.expectFailureShape(fn, ev)
	},
	"api-get-segment.json": func(h *harness, fn string, payload []byte) {
		var resp events.APIGatewayV2HTTPResponse
		h.decode(h.invokeOK(fn, payload), &resp)
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, "spring customers") {
			h.t.Errorf("response %d %s, want 200 with the segment the trigger created", resp.StatusCode, resp.Body)
		}
	},
}

type harness struct {
	t          *testing.T
	ctx        context.Context
	st         *localstack.Stack
	app        *app.App
	tmpl       *templatecheck.Template
	rie        string
	bootstraps map[string]string
	output     bytes.Buffer // the emulator's and the functions' output
}

// invoke runs one event through a fresh emulator and bootstrap.
func (h *harness) invoke(fn string, payload []byte) []byte {
	h.t.Helper()
	apiPort, runtimePort := freePort(h.t), freePort(h.t)
	cmd := exec.Command(h.rie,
		"--runtime-interface-emulator-address", "127.0.0.1:"+apiPort,
		"--runtime-api-address", "127.0.0.1:"+runtimePort,
		h.bootstraps[fn])
	cmd.Dir = h.t.TempDir()
	cmd.Env = h.functionEnv(fn, cmd.Dir)
	cmd.Stdout, cmd.Stderr = &h.output, &h.output
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	url := "http://127.0.0.1:" + apiPort + "/2015-03-31/functions/function/invocations"
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Post(url, "application/json", bytes.NewReader(payload))
		if err == nil {
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != http.StatusOK {
				h.t.Fatalf("invoke %s: %d %s %v\n%s", fn, resp.StatusCode, body, err, h.output.String())
			}
			return body
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("the emulator did not answer: %v\n%s", err, h.output.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// invokeOK invokes and fails the test on a function error.
func (h *harness) invokeOK(fn string, payload []byte) []byte {
	h.t.Helper()
	out := h.invoke(fn, payload)
	var fnErr struct{ ErrorType, ErrorMessage string }
	if json.Unmarshal(out, &fnErr) == nil && fnErr.ErrorType != "" {
		h.t.Fatalf("%s failed: %s: %s\n%s", fn, fnErr.ErrorType, fnErr.ErrorMessage, h.output.String())
	}
	return out
}

// functionEnv is the environment `sam local invoke <fn> --env-vars env.json`
// gives the function: the variables the template declares for it, with
// env.json's values (those `segport dev` prints: the template's resolved to the
// local stack, and the emulators' endpoints), plus what SAM sets itself.
// SAM ignores env.json entries the template does not declare, so neither does this.
func (h *harness) functionEnv(fn, home string) []string {
	vars, err := h.st.EnvFor(fn) // declared, resolved to the local stack
	if err != nil {
		h.t.Fatal(err)
	}
	ep := h.st.Endpoints
	envJSON := map[string]string{
		"AWS_ENDPOINT_URL_S3": ep.S3, "AWS_ENDPOINT_URL_SQS": ep.SQS, "AWS_ENDPOINT_URL_DYNAMODB": ep.DynamoDB,
		config.S3PathStyleVar: "true",
	}
	for k, v := range envJSON {
		if _, declared := vars[k]; !declared {
			h.t.Errorf("%s: the template does not declare %s, so sam local invoke --env-vars cannot set it", fn, k)
		}
		vars[k] = v
	}
	maps.Copy(vars, map[string]string{
		"AWS_SAM_LOCAL":     "true",
		"AWS_ACCESS_KEY_ID": h.st.Credentials().AccessKeyID, "AWS_SECRET_ACCESS_KEY": h.st.Credentials().SecretAccessKey,
		"AWS_REGION": localstack.Region, "AWS_DEFAULT_REGION": localstack.Region,
		"AWS_LAMBDA_FUNCTION_NAME": fn, "AWS_LAMBDA_FUNCTION_TIMEOUT": fmt.Sprint(h.prop(fn, "Timeout", 3)),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": fmt.Sprint(h.prop(fn, "MemorySize", 128)),
		// No shared config or credentials of this machine's user.
		"HOME": home, "AWS_CONFIG_FILE": filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "credentials"),
		"TMPDIR": home, "PATH": "/usr/bin:/bin",
	})
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

func (h *harness) prop(fn, name string, def int) any {
	if v, ok := h.tmpl.Resources[fn].Properties[name]; ok {
		return v
	}
	if v, ok := h.tmpl.GlobalFunction[name]; ok {
		return v
	}
	return def
}

func (h *harness) decode(b []byte, v any) {
	h.t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		h.t.Fatalf("decode %s: %v", b, err)
	}
}

func (h *harness) put(key string, body []byte) {
	h.t.Helper()
	_, err := h.st.S3Client().PutObject(h.ctx, &s3.PutObjectInput{Bucket: aws.String(h.st.Bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) job(id string) *job.Job {
	h.t.Helper()
	j, err := h.app.Store.Job(h.ctx, id)
	if err != nil {
		h.t.Fatalf("job %s: %v", id, err)
	}
	return j
}

// startJob creates a PROCESSING job of one piece, as the trigger would have.
func (h *harness) startJob(id, segId string) {
	h.t.Helper()
	j := &job.Job{Id: id, JobStatus: job.Created, CreationDate: "2026-11-01T12:00:00Z",
		Definition: job.Definition{S3Url: "s3://segport/imports/spring customers/spec-example.csv", Format: "CSV", SegmentId: segId, SegmentName: "spring customers"}}
	l := job.Launch{JobOrder: strings.Repeat("0", 10), SegmentId: segId}
	if _, _, err := h.app.Store.CreateJob(h.ctx, j, l); err != nil {
		h.t.Fatal(err)
	}
	if err := h.app.Store.StartJob(h.ctx, id, l, []job.Piece{{Key: "imports/spring customers/spec-example.csv"}}); err != nil {
		h.t.Fatal(err)
	}
}

// expectMessage receives the queue's messages and wants one of job jobId,
// whose body it returns.
func (h *harness) expectMessage(queue, jobId string) string {
	h.t.Helper()
	out, err := h.st.SQSClient().ReceiveMessage(h.ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(h.st.Resources[queue]), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, m := range out.Messages {
		var body struct{ JobId string }
		json.Unmarshal([]byte(aws.ToString(m.Body)), &body)
		if body.JobId == jobId {
			return aws.ToString(m.Body)
		}
	}
	h.t.Errorf("%s holds no message of job %s (%d messages)", queue, jobId, len(out.Messages))
	return ""
}

// expectNoFailures wants the partial-batch response with no failed item, in
// the JSON shape Lambda reads (an empty or null list is a complete success).
func (h *harness) expectNoFailures(out []byte) {
	h.t.Helper()
	var resp map[string]json.RawMessage
	err := json.Unmarshal(out, &resp)
	if v, ok := resp["batchItemFailures"]; err != nil || !ok || (string(v) != "null" && string(v) != "[]") {
		h.t.Errorf("response %s, want {\"batchItemFailures\":null or []}", out)
	}
}

// expectFailureShape sends the event again with a malformed second message:
// the response must name exactly that message, as Lambda's partial batch
// response does ({"batchItemFailures":[{"itemIdentifier":id}]}).
func (h *harness) expectFailureShape(fn string, ev events.SQSEvent) {
	h.t.Helper()
	bad := ev.Records[0]
	bad.MessageId, bad.Body = "bad-message", "{not json"
	ev.Records = append(ev.Records, bad)
	payload, _ := json.Marshal(ev)
	out := h.invokeOK(fn, payload)
	var resp map[string][]map[string]string
	if err := json.Unmarshal(out, &resp); err != nil || len(resp["batchItemFailures"]) != 1 ||
		resp["batchItemFailures"][0]["itemIdentifier"] != "bad-message" {
		h.t.Errorf("response %s, want the malformed message as the one batch item failure", out)
	}
}

// functionFor finds the function a sample event is for, from the template's
// event sources: the S3 event's bucket, the SQS message's queue, the HTTP
// API's route; or directInvokes.
func functionFor(tmpl *templatecheck.Template, path string) (string, error) {
	name := filepath.Base(path)
	if fn, ok := directInvokes[name]; ok {
		return fn, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var ev struct {
		Records []struct {
			EventSource    string `json:"eventSource"`
			EventSourceARN string `json:"eventSourceARN"`
		}
		RouteKey string `json:"routeKey"`
		Source   string `json:"source"`
	}
	if err := json.Unmarshal(data, &ev); err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	for _, fn := range tmpl.Functions() {
		evs, _ := tmpl.Resources[fn].Properties["Events"].(map[string]any)
		for _, e := range evs {
			m, _ := e.(map[string]any)
			props, _ := m["Properties"].(map[string]any)
			switch m["Type"] {
			case "S3":
				if len(ev.Records) > 0 && ev.Records[0].EventSource == "aws:s3" {
					return fn, nil
				}
			case "SQS":
				q, _ := props["Queue"].(map[string]any)
				att, _ := q["Fn::GetAtt"].([]any)
				if len(ev.Records) > 0 && len(att) == 2 && strings.HasSuffix(ev.Records[0].EventSourceARN, ":"+fmt.Sprint(att[0])) {
					return fn, nil
				}
			case "HttpApi":
				if ev.RouteKey != "" && ev.RouteKey == fmt.Sprintf("%v %v", props["Method"], props["Path"]) {
					return fn, nil
				}
			case "Schedule":
				if ev.Source == "aws.events" {
					return fn, nil
				}
			}
		}
	}
	return "", fmt.Errorf("events/%s matches no event source of the template: add it to directInvokes", name)
}

// buildRIE builds the emulator from the module cache (go.mod pins it as a tool).
func buildRIE(t *testing.T) string {
	out := filepath.Join(t.TempDir(), "aws-lambda-rie")
	cmd := exec.Command("go", "build", "-o", out, rieModule)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("build the Runtime Interface Emulator: %v\n%s", err, b)
	}
	return out
}

// startStack starts the local stack without handlers: only the functions under
// the emulator act on it. On a fresh machine it first installs the emulators.
func startStack(t *testing.T) *localstack.Stack {
	t.Helper()
	nodeDir, err := localstack.SharedNodeDir()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := localstack.Start(ctx, localstack.Options{DataDir: t.TempDir(), NodeDir: nodeDir, Template: segport.Template})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}
