package sim

import (
	"flag"
	"strings"
	"testing"
)

var (
	seedFlag = flag.Int64("seed", -1, "replay the schedule of this seed only (with -faults) and print its trace")
	faultsFl = flag.String("faults", "", "the fault kinds of -seed, as the failure printed them (default: every kind)")
)

func parseFaults(s string) Faults {
	if s == "" {
		return AllFaults
	}
	var f Faults
	for _, n := range strings.Split(s, ",") {
		for i, name := range faultNames {
			if n == name {
				f |= 1 << i
			}
		}
	}
	return f
}

func TestSimSmoke(t *testing.T) {
	for seed := int64(0); seed < 200; seed++ {
		r := Run(seed, AllFaults)
		if r.Failed() {
			t.Errorf("seed %d (%s), %d steps, lossy %v:\n  %s", seed, r.Faults, r.Steps, r.Lossy, strings.Join(r.Failures, "\n  "))
		}
	}
}

func TestSimSeed(t *testing.T) {
	if *seedFlag < 0 {
		t.Skip("no -seed")
	}
	r := Run(*seedFlag, parseFaults(*faultsFl))
	t.Logf("1 schedules")
	t.Logf("trace:\n%s", strings.Join(r.Trace, "\n"))
	if r.Failed() {
		t.Errorf("seed %d (%s), %d steps, lossy %v:\n  %s", r.Seed, r.Faults, r.Steps, r.Lossy, strings.Join(r.Failures, "\n  "))
	}
}
