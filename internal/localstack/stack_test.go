package localstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// testTemplate is the repository's template, the one the stack serves.
func testTemplate(t *testing.T) []byte {
	t.Helper()
	path, err := findTemplate(".")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// startStack starts a stack on a fresh data dir with the machine-wide
// emulator install and a 2 s visibility timeout.
func startStack(t *testing.T, opts Options) *Stack {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.NodeDir == "" {
		dir, err := SharedNodeDir()
		if err != nil {
			t.Fatal(err)
		}
		opts.NodeDir = dir
	}
	if opts.Template == nil {
		opts.Template = testTemplate(t)
	}
	if opts.VisibilityTimeout == 0 {
		opts.VisibilityTimeout = 2 * time.Second
	}
	opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestStartProvisionsTemplate(t *testing.T) {
	t.Parallel()
	s := startStack(t, Options{Parameters: map[string]string{"PieceSize": "1024"}})
	ctx := testContext(t)

	tables, err := s.DynamoClient().ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatal(err)
	}
	wantTables := []string{"EndpointsTable", "JobsTable", "MembersTable", "RegistryTable", "SegmentsTable", "UsersTable"}
	if !slices.Equal(tables.TableNames, wantTables) {
		t.Errorf("tables = %v, want %v", tables.TableNames, wantTables)
	}
	queues, err := s.SQSClient().ListQueues(ctx, &sqs.ListQueuesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(queues.QueueUrls) != 5 { // parse, write, their dead-letter queues, the trigger's failures
		t.Errorf("queues = %v, want 5", queues.QueueUrls)
	}
	if _, err := s.S3Client().HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("segport")}); err != nil {
		t.Errorf("head bucket: %v", err)
	}
	checkRedrive(ctx, t, s)
	checkEnv(t, s)
	checkEventSources(t, s)
}

// TestStartWaitsForActiveTables: a new table is CREATING for a while, and
// refuses items until it is ACTIVE; Start returns once every table serves them.
func TestStartWaitsForActiveTables(t *testing.T) {
	t.Setenv("SEGPORT_DYNALITE_CREATE_TABLE_MS", "300")
	s := startStack(t, Options{})
	ctx := testContext(t)
	for _, name := range []string{"EndpointsTable", "UsersTable"} {
		out, err := s.DynamoClient().DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil || out.Table.TableStatus != ddbtypes.TableStatusActive {
			t.Fatalf("table %s right after Start: %v", name, err)
		}
	}
	_, err := s.DynamoClient().GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String("UsersTable"), Key: map[string]ddbtypes.AttributeValue{"UserId": &ddbtypes.AttributeValueMemberS{Value: "u"}},
	})
	if err != nil {
		t.Fatalf("GetItem right after Start: %v", err)
	}
}

func checkRedrive(ctx context.Context, t *testing.T, s *Stack) {
	t.Helper()
	if s.DeadLetters["ParseQueue"] != "ParseDLQ" || s.DeadLetters["WriteQueue"] != "WriteDLQ" {
		t.Errorf("dead letters = %v", s.DeadLetters)
	}
	out, err := s.SQSClient().GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(s.Resources["ParseQueue"]),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Attributes["VisibilityTimeout"]; got != "2" {
		t.Errorf("VisibilityTimeout = %s, want the 2 s override", got)
	}
	want := `"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:ParseDLQ"`
	if !strings.Contains(out.Attributes["RedrivePolicy"], want) {
		t.Errorf("RedrivePolicy = %s, want it to contain %s", out.Attributes["RedrivePolicy"], want)
	}
}

