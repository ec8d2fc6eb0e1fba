package localstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

const (
	maxReceive = 10 // SQS returns at most 10 messages per receive
	// pollWait is the long-poll length. It is short because fauxqs still
	// hands messages to a long poll whose client went away, and they then
	// stay invisible for a visibility timeout.
	pollWait      = 1
	deleteTimeout = 10 * time.Second
)

// Handler processes one batch as a Lambda function with an SQS event source
// does: an error fails the whole batch, BatchItemFailures fail single messages.
type Handler func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// Mapping is an emulated Lambda SQS event-source mapping.
type Mapping struct {
	QueueURL string
	// BatchSize is the most messages per invocation (default 10); above 10
	// the batch fills over several receives within BatchWindow.
	BatchSize int
	// BatchWindow is how long to keep gathering messages after the first.
	BatchWindow time.Duration
	Handler     Handler
	// Concurrency is the number of pollers, each invoking the handler
	// sequentially (default 1).
	Concurrency int
	// IgnoreItemFailures deletes a successful batch whole, as Lambda does for
	// a function without FunctionResponseTypes: [ReportBatchItemFailures].
	IgnoreItemFailures bool
}

// activity counts handler invocations so Idle can tell quiet from busy.
type activity struct {
	busy atomic.Int64
	gen  atomic.Uint64 // bumped when an invocation starts or ends
}

func (a *activity) begin() { a.busy.Add(1); a.gen.Add(1) }
func (a *activity) end()   { a.gen.Add(1); a.busy.Add(-1) }

// mapper runs one Mapping.
type mapper struct {
	m      Mapping
	arn    string
	sqs    *sqs.Client
	act    *activity
	log    *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// paused stops the pollers' receives, as a disabled mapping does.
	paused atomic.Bool
}

func newMapper(ctx context.Context, client *sqs.Client, act *activity, log *slog.Logger, m Mapping) (*mapper, error) {
	if m.QueueURL == "" || m.Handler == nil {
		return nil, errors.New("mapping needs a queue URL and a handler")
	}
	if m.BatchSize <= 0 {
		m.BatchSize = defaultBatchSize
	}
	if m.Concurrency <= 0 {
		m.Concurrency = 1
	}
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(m.QueueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return nil, fmt.Errorf("queue %s arn: %w", m.QueueURL, err)
	}
	return &mapper{m: m, arn: out.Attributes["QueueArn"], sqs: client, act: act, log: log.With("queue", m.QueueURL)}, nil
}

// start launches the pollers; they stop when ctx is done or stop is called.
func (mp *mapper) start(ctx context.Context) {
	ctx, mp.cancel = context.WithCancel(ctx)
	for range mp.m.Concurrency {
		mp.wg.Add(1)
		go func() {
			defer mp.wg.Done()
			mp.poll(ctx)
		}()
	}
}

func (mp *mapper) stop() {
	mp.cancel()
	mp.wg.Wait()
}

func (mp *mapper) poll(ctx context.Context) {
	for ctx.Err() == nil {
		if mp.paused.Load() {
			sleep(ctx, 100*time.Millisecond)
			continue
		}
		msgs, err := mp.collect(ctx)
		if err != nil {
			if ctx.Err() == nil {
				mp.log.Warn("receive messages", "err", err)
				sleep(ctx, 200*time.Millisecond)
			}
			continue
		}
		if len(msgs) > 0 && mp.paused.Load() {
			mp.release(ctx, msgs) // received by a poll begun before the mapping was disabled
			continue
		}
		if len(msgs) > 0 {
			mp.invoke(ctx, msgs)
		}
	}
}

// collect long-polls for a first message, then fills the batch for up to
// BatchWindow.
func (mp *mapper) collect(ctx context.Context) ([]sqstypes.Message, error) {
	msgs, err := mp.receive(ctx, mp.m.BatchSize, pollWait)
	if err != nil || len(msgs) == 0 || mp.m.BatchWindow <= 0 {
		return msgs, err
	}
	deadline := time.Now().Add(mp.m.BatchWindow)
	for len(msgs) < mp.m.BatchSize && time.Now().Before(deadline) {
		more, err := mp.receive(ctx, mp.m.BatchSize-len(msgs), 0)
		if err != nil {
			break // invoke with what was gathered; the error shows on the next poll
		}
		if len(more) == 0 {
			sleep(ctx, min(50*time.Millisecond, time.Until(deadline)))
		}
		msgs = append(msgs, more...)
	}
	return msgs, nil
}

