package memstore

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/pkg/job"
)

var (
	_ importer.Queue       = (*Queue)(nil)
	_ importer.DeadLetters = (*Queue)(nil)
)

// Queue is an in-memory SQS standard queue. A received message is hidden for
// the visibility timeout and shows again unless it is deleted; a message
// received MaxReceive times moves to the dead-letter queue at its next
// receive, as a redrive policy moves it. Time is the Env's clock: nothing
// moves until the caller's clock does.
type Queue struct {
	env        *Env
	name       string
	visibility time.Duration
	maxReceive int
	dlq        *Queue

	mu     sync.Mutex
	msgs   []*Message // in the order sent
	nextId int
	stats  QueueStats
}

// Message is a message held by a Queue.
type Message struct {
	Id        string // SQS's MessageId; the copies of a duplicate share it
	Handle    int    // this copy, unique in the queue
	Body      []byte
	Receives  int
	VisibleAt time.Time
}

// QueueStats counts what happened to a queue's messages, copies included.
type QueueStats struct {
	Sent       int // sent, or moved in from a source queue, or duplicated
	Deleted    int // deleted after a successful receive
	Dead       int // moved to the dead-letter queue
	Dropped    int // lost with a restart
	Duplicated int // copies made by Duplicate
}

// NewQueue returns an empty queue; dlq may be nil (no redrive policy).
func NewQueue(env *Env, name string, visibility time.Duration, maxReceive int, dlq *Queue) *Queue {
	return &Queue{env: env, name: name, visibility: visibility, maxReceive: maxReceive, dlq: dlq}
}

// CheckBody refuses a body SQS refuses: over job.MaxMessageBytes, not UTF-8,
// or with a character outside #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD
// #x10000-#x10FFFF.
func CheckBody(b []byte) error {
	if len(b) > job.MaxMessageBytes {
		return &ValidationError{Service: "sqs", Msg: fmt.Sprintf("message of %d bytes is longer than %d", len(b), job.MaxMessageBytes)}
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return &ValidationError{Service: "sqs", Msg: fmt.Sprintf("invalid UTF-8 at byte %d", i)}
		}
		ok := r == 0x9 || r == 0xA || r == 0xD || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
		if !ok {
			return &ValidationError{Service: "sqs", Msg: fmt.Sprintf("Invalid binary character '#x%X' was found in the message body at byte %d", r, i)}
		}
		i += n
	}
	return nil
}

