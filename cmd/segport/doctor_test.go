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
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/segport/segport/internal/localrun"
)

// healthyLines are what segport doctor prints for a healthy local stack.
var healthyLines = []string{
	"pass  outputs: ",
	"pass  bucket notification: s3://segport/imports/* and s3://segport/deletes/* ObjectCreated events go to the trigger\n",
	"pass  parse queue mapping: Enabled, with batch item failures\n",
	"pass  write queue mapping: Enabled, with batch item failures\n",
	"pass  trigger on-failure destination: failed S3 events go to the TriggerFailures queue\n",
	"pass  parse queue: 0 waiting, 0 in flight\n",
	"pass  write queue: 0 waiting, 0 in flight\n",
	"pass  parse DLQ: 0 waiting, 0 in flight\n",
	"pass  write DLQ: 0 waiting, 0 in flight\n",
	"pass  trigger failures: 0 waiting, 0 in flight\n",
	"pass  running jobs: 0 running",
	"warn  tables: 6 ACTIVE; point-in-time recovery is not emulated here; deletion protection is off on 6 of them",
	"pass  alarms: none in ALARM\n",
	"pass  query API: http://127.0.0.1:",
}

// TestDoctor: segport doctor passes on a healthy local stack, and each fault
// planted through the AWS APIs fails its own line, with the fix, and exit 2.
func TestDoctor(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The sweeper, which peeks at the dead-letter queues, runs only at start.
	rt, err := localrun.Open(ctx, localrun.Options{DataDir: data, SweepEvery: time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	serveTestAPI(t, rt)
	cfg := rt.Stack.AWSConfig()
	lc, s3c, sqc := lambda.NewFromConfig(cfg), rt.Stack.S3Client(), rt.Stack.SQSClient()

	doctor := func(t *testing.T, wantCode int, want ...string) {
		t.Helper()
		out, errOut, code := runCLI(t, "doctor", "--data", data)
		t.Logf("segport doctor:\n%s", out)
		if code != wantCode {
			t.Errorf("exit code %d, want %d\n%s", code, wantCode, errOut)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q", w)
			}
		}
	}
	t.Run("healthy", func(t *testing.T) {
		doctor(t, 0, append(healthyLines, "every check passed\n")...)
	})
	t.Run("DLQ not empty", func(t *testing.T) {
		dlq := rt.Stack.Resources["WriteDLQ"]
		if _, err := sqc.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(dlq), MessageBody: aws.String(`{"JobId":"0"}`)}); err != nil {
			t.Fatal(err)
		}
		doctor(t, 2, "FAIL  write DLQ: 1 waiting, 0 in flight, the oldest seen sent ",
			"      fix: find the cause in the local stack's log: the output of the segport dev process that runs the stack in "+data+" (each line names its job, piece and batch), fix it, then segport dlq redrive --data "+data+"\n",
			"pass  parse DLQ: 0 waiting", healthyLines[3],
			"FAIL  alarms: 1 in ALARM: segport-WriteDLQAlarm (Threshold Crossed: the queue holds 1 messages (GreaterThanThreshold 0))\n",
			"2 of the checks failed\n")
		if _, err := sqc.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(dlq)}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("trigger failures", func(t *testing.T) {
		q := rt.Stack.Resources["TriggerFailures"]
		if _, err := sqc.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q), MessageBody: aws.String(`{"condition":"RetriesExhausted"}`)}); err != nil {
			t.Fatal(err)
		}
		doctor(t, 2, "FAIL  trigger failures: 1 waiting, 0 in flight, the oldest seen sent ",
			"      fix: the messages are the S3 events the trigger failed (aws sqs receive-message --queue-url "+q+"): find why in the local stack's log",
			"FAIL  alarms: 1 in ALARM: segport-TriggerFailuresAlarm", "2 of the checks failed\n")
		if _, err := sqc.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(q)}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("notification missing", func(t *testing.T) {
		nc, err := s3c.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String(rt.Stack.Bucket)})
		if err != nil {
			t.Fatal(err)
		}
		setNotifications(t, s3c, rt.Stack.Bucket, &s3types.NotificationConfiguration{})
		doctor(t, 2, "FAIL  bucket notification: bucket segport sends no s3:ObjectCreated:* event under imports/ to the trigger arn:aws:lambda:us-east-1:000000000000:function:TriggerFunction: uploads there start no job\n",
			"      fix: deploy the template again (sam build && sam deploy), which restores it\n", healthyLines[2], "1 of the checks failed\n")
		setNotifications(t, s3c, rt.Stack.Bucket, &s3types.NotificationConfiguration{LambdaFunctionConfigurations: nc.LambdaFunctionConfigurations})
	})
	t.Run("mapping disabled", func(t *testing.T) {
		setMapping(t, lc, "WriterFunction", false)
		doctor(t, 2, "FAIL  write queue mapping: arn:aws:sqs:us-east-1:000000000000:WriteQueue → WriterFunction is Disabled: its messages wait in the queue\n",
			healthyLines[2], "1 of the checks failed\n")
		out, _, _ := runCLI(t, "doctor", "--data", data)
		fix := regexp.MustCompile(`fix: aws lambda update-event-source-mapping --uuid ([0-9a-f-]+) --enabled\n`).FindStringSubmatch(out)
		if fix == nil {
			t.Fatalf("no fix:\n%s", out)
		}
		if _, err := lc.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: aws.String(fix[1]), Enabled: aws.Bool(true)}); err != nil {
			t.Fatalf("the fix's uuid: %v", err)
		}
	})
	t.Run("stuck job", func(t *testing.T) {
		// A job the writer never finishes, seen by a doctor whose clock is past
		// the sweeper's limit: the sweeper would have ended it by then.
		setMapping(t, lc, "WriterFunction", false)
		defer setMapping(t, lc, "WriterFunction", true)
		_, errOut, _ := runCLI(t, "import", "--data", data, "--wait", "3s", "--segment", "stuck", "../../examples/spec-example.csv")
		id := regexp.MustCompile(`job ([0-9a-f]{32}): PROCESSING`).FindStringSubmatch(errOut)
		if id == nil {
			t.Fatalf("import: %s", errOut)
		}
		tgt, err := openTarget(ctx, &stackFlags{data: data}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tgt.Close()
		d, err := describeDeployment(ctx, cfg, "segport")
		if err != nil {
			t.Fatal(err)
		}
		dr := newDoctor(tgt, d, cfg, true)
		if f := dr.stuckJobs(ctx); f.status != pass {
			t.Errorf("now: %+v", f)
		}
		dr.now = func() time.Time { return time.Now().Add(3 * time.Hour) }
		f := dr.stuckJobs(ctx)
		if f.status != fail || !strings.Contains(f.detail, "1 of 1 running jobs made no progress for longer than the sweeper's limit (2h5m0s): "+id[1]+" (PROCESSING, no progress for 3h0m0s)") ||
			!strings.Contains(f.fix, "the sweeper does not run") {
			t.Errorf("3 hours later: %+v", f)
		}
	})
	t.Run("json", func(t *testing.T) {
		out, _, code := runCLI(t, "doctor", "--data", data, "--json")
		var lines []struct{ Status, Check, Detail, Fix string }
		if err := json.Unmarshal([]byte(out), &lines); err != nil || code != 0 || len(lines) != 14 || lines[0].Status != "pass" || lines[0].Check != "outputs" {
			t.Errorf("doctor --json: exit code %d, %v\n%s", code, err, out)
		}
	})
	t.Run("healthy again, with a probe", func(t *testing.T) {
		out, errOut, code := runCLI(t, "doctor", "--data", data, "--probe")
		t.Logf("segport doctor --probe:\n%s", out)
		if code != 0 || !regexp.MustCompile(`(?m)^pass  probe import: job [0-9a-f]{32} COMPLETED 10 endpoints in \d+s into segment segport-doctor-[0-9a-f]{8} \(its file deleted`).MatchString(out) {
			t.Fatalf("exit code %d\n%s\n%s", code, out, errOut)
		}
	})
}

// TestDoctorStartsTheStack: with no stack running on the folder, doctor
// starts one and checks it; the query API, which only segport dev serves,
// is a warning.
func TestDoctorStartsTheStack(t *testing.T) {
	out, errOut, code := runCLI(t, "doctor", "--data", t.TempDir())
	if code != 0 || !strings.Contains(out, healthyLines[1]) || !strings.Contains(out, "warn  query API: not checked: the local query API runs only under segport dev") ||
		!strings.Contains(out, "every check passed\n") {
		t.Errorf("exit code %d\n%s\n%s", code, out, errOut)
	}
}
