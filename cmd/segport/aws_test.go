package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	segport "github.com/segport/segport"
	"github.com/segport/segport/internal/localrun"
	"github.com/segport/segport/internal/localstack"
	"github.com/segport/segport/pkg/job"
)

// deployed runs a local stack provisioned from tmpl (nil: the repository's
// template) with its handlers, and points the AWS SDK's environment at it as
// if it were the deployed stack "segport": the CLI's --aws path then runs
// unchanged against it, CloudFormation and Lambda included (the local stack's
// control plane).
func deployed(t *testing.T, tmpl []byte) *localrun.Runtime {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rt, err := localrun.Open(ctx, localrun.Options{DataDir: t.TempDir(), Template: tmpl, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	serveTestAPI(t, rt)
	ep, creds := rt.Stack.Endpoints, rt.Stack.Credentials()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_S3": ep.S3, "AWS_ENDPOINT_URL_SQS": ep.SQS, "AWS_ENDPOINT_URL_DYNAMODB": ep.DynamoDB,
		"AWS_ENDPOINT_URL_CLOUDFORMATION": ep.Control, "AWS_ENDPOINT_URL_LAMBDA": ep.Control, "AWS_ENDPOINT_URL_CLOUDWATCH": ep.Control,
		"AWS_ACCESS_KEY_ID": creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY": creds.SecretAccessKey,
		"AWS_REGION": localstack.Region, "AWS_PROFILE": "", "AWS_SESSION_TOKEN": "",
		"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	return rt
}

// serveTestAPI serves the query API of rt and records it as the ApiUrl
// output, as segport dev does.
func serveTestAPI(t *testing.T, rt *localrun.Runtime) {
	t.Helper()
	url, stop, err := serveAPI(rt.App.API(rt.Stack.AWSConfig(), slog.New(slog.NewTextHandler(io.Discard, nil))), 0, rt.Stack.Relay("execute-api").Verify)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	if err := rt.Stack.SetOutput("ApiUrl", url); err != nil {
		t.Fatal(err)
	}
}

// withoutOutputs is the repository's template without some outputs, and
// with another TemplateVersion: a stack deployed from an older template.
func withoutOutputs(t *testing.T, version string, names ...string) []byte {
	t.Helper()
	s := string(segport.Template)
	head, outputs, ok := strings.Cut(s, "\nOutputs:\n")
	if !ok {
		t.Fatal("the template has no Outputs")
	}
	for _, name := range names {
		re := regexp.MustCompile(`(?m)^  ` + name + `:\n(    .*\n)*`)
		if !re.MatchString(outputs) {
			t.Fatalf("the template has no output %s", name)
		}
		outputs = re.ReplaceAllString(outputs, "")
	}
	outputs = strings.Replace(outputs, "  TemplateVersion:\n    Value: \""+templateVersion(t)+"\"", "  TemplateVersion:\n    Value: \""+version+"\"", 1)
	return []byte(head + "\nOutputs:\n" + outputs)
}

func templateVersion(t *testing.T) string {
	t.Helper()
	_, v, err := templateOutputs()
	if err != nil || v == "" {
		t.Fatalf("template version %q: %v", v, err)
	}
	return v
}

// TestAWSChecksOutputs: a stack that lacks outputs of this version's template
// is named with every missing output in one message, with its template
// version, before any request reaches a table, queue or bucket; an unknown
// stack is said to be so.
func TestAWSChecksOutputs(t *testing.T) {
	deployed(t, withoutOutputs(t, "0", "BucketName", "JobsTableName"))
	for _, args := range [][]string{{"jobs", "list", "--aws"}, {"import", "--aws", "../../examples/spec-example.csv"}, {"dlq", "redrive", "--aws"}} {
		out, errOut, code := runCLI(t, args...)
		for _, want := range []string{
			"stack segport has no outputs BucketName, JobsTableName: is it a segport stack, deployed from this version's template?",
			"stack segport was deployed from template version 0, and this segport needs version " + templateVersion(t),
			"sam build && sam deploy",
		} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%v: stderr lacks %q:\n%s", args, want, errOut)
			}
		}
		if code != 2 || out != "" {
			t.Errorf("%v: exit code %d, stdout %q", args, code, out)
		}
	}
	out, _, code := runCLI(t, "doctor", "--aws")
	if code != 2 || !strings.Contains(out, "segport doctor: stack segport\nFAIL  outputs: stack segport has no outputs BucketName, JobsTableName") {
		t.Errorf("doctor: exit code %d\n%s", code, out)
	}
	_, errOut, code := runCLI(t, "segments", "list", "--aws", "--stack", "nope")
	if code != 2 || !strings.Contains(errOut, "stack nope does not exist in us-east-1: name it with --stack") {
		t.Errorf("unknown stack: exit code %d\n%s", code, errOut)
	}
}

