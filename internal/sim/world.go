package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/internal/memstore"
	"github.com/segport/segport/pkg/endpoint"
)

// Faults is a set of fault kinds a schedule may inject.
type Faults uint

// The fault kinds.
const (
	// FaultCrash kills an invocation before or after one of its writes (a
	// store write, a message sent, an object put): the rest of it fails as a
	// dead process's would, and its messages show again after the timeout.
	FaultCrash Faults = 1 << iota
	// FaultThrottle fails single requests, as throttling that outlasts the
	// SDK's retries does.
	FaultThrottle
	// FaultUnprocessed leaves batch-write items unprocessed.
	FaultUnprocessed
	// FaultDuplicate delivers messages twice.
	FaultDuplicate
	// FaultRestart loses every queued and in-flight message, then sweeps with
	// StallAfter 0, as the local stack does at start-up.
	FaultRestart
	// FaultInterleave runs up to three invocations at once, switching between
	// them at every request.
	FaultInterleave
	// FaultLastDelivery lets crashes, throttling and timeouts hit a message's
	// last delivery: its message goes to the dead-letter queue, recorded by
	// the handler or not. Rows may then be lost, with their reasons.
	FaultLastDelivery
	// FaultRefusedData puts values in rows that SQS or DynamoDB refuse.
	FaultRefusedData

	// AllFaults is every fault kind.
	AllFaults Faults = 1<<iota - 1
)

var faultNames = []string{"crash", "throttle", "unprocessed", "duplicate", "restart", "interleave", "last-delivery", "refused-data"}

func (f Faults) String() string {
	s := ""
	for i, n := range faultNames {
		if f&(1<<i) != 0 {
			if s != "" {
				s += ","
			}
			s += n
		}
	}
	return s
}

// The deployment the simulator runs: the template's timings in proportion.
const (
	bucket     = "segport-sim"
	visibility = 90 * time.Minute
	stallAfter = 30 * time.Minute
	maxTries   = 3
	shards     = 4
)

// world is one schedule's services, handlers and running invocations.
type world struct {
	r      *rand.Rand
	faults Faults
	now    time.Time
	env    *memstore.Env
	db     *memstore.DB
	objs   *memstore.Objects

	parseQ, writeQ, parseDLQ, writeDLQ *memstore.Queue
	maxReceive                         int

	trigger *importer.Trigger
	parser  *importer.Parser
	writer  *importer.Writer
	sweeper *importer.Sweeper

	procs     []*proc
	nextProc  int
	horizon   int  // steps after which no fault is injected
	step      int  // the loop's step
	lossy     bool // a fault was injected that may lose rows legitimately
	trace     []string
	restarts  int
	unplanned map[string]bool // files whose S3 event was lost with a restart
	pending   []*trigger      // S3 events waiting for their (next) trigger invocation
}

type procKey struct{}

// proc is one invocation of a handler, run as a coroutine: it runs only
// between resume and its next request (or its end), so whichever order the
// world resumes procs in, the schedule is the same for the same seed.
type proc struct {
	id     int
	kind   string
	file   string // a trigger's file
	ctx    context.Context
	cancel context.CancelFunc
	q      *memstore.Queue
	recs   []events.SQSMessage
	run    func(context.Context) (events.SQSEventResponse, error)

	crashAt    int  // the write to crash at (from 1); 0: none
	crashAfter bool // crash after that write rather than before it
	throttle   int  // one request in throttle fails; 0: none
	writes     int
	crashed    bool
	killed     bool // by a restart
	parks      bool // whether it yields at every request

	started bool
	done    bool
	resp    events.SQSEventResponse
	err     error
	resume  chan struct{}
	yield   chan bool
}

var errCrash = errors.New("simulated crash: the invocation died")

// errThrottled is what throttling that outlasted the SDK's retries returns.
var errThrottled = errors.New("ProvisionedThroughputExceededException: simulated throttling")

