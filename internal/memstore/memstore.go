// Package memstore holds in-memory stand-ins for the services behind the
// importer's interfaces (internal/importer): DynamoDB tables laid out and updated
// as internal/dynamo lays out and updates them, SQS queues with visibility,
// redelivery, maxReceiveCount and dead-letter queues, and an S3 bucket with
// ranged reads. They are test infrastructure for the deterministic simulator
// (internal/sim): safe for concurrent use, with no clock or randomness of their
// own, and every request passes through Faults so that a test can fail it,
// crash the caller before or after it, or leave batch items unprocessed.
package memstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Op names one request to an in-memory service.
type Op struct {
	Service string // "dynamodb", "sqs" or "s3"
	Name    string // the API call: "PutItem", "UpdateItem", "SendMessageBatch", ...
	Table   string // the table, queue or bucket
	Write   bool   // whether the request changes anything
}

func (o Op) String() string { return o.Service + " " + o.Name + " " + o.Table }

// Faults intercepts requests. Before is called before a request is served: an
// error fails it unapplied. After is called once a write has been applied (or
// refused by its condition): an error reaches the caller although the write
// stands, as when a process dies right after a request. Unprocessed says how
// many of the n items of a batch write to leave unprocessed this attempt.
// Before may block: the simulator parks a caller there to interleave callers.
type Faults interface {
	Before(ctx context.Context, op Op) error
	After(ctx context.Context, op Op) error
	Unprocessed(ctx context.Context, op Op, n int) int
}

// Env is what the in-memory services share: the clock they date records by
// and the faults they pass requests through.
type Env struct {
	Now    func() time.Time
	Faults Faults // nil: no faults
}

func (e *Env) now() time.Time {
	if e == nil || e.Now == nil {
		return time.Unix(0, 0).UTC()
	}
	return e.Now().UTC()
}

// call serves one request: the caller's context first (a dead caller's
// requests fail), then Before, then fn, then After for writes.
func (e *Env) call(ctx context.Context, op Op, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if e != nil && e.Faults != nil {
		if err := e.Faults.Before(ctx, op); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	err := fn()
	if op.Write && e != nil && e.Faults != nil {
		if ferr := e.Faults.After(ctx, op); ferr != nil {
			return ferr
		}
	}
	return err
}

func (e *Env) unprocessed(ctx context.Context, op Op, n int) int {
	if e == nil || e.Faults == nil {
		return 0
	}
	return max(0, min(n, e.Faults.Unprocessed(ctx, op, n)))
}

// ValidationError is what DynamoDB and SQS answer to a request they refuse
// whatever the moment: an item over 400 KB, a number out of range, a message
// body with characters SQS cannot carry. Retrying does not help.
type ValidationError struct {
	Service string
	Msg     string
}

func (e *ValidationError) Error() string {
	if e.Service == "sqs" {
		return "InvalidMessageContents: " + e.Msg
	}
	return "ValidationException: " + e.Msg
}

// MaxItemBytes is DynamoDB's item size limit.
const MaxItemBytes = 400 * 1024

// ItemSize estimates an item's size as DynamoDB counts it: the UTF-8 bytes of
// attribute names and string values, about one byte per two digits of a
// number, one byte for a boolean or null, and three bytes plus one per element
// for a list or map. item is the item's JSON object.
func ItemSize(item []byte) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(item))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return 0, fmt.Errorf("item size: %w", err)
	}
	n := 0
	for k, a := range v {
		n += len(k) + valueSize(a)
	}
	return n, nil
}

func valueSize(v any) int {
	switch v := v.(type) {
	case string:
		return len(v)
	case json.Number:
		digits := 0
		for _, c := range v.String() {
			if c == 'e' || c == 'E' {
				break
			}
			if c >= '0' && c <= '9' {
				digits++
			}
		}
		return (digits+1)/2 + 1
	case []any:
		n := 3
		for _, e := range v {
			n += 1 + valueSize(e)
		}
		return n
	case map[string]any:
		n := 3
		for k, e := range v {
			n += 1 + len(k) + valueSize(e)
		}
		return n
	default: // bool, null
		return 1
	}
}

// checkItem refuses an item over MaxItemBytes. Its JSON is longer than
// DynamoDB's count (quotes, colons), so short items need no closer look.
func checkItem(table string, item []byte) error {
	if len(item) <= MaxItemBytes*3/4 {
		return nil
	}
	n, err := ItemSize(item)
	if err != nil {
		return err
	}
	if n > MaxItemBytes {
		return &ValidationError{Service: "dynamodb", Msg: fmt.Sprintf("Item size has exceeded the maximum allowed size (%s: about %d bytes)", table, n)}
	}
	return nil
}