// Send sends bodies in SendMessageBatch calls of up to 10 entries and
// job.MaxMessageBytes; a body SQS refuses fails the call it is in (the
// others of the call are sent, as SQS sends them) and stops the rest.
func (q *Queue) Send(ctx context.Context, bodies [][]byte) error {
	for len(bodies) > 0 {
		n, size := 0, 0
		for n < len(bodies) && n < 10 && (n == 0 || size+len(bodies[n]) <= job.MaxMessageBytes) {
			size += len(bodies[n])
			n++
		}
		batch := bodies[:n]
		bodies = bodies[n:]
		var refused error
		err := q.env.call(ctx, Op{Service: "sqs", Name: "SendMessageBatch", Table: q.name, Write: true}, func() error {
			q.mu.Lock()
			defer q.mu.Unlock()
			for _, b := range batch {
				if err := CheckBody(b); err != nil {
					refused = err
					continue
				}
				q.add(append([]byte(nil), b...), 0)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("send to %s: %w", q.name, err)
		}
		if refused != nil {
			return fmt.Errorf("send to %s: message refused: %w", q.name, refused)
		}
	}
	return nil
}

// add enqueues a body, visible at once; the caller holds mu.
func (q *Queue) add(body []byte, receives int) *Message {
	q.nextId++
	m := &Message{Id: q.name + "-" + strconv.Itoa(q.nextId), Handle: q.nextId, Body: body, Receives: receives, VisibleAt: q.env.now()}
	q.msgs = append(q.msgs, m)
	q.stats.Sent++
	return m
}

// Visible returns the handles of the messages a receive could return now, in
// the order they were sent. A message due for the dead-letter queue is
// moved there first.
func (q *Queue) Visible() []int {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.env.now()
	var handles []int
	kept := q.msgs[:0]
	for _, m := range q.msgs {
		if now.Before(m.VisibleAt) {
			kept = append(kept, m)
			continue
		}
		if q.maxReceive > 0 && m.Receives >= q.maxReceive && q.dlq != nil {
			q.stats.Dead++
			q.dlq.mu.Lock()
			q.dlq.add(m.Body, 0)
			q.dlq.mu.Unlock()
			continue
		}
		kept = append(kept, m)
		handles = append(handles, m.Handle)
	}
	q.msgs = kept
	return handles
}

// NextVisible returns when the earliest hidden message shows again; false if
// none is hidden.
func (q *Queue) NextVisible() (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.env.now()
	var next time.Time
	found := false
	for _, m := range q.msgs {
		if now.Before(m.VisibleAt) && (!found || m.VisibleAt.Before(next)) {
			next, found = m.VisibleAt, true
		}
	}
	return next, found
}

// Receive receives the message with handle h if it is visible: its receive
// count goes up and it hides for the visibility timeout. The record carries
// ApproximateReceiveCount as Lambda's event source mapping passes it.
func (q *Queue) Receive(h int) (events.SQSMessage, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.env.now()
	for _, m := range q.msgs {
		if m.Handle != h || now.Before(m.VisibleAt) {
			continue
		}
		m.Receives++
		m.VisibleAt = now.Add(q.visibility)
		return events.SQSMessage{MessageId: m.Id, ReceiptHandle: strconv.Itoa(m.Handle), Body: string(m.Body),
			Attributes: map[string]string{"ApproximateReceiveCount": strconv.Itoa(m.Receives)}}, true
	}
	return events.SQSMessage{}, false
}

// Delete deletes a received message by its receipt handle; false if it is
// gone (deleted already, or lost).
func (q *Queue) Delete(receipt string) bool {
	h, _ := strconv.Atoi(receipt)
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, m := range q.msgs {
		if m.Handle == h {
			q.msgs = append(q.msgs[:i], q.msgs[i+1:]...)
			q.stats.Deleted++
			return true
		}
	}
	return false
}

// Duplicate adds a second copy of the message with handle h, as SQS's
// at-least-once delivery sometimes does; false if it is gone.
func (q *Queue) Duplicate(h int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range q.msgs {
		if m.Handle == h {
			c := q.add(append([]byte(nil), m.Body...), 0)
			c.Id = m.Id
			q.stats.Duplicated++
			return true
		}
	}
	return false
}

// Drop loses every message, hidden or not, as a restarted emulator does.
func (q *Queue) Drop() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.msgs)
	q.stats.Dropped += n
	q.msgs = nil
	return n
}

// Len returns how many messages the queue holds, hidden ones included.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.msgs)
}

// Stats returns the queue's counts.
func (q *Queue) Stats() QueueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.stats
}

// Bodies returns the bodies the queue holds, in the order sent.
func (q *Queue) Bodies() [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([][]byte, len(q.msgs))
	for i, m := range q.msgs {
		out[i] = m.Body
	}
	return out
}

// Peek returns up to max bodies without removing them (ReceiveMessage, then
// visibility back to 0, as sqsq.Queue.Peek does).
func (q *Queue) Peek(ctx context.Context, max int) ([][]byte, error) {
	var out [][]byte
	err := q.env.call(ctx, Op{Service: "sqs", Name: "ReceiveMessage", Table: q.name}, func() error {
		q.mu.Lock()
		defer q.mu.Unlock()
		ms := append([]*Message(nil), q.msgs...)
		sort.SliceStable(ms, func(i, k int) bool { return ms[i].Handle < ms[k].Handle })
		for _, m := range ms {
			if len(out) == max {
				break
			}
			out = append(out, append([]byte(nil), m.Body...))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", q.name, err)
	}
	return out, nil
}
