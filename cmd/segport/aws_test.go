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

	segport "github.com/segport/segport"
	"github.com/segport/segport/internal/localrun"
	"github.com/segport/segport/internal/localstack"
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
	ep := rt.Stack.Endpoints
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_S3": ep.S3, "AWS_ENDPOINT_URL_SQS": ep.SQS, "AWS_ENDPOINT_URL_DYNAMODB": ep.DynamoDB,
		"AWS_ENDPOINT_URL_CLOUDFORMATION": ep.Control, "AWS_ENDPOINT_URL_LAMBDA": ep.Control,
		"AWS_ACCESS_KEY_ID": localstack.AccessKeyID, "AWS_SECRET_ACCESS_KEY": localstack.SecretAccessKey,
		"AWS_REGION": localstack.Region, "AWS_PROFILE": "", "AWS_SESSION_TOKEN": "",
		"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	return rt
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
	bad := writeFile(t, "bad.csv", "\x1f\x8b\x08\x00")
	if out, _, code := runCLI(t, "import", "--aws", "--segment", "aws seg", bad); code != 1 || !strings.Contains(out, "FAILED") {
		t.Errorf("import of a compressed file: exit code %d, want 1\n%s", code, out)
	}
	_, errOut, code = runCLI(t, "import", "--aws", "--segment", "aws seg", "s3://no-such-bucket/imports/x/")
	if code != 2 || !strings.Contains(errOut, "the trigger arn:aws:lambda:us-east-1:000000000000:function:TriggerFunction failed (Unhandled)") {
		t.Errorf("a failed trigger invoke: exit code %d, want 2\n%s", code, errOut)
	}
	for noun, want := range map[string]int{"jobs": 2, "segments": 1} {
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
