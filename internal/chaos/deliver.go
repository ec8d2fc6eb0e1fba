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

// The attributes that mark the copies Wrap sends, so that a copy is not
// copied, or postponed, again.
const (
	duplicateAttr = "segport-chaos-duplicate"
	postponeAttr  = "segport-chaos-postponed"
)

// maxDelaySeconds bounds the delay of a duplicate or postponed message, so
// that it arrives after the messages around it, but not much later.
const maxDelaySeconds = 2

// minCrashHint is the fewest writes a crash point is drawn from before the
// wrapper has seen how many writes its function makes.
const minCrashHint = 4

// Wrap returns h with the delivery faults. With probability Duplicate each
// message of a batch is sent to queueURL once more (through send, 0-2 s
// later). With probability Reorder a batch is shuffled or, if it is a single
// message, postponed: sent again 1-2 s later and acknowledged unprocessed, so
// that it arrives after the messages that followed it (the template's
// functions take one message a batch, where there is nothing to shuffle).
// With probability Crash the invocation fails after a random number of its
// writes, counted by the transport of AWSConfig, which h's clients must use.
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
	for _, r := range ev.Records {
		if n, _ := strconv.Atoi(r.Attributes["ApproximateReceiveCount"]); n > 1 {
			c.count.redelivered.Add(1)
		}
	}
	reorder := c.rng.hit(c.spec.Reorder)
	if reorder && len(ev.Records) == 1 {
		if _, again := ev.Records[0].MessageAttributes[postponeAttr]; !again {
			return events.SQSEventResponse{}, w.postpone(ctx, ev.Records[0])
		}
	}
	if err := w.duplicate(ctx, ev.Records); err != nil {
		return events.SQSEventResponse{}, err
	}
	if reorder && len(ev.Records) > 1 {
		ev.Records = append([]events.SQSMessage(nil), ev.Records...)
		c.rng.shuffle(len(ev.Records), func(i, j int) { ev.Records[i], ev.Records[j] = ev.Records[j], ev.Records[i] })
		c.count.reordered.Add(1)
	}
	if c.rng.hit(c.spec.Race) {
		defer w.race(ctx, ev)()
	}
	if !c.rng.hit(c.spec.Crash) {
		b := &budget{limit: -1}
		resp, err := w.h(withBudget(ctx, b), ev)
		w.observe(b.writes.Load())
		return resp, err
	}
	return w.crash(ctx, ev)
}

// race handles the batch in a second invocation that runs beside the one that
// follows, as when a message's visibility timeout ends while it is handled:
// both write, both settle, both may finish the job. The copy's answer is
// dropped, as a timed-out invocation's is; the returned wait lets the
// invocation end only once its copy has.
func (w *wrapper) race(ctx context.Context, ev events.SQSEvent) (wait func()) {
	w.c.count.raced.Add(1)
	recs := append([]events.SQSMessage(nil), ev.Records...)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.h(withBudget(context.WithoutCancel(ctx), &budget{limit: -1}), events.SQSEvent{Records: recs})
	}()
	return func() { <-done }
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

// postpone sends the message again, to arrive later; the wrapper then
// acknowledges the original. A failed send fails the invocation, so the
// message is never lost.
func (w *wrapper) postpone(ctx context.Context, r events.SQSMessage) error {
	if err := w.resend(ctx, r, postponeAttr, int32(1+w.c.rng.intN(maxDelaySeconds))); err != nil {
		return fmt.Errorf("postpone message: %w", err)
	}
	w.c.count.postponed.Add(1)
	return nil
}

// duplicate sends the batch's messages again, each once: a message received
// for the first time that is not itself a copy.
func (w *wrapper) duplicate(ctx context.Context, recs []events.SQSMessage) error {
	c := w.c
	var again []events.SQSMessage
	for _, r := range recs {
		n, _ := strconv.Atoi(r.Attributes["ApproximateReceiveCount"])
		if _, copied := r.MessageAttributes[duplicateAttr]; n <= 1 && !copied {
			again = append(again, r)
		}
	}
	if len(again) == 0 || !c.rng.hit(c.spec.Duplicate) {
		return nil
	}
	delay := int32(c.rng.intN(maxDelaySeconds + 1))
	for _, r := range again {
		if err := w.resend(ctx, r, duplicateAttr, delay); err != nil {
			return fmt.Errorf("send duplicate: %w", err)
		}
		c.count.duplicated.Add(1)
	}
	return nil
}

// resend sends a copy of r, its attributes and the marker mark, to r's queue.
func (w *wrapper) resend(ctx context.Context, r events.SQSMessage, mark string, delay int32) error {
	attrs := map[string]sqstypes.MessageAttributeValue{
		mark: {DataType: aws.String("String"), StringValue: aws.String("1")},
	}
	for name, a := range r.MessageAttributes {
		attrs[name] = sqstypes.MessageAttributeValue{
			DataType: aws.String(a.DataType), StringValue: a.StringValue, BinaryValue: a.BinaryValue,
		}
	}
	_, err := w.send.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(w.queueURL), MessageBody: aws.String(r.Body), DelaySeconds: delay, MessageAttributes: attrs,
	})
	return err
}
