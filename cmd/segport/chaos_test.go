package main

import (
	"strings"
	"testing"
)

func TestChaosFlagErrors(t *testing.T) {
	f := "../../examples/spec-example.csv"
	for _, args := range [][]string{
		{"import", "--data", t.TempDir(), "--chaos", "latency=0.1", f},
		{"import", "--data", t.TempDir(), "--chaos", "crash=2", f},
		{"import", "--aws", "--chaos", "crash=0.1", f},
		{"dev", "--data", t.TempDir(), "--chaos", "seed=x"},
	} {
		if out, errOut, code := runCLI(t, args...); code != 2 || !strings.Contains(errOut, "chaos") {
			t.Errorf("%v: code %d\n%s\n%s", args, code, out, errOut)
		}
	}
}

// TestImportUnderChaos: the CLI's import under chaos gives the members a clean
// import gives, and says what it injected. (No crashes: a crashed batch waits
// out the CLI's 30 s visibility timeout; internal/localrun tests them.)
func TestImportUnderChaos(t *testing.T) {
	f := "../../examples/spec-example.csv"
	clean, chaotic := t.TempDir(), t.TempDir()
	if out, errOut, code := runCLI(t, "import", "--data", clean, "--segment", "s", f); code != 0 {
		t.Fatalf("clean import: code %d\n%s\n%s", code, out, errOut)
	}
	spec := "duplicate=1,reorder=1,crash=0,throttle=0.3,unprocessed=0.5,race=0,seed=11"
	out, errOut, code := runCLI(t, "import", "--data", chaotic, "--segment", "s", "--chaos", spec, f)
	if code != 0 || !strings.Contains(out, "COMPLETED") || !strings.Contains(errOut, "chaos "+spec+": ") {
		t.Fatalf("import under chaos: code %d\n%s\n%s", code, out, errOut)
	}
	want, _, _ := runCLI(t, "segments", "members", "--data", clean, "s")
	got, _, _ := runCLI(t, "segments", "members", "--data", chaotic, "s")
	if got != want || want == "" {
		t.Fatalf("members under chaos:\n%s\nwant\n%s", got, want)
	}
}