func newWorld(seed int64, faults Faults) *world {
	w := &world{r: rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x5eed)), faults: faults, now: epoch, unplanned: map[string]bool{}}
	w.env = &memstore.Env{Now: func() time.Time { return w.now }, Faults: w}
	w.db = memstore.NewDB(w.env, shards)
	w.objs = memstore.NewObjects(w.env)
	w.maxReceive = 2 + w.r.IntN(4)
	w.parseDLQ = memstore.NewQueue(w.env, "parse-dlq", visibility, 0, nil)
	w.writeDLQ = memstore.NewQueue(w.env, "write-dlq", visibility, 0, nil)
	w.parseQ = memstore.NewQueue(w.env, "parse", visibility, w.maxReceive, w.parseDLQ)
	w.writeQ = memstore.NewQueue(w.env, "write", visibility, w.maxReceive, w.writeDLQ)
	w.horizon = 30 + w.r.IntN(400)
	return w
}

func (w *world) wire(sc scenario) {
	log := slog.New(slog.DiscardHandler)
	clock := importer.Clock(func() time.Time { return w.now })
	limits := endpoint.DefaultLimits()
	fin := &importer.Finisher{Jobs: w.db, Segments: w.db, Objects: w.objs, Bucket: bucket, Now: clock, Log: log}
	w.trigger = &importer.Trigger{Jobs: w.db, Objects: w.objs, Concurrency: 1,
		Parse: w.parseQ, Bucket: bucket, PieceSize: sc.pieceSize, RangeChunks: sc.rangeChunks, BatchBytes: sc.batchBytes, Now: clock, Log: log}
	w.parser = &importer.Parser{Jobs: w.db, Objects: w.objs, ReportBucket: bucket, Registry: w.db, Write: w.writeQ,
		Parse: w.parseQ, Segments: w.db, Concurrency: 1,
		Limits: limits, BatchBytes: sc.batchBytes, Now: clock, Log: log, Finisher: fin, MaxReceive: w.maxReceive}
	w.writer = &importer.Writer{Store: w.db, Jobs: w.db, Finisher: fin, Concurrency: 1, Log: log, MaxReceive: w.maxReceive}
	w.sweeper = &importer.Sweeper{Jobs: w.db, Members: w.db, Parse: w.parseQ, Finisher: fin, ParseDLQ: w.parseDLQ, WriteDLQ: w.writeDLQ,
		StallAfter: stallAfter, MaxTries: maxTries, Pruner: w.db, Now: clock, Log: log}
}

func (w *world) logf(format string, args ...any) {
	w.trace = append(w.trace, fmt.Sprintf("%4d %s ", w.step, w.now.Sub(epoch).Round(time.Second))+fmt.Sprintf(format, args...))
}

func (w *world) faulty(f Faults) bool { return w.faults&f != 0 && w.step < w.horizon }

func procOf(ctx context.Context) *proc {
	p, _ := ctx.Value(procKey{}).(*proc)
	return p
}

