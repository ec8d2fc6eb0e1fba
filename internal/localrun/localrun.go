// Package localrun runs segport on the embedded local stack: it starts the stack
// (or attaches to the one a `segport dev` process runs on the same data folder),
// builds the App from the template's resolved environment, feeds S3 events to the
// trigger and runs the parser and writer behind emulated SQS event-source mappings.
package localrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	segport "github.com/segport/segport"
	"github.com/segport/segport/internal/app"
	"github.com/segport/segport/internal/chaos"
	"github.com/segport/segport/internal/config"
	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/internal/localstack"
	"github.com/segport/segport/pkg/stats"
)

// Options configure Open.
type Options struct {
	DataDir string
	// Template is the SAM template the stack is provisioned from (default:
	// the repository's, embedded).
	Template          []byte
	NodeDir           string            // default: one shared install per machine
	Parameters        map[string]string // template parameter overrides
	VisibilityTimeout time.Duration     // default 30 s
	BatchBytes        int               // write message bound; 0 for SQS's limit
	Concurrency       int               // pollers per mapping; default 2
	// Wrap, when set, wraps each SQS handler (tests use it to redeliver and shuffle).
	Wrap func(src localstack.EventSource, h localstack.Handler) localstack.Handler
	// Chaos, when set, injects its faults into the parser and writer (see
	// chaosApp); it needs a stack this process starts.
	Chaos *chaos.Chaos
	Now   importer.Clock
	Log   *slog.Logger
	// Metrics receives the handlers' measurements; nil for none.
	Metrics importer.Metrics
	// Client, when set, changes the SDK configuration of the handlers'
	// clients (tests point them at counting proxies in front of st's emulators).
	Client func(st *localstack.Stack, cfg aws.Config) aws.Config
	// SweepEvery is how often the sweeper runs (default 5 s); it also runs
	// when the stack starts, to resume the jobs an earlier process left.
	SweepEvery time.Duration
}

// Runtime is segport running locally.
type Runtime struct {
	Stack    *localstack.Stack
	App      *app.App
	Attached bool // the stack belongs to another process, which runs the handlers
	// Resumed counts the jobs an earlier process left unfinished (killed with
	// its queues' messages in flight) whose pieces this one sent again.
	Resumed   int
	proxy     *chaos.Proxy
	stopSweep context.CancelFunc
	swept     chan struct{}
	// sweeps counts the sweeper's requests: they belong to no job.
	sweeps *stats.Counter
}

// SweeperStats are the requests the sweeper made, which no job's Stats count.
func (r *Runtime) SweeperStats() stats.Stats {
	if r.sweeps == nil {
		return stats.Stats{}
	}
	return r.sweeps.Stats()
}

// sweep runs the sweeper once, counting its requests.
func (r *Runtime) sweep(ctx context.Context, sw *importer.Sweeper) (importer.SweepReport, error) {
	if r.sweeps == nil {
		r.sweeps = stats.NewCounter("")
	}
	return sw.Sweep(stats.NewContext(ctx, r.sweeps))
}

