// Package functions holds the tests of the Lambda functions as deployed: the
// bootstraps the Makefile builds for SAM, and those bootstraps answering the
// sample events under the Lambda Runtime Interface Emulator, as
// `sam local invoke` runs them.
package functions

import (
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	segport "github.com/segport/segport"
	"github.com/segport/segport/internal/templatecheck"
)

const root = ".."

func template(t *testing.T) *templatecheck.Template {
	t.Helper()
	tmpl, err := templatecheck.Parse(segport.Template)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// makeBootstrap runs `make build-<fn>` as `sam build` does and returns the bootstrap.
func makeBootstrap(fn, dir string, vars ...string) (string, error) {
	args := append([]string{"-s", "build-" + fn, "ARTIFACTS_DIR=" + dir}, vars...)
	cmd := exec.Command("make", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", &buildError{fn: fn, out: string(out), err: err}
	}
	return filepath.Join(dir, "bootstrap"), nil
}

type buildError struct {
	fn, out string
	err     error
}

func (e *buildError) Error() string {
	return "make build-" + e.fn + ": " + e.err.Error() + "\n" + e.out
}

// buildAll builds every function of the template at once (two at a time).
func buildAll(t *testing.T, fns []string, vars ...string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	out := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(runtime.NumCPU(), 2))
	for _, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			path, err := makeBootstrap(fn, filepath.Join(dir, fn), vars...)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			out[fn] = path
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return out
}

// TestBuild builds every function of the template as `sam build` does and checks
// the binaries are what provided.al2023 on arm64 runs: static linux/arm64 ELF
// files named bootstrap, built with CGO_ENABLED=0, -tags lambda.norpc, -trimpath.
func TestBuild(t *testing.T) {
	tmpl := template(t)
	fns := tmpl.Functions()
	for _, fn := range fns {
		r := tmpl.Resources[fn]
		if r.Metadata["BuildMethod"] != "makefile" {
			t.Errorf("%s: Metadata.BuildMethod is %v, want makefile", fn, r.Metadata["BuildMethod"])
		}
		want := map[string]any{"CodeUri": ".", "Runtime": "provided.al2023", "Handler": "bootstrap"}
		for prop, v := range want {
			got, ok := r.Properties[prop]
			if !ok {
				got = tmpl.GlobalFunction[prop]
			}
			if got != v {
				t.Errorf("%s: %s is %v, want %v", fn, prop, got, v)
			}
		}
		arch, ok := r.Properties["Architectures"]
		if !ok {
			arch = tmpl.GlobalFunction["Architectures"]
		}
		if a, _ := arch.([]any); len(a) != 1 || a[0] != "arm64" {
			t.Errorf("%s: Architectures is %v, want [arm64]", fn, arch)
		}
	}
	// `make build` builds them all.
	cmd := exec.Command("make", "-n", "lambdas")
	cmd.Dir = root
	plan, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n lambdas: %v\n%s", err, plan)
	}
	for _, fn := range fns {
		if !strings.Contains(string(plan), fn) {
			t.Errorf("make lambdas does not build %s:\n%s", fn, plan)
		}
	}
	for fn, path := range buildAll(t, fns) {
		checkBootstrap(t, fn, path)
	}
}

func checkBootstrap(t *testing.T, fn, path string) {
	f, err := elf.Open(path)
	if err != nil {
		t.Errorf("%s: %v", fn, err)
		return
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || f.Type != elf.ET_EXEC {
		t.Errorf("%s: bootstrap is a %v %v, want an aarch64 executable", fn, f.Machine, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s: bootstrap is dynamically linked", fn)
		}
	}
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Errorf("%s: %v", fn, err)
		return
	}
	want := map[string]string{"GOOS": "linux", "GOARCH": "arm64", "CGO_ENABLED": "0", "-trimpath": "true", "-tags": "lambda.norpc"}
	got := map[string]string{}
	for _, s := range info.Settings {
		got[s.Key] = s.Value
	}
	for k, v := range want {
		if k == "-tags" && strings.Contains(","+got[k]+",", ","+v+",") {
			continue
		}
		if got[k] != v {
			t.Errorf("%s: built with %s=%q, want %q", fn, k, got[k], v)
		}
	}
	if !strings.HasPrefix(info.Path, "github.com/segport/segport/functions/") {
		t.Errorf("%s: bootstrap is %s, not a function of this module", fn, info.Path)
	}
	if st, err := os.Stat(path); err == nil && st.Mode()&0o111 == 0 {
		t.Errorf("%s: bootstrap is not executable", fn)
	}
}
