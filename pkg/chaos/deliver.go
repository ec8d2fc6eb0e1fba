package chaos

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Handler is a function with an SQS event source (localstack.Handler).
type Handler = func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// Sender sends one message; *sqs.Client is one.
type Sender interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// duplicateAttr marks the copies Wrap sends, so that a copy is not copied again.
const duplicateAttr = "segport-chaos-duplicate"

// maxDelaySeconds bounds the delay of a duplicate, so that it usually arrives
// after the original, but not much later.
const maxDelaySeconds = 2

// minCrashHint is the fewest writes a crash point is drawn from before the
// wrapper has seen how many writes its function makes.
const minCrashHint = 4

// Wrap returns h with the delivery faults: with probability Duplicate each
// message of a batch is sent to queueURL once more (through send, after a
// random delay of up to two seconds), with probability Reorder the batch is
// shuffled, and with probability Crash the invocation fails after a random
// number of its writes. The writes are counted by the transport of AWSConfig,
// which h's clients must use.
func (c *Chaos) Wrap(h Handler, queueURL string, send Sender) Handler {
	w := &wrapper{c: c, h: h, queueURL: queueURL, send: send}
	return w.handle
}

type wrapper struct {
	c        *Chaos
	h        Handler
	queueURL string
	send     Sender
	// mostWrites is the most writes an invocation has made: crash points are
	// drawn up to it, so that crashes land anywhere in an invocation.
	mostWrites atomic.Int64
}

func (w *wrapper) handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	c := w.c
	c.count.batches.Add(1)
	if err := w.duplicate(ctx, ev.Records); err != nil {
		return events.SQSEventResponse{}, err
	}
	if len(ev.Records) > 1 && c.rng.hit(c.spec.Reorder) {
		ev.Records = append([]events.SQSMessage(nil), ev.Records...)
		c.rng.shuffle(len(ev.Records), func(i, j int) { ev.Records[i], ev.Records[j] = ev.Records[j], ev.Records[i] })
		c.count.reordered.Add(1)
	}
	if !c.rng.hit(c.spec.Crash) {
		b := &budget{limit: -1}
		resp, err := w.h(withBudget(ctx, b), ev)
		w.observe(b.writes.Load())
		return resp, err
	}
	return w.crash(ctx, ev)
}

// crash runs the handler with a write budget and fails the invocation
// whatever the handler returns. A budget beyond the handler's writes is a
// crash after all of them, before the batch is acknowledged.
func (w *wrapper) crash(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b := &budget{limit: int64(w.c.rng.intN(int(max(w.mostWrites.Load(), minCrashHint)) + 2)), cancel: cancel}
	_, err := w.h(withBudget(ctx, b), ev)
	w.c.count.crashed.Add(1)
	if !b.tripped.Load() {
		w.c.count.crashedAtEnd.Add(1)
		w.observe(b.writes.Load())
	}
	if err == nil {
		err = crashError{}
	}
	return events.SQSEventResponse{}, fmt.Errorf("chaos crash after %d writes: %w", b.limit, err)
}

func (w *wrapper) observe(writes int64) {
	for {
		m := w.mostWrites.Load()
		if writes <= m || w.mostWrites.CompareAndSwap(m, writes) {
			return
		}
	}
}

// duplicate sends the batch's messages again, each once: a message received
// for the first time that is not itself a copy. It also counts redeliveries.
func (w *wrapper) duplicate(ctx context.Context, recs []events.SQSMessage) error {
	c := w.c
	var again []events.SQSMessage
	for _, r := range recs {
		if n, _ := strconv.Atoi(r.Attributes["ApproximateReceiveCount"]); n > 1 {
			c.count.redelivered.Add(1)
			continue
		}
		if _, copied := r.MessageAttributes[duplicateAttr]; !copied {
			again = append(again, r)
		}
	}
	if len(again) == 0 || !c.rng.hit(c.spec.Duplicate) {
		return nil
	}
	delay := int32(c.rng.intN(maxDelaySeconds + 1))
	for _, r := range again {
		_, err := w.send.SendMessage(ctx, &sqs.SendMessageInput{
			QueueUrl: aws.String(w.queueURL), MessageBody: aws.String(r.Body), DelaySeconds: delay,
			MessageAttributes: copyAttributes(r.MessageAttributes),
		})
		if err != nil {
			return fmt.Errorf("send duplicate: %w", err)
		}
		c.count.duplicated.Add(1)
	}
	return nil
}

func copyAttributes(in map[string]events.SQSMessageAttribute) map[string]sqstypes.MessageAttributeValue {
	out := map[string]sqstypes.MessageAttributeValue{
		duplicateAttr: {DataType: aws.String("String"), StringValue: aws.String("1")},
	}
	for name, a := range in {
		out[name] = sqstypes.MessageAttributeValue{
			DataType: aws.String(a.DataType), StringValue: a.StringValue, BinaryValue: a.BinaryValue,
		}
	}
	return out
}
