package localrun

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segport/segport/internal/chaos"
	"github.com/segport/segport/internal/corpus"
	"github.com/segport/segport/pkg/job"
)

// chaosOptions run pieces of 16 KiB and write batches of 8 KiB, so that a
// file has several pieces and a piece several batches, and a visibility
// timeout of 2 s, so that crashed invocations come back soon.
func chaosOptions(c *chaos.Chaos) Options {
	return Options{
		Parameters: map[string]string{"PieceSize": "16384"}, BatchBytes: 8192,
		VisibilityTimeout: 2 * time.Second, Chaos: c,
	}
}

// importFiles imports the files one after another, each job ending before the
// next starts, so that jobs are ordered alike in every run; job ids come from
// the run's name and the key, so that they match across runs too.
func importFiles(t *testing.T, rt *Runtime, name string, files []corpus.File) string {
	t.Helper()
	for _, f := range files {
		id := job.NewId("chaos", name, f.Key)
		if f.Replace {
			putReplacing(t, rt, f.Key, string(f.Body), id)
		} else {
			put(t, rt, f.Key, string(f.Body), id)
		}
		if j := waitJob(t, rt, id); j.JobStatus != job.Completed || j.FailedPieces > 0 {
			t.Fatalf("%s: %s with %d failed pieces: %v", f.Key, j.JobStatus, j.FailedPieces, j.Failures)
		}
	}
	if err := rt.Idle(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	return dumpOf(t, rt)
}

// randomSpec draws a SPEC: every fault likely enough to happen many times in a
// run, crashes rare enough that no message crashes 20 times in a row.
func randomSpec(rng *rand.Rand) chaos.Spec {
	p := func(lo, hi float64) float64 { return math.Round((lo+rng.Float64()*(hi-lo))*100) / 100 }
	return chaos.Spec{
		Duplicate: p(0, 0.6), Reorder: p(0, 1), Crash: p(0.05, 0.2), Throttle: p(0, 0.3), Unprocessed: p(0, 0.5), Race: p(0.1, 0.4),
		Seed: rng.Uint64(),
	}
}

// TestChaosEqualsCleanRun is the property behind "nothing lost, nothing
// doubled": a random workload imported under random SPECs dumps the same bytes
// as it does in a clean run. SEGPORT_CHAOS_SEED repeats a run's workload and
// SPECs (the faults then fall alike as far as goroutine scheduling allows).
func TestChaosEqualsCleanRun(t *testing.T) {
	t.Parallel() // its own stack: it runs beside the other long tests
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SEGPORT_CHAOS_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("SEGPORT_CHAOS_SEED: %v", err)
		}
	}
	rng := rand.New(rand.NewPCG(seed, seed))
	rows := 2000 + rng.IntN(500)
	t.Logf("SEGPORT_CHAOS_SEED=%d: %d rows", seed, rows)
	files := corpus.Generate(rng.Uint64(), rows)
	// Then a replace of the segment two files appended to, with the rows of
	// a third: the dump holds its generation's members.
	files = append(files, corpus.File{Key: "imports/alpha/replace-4.csv", Body: files[2].Body, Replace: true})
	files = withDeletes(files)
	name := fmt.Sprint(seed)
	start := time.Now()
	clean := importFiles(t, openRuntime(t, chaosOptions(nil)), name, files)
	t.Logf("clean run: %s", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(clean, "\ngeneration ") {
		t.Fatal("the clean run's dump has no replaced generation")
	}
	soak, err := chaos.ParseSpec("duplicate=0.3,reorder=1,crash=0.05,throttle=0.1,unprocessed=0.2,race=0.2")
	if err != nil {
		t.Fatal(err)
	}
	soak.Seed = rng.Uint64()
	for _, tc := range []struct {
		name string
		spec chaos.Spec
	}{{"random", randomSpec(rng)}, {"soak", soak}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := chaos.New(tc.spec)
			start := time.Now()
			got := importFiles(t, openRuntime(t, chaosOptions(c)), name, files)
			st := c.Stats()
			t.Logf("%s: %s; %v", tc.spec, time.Since(start).Round(time.Millisecond), st)
			if got != clean {
				t.Fatalf("the run under chaos differs from the clean run (%s):\n%s", keepDumps(clean, got), firstDiff(clean, got))
			}
			if st.Injected() == 0 {
				t.Error("chaos injected nothing")
			}
		})
	}
}

// withDeletes puts a delete file after the second import: some of the
// corpus's explicit ids, which later files import again, some rows dated
// before the delete and some after; and a second one at the end, after the
// replace, which erases other ids from both generations kept. It deletes no
// user: the corpus moves endpoints between users, where a user's delete is
// not order-independent (README, Deleting: the ordering rule).
func withDeletes(files []corpus.File) []corpus.File {
	ids := func(from int) []byte {
		var b strings.Builder
		b.WriteString("Id\n")
		for i := from; i < 2000; i += 9 {
			fmt.Fprintf(&b, "ep-%05d\n", i)
		}
		return []byte(b.String())
	}
	del := corpus.File{Key: "deletes/chaos.csv", Body: ids(0)}
	last := corpus.File{Key: "deletes/chaos-after-replace.csv", Body: ids(4)}
	return append(append(files[:2:2], append([]corpus.File{del}, files[2:]...)...), last)
}

// keepDumps writes the two dumps where they outlive the test, for diff.
func keepDumps(clean, chaotic string) string {
	dir, err := os.MkdirTemp("", "segport-chaos-dumps-")
	if err == nil {
		err = errors.Join(os.WriteFile(filepath.Join(dir, "clean"), []byte(clean), 0o644),
			os.WriteFile(filepath.Join(dir, "chaos"), []byte(chaotic), 0o644))
	}
	if err != nil {
		return "dumps not kept: " + err.Error()
	}
	return "diff " + filepath.Join(dir, "clean") + " " + filepath.Join(dir, "chaos")
}

// firstDiff shows where two dumps part.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		if i >= len(w) || i >= len(g) || w[i] != g[i] {
			line := func(l []string) string {
				if i < len(l) {
					return l[i]
				}
				return "(end)"
			}
			return fmt.Sprintf("line %d of %d/%d:\n--- clean\n%s\n--- chaos\n%s", i+1, len(w), len(g), line(w), line(g))
		}
	}
	return "(no difference)"
}