// TestAWSListsAndExitCodes: on the deployed path, --json lists are arrays,
// empty or not; an import exits 0 when its job completes, 1 when it FAILED,
// and 2 when the trigger itself failed (a deployment error, not a job's).
func TestAWSListsAndExitCodes(t *testing.T) {
	deployed(t, nil)
	for _, noun := range []string{"jobs", "segments"} {
		out, errOut, code := runCLI(t, noun, "list", "--aws", "--json")
		if code != 0 || out != "[]\n" {
			t.Errorf("%s list on an empty stack: exit code %d, stdout %q, stderr %s", noun, code, out, errOut)
		}
	}
	out, errOut, code := runCLI(t, "import", "--aws", "--segment", "aws seg", "../../examples/spec-example.csv")
	if code != 0 || !strings.Contains(out, ": COMPLETED\n") {
		t.Fatalf("import --aws: exit code %d\n%s\n%s", code, out, errOut)
	}
	// A whole folder as one job, through the trigger's Invoke.
	out, errOut, code = runCLI(t, "import", "--aws", "--segment", "aws folder", "s3://segport/imports/aws seg/")
	if code != 0 || !strings.Contains(out, ": COMPLETED\n") || !strings.Contains(out, "  endpoints: 5 imported, 0 failed\n") {
		t.Fatalf("import --aws s3://: exit code %d\n%s\n%s", code, out, errOut)
	}
	bad := writeFile(t, "bad.csv", "\x1f\x8b\x08\x00")
	if out, _, code := runCLI(t, "import", "--aws", "--segment", "aws seg", bad); code != 1 || !strings.Contains(out, "FAILED") {
		t.Errorf("import of a compressed file: exit code %d, want 1\n%s", code, out)
	}
	_, errOut, code = runCLI(t, "import", "--aws", "--segment", "aws seg", "s3://no-such-bucket/imports/x/")
	if code != 2 || !strings.Contains(errOut, "the trigger arn:aws:lambda:us-east-1:000000000000:function:TriggerFunction failed (Unhandled)") {
		t.Errorf("a failed trigger invoke: exit code %d, want 2\n%s", code, errOut)
	}
	out, errOut, code = runCLI(t, "doctor", "--aws")
	if code != 0 || !strings.Contains(out, "segport doctor: stack segport in us-east-1\npass  outputs: ") || !strings.Contains(out, "pass  alarms: none in ALARM\n") ||
		!strings.Contains(out, "pass  running jobs: 0 running") || !strings.Contains(out, "pass  query API: http://127.0.0.1:") || !strings.Contains(out, "every check passed\n") {
		t.Errorf("doctor --aws: exit code %d\n%s\n%s", code, out, errOut)
	}
	for noun, want := range map[string]int{"jobs": 3, "segments": 2} {
		out, _, code := runCLI(t, noun, "list", "--aws", "--json")
		var list []map[string]any
		if err := json.Unmarshal([]byte(out), &list); err != nil || code != 0 || len(list) != want {
			t.Errorf("%s list: exit code %d, %d items (want %d), %v\n%s", noun, code, len(list), want, err, out)
		}
	}
}

// TestEmptyListsLocally: the local stack's --json lists are arrays too.
func TestEmptyListsLocally(t *testing.T) {
	data := t.TempDir()
	for _, noun := range []string{"jobs", "segments"} {
		out, errOut, code := runCLI(t, noun, "list", "--data", data, "--json")
		if code != 0 || out != "[]\n" {
			t.Errorf("%s list: exit code %d, stdout %q, stderr %s", noun, code, out, errOut)
		}
	}
}

// awsClients are SDK clients configured from the environment deployed set.
func awsClients(t *testing.T) (*s3.Client, *lambda.Client) {
	t.Helper()
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s3.NewFromConfig(cfg), lambda.NewFromConfig(cfg)
}

// setMapping enables or disables a function's event-source mapping.
func setMapping(t *testing.T, lc *lambda.Client, function string, enabled bool) {
	t.Helper()
	ctx := context.Background()
	out, err := lc.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{FunctionName: aws.String(function)})
	if err != nil || len(out.EventSourceMappings) != 1 {
		t.Fatalf("mappings of %s: %+v, %v", function, out, err)
	}
	if _, err := lc.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: out.EventSourceMappings[0].UUID, Enabled: aws.Bool(enabled)}); err != nil {
		t.Fatal(err)
	}
}

// setNotifications replaces the bucket's notification configuration.
func setNotifications(t *testing.T, c *s3.Client, bucket string, nc *s3types.NotificationConfiguration) {
	t.Helper()
	if _, err := c.PutBucketNotificationConfiguration(context.Background(), &s3.PutBucketNotificationConfigurationInput{
		Bucket: aws.String(bucket), NotificationConfiguration: nc}); err != nil {
		t.Fatal(err)
	}
}

