package chaos

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// Chaos injects the faults of one Spec and counts them. One Chaos serves
// every handler and client of a run; it is safe for concurrent use.
type Chaos struct {
	spec  Spec
	rng   *source
	count counters
}

// New returns a Chaos for spec.
func New(spec Spec) *Chaos {
	return &Chaos{spec: spec, rng: newSource(spec.Seed)}
}

// Spec returns the spec c injects.
func (c *Chaos) Spec() Spec { return c.spec }

// source is a seeded random source shared by goroutines. The run's order of
// events still varies with scheduling, so a seed repeats the choices, not the
// run.
type source struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newSource(seed uint64) *source {
	return &source{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// hit reports true with probability p.
func (s *source) hit(p float64) bool {
	if p <= 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.r.Float64() < p
}

// intN returns a number in [0, n).
func (s *source) intN(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.r.IntN(n)
}

func (s *source) shuffle(n int, swap func(i, j int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.r.Shuffle(n, swap)
}

// counters are what was injected and what was seen retried.
type counters struct {
	batches, reordered, postponed          atomic.Int64
	duplicated, redelivered                atomic.Int64
	crashed, crashedAtEnd, raced           atomic.Int64
	ddbCalls, throttled, internal, applied atomic.Int64
	unprocessedItems, unprocessedKeys      atomic.Int64
	sdkRetries                             atomic.Int64
}

// Stats are the counts of a run so far.
type Stats struct {
	Batches          int64 // SQS batches handed to a handler
	Reordered        int64 // batches of two or more messages shuffled
	Postponed        int64 // single messages sent again to arrive later, unprocessed
	Duplicated       int64 // messages sent to their queue a second time
	Redelivered      int64 // messages received again (ApproximateReceiveCount > 1)
	Crashed          int64 // invocations failed on purpose
	CrashedAtEnd     int64 // of which after all their writes, before acknowledging
	Raced            int64 // batches handled by two invocations at once
	DynamoCalls      int64 // requests through the DynamoDB proxy
	Throttled        int64 // answered with a throttling error
	Internal         int64 // answered with HTTP 500
	InternalApplied  int64 // of which after the call had been applied
	UnprocessedItems int64 // BatchWriteItem items returned unprocessed
	UnprocessedKeys  int64 // BatchGetItem keys returned unprocessed
	SDKRetries       int64 // DynamoDB requests the SDK sent as a retry
}

// Stats returns the counts so far.
func (c *Chaos) Stats() Stats {
	n := &c.count
	return Stats{
		Batches: n.batches.Load(), Reordered: n.reordered.Load(), Postponed: n.postponed.Load(), Duplicated: n.duplicated.Load(),
		Redelivered: n.redelivered.Load(), Crashed: n.crashed.Load(), CrashedAtEnd: n.crashedAtEnd.Load(),
		Raced: n.raced.Load(), DynamoCalls: n.ddbCalls.Load(), Throttled: n.throttled.Load(), Internal: n.internal.Load(),
		InternalApplied: n.applied.Load(), UnprocessedItems: n.unprocessedItems.Load(),
		UnprocessedKeys: n.unprocessedKeys.Load(), SDKRetries: n.sdkRetries.Load(),
	}
}

// Add returns the sums of s's and o's counts.
func (s Stats) Add(o Stats) Stats {
	return Stats{
		Batches: s.Batches + o.Batches, Reordered: s.Reordered + o.Reordered, Postponed: s.Postponed + o.Postponed,
		Duplicated:  s.Duplicated + o.Duplicated,
		Redelivered: s.Redelivered + o.Redelivered, Crashed: s.Crashed + o.Crashed, CrashedAtEnd: s.CrashedAtEnd + o.CrashedAtEnd,
		Raced: s.Raced + o.Raced, DynamoCalls: s.DynamoCalls + o.DynamoCalls, Throttled: s.Throttled + o.Throttled, Internal: s.Internal + o.Internal,
		InternalApplied: s.InternalApplied + o.InternalApplied, UnprocessedItems: s.UnprocessedItems + o.UnprocessedItems,
		UnprocessedKeys: s.UnprocessedKeys + o.UnprocessedKeys, SDKRetries: s.SDKRetries + o.SDKRetries,
	}
}

// Injected is the number of faults injected.
func (s Stats) Injected() int64 {
	return s.Reordered + s.Postponed + s.Duplicated + s.Crashed + s.Throttled + s.Internal + s.UnprocessedItems + s.UnprocessedKeys
}

// String reports the counts on one line.
func (s Stats) String() string {
	return fmt.Sprintf("%d batches: %d shuffled, %d messages postponed, %d duplicated, %d invocations crashed (%d after all their writes), %d messages redelivered; "+
		"%d DynamoDB calls: %d throttled, %d HTTP 500 (%d applied), %d items and %d keys left unprocessed; %d SDK retries seen",
		s.Batches, s.Reordered, s.Postponed, s.Duplicated, s.Crashed, s.CrashedAtEnd, s.Redelivered,
		s.DynamoCalls, s.Throttled, s.Internal, s.InternalApplied, s.UnprocessedItems, s.UnprocessedKeys, s.SDKRetries)
}
