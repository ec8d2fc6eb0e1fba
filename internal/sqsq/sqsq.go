// Package sqsq is segport's SQS adapter: it sends message bodies in
// SendMessageBatch calls and retries the entries SQS refuses.
package sqsq

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/segport/segport/pkg/job"
)

// MaxMessageBytes is the largest message body SQS takes (1 MiB).
const MaxMessageBytes = job.MaxMessageBytes

// Queue sends messages to one queue.
type Queue struct {
	c   *sqs.Client
	url string
}

// New returns a Queue sending to url.
func New(c *sqs.Client, url string) *Queue { return &Queue{c: c, url: url} }

// URL returns the queue's URL.
func (q *Queue) URL() string { return q.url }

// Send sends bodies, packing as many into each SendMessageBatch call as SQS allows
// (10 entries, MaxMessageBytes in all).
func (q *Queue) Send(ctx context.Context, bodies [][]byte) error {
	for len(bodies) > 0 {
		n, size := 0, 0
		for n < len(bodies) && n < 10 && (n == 0 || size+len(bodies[n]) <= MaxMessageBytes) {
			size += len(bodies[n])
			n++
		}
		if err := q.sendBatch(ctx, bodies[:n]); err != nil {
			return err
		}
		bodies = bodies[n:]
	}
	return nil
}

func (q *Queue) sendBatch(ctx context.Context, bodies [][]byte) error {
	pending := make(map[string]string, len(bodies))
	for i, b := range bodies {
		pending[strconv.Itoa(i)] = string(b)
	}
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == 8 {
			return fmt.Errorf("send to %s: %d messages refused", q.url, len(pending))
		}
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(50<<attempt) * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		entries := make([]types.SendMessageBatchRequestEntry, 0, len(pending))
		for id, body := range pending {
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String(body)})
		}
		out, err := q.c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.url), Entries: entries})
		if err != nil {
			return fmt.Errorf("send to %s: %w", q.url, err)
		}
		for _, ok := range out.Successful {
			delete(pending, aws.ToString(ok.Id))
		}
		for _, f := range out.Failed {
			if f.SenderFault {
				return fmt.Errorf("send to %s: message refused: %s", q.url, aws.ToString(f.Message))
			}
		}
	}
	return nil
}

// Redrive moves every message of the dead-letter queue dlq back to q, as SQS's
// "start DLQ redrive" does, and returns how many it moved. A message is deleted
// from the dead-letter queue only once q has it.
func (q *Queue) Redrive(ctx context.Context, dlq string) (int, error) {
	moved, empty := 0, 0
	for empty < 2 { // two empty receives in a row: the queue is drained
		out, err := q.c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(dlq), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60,
		})
		if err != nil {
			return moved, fmt.Errorf("receive from %s: %w", dlq, err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		empty = 0
		bodies := make([][]byte, len(out.Messages))
		entries := make([]types.DeleteMessageBatchRequestEntry, len(out.Messages))
		for i, m := range out.Messages {
			bodies[i] = []byte(aws.ToString(m.Body))
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
		}
		if err := q.Send(ctx, bodies); err != nil {
			return moved, err
		}
		if _, err := q.c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(dlq), Entries: entries}); err != nil {
			return moved, fmt.Errorf("delete from %s: %w", dlq, err)
		}
		moved += len(out.Messages)
	}
	return moved, nil
}

// Peek reads up to max messages of the queue without deleting them. Each is
// hidden while Peek reads on, so that it is read once, and made visible again
// at the end, so that a redrive finds it at once.
func (q *Queue) Peek(ctx context.Context, max int) ([][]byte, error) {
	var (
		bodies  [][]byte
		handles []*string
	)
	defer func() {
		for len(handles) > 0 {
			n := min(10, len(handles))
			entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, n)
			for i, h := range handles[:n] {
				entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: h}
			}
			handles = handles[n:]
			// Best effort: a message left hidden shows again after the timeout.
			q.c.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(q.url), Entries: entries})
		}
	}()
	for len(bodies) < max {
		out, err := q.c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(q.url), MaxNumberOfMessages: int32(min(10, max-len(bodies))), VisibilityTimeout: 120,
		})
		if err != nil {
			return bodies, fmt.Errorf("receive from %s: %w", q.url, err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			bodies = append(bodies, []byte(aws.ToString(m.Body)))
			handles = append(handles, m.ReceiptHandle)
		}
	}
	return bodies, nil
}
