package localstack

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// deliveries records what a mapping's handler saw.
type deliveries struct {
	mu      sync.Mutex
	batches [][]events.SQSMessage
}

func (d *deliveries) add(ev events.SQSEvent) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.batches = append(d.batches, ev.Records)
}

// byBody returns every delivery of each body with its receive count.
func (d *deliveries) byBody() map[string][]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string][]string{}
	for _, b := range d.batches {
		for _, m := range b {
			out[m.Body] = append(out[m.Body], m.Attributes["ApproximateReceiveCount"])
		}
	}
	return out
}

func sendBodies(ctx context.Context, t *testing.T, s *Stack, queueURL string, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		if _, err := s.SQSClient().SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMappingRedeliversBatchItemFailures(t *testing.T) {
	t.Parallel()
	s := startStack(t, Options{})
	ctx := testContext(t)
	var src EventSource
	for _, e := range s.EventSources() {
		if e.Function == "WriterFunction" {
			src = e
		}
	}
	// The template's writer takes one message at a time; a batch of ten
	// gathered over a window is what this test is about.
	src.BatchSize, src.BatchWindow = 10, time.Second
	d := &deliveries{}
	start := time.Now()
	stop, err := s.StartMapping(ctx, src.Mapping(func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		d.add(ev)
		var resp events.SQSEventResponse
		for _, m := range ev.Records {
			if m.Body == "retry" && m.Attributes["ApproximateReceiveCount"] == "1" {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			}
			if m.EventSource != "aws:sqs" || m.EventSourceARN != "arn:aws:sqs:us-east-1:000000000000:WriteQueue" || m.Md5OfBody == "" {
				t.Errorf("record = %+v", m)
			}
		}
		return resp, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	sendBodies(ctx, t, s, src.QueueURL, "a", "retry", "b")
	if err := s.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	got := d.byBody()
	if len(got["a"]) != 1 || len(got["b"]) != 1 {
		t.Errorf("deliveries = %v, want a and b once", got)
	}
	if r := got["retry"]; len(r) != 2 || r[0] != "1" || r[1] != "2" {
		t.Errorf("retry receive counts = %v, want [1 2]", r)
	}
	if elapsed := time.Since(start); elapsed < 2*time.Second {
		t.Errorf("redelivered after %v, before the 2 s visibility timeout", elapsed)
	}
	d.mu.Lock()
	first := len(d.batches[0])
	d.mu.Unlock()
	if first != 3 {
		t.Errorf("first batch has %d messages, want the batching window to gather 3", first)
	}
}

func TestMappingMovesPoisonToDLQ(t *testing.T) {
	t.Parallel()
	s := startStack(t, Options{VisibilityTimeout: time.Second})
	ctx := testContext(t)
	queue, dlq := s.Resources["ParseQueue"], s.Resources[s.DeadLetters["ParseQueue"]]
	d := &deliveries{}
	stop, err := s.StartMapping(ctx, Mapping{QueueURL: queue, BatchSize: 1, Handler: func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		d.add(ev)
		if ev.Records[0].Body == "poison" {
			panic("handler crashed")
		}
		return events.SQSEventResponse{}, errors.New("always fails")
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	sendBodies(ctx, t, s, queue, "poison")
	if err := s.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	counts := d.byBody()["poison"]
	if len(counts) != 5 || counts[4] != "5" {
		t.Errorf("receive counts = %v, want 1..5 (maxReceiveCount 5)", counts)
	}
	out, err := s.SQSClient().ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlq), WaitTimeSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 || aws.ToString(out.Messages[0].Body) != "poison" {
		t.Errorf("DLQ holds %d messages", len(out.Messages))
	}
}

func TestMappingFillsLargeBatches(t *testing.T) {
	t.Parallel()
	s := startStack(t, Options{})
	ctx := testContext(t)
	queue := s.Resources["WriteQueue"]
	var bodies []string
	for i := range 25 {
		bodies = append(bodies, strconv.Itoa(i))
	}
	sendBodies(ctx, t, s, queue, bodies...)
	d := &deliveries{}
	stop, err := s.StartMapping(ctx, Mapping{QueueURL: queue, BatchSize: 25, BatchWindow: time.Second,
		Handler: func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			d.add(ev)
			return events.SQSEventResponse{}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := s.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.batches) != 1 || len(d.batches[0]) != 25 {
		t.Errorf("batches = %d, want one of 25", len(d.batches))
	}
}