func (mp *mapper) receive(ctx context.Context, n int, wait int32) ([]sqstypes.Message, error) {
	out, err := mp.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(mp.m.QueueURL),
		MaxNumberOfMessages:         int32(min(n, maxReceive)),
		WaitTimeSeconds:             wait,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		return nil, err
	}
	return out.Messages, nil
}

// invoke runs the handler and deletes the messages it processed. After an
// error or a panic nothing is deleted, as in Lambda: the messages come back
// after the visibility timeout and the queue's redrive policy applies.
func (mp *mapper) invoke(ctx context.Context, msgs []sqstypes.Message) {
	mp.act.begin()
	defer mp.act.end()
	resp, err := mp.call(ctx, sqsEvent(mp.arn, msgs))
	if err != nil {
		mp.log.Warn("batch failed", "messages", len(msgs), "err", err)
		return
	}
	if mp.m.IgnoreItemFailures {
		resp.BatchItemFailures = nil
	}
	done, err := processed(msgs, resp)
	if err != nil {
		mp.log.Warn("batch failed", "messages", len(msgs), "err", err)
		return
	}
	// Finished work is acknowledged even while the mapping is stopping.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deleteTimeout)
	defer cancel()
	if err := mp.delete(dctx, done); err != nil {
		mp.log.Warn("delete messages", "err", err)
	}
}

func (mp *mapper) call(ctx context.Context, ev events.SQSEvent) (resp events.SQSEventResponse, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panic: %v", p)
		}
	}()
	return mp.m.Handler(ctx, ev)
}

// processed returns the messages to delete: all but the reported failures.
// A failure naming no message of the batch fails the whole batch, as in Lambda.
func processed(msgs []sqstypes.Message, resp events.SQSEventResponse) ([]sqstypes.Message, error) {
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	var done []sqstypes.Message
	for _, m := range msgs {
		if failed[aws.ToString(m.MessageId)] {
			delete(failed, aws.ToString(m.MessageId))
			continue
		}
		done = append(done, m)
	}
	if len(failed) > 0 {
		return nil, fmt.Errorf("batch item failures name unknown message ids %v", failed)
	}
	return done, nil
}

func (mp *mapper) delete(ctx context.Context, msgs []sqstypes.Message) error {
	for len(msgs) > 0 {
		chunk := msgs[:min(len(msgs), maxReceive)]
		msgs = msgs[len(chunk):]
		entries := make([]sqstypes.DeleteMessageBatchRequestEntry, len(chunk))
		for i, m := range chunk {
			entries[i] = sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: m.ReceiptHandle}
		}
		out, err := mp.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(mp.m.QueueURL), Entries: entries})
		if err != nil {
			return err
		}
		if len(out.Failed) > 0 {
			return fmt.Errorf("%d deletes failed: %s", len(out.Failed), aws.ToString(out.Failed[0].Message))
		}
	}
	return nil
}

// release makes messages visible again at once.
func (mp *mapper) release(ctx context.Context, msgs []sqstypes.Message) {
	for _, m := range msgs {
		if _, err := mp.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(mp.m.QueueURL), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0,
		}); err != nil {
			mp.log.Warn("release message", "err", err)
		}
	}
}

// sqsEvent shapes received messages as Lambda's SQS event.
func sqsEvent(arn string, msgs []sqstypes.Message) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(msgs))}
	for i, m := range msgs {
		rec := events.SQSMessage{
			MessageId:              aws.ToString(m.MessageId),
			ReceiptHandle:          aws.ToString(m.ReceiptHandle),
			Body:                   aws.ToString(m.Body),
			Md5OfBody:              aws.ToString(m.MD5OfBody),
			Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
			Attributes:             m.Attributes,
			MessageAttributes:      map[string]events.SQSMessageAttribute{},
			EventSourceARN:         arn,
			EventSource:            "aws:sqs",
			AWSRegion:              Region,
		}
		if rec.Attributes == nil {
			rec.Attributes = map[string]string{}
		}
		for name, a := range m.MessageAttributes {
			rec.MessageAttributes[name] = events.SQSMessageAttribute{
				StringValue: a.StringValue, BinaryValue: a.BinaryValue, DataType: aws.ToString(a.DataType),
				StringListValues: a.StringListValues, BinaryListValues: a.BinaryListValues,
			}
		}
		ev.Records[i] = rec
	}
	return ev
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
