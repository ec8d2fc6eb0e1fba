// Package chaos injects the faults segport must survive into a local run: SQS
// batches delivered twice and out of order, handler invocations that die after
// some of their writes, and a DynamoDB that throttles and leaves batch items
// unprocessed. The final tables of a run under chaos must equal a clean run's.
package chaos

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Spec says how often each fault happens. Every field but Seed is a
// probability from 0 to 1.
type Spec struct {
	Duplicate   float64 // an SQS batch is sent to its queue again, later
	Reorder     float64 // a batch reaches the handler shuffled, a single message later
	Crash       float64 // an invocation dies after a random number of its writes
	Throttle    float64 // a DynamoDB call fails with a throttling error or HTTP 500
	Unprocessed float64 // a BatchWriteItem/BatchGetItem leaves part of its items unprocessed
	Race        float64 // a batch is handled by two invocations at once, whose finishers race
	Seed        uint64  // seeds the random choices
}

// ErrSpec marks a SPEC that does not parse.
var ErrSpec = errors.New("invalid chaos spec")

// ParseSpec reads a SPEC such as
// "duplicate=0.5,reorder=1,crash=0.1,throttle=0.2,unprocessed=0.3,seed=42".
// Absent faults are off; without a seed one is taken from the clock (and
// shown by Spec.String, so the run can be repeated).
func ParseSpec(s string) (Spec, error) {
	var sp Spec
	seeded := false
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, val, ok := strings.Cut(part, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || val == "" {
			return Spec{}, fmt.Errorf("%w: %q is not key=value", ErrSpec, part)
		}
		if key == "seed" {
			n, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return Spec{}, fmt.Errorf("%w: seed %q is not a non-negative integer", ErrSpec, val)
			}
			sp.Seed, seeded = n, true
			continue
		}
		p := sp.field(key)
		if p == nil {
			return Spec{}, fmt.Errorf("%w: unknown fault %q (known: duplicate, reorder, crash, throttle, unprocessed, race, seed)", ErrSpec, key)
		}
		f, err := strconv.ParseFloat(val, 64)
		if err != nil || !(f >= 0 && f <= 1) {
			return Spec{}, fmt.Errorf("%w: %s=%s is not a probability from 0 to 1", ErrSpec, key, val)
		}
		*p = f
	}
	if !seeded {
		sp.Seed = uint64(time.Now().UnixNano())
	}
	return sp, nil
}

func (sp *Spec) field(key string) *float64 {
	switch key {
	case "duplicate":
		return &sp.Duplicate
	case "reorder":
		return &sp.Reorder
	case "crash":
		return &sp.Crash
	case "throttle":
		return &sp.Throttle
	case "unprocessed":
		return &sp.Unprocessed
	case "race":
		return &sp.Race
	}
	return nil
}

// String is the SPEC that ParseSpec reads back into sp.
func (sp Spec) String() string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	return fmt.Sprintf("duplicate=%s,reorder=%s,crash=%s,throttle=%s,unprocessed=%s,race=%s,seed=%d",
		f(sp.Duplicate), f(sp.Reorder), f(sp.Crash), f(sp.Throttle), f(sp.Unprocessed), f(sp.Race), sp.Seed)
}
