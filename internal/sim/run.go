package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/internal/memstore"
)

// Result is what one schedule did and which invariants it broke.
type Result struct {
	Seed     int64
	Allowed  Faults // the kinds the schedule drew from
	Faults   Faults // the kinds it drew
	Steps    int
	Lossy    bool     // a fault that may lose rows was injected
	Deletes  bool     // the scenario has a delete file (RunDeletes)
	Failures []string // the invariants broken; none if the schedule passed
	Trace    []string // what happened, step by step
}

// Failed reports whether an invariant broke.
func (r *Result) Failed() bool { return len(r.Failures) > 0 }

// maxSteps bounds a schedule: one that has not quiesced by then breaks the
// invariant that every job ends.
const maxSteps = 20000

// trigger is an S3 event waiting for its (next) invocation; Lambda retries an
// asynchronous invocation twice.
type trigger struct {
	f        file
	attempts int
}

// Run runs the schedule of seed and checks it. The schedule draws its fault
// kinds from allowed: one in eight schedules has none, the others a random mix.
func Run(seed int64, allowed Faults) *Result { return run(seed, allowed, false) }

// RunDeletes is Run with a delete file among the scenario's files
// (deleteFile), racing its imports.
func RunDeletes(seed int64, allowed Faults) *Result { return run(seed, allowed, true) }

func run(seed int64, allowed Faults, deletes bool) *Result {
	w := newWorld(seed, allowed)
	if w.r.IntN(8) == 0 {
		w.faults = 0
	} else {
		w.faults = allowed & Faults(w.r.Uint64())
	}
	sc := newScenario(w.r, w.faults)
	if deletes {
		sc.files = append(sc.files, deleteFile(seed, len(sc.files)))
	}
	w.wire(sc)
	res := &Result{Seed: seed, Allowed: allowed, Faults: w.faults, Deletes: deletes}
	for _, f := range sc.files {
		meta := map[string]string{importer.MetaJobId: f.jobId}
		if f.replace {
			meta[importer.MetaMode] = "replace"
		}
		w.objs.Load(bucket, f.key, f.body, meta)
		w.pending = append(w.pending, &trigger{f: f})
	}
	w.logf("scenario: %d files, piece %d bytes, %d chunks a range, batch %d bytes, maxReceive %d, horizon %d", len(sc.files), sc.pieceSize, sc.rangeChunks, sc.batchBytes, w.maxReceive, w.horizon)
	if msg := w.loop(); msg != "" {
		res.Failures = append(res.Failures, msg)
	}
	w.kill()
	res.Steps, res.Lossy = w.step, w.lossy
	res.Failures = append(res.Failures, check(w, sc)...)
	res.Trace = w.trace
	return res
}

// loop runs events until the schedule is at rest, or returns why it is not.
func (w *world) loop() string {
	quiet := 0
	for w.step = 0; w.step < maxSteps; w.step++ {
		if cs := w.choices(); len(cs) > 0 {
			w.pick(cs)()
			continue
		}
		// Nothing visible, nothing running: let hidden messages show, or
		// sweep until sweeping changes nothing.
		if next, ok := earliest(w.parseQ, w.writeQ); ok {
			w.now = next
			w.logf("time jumps to the next visible message")
			continue
		}
		quiet++
		if quiet > 60 {
			return "every job ends: the sweeper still finds work after 60 sweeps at rest"
		}
		w.advance(stallAfter + time.Minute)
		if rep, ok := w.sweep(stallAfter); ok && rep.Stalled == 0 && rep.DeadLetters == 0 && rep.Pruned == 0 && w.parseQ.Len() == 0 {
			return ""
		}
	}
	return fmt.Sprintf("every job ends: no quiescence after %d steps", maxSteps)
}

type choice struct {
	weight int
	do     func()
}

// choices are the events that may come next, weighted.
func (w *world) choices() []choice {
	parseVis, writeVis := w.parseQ.Visible(), w.writeQ.Visible()
	canStart := len(w.procs) < 3
	if len(w.procs) > 0 && !w.procs[0].parks {
		canStart = false // without interleaving an invocation runs to its end
	}
	var cs []choice
	if len(w.procs) > 0 {
		cs = append(cs, choice{8, func() { w.resume(w.procs[w.r.IntN(len(w.procs))]) }})
	}
	if !canStart {
		return cs
	}
	if len(w.pending) > 0 {
		cs = append(cs, choice{3, func() {
			i := w.r.IntN(len(w.pending))
			t := w.pending[i]
			w.pending = append(w.pending[:i], w.pending[i+1:]...)
			w.startTrigger(t)
		}})
	}
	if len(parseVis) > 0 {
		cs = append(cs, choice{4, func() { w.deliver("parse", w.parseQ, parseVis, w.parser.HandleSQS) }})
	}
	if len(writeVis) > 0 {
		cs = append(cs, choice{6, func() { w.deliver("write", w.writeQ, writeVis, w.writer.HandleSQS) }})
	}
	if len(parseVis)+len(writeVis) > 0 && w.faulty(FaultDuplicate) {
		cs = append(cs, choice{1, func() {
			if len(parseVis) > 0 && (len(writeVis) == 0 || w.r.IntN(2) == 0) {
				w.parseQ.Duplicate(parseVis[w.r.IntN(len(parseVis))])
			} else {
				w.writeQ.Duplicate(writeVis[w.r.IntN(len(writeVis))])
			}
			w.logf("duplicate a message")
		}})
	}
	if w.faulty(FaultRestart) && w.restarts < 2 {
		cs = append(cs, choice{1, w.restart})
	}
	if len(cs) > 0 {
		cs = append(cs, choice{1, func() { w.sweep(stallAfter) }})
		cs = append(cs, choice{2, func() { w.advance(time.Duration(1+w.r.IntN(120)) * time.Second) }})
	}
	return cs
}