// Open starts the local stack with the handlers, or attaches to a running one.
func Open(ctx context.Context, opts Options) (*Runtime, error) {
	st, ok, err := localstack.Attach(ctx, opts.DataDir)
	if err != nil {
		return nil, err
	}
	if ok {
		if opts.Chaos != nil {
			return nil, fmt.Errorf("chaos: %w; the segport dev process on %s runs the handlers (give it --chaos)", localstack.ErrAttached, opts.DataDir)
		}
		if len(opts.Parameters) > 0 {
			return nil, fmt.Errorf("parameter overrides: %w; the segport dev process on %s runs the stack (give it --parameter-overrides)", localstack.ErrAttached, opts.DataDir)
		}
		a, err := build(st, opts, st.AWSConfig())
		if err != nil {
			return nil, err
		}
		return &Runtime{Stack: st, App: a, Attached: true}, nil
	}
	if opts.NodeDir == "" {
		if opts.NodeDir, err = localstack.SharedNodeDir(); err != nil {
			return nil, err
		}
	}
	opts = chaosDefaults(opts)
	if opts.VisibilityTimeout == 0 {
		opts.VisibilityTimeout = 30 * time.Second
	}
	r := &Runtime{}
	if opts.Template == nil {
		opts.Template = segport.Template
	}
	st, err = localstack.Start(ctx, localstack.Options{
		DataDir: opts.DataDir, NodeDir: opts.NodeDir, Template: opts.Template,
		Parameters: opts.Parameters, VisibilityTimeout: opts.VisibilityTimeout, Logger: opts.Log,
		OnObjectCreated: func(ctx context.Context, ev events.S3Event) error {
			return r.App.S3Handler()(ctx, ev)
		},
		Invokers: map[string]localstack.Invoker{"TriggerFunction": func(ctx context.Context, p json.RawMessage) (any, error) {
			return r.App.TriggerHandler()(ctx, p)
		}},
	})
	if err != nil {
		return nil, err
	}
	r.Stack = st
	if r.App, err = build(st, opts, st.AWSConfig()); err != nil {
		st.Close()
		return nil, err
	}
	ha, err := r.chaosApp(opts)
	if err != nil {
		r.Close()
		return nil, err
	}
	handlers := map[string]localstack.Handler{
		"ParserFunction": localstack.Handler(ha.ParserHandler()),
		"WriterFunction": localstack.Handler(ha.WriterHandler()),
	}
	for _, src := range st.EventSources() {
		h, ok := handlers[src.Function]
		if !ok {
			r.Close()
			return nil, fmt.Errorf("the template maps %s to %s, which the local runtime does not know", src.QueueLogicalID, src.Function)
		}
		if opts.Chaos != nil {
			h = opts.Chaos.Wrap(h, src.QueueURL, st.SQSClient())
		}
		if opts.Wrap != nil {
			h = opts.Wrap(src, h)
		}
		m := src.Mapping(h)
		m.Concurrency = max(opts.Concurrency, 2)
		if _, err := st.StartMapping(ctx, m); err != nil {
			r.Close()
			return nil, err
		}
	}
	if err := r.resume(ctx); err != nil {
		r.Close()
		return nil, err
	}
	r.sweepEvery(max(opts.SweepEvery, 0))
	return r, nil
}

// resume sends again the unsettled pieces of every job that has not ended: this
// process just started the queues, so nothing of them is in flight.
func (r *Runtime) resume(ctx context.Context) error {
	sw := *r.App.Sweeper
	sw.StallAfter = 0
	rep, err := r.sweep(ctx, &sw)
	if err != nil {
		return fmt.Errorf("resume interrupted jobs: %w", err)
	}
	r.Resumed = rep.Stalled
	return nil
}

// sweepEvery runs the sweeper periodically until Close.
func (r *Runtime) sweepEvery(every time.Duration) {
	if every == 0 {
		every = 5 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.stopSweep, r.swept = cancel, make(chan struct{})
	go func() {
		defer close(r.swept)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				// A failed sweep is tried again at the next tick.
				if _, err := r.sweep(ctx, r.App.Sweeper); err != nil && ctx.Err() == nil && r.App.Sweeper.Log != nil {
					r.App.Sweeper.Log.Warn("sweep failed; it runs again", "err", err)
				}
			}
		}
	}()
}

func build(st *localstack.Stack, opts Options, awsCfg aws.Config) (*app.App, error) {
	env := st.Env()
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		return nil, fmt.Errorf("local function environment: %w", err)
	}
	if opts.Client != nil {
		awsCfg = opts.Client(st, awsCfg)
	}
	return app.New(cfg, awsCfg, app.Options{
		Now: opts.Now, Log: opts.Log, BatchBytes: opts.BatchBytes, Metrics: opts.Metrics,
		S3Options: []func(*s3.Options){func(o *s3.Options) { o.UsePathStyle = true }},
	}), nil
}

// Close stops the stack if this runtime started it.
func (r *Runtime) Close() error {
	if r.stopSweep != nil {
		r.stopSweep()
		<-r.swept
	}
	err := r.Stack.Close()
	if r.proxy != nil {
		err = errors.Join(err, r.proxy.Close())
	}
	return err
}

// Idle waits until every import in flight has been processed, and what reached
// a dead-letter queue has been recorded on its job.
func (r *Runtime) Idle(ctx context.Context) error {
	if r.Attached {
		return nil
	}
	if err := r.Stack.Idle(ctx); err != nil {
		return err
	}
	rep, err := r.sweep(ctx, r.App.Sweeper)
	if err != nil || rep == (importer.SweepReport{}) {
		return err
	}
	return r.Stack.Idle(ctx)
}