func checkEnv(t *testing.T, s *Stack) {
	t.Helper()
	env := s.Env()
	tmpl, err := parseTemplate(testTemplate(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range tmpl.GlobalEnv {
		// "" declares a variable for sam local invoke --env-vars; a parameter
		// whose default is "" (SourceAccountIds: none) is empty too.
		m, _ := v.(map[string]any)
		if ref, ok := m["Ref"].(string); ok {
			if p, isParam := tmpl.Parameters[ref]; isParam && p.Default == "" {
				continue
			}
		}
		if env[name] == "" && v != "" {
			t.Errorf("Env()[%s] is empty", name)
		}
	}
	want := map[string]string{
		"SEGPORT_BUCKET":            "segport",
		"SEGPORT_PARSE_QUEUE_URL":   s.Resources["ParseQueue"],
		"SEGPORT_ENDPOINTS_TABLE":   "EndpointsTable",
		"SEGPORT_PIECE_SIZE":        "1024",
		"SEGPORT_MEMBERSHIP_SHARDS": "16",
	}
	checkVars(t, env, want)
	if !strings.HasPrefix(env["SEGPORT_WRITE_QUEUE_URL"], s.Endpoints.SQS+"/") {
		t.Errorf("write queue URL %s is not on %s", env["SEGPORT_WRITE_QUEUE_URL"], s.Endpoints.SQS)
	}
	fn, err := s.EnvFor("WriterFunction")
	if err != nil || fn["SEGPORT_USERS_TABLE"] != "UsersTable" {
		t.Errorf("EnvFor(WriterFunction) = %v, %v", fn, err)
	}
	if _, err := s.EnvFor("NoSuchFunction"); err == nil {
		t.Error("EnvFor(NoSuchFunction) succeeded")
	}
	lines := strings.Join(s.ExportLines(), "\n")
	for _, w := range []string{"export AWS_ENDPOINT_URL_S3=" + s.Endpoints.S3, "export AWS_REGION=us-east-1", "export AWS_DEFAULT_REGION=us-east-1", "export SEGPORT_BUCKET=segport"} {
		if !strings.Contains(lines, w) {
			t.Errorf("ExportLines lack %q:\n%s", w, lines)
		}
	}
}

func checkEventSources(t *testing.T, s *Stack) {
	t.Helper()
	got := map[string]EventSource{}
	for _, e := range s.EventSources() {
		got[e.Function] = e
	}
	p, w := got["ParserFunction"], got["WriterFunction"]
	if p.QueueLogicalID != "ParseQueue" || p.BatchSize != 1 || p.QueueURL != s.Resources["ParseQueue"] || !p.ReportBatchItemFailures {
		t.Errorf("parser source = %+v", p)
	}
	if w.QueueLogicalID != "WriteQueue" || w.BatchSize != 1 || w.BatchWindow != 0 {
		t.Errorf("writer source = %+v", w)
	}
}

func TestRestartKeepsDataAndAttach(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startStack(t, Options{DataDir: dir})
	ctx := testContext(t)
	item, _ := attributevalue.MarshalMap(map[string]string{"Id": "e1"})
	if _, err := s.DynamoClient().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("EndpointsTable"), Item: item}); err != nil {
		t.Fatal(err)
	}
	putObject(ctx, t, s.S3Client(), "exports/kept.txt", "kept")

	if _, err := Start(ctx, Options{DataDir: dir, Template: testTemplate(t)}); !errors.Is(err, ErrInUse) {
		t.Errorf("second Start on a live data dir: err = %v, want ErrInUse", err)
	}
	a, ok, err := Attach(ctx, dir)
	if err != nil || !ok {
		t.Fatalf("Attach = %v, %v", ok, err)
	}
	if got := getObject(ctx, t, a.S3Client(), "exports/kept.txt", ""); got != "kept" {
		t.Errorf("attached read = %q", got)
	}
	if a.Env()["SEGPORT_BUCKET"] != "segport" || a.Resources["WriteQueue"] != s.Resources["WriteQueue"] {
		t.Errorf("attached stack lacks env or resources: %v", a.Resources)
	}
	if _, err := a.StartMapping(ctx, Mapping{QueueURL: s.Resources["WriteQueue"]}); !errors.Is(err, ErrAttached) {
		t.Errorf("mapping on attached stack: err = %v", err)
	}
	a.Close()
	if _, err := s.SQSClient().ListQueues(ctx, &sqs.ListQueuesInput{}); err != nil {
		t.Errorf("stack stopped answering after the attached Close: %v", err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, stateFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stack.json left after Close: %v", err)
	}
	if _, ok, _ := Attach(ctx, dir); ok {
		t.Error("Attach found a closed stack")
	}

	s2 := startStack(t, Options{DataDir: dir})
	got, err := s2.DynamoClient().GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("EndpointsTable"), Key: item})
	if err != nil || got.Item == nil {
		t.Errorf("item after restart = %v, %v", got, err)
	}
	if got := getObject(ctx, t, s2.S3Client(), "exports/kept.txt", ""); got != "kept" {
		t.Errorf("object after restart = %q", got)
	}
	if _, err := s2.SQSClient().GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("ParseDLQ")}); err != nil {
		t.Errorf("queue after restart: %v", err)
	}
}

func TestStartWithoutNode(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Start(context.Background(), Options{DataDir: t.TempDir(), Template: testTemplate(t)})
	if !errors.Is(err, ErrNoNode) {
		t.Errorf("err = %v, want ErrNoNode", err)
	}
}

// TestHelperStack is the child process of TestEmulatorsDieWithTheGoProcess:
// it starts a stack and waits to be killed. Run normally, it does nothing.
func TestHelperStack(t *testing.T) {
	dir := os.Getenv("SEGPORT_LOCALSTACK_HELPER_DIR")
	if dir == "" {
		return
	}
	startStack(t, Options{DataDir: dir})
	time.Sleep(time.Minute)
}

func TestEmulatorsDieWithTheGoProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperStack$")
	cmd.Env = append(os.Environ(), "SEGPORT_LOCALSTACK_HELPER_DIR="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var st *state
	deadline := time.Now().Add(30 * time.Second)
	for st == nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		st, _ = readState(dir)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if st == nil {
		t.Fatal("helper stack never wrote stack.json")
	}
	for _, pid := range []int{st.FauxqsPID, st.DynalitePID} {
		for running(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if running(pid) {
			t.Errorf("emulator pid %d outlived the Go process", pid)
		}
	}
	if _, ok, _ := Attach(context.Background(), dir); ok {
		t.Error("Attach accepted a stack whose process died")
	}
}

// running is processAlive minus zombies, which a non-reaping init may keep.
func running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return processAlive(pid)
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// TestRelativeDataDir checks that a relative data directory is where the data
// lands, although the emulators run in another working directory.
func TestRelativeDataDir(t *testing.T) {
	tmpl := testTemplate(t)
	t.Chdir(t.TempDir())
	startStack(t, Options{DataDir: "rel/data", Template: tmpl})
	entries, err := os.ReadDir("rel/data/dynamo")
	if err != nil || len(entries) == 0 {
		t.Fatalf("rel/data/dynamo holds %d entries (%v): dynalite wrote elsewhere", len(entries), err)
	}
}
