package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	segport "github.com/segport/segport"
	"github.com/segport/segport/internal/localstack"
)

// The tests share one local stack; each uses keys of its own.
var (
	stackOnce sync.Once
	stack     *localstack.Stack
	stackErr  error
	stackDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if stack != nil {
		stack.Close()
		os.RemoveAll(stackDir)
	}
	os.Exit(code)
}

func localStack(t *testing.T) *localstack.Stack {
	t.Helper()
	stackOnce.Do(func() {
		var nodeDir string
		if nodeDir, stackErr = localstack.SharedNodeDir(); stackErr != nil {
			return
		}
		if stackDir, stackErr = os.MkdirTemp("", "segport-chaos-"); stackErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		stack, stackErr = localstack.Start(ctx, localstack.Options{DataDir: stackDir, NodeDir: nodeDir, Template: segport.Template})
	})
	if stackErr != nil {
		t.Fatal(stackErr)
	}
	return stack
}

// chaosClient is a DynamoDB client with c's faults, and the proxy it goes through.
func chaosClient(t *testing.T, c *Chaos) *dynamodb.Client {
	t.Helper()
	st := localStack(t)
	p, err := c.StartProxy(st.Endpoints.DynamoDB, st.Relay("dynamodb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return dynamodb.NewFromConfig(c.AWSConfig(st.AWSConfig(), p.URL()))
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func user(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"UserId": &types.AttributeValueMemberS{Value: id}}
}

// stored reports which of the users exist, read past the proxy.
func stored(t *testing.T, ids []string) []bool {
	t.Helper()
	st := localStack(t)
	out := make([]bool, len(ids))
	for i, id := range ids {
		res, err := st.DynamoClient().GetItem(testCtx(t), &dynamodb.GetItemInput{
			TableName: aws.String(st.Resources["UsersTable"]), Key: user(id), ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = res.Item != nil
	}
	return out
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%02d", prefix, i)
	}
	return out
}

// TestCrashEndsAnInvocationAtItsBudget: the writes before the crash point land,
// the one at it and every later one never leave, the SDK does not retry them,
// and the invocation fails.
func TestCrashEndsAnInvocationAtItsBudget(t *testing.T) {
	c := New(Spec{Crash: 1, Seed: 3})
	db := chaosClient(t, c)
	table := localStack(t).Resources["UsersTable"]
	keys := ids(t.Name(), 2*minCrashHint+4) // more than any first budget
	failedAt := -1
	h := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		for i, id := range keys {
			if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: user(id)}); err != nil {
				failedAt = i
				return events.SQSEventResponse{}, err
			}
		}
		return events.SQSEventResponse{}, nil
	}
	_, err := c.Wrap(h, "", nil)(testCtx(t), events.SQSEvent{Records: []events.SQSMessage{{Body: "x", Attributes: map[string]string{"ApproximateReceiveCount": "2"}}}})
	if err == nil || failedAt < 0 {
		t.Fatalf("invocation did not crash: %v (failed at %d)", err, failedAt)
	}
	got := stored(t, keys)
	for i, ok := range got {
		if ok != (i < failedAt) {
			t.Fatalf("crash at write %d, but stored = %v", failedAt, got)
		}
	}
	if s := c.Stats(); s.Crashed != 1 || s.DynamoCalls != int64(failedAt) || s.SDKRetries != 0 {
		t.Fatalf("stats after a crash at write %d: %+v", failedAt, s)
	}

	// Even with its context alive, a crashed invocation's request is not retried.
	ctx := withBudget(testCtx(t), &budget{limit: 0})
	_, err = db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: user(t.Name())})
	if !errors.As(err, new(crashError)) || strings.Contains(err.Error(), "maximum number of attempts") {
		t.Fatalf("PutItem past the budget: %v", err)
	}
}

