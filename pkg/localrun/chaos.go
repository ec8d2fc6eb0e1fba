package localrun

import (
	"maps"
	"time"

	"github.com/segport/segport/pkg/app"
)

// Settings of a run under chaos, unless the options give their own.
const (
	// chaosVisibility brings crashed invocations' messages back soon; it is
	// still longer than a parser or writer invocation usually takes.
	chaosVisibility = 5 * time.Second
	// chaosMaxReceiveCount keeps a message that crashes a few times in a row
	// out of the dead-letter queue: chaos is to show that faults that go away
	// change nothing, and a poison message is another matter.
	chaosMaxReceiveCount = "20"
)

func chaosDefaults(opts Options) Options {
	if opts.Chaos == nil {
		return opts
	}
	if opts.VisibilityTimeout == 0 {
		opts.VisibilityTimeout = chaosVisibility
	}
	if _, ok := opts.Parameters["MaxReceiveCount"]; !ok {
		opts.Parameters = maps.Clone(opts.Parameters)
		if opts.Parameters == nil {
			opts.Parameters = map[string]string{}
		}
		opts.Parameters["MaxReceiveCount"] = chaosMaxReceiveCount
	}
	return opts
}

// chaosApp is the App the parser and writer run on. Under chaos it is a second
// App whose clients carry the faults: the crash transport, DynamoDB through
// the fault-injecting proxy, more SDK retries. r.App stays fault-free, so the
// trigger, the CLI's queries and the dump see the tables as they are.
func (r *Runtime) chaosApp(opts Options) (*app.App, error) {
	if opts.Chaos == nil {
		return r.App, nil
	}
	p, err := opts.Chaos.StartProxy(r.Stack.Endpoints.DynamoDB)
	if err != nil {
		return nil, err
	}
	r.proxy = p
	return build(r.Stack, opts, opts.Chaos.AWSConfig(r.Stack.AWSConfig(), p.URL()))
}
