package chaos

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
)

// budget is one invocation's allowance of writes. The handler wrapper puts it
// in the invocation's context; the transport spends it.
type budget struct {
	limit   int64 // writes allowed; -1 for no limit
	writes  atomic.Int64
	tripped atomic.Bool
	cancel  context.CancelFunc
}

type budgetKey struct{}

func withBudget(ctx context.Context, b *budget) context.Context {
	return context.WithValue(ctx, budgetKey{}, b)
}

// spend counts a write and reports whether it may go out. The first write past
// the limit trips the budget and cancels the invocation, as the end of a
// Lambda's process cuts short whatever it was doing.
func (b *budget) spend() bool {
	if b.tripped.Load() {
		return false
	}
	if n := b.writes.Add(1); b.limit < 0 || n <= b.limit {
		return true
	}
	if b.tripped.CompareAndSwap(false, true) && b.cancel != nil {
		b.cancel()
	}
	return false
}

// crashError is what a request of a crashed invocation gets. It reports itself
// as a cancellation so that the SDK does not retry it: nothing runs after a
// crash.
type crashError struct{}

func (crashError) Error() string       { return "chaos: invocation crashed" }
func (crashError) CanceledError() bool { return true }

// transport fails the writes of an invocation beyond its budget, and every
// request after that.
type transport struct {
	base http.RoundTripper
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if b, ok := r.Context().Value(budgetKey{}).(*budget); ok {
		if b.tripped.Load() || (isWrite(r) && !b.spend()) {
			if r.Body != nil {
				r.Body.Close()
			}
			return nil, crashError{}
		}
	}
	return t.base.RoundTrip(r)
}

// writeOps are the JSON-protocol operations (DynamoDB, SQS) that change state.
var writeOps = map[string]bool{
	"PutItem": true, "UpdateItem": true, "DeleteItem": true, "BatchWriteItem": true, "TransactWriteItems": true,
	"SendMessage": true, "SendMessageBatch": true,
}

// isWrite tells a handler's own writes from its reads: DynamoDB and SQS name
// the operation in X-Amz-Target; S3's REST calls change state with any method
// but GET and HEAD.
func isWrite(r *http.Request) bool {
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		_, op, _ := strings.Cut(target, ".")
		return writeOps[op]
	}
	return r.Method != http.MethodGet && r.Method != http.MethodHead
}