// TestThrottlesGoThroughTheSDKRetries: every fault is a real DynamoDB error
// the standard retryer retries, up to MaxAttempts.
func TestThrottlesGoThroughTheSDKRetries(t *testing.T) {
	c := New(Spec{Throttle: 1, Seed: 5})
	db := chaosClient(t, c)
	table := localStack(t).Resources["UsersTable"]
	_, err := db.GetItem(testCtx(t), &dynamodb.GetItemInput{TableName: aws.String(table), Key: user("nobody")})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || !slices.Contains([]string{"ProvisionedThroughputExceededException", "ThrottlingException", "InternalServerError"}, apiErr.ErrorCode()) {
		t.Fatalf("GetItem under throttle=1: %v", err)
	}
	if s := c.Stats(); s.DynamoCalls != MaxAttempts || s.SDKRetries != MaxAttempts-1 || s.Throttled+s.Internal != MaxAttempts {
		t.Fatalf("stats after one call: %+v", s)
	}

	c = New(Spec{Throttle: 0.3, Seed: 6})
	db = chaosClient(t, c)
	keys := ids(t.Name(), 30)
	for _, id := range keys {
		if _, err := db.PutItem(testCtx(t), &dynamodb.PutItemInput{TableName: aws.String(table), Item: user(id)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := stored(t, keys); slices.Contains(got, false) {
		t.Fatalf("stored = %v", got)
	}
	if s := c.Stats(); s.Throttled == 0 || s.Internal == 0 || s.SDKRetries != s.Throttled+s.Internal {
		t.Fatalf("stats at throttle=0.3: %+v", s)
	}
}

// TestBatchesComeBackPartlyUnprocessed: the items held back are not written
// and are returned as UnprocessedItems (keys as UnprocessedKeys, with the
// call's read settings), so that a retry of them completes the batch.
func TestBatchesComeBackPartlyUnprocessed(t *testing.T) {
	c := New(Spec{Unprocessed: 1, Seed: 7})
	db := chaosClient(t, c)
	table := localStack(t).Resources["UsersTable"]
	keys := ids(t.Name(), 10)
	var reqs []types.WriteRequest
	for _, id := range keys {
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: user(id)}})
	}
	out, err := db.BatchWriteItem(testCtx(t), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}})
	if err != nil {
		t.Fatal(err)
	}
	held := len(out.UnprocessedItems[table])
	got := stored(t, keys)
	if held < 1 || held > 9 || countTrue(got) != 10-held {
		t.Fatalf("%d items unprocessed, stored = %v", held, got)
	}
	for len(out.UnprocessedItems) > 0 {
		if out, err = db.BatchWriteItem(testCtx(t), &dynamodb.BatchWriteItemInput{RequestItems: out.UnprocessedItems}); err != nil {
			t.Fatal(err)
		}
	}
	if got := stored(t, keys); countTrue(got) != 10 {
		t.Fatalf("after retries stored = %v", got)
	}

	var ks []map[string]types.AttributeValue
	for _, id := range keys {
		ks = append(ks, user(id))
	}
	res, err := db.BatchGetItem(testCtx(t), &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
		table: {Keys: ks, ConsistentRead: aws.Bool(true)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	left := res.UnprocessedKeys[table]
	if len(res.Responses[table])+len(left.Keys) != 10 || len(left.Keys) == 0 || !aws.ToBool(left.ConsistentRead) {
		t.Fatalf("BatchGetItem: %d items, unprocessed %+v", len(res.Responses[table]), left)
	}
	if s := c.Stats(); s.UnprocessedItems < int64(held) || s.UnprocessedKeys != int64(len(left.Keys)) {
		t.Fatalf("stats: %+v", s)
	}
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// TestWrapDuplicatesAndReorders: a first delivery is sent again, each message
// once and marked as a copy, and a copy is not copied again.
func TestWrapDuplicatesAndReorders(t *testing.T) {
	st := localStack(t)
	queue := st.Resources["ParseQueue"]
	c := New(Spec{Duplicate: 1, Reorder: 1, Seed: 9})
	var seen []string
	h := c.Wrap(func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		for _, r := range ev.Records {
			seen = append(seen, r.Body)
		}
		return events.SQSEventResponse{}, nil
	}, queue, st.SQSClient())
	bodies := ids(t.Name(), 5)
	ev := events.SQSEvent{}
	for _, b := range bodies {
		ev.Records = append(ev.Records, events.SQSMessage{Body: b, Attributes: map[string]string{"ApproximateReceiveCount": "1"}})
	}
	if _, err := h(testCtx(t), ev); err != nil {
		t.Fatal(err)
	}
	if !sameSet(seen, bodies) {
		t.Fatalf("handler saw %v", seen)
	}
	copies := receive(t, st, queue, len(bodies))
	again := events.SQSEvent{}
	var got []string
	for _, m := range copies {
		if _, ok := m.MessageAttributes[duplicateAttr]; !ok {
			t.Fatalf("copy %s is not marked", aws.ToString(m.Body))
		}
		got = append(got, aws.ToString(m.Body))
		again.Records = append(again.Records, events.SQSMessage{Body: aws.ToString(m.Body), Attributes: m.Attributes,
			MessageAttributes: map[string]events.SQSMessageAttribute{duplicateAttr: {DataType: "String", StringValue: aws.String("1")}}})
	}
	if !sameSet(got, bodies) {
		t.Fatalf("copies %v, want %v", got, bodies)
	}
	if _, err := h(testCtx(t), again); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Duplicated != int64(len(bodies)) || s.Reordered != 2 || s.Batches != 2 {
		t.Fatalf("stats: %+v", s)
	}
}

// TestWrapPostponesSingleMessages: a batch of one is reordered by sending it
// to arrive later, once, and acknowledging it unprocessed.
func TestWrapPostponesSingleMessages(t *testing.T) {
	st := localStack(t)
	queue := st.Resources["WriteQueue"]
	c := New(Spec{Reorder: 1, Seed: 10})
	var seen []string
	h := c.Wrap(func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		for _, r := range ev.Records {
			seen = append(seen, r.Body)
		}
		return events.SQSEventResponse{}, nil
	}, queue, st.SQSClient())
	one := events.SQSEvent{Records: []events.SQSMessage{{Body: t.Name(), Attributes: map[string]string{"ApproximateReceiveCount": "1"}}}}
	if resp, err := h(testCtx(t), one); err != nil || len(resp.BatchItemFailures) > 0 || len(seen) > 0 {
		t.Fatalf("postponing: %+v, %v; handler saw %v", resp, err, seen)
	}
	later := receive(t, st, queue, 1)[0]
	if _, ok := later.MessageAttributes[postponeAttr]; !ok || aws.ToString(later.Body) != t.Name() {
		t.Fatalf("postponed copy %+v", later)
	}
	again := events.SQSEvent{Records: []events.SQSMessage{{Body: aws.ToString(later.Body), Attributes: later.Attributes,
		MessageAttributes: map[string]events.SQSMessageAttribute{postponeAttr: {DataType: "String", StringValue: aws.String("1")}}}}}
	if _, err := h(testCtx(t), again); err != nil || len(seen) != 1 {
		t.Fatalf("the postponed copy: %v; handler saw %v", err, seen)
	}
	if s := c.Stats(); s.Postponed != 1 || s.Batches != 2 {
		t.Fatalf("stats: %+v", s)
	}
}

// receive waits for n messages of queue, deleting them.
func receive(t *testing.T, st *localstack.Stack, queue string, n int) []sqstypes.Message {
	t.Helper()
	var msgs []sqstypes.Message
	deadline := time.Now().Add(10 * time.Second)
	for len(msgs) < n && time.Now().Before(deadline) {
		out, err := st.SQSClient().ReceiveMessage(testCtx(t), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queue), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			msgs = append(msgs, m)
			st.SQSClient().DeleteMessage(testCtx(t), &sqs.DeleteMessageInput{QueueUrl: aws.String(queue), ReceiptHandle: m.ReceiptHandle})
		}
	}
	if len(msgs) != n {
		t.Fatalf("received %d messages, want %d", len(msgs), n)
	}
	return msgs
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