// TestAWSImportWaitDeadline: a stuck writer and a stopped trigger end
// segport import at its --wait deadline with exit code 2, naming the job,
// its phase, what became of the upload and where to look.
func TestAWSImportWaitDeadline(t *testing.T) {
	rt := deployed(t, nil)
	s3c, lc := awsClients(t)

	setMapping(t, lc, "WriterFunction", false)
	start := time.Now()
	_, errOut, code := runCLI(t, "import", "--aws", "--wait", "6s", "--segment", "stuck", "../../examples/spec-example.csv")
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("import gave up after %v with --wait 6s", d)
	}
	id := regexp.MustCompile(`job ([0-9a-f]{32}): `).FindStringSubmatch(errOut)
	if code != 2 || id == nil {
		t.Fatalf("stuck writer: exit code %d\n%s", code, errOut)
	}
	for _, want := range []string{
		"gave up waiting at the --wait deadline, 6s after the first upload\n",
		"job " + id[1] + ": PROCESSING: 1 of 1 pieces read, 0 completed and 0 failed; 0 endpoints written, 0 rows failed",
		"s3://segport/imports/stuck/spec-example.csv stays in the bucket: the job goes on without segport import",
		"look at: the parser's log group /aws/lambda/segport-ParserFunction; the writer's log group /aws/lambda/segport-WriterFunction; segport jobs get " + id[1] + " --aws --stack segport",
		"queues: parse DLQ 0, write DLQ 0, trigger failures 0",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stuck writer: stderr lacks %q:\n%s", want, errOut)
		}
	}
	setMapping(t, lc, "WriterFunction", true)

	setNotifications(t, s3c, rt.Stack.Bucket, &s3types.NotificationConfiguration{})
	defer func(d time.Duration) { startLimit = d }(startLimit)
	startLimit = 3 * time.Second // instead of 2 minutes
	_, errOut, code = runCLI(t, "import", "--aws", "--wait", "1h", "--segment", "untriggered", "../../examples/spec-example.csv")
	for _, want := range []string{
		"gave up waiting: no job was created within 3s\n",
		": never started: no job was created for it (the trigger did not run, or failed)",
		"s3://segport/imports/untriggered/spec-example.csv stays in the bucket with no job: when the trigger runs again (segport doctor checks it), import the file again, or delete the object: aws s3 rm 's3://segport/imports/untriggered/spec-example.csv'",
		"look at: the trigger's log group /aws/lambda/segport-TriggerFunction; segport doctor --aws --stack segport",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stopped trigger: stderr lacks %q:\n%s", want, errOut)
		}
	}
	if code != 2 {
		t.Errorf("stopped trigger: exit code %d, want 2", code)
	}
}

// TestImportWaitDeadlineLocally: attached to a local stack whose trigger
// hears of nothing, the message points at that stack's process and folder.
func TestImportWaitDeadlineLocally(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rt, err := localrun.Open(ctx, localrun.Options{DataDir: data, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	setNotifications(t, rt.Stack.S3Client(), rt.Stack.Bucket, &s3types.NotificationConfiguration{})
	_, errOut, code := runCLI(t, "import", "--data", data, "--wait", "2s", "../../examples/spec-example.csv")
	for _, want := range []string{
		": never started: no job was created for it",
		"look at: the output of the segport dev process that runs the stack in " + data + "; segport doctor --data " + data,
		"queues: parse DLQ 0, write DLQ 0, trigger failures 0",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	if _, errOut, code := runCLI(t, "import", "--data", data, "--wait", "1ns", "../../examples/spec-example.csv"); code != 2 ||
		!strings.Contains(errOut, "gave up at the --wait deadline (1ns) while uploading or starting ../../examples/spec-example.csv: an upload cut short leaves no object in S3") {
		t.Errorf("deadline during the upload: exit code %d\n%s", code, errOut)
	}
	if _, errOut, code := runCLI(t, "import", "--data", data, "--wait", "-1s", "../../examples/spec-example.csv"); code != 2 || !strings.Contains(errOut, "--wait -1s is negative") {
		t.Errorf("negative --wait: exit code %d\n%s", code, errOut)
	}
}

func TestDefaultWait(t *testing.T) {
	for bytes, want := range map[int64]time.Duration{0: 5 * time.Minute, 49 << 20: 5 * time.Minute, 50 << 20: 6 * time.Minute, 10 << 30: 209 * time.Minute} {
		if got := defaultWait(bytes); got != want {
			t.Errorf("defaultWait(%d) = %v, want %v", bytes, got, want)
		}
	}
}

// TestPhase: the timeout message names each phase a job can be in.
func TestPhase(t *testing.T) {
	tests := []struct {
		j    *job.Job
		want string
	}{
		{nil, "never started: no job was created for it"},
		{&job.Job{JobStatus: job.Initializing}, "INITIALIZING: the parser is still planning its pieces"},
		{&job.Job{JobStatus: job.Processing, TotalPieces: 4, CompletedPieces: 1, TotalProcessed: 10, Progress: &job.Progress{PiecesParsed: 2}},
			"PROCESSING: 2 of 4 pieces read, 1 completed and 0 failed; 10 endpoints written, 0 rows failed"},
	}
	for _, tc := range tests {
		if got := phase(tc.j); !strings.HasPrefix(got, tc.want) {
			t.Errorf("phase = %q, want %q...", got, tc.want)
		}
	}
}
