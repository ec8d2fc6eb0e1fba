package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/segport/segport/internal/chaos"
)

// addChaosFlag adds --chaos SPEC to a command that can own the local stack.
func addChaosFlag(fs *flag.FlagSet) *string {
	return fs.String("chaos", "", "inject faults into the local stack: `SPEC` is duplicate=P,reorder=P,crash=P,throttle=P,unprocessed=P,race=P,seed=N (README \"Chaos\")")
}

// setChaos parses a --chaos SPEC into sf, for openTarget to pass on.
func setChaos(sf *stackFlags, spec string) error {
	if spec == "" {
		return nil
	}
	if sf.aws {
		return usageErr("--chaos injects faults into the local stack; it cannot be used with --aws")
	}
	s, err := chaos.ParseSpec(spec)
	if err != nil {
		return usageErr("--chaos: %v", err)
	}
	sf.chaos = chaos.New(s)
	return nil
}

// reportChaos says what was injected and retried, if anything was to be:
// a line of text, or with --json an object {"Chaos": SPEC, "Stats": {...}}.
// With t it first waits for t's stack to be idle, so that the duplicates and
// redeliveries still on their way when the jobs ended are processed and
// counted.
func reportChaos(ctx context.Context, w io.Writer, sf *stackFlags, t *target) error {
	if sf.chaos == nil {
		return nil
	}
	if t != nil && t.rt != nil {
		if err := t.rt.Idle(ctx); err != nil {
			return err
		}
	}
	if sf.json {
		json.NewEncoder(w).Encode(struct {
			Chaos string
			Stats chaos.Stats
		}{sf.chaos.Spec().String(), sf.chaos.Stats()})
		return nil
	}
	fmt.Fprintf(w, "chaos %s: %v\n", sf.chaos.Spec(), sf.chaos.Stats())
	return nil
}
