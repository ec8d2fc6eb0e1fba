package localrun

import (
	"maps"

	"github.com/segport/segport/internal/app"
)

// chaosMaxReceiveCount is the queues' maxReceiveCount under chaos, unless the
// options set one: a message that crashes a few times in a row is not a
// poison message, and chaos is to show that faults that go away change
// nothing. (The visibility timeout keeps its default: a shorter one brings
// crashed messages back sooner, but redelivers every invocation that outlasts
// it while it still runs, which on a busy machine snowballs.)
const chaosMaxReceiveCount = "20"

func chaosDefaults(opts Options) Options {
	if opts.Chaos == nil {
		return opts
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
	p, err := opts.Chaos.StartProxy(r.Stack.Endpoints.DynamoDB, r.Stack.Relay("dynamodb"))
	if err != nil {
		return nil, err
	}
	r.proxy = p
	return build(r.Stack, opts, opts.Chaos.AWSConfig(r.Stack.AWSConfig(), p.URL()))
}