// Before is where a proc yields to the world, then maybe crashes or is
// throttled.
func (w *world) Before(ctx context.Context, op memstore.Op) error {
	p := procOf(ctx)
	if p == nil {
		return nil
	}
	w.now = w.now.Add(time.Millisecond) // a request takes time
	if p.parks {
		p.yield <- false
		<-p.resume
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if op.Write {
		p.writes++
		if p.writes == p.crashAt && !p.crashAfter {
			return w.crash(p, op, "before")
		}
	}
	if p.throttle > 0 && w.r.IntN(p.throttle) == 0 {
		w.logf("proc %d %s: throttled %s", p.id, p.kind, op)
		return fmt.Errorf("%s: %w", op, errThrottled)
	}
	return nil
}

// After crashes a proc right after the write it is to crash at.
func (w *world) After(ctx context.Context, op memstore.Op) error {
	p := procOf(ctx)
	if p != nil && p.writes == p.crashAt && p.crashAfter {
		return w.crash(p, op, "after")
	}
	return nil
}

func (w *world) crash(p *proc, op memstore.Op, when string) error {
	w.logf("proc %d %s: crash %s write %d (%s)", p.id, p.kind, when, p.writes, op)
	p.crashed = true
	p.cancel()
	return errCrash
}

// Unprocessed leaves some batch-write items for another attempt.
func (w *world) Unprocessed(ctx context.Context, op memstore.Op, n int) int {
	if procOf(ctx) == nil || !w.faulty(FaultUnprocessed) || w.r.IntN(3) > 0 {
		return 0
	}
	return w.r.IntN(n + 1)
}

// start makes a proc of an invocation; the world runs it with resume.
func (w *world) start(kind string, q *memstore.Queue, recs []events.SQSMessage, run func(context.Context) (events.SQSEventResponse, error)) *proc {
	w.nextProc++
	p := &proc{id: w.nextProc, kind: kind, q: q, recs: recs, run: run, resume: make(chan struct{}), yield: make(chan bool)}
	p.ctx, p.cancel = context.WithCancel(context.WithValue(context.Background(), procKey{}, p))
	p.parks = w.faulty(FaultInterleave)
	last := false
	for _, rec := range recs {
		if rec.Attributes["ApproximateReceiveCount"] == fmt.Sprint(w.maxReceive) {
			last = true
		}
	}
	mayFault := !last || w.faulty(FaultLastDelivery)
	if mayFault && w.faulty(FaultCrash) && w.r.IntN(4) == 0 {
		// Any write: most invocations make a few, a large batch makes dozens.
		p.crashAt, p.crashAfter = 1+w.r.IntN(1+w.r.IntN(40)), w.r.IntN(2) == 0
	}
	if mayFault && w.faulty(FaultThrottle) && w.r.IntN(6) == 0 {
		p.throttle = 3 + w.r.IntN(20)
	}
	if last && w.faulty(FaultLastDelivery) && w.r.IntN(3) == 0 {
		p.crashAt, p.crashAfter = w.r.IntN(8), w.r.IntN(2) == 0 // a timeout, maybe before any write
		if p.crashAt == 0 {
			p.crashed = true // timed out before its first request
		}
	}
	if last && (p.crashAt > 0 || p.throttle > 0 || p.crashed) {
		w.lossy = true
	}
	w.logf("proc %d %s start: %d records, crashAt %d after %v, throttle %d, last %v", p.id, kind, len(recs), p.crashAt, p.crashAfter, p.throttle, last)
	w.procs = append(w.procs, p)
	return p
}

// resume runs p until its next request or its end. A proc that does not
// park runs on the caller's goroutine.
func (w *world) resume(p *proc) {
	if !p.parks {
		if !p.crashed {
			p.resp, p.err = p.run(p.ctx)
		}
		p.done = true
		w.finish(p)
		return
	}
	if !p.started {
		p.started = true
		go func() {
			<-p.resume
			if !p.crashed {
				p.resp, p.err = p.run(p.ctx)
			}
			p.yield <- true
		}()
	}
	p.resume <- struct{}{}
	if done := <-p.yield; done {
		p.done = true
		w.finish(p)
	}
}

// finish answers a proc's end as Lambda would: the event source mapping
// deletes the messages that did not fail; a dead invocation answers nothing.
func (w *world) finish(p *proc) {
	for i, q := range w.procs {
		if q == p {
			w.procs = append(w.procs[:i], w.procs[i+1:]...)
			break
		}
	}
	p.cancel()
	if p.crashed {
		w.logf("proc %d %s died", p.id, p.kind)
		return
	}
	failed := map[string]bool{}
	for _, f := range p.resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	if p.err != nil {
		for _, rec := range p.recs {
			failed[rec.MessageId] = true
		}
	}
	for _, rec := range p.recs {
		if !failed[rec.MessageId] {
			p.q.Delete(rec.ReceiptHandle)
		}
	}
	w.logf("proc %d %s done: %d failed, err %v", p.id, p.kind, len(failed), p.err)
}

// kill ends every running proc as a restart does: dead, unanswered.
func (w *world) kill() {
	for len(w.procs) > 0 {
		p := w.procs[0]
		p.crashed, p.killed = true, true
		if p.kind == "trigger" {
			w.lossy = true // its S3 event is lost with the stack: the job fails unplanned, or never exists
			w.unplanned[p.file] = true
		}
		p.cancel()
		for !p.done {
			w.resume(p)
		}
	}
}
