package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/segport/segport/pkg/chaos"
)

// addChaosFlag adds --chaos SPEC to a command that can own the local stack.
func addChaosFlag(fs *flag.FlagSet) *string {
	return fs.String("chaos", "", "inject faults into the local stack: duplicate=P,reorder=P,crash=P,throttle=P,unprocessed=P,seed=N (README \"Chaos\")")
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

// reportChaos says what was injected and retried, if anything was to be.
func reportChaos(w io.Writer, sf *stackFlags) {
	if sf.chaos != nil {
		fmt.Fprintf(w, "chaos %s: %v\n", sf.chaos.Spec(), sf.chaos.Stats())
	}
}
