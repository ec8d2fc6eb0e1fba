// Package localruntest shares one local runtime among the tests of a package, as
// the integration tests of the packages that read segport's tables need.
package localruntest

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/segport/segport/internal/localrun"
)

// Shared opens a runtime in a temporary data folder on first use. Call Close from
// TestMain after m.Run.
type Shared struct {
	opts localrun.Options
	once sync.Once
	rt   *localrun.Runtime
	err  error
}

// New returns a Shared that opens the runtime with opts; DataDir is set for it.
func New(opts localrun.Options) *Shared { return &Shared{opts: opts} }

// Runtime returns the runtime, opening it on the first call; a failure to open
// fails t.
func (s *Shared) Runtime(t testing.TB) *localrun.Runtime {
	t.Helper()
	s.once.Do(func() {
		if s.opts.DataDir, s.err = os.MkdirTemp("", "segport-test-"); s.err == nil {
			s.rt, s.err = localrun.Open(context.Background(), s.opts)
		}
	})
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.rt
}

// Close stops the runtime, if it was opened, and removes its data folder.
func (s *Shared) Close() {
	if s.rt != nil {
		s.rt.Close()
	}
	if s.opts.DataDir != "" {
		os.RemoveAll(s.opts.DataDir)
	}
}