// pick draws one of cs by weight.
func (w *world) pick(cs []choice) func() {
	total := 0
	for _, c := range cs {
		total += c.weight
	}
	n := w.r.IntN(total)
	for _, c := range cs {
		if n < c.weight {
			return c.do
		}
		n -= c.weight
	}
	return cs[len(cs)-1].do
}

func earliest(qs ...*memstore.Queue) (time.Time, bool) {
	var at time.Time
	found := false
	for _, q := range qs {
		if t, ok := q.NextVisible(); ok && (!found || t.Before(at)) {
			at, found = t, true
		}
	}
	return at, found
}

func (w *world) advance(d time.Duration) {
	w.now = w.now.Add(d)
}

// deliver starts an invocation with a batch of one to three visible messages,
// picked at random: SQS delivers in any order.
func (w *world) deliver(kind string, q *memstore.Queue, visible []int, handle func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)) {
	n := 1 + w.r.IntN(min(3, len(visible)))
	w.r.Shuffle(len(visible), func(i, k int) { visible[i], visible[k] = visible[k], visible[i] })
	var ev events.SQSEvent
	for _, h := range visible[:n] {
		if rec, ok := q.Receive(h); ok {
			ev.Records = append(ev.Records, rec)
		}
	}
	var what []string
	for _, rec := range ev.Records {
		var m struct {
			JobId string
			Piece json.RawMessage
			Seq   *int
		}
		json.Unmarshal([]byte(rec.Body), &m)
		var p struct{ Index int }
		if json.Unmarshal(m.Piece, &p) != nil {
			json.Unmarshal(m.Piece, &p.Index)
		}
		s := fmt.Sprintf("%.6s/%d", m.JobId, p.Index)
		if m.Seq != nil {
			s += fmt.Sprintf("/%d", *m.Seq)
		}
		what = append(what, s+"#"+rec.Attributes["ApproximateReceiveCount"])
	}
	w.logf("deliver %s %v", kind, what)
	w.resume(w.start(kind, q, ev.Records, func(ctx context.Context) (events.SQSEventResponse, error) {
		return handle(ctx, ev)
	}))
}

// startTrigger invokes the trigger with the file's S3 event; a failed or dead
// invocation is retried, twice, as Lambda retries asynchronous invocations.
func (w *world) startTrigger(t *trigger) {
	t.attempts++
	ev := events.S3Event{Records: []events.S3EventRecord{{
		EventName: "ObjectCreated:Put", EventTime: t.f.created,
		S3: events.S3Entity{Bucket: events.S3Bucket{Name: bucket}, Object: events.S3Object{Key: t.f.key, URLDecodedKey: t.f.key, Sequencer: "00"}},
	}}}
	var p *proc
	p = w.start("trigger", nil, nil, func(ctx context.Context) (events.SQSEventResponse, error) {
		err := w.trigger.HandleS3(ctx, ev)
		if (err != nil || p.crashed) && !p.killed && t.attempts < 3 {
			w.pending = append(w.pending, t)
		}
		return events.SQSEventResponse{}, err
	})
	p.file = t.f.key
	if t.attempts == 3 {
		p.crashAt, p.throttle = 0, 0 // the last attempt succeeds: a lost trigger is not simulated
	}
	w.resume(p)
}

// sweep runs the sweeper to its end and reports whether it ran cleanly;
// restarts run it with StallAfter 0.
func (w *world) sweep(stall time.Duration) (importer.SweepReport, bool) {
	var rep importer.SweepReport
	s := *w.sweeper
	s.StallAfter = stall
	p := w.start("sweep", nil, nil, func(ctx context.Context) (events.SQSEventResponse, error) {
		var err error
		rep, err = s.Sweep(ctx)
		return events.SQSEventResponse{}, err
	})
	p.parks = false // a sweep is run to its end
	w.resume(p)
	b, _ := json.Marshal(rep)
	w.logf("sweep (stall %s): %s", stall, b)
	return rep, !p.crashed && p.err == nil
}

// restart loses every message and every running invocation, then sweeps with
// StallAfter 0, as the local stack does when it starts.
func (w *world) restart() {
	w.restarts++
	kept := w.pending[:0] // a retry of a failed trigger is lost with the stack too
	for _, t := range w.pending {
		if t.attempts == 0 {
			kept = append(kept, t)
			continue
		}
		w.lossy, w.unplanned[t.f.key] = true, true
	}
	w.pending = kept
	w.kill()
	n := w.parseQ.Drop() + w.writeQ.Drop() + w.parseDLQ.Drop() + w.writeDLQ.Drop()
	w.logf("restart: %d messages lost", n)
	w.sweep(0)
}
