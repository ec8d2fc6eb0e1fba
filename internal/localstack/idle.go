package localstack

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

const idlePoll = 50 * time.Millisecond

// Idle waits until the stack is quiet: no S3 event pending or being
// delivered, no handler running, and every mapped queue empty (visible,
// in flight and delayed). Dead-letter queues without a mapping are not
// waited for. Messages that failed stay in flight until their visibility
// timeout, so Idle also waits out redelivery.
func (s *Stack) Idle(ctx context.Context) error {
	streak := 0
	for {
		quiet, err := s.quiet(ctx)
		if err != nil {
			return fmt.Errorf("wait for idle: %w", err)
		}
		if quiet {
			streak++
		} else {
			streak = 0
		}
		if streak == 2 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for idle: %w", ctx.Err())
		case <-time.After(idlePoll):
		}
	}
}

// quiet checks once; the activity generation must not move during the check,
// so work that starts and ends between two reads is not missed.
func (s *Stack) quiet(ctx context.Context) (bool, error) {
	gen := s.act.gen.Load()
	if !s.still(gen) {
		return false, nil
	}
	for _, q := range s.mappedQueues() {
		n, err := s.queueDepth(ctx, q)
		if err != nil || n > 0 {
			return false, err
		}
	}
	return s.still(gen), nil
}

func (s *Stack) still(gen uint64) bool {
	return s.act.gen.Load() == gen && s.act.busy.Load() == 0 && (s.notifier == nil || s.notifier.idle())
}

func (s *Stack) mappedQueues() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	var urls []string
	for mp := range s.mappers {
		if !seen[mp.m.QueueURL] {
			seen[mp.m.QueueURL] = true
			urls = append(urls, mp.m.QueueURL)
		}
	}
	return urls
}

var depthAttributes = []sqstypes.QueueAttributeName{
	sqstypes.QueueAttributeNameApproximateNumberOfMessages,
	sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
}

// queueDepth counts a queue's visible, in-flight and delayed messages.
func (s *Stack) queueDepth(ctx context.Context, queueURL string) (int, error) {
	out, err := s.sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL), AttributeNames: depthAttributes,
	})
	if err != nil {
		return 0, fmt.Errorf("queue %s depth: %w", queueURL, err)
	}
	total := 0
	for _, name := range depthAttributes {
		n, _ := strconv.Atoi(out.Attributes[string(name)])
		total += n
	}
	return total, nil
}
