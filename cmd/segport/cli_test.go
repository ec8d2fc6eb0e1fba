package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain runs the CLI's main when the test binary is started as segport
// (TestSignals), and the tests otherwise.
func TestMain(m *testing.M) {
	if os.Getenv("SEGPORT_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestHelp: every command's --help and -h print its synopses and every flag it
// takes to stdout and exit 0, as does segport help COMMAND.
func TestHelp(t *testing.T) {
	for _, c := range allCommands() {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, c.name, "--help")
			if code != 0 || errOut != "" || !strings.HasPrefix(out, "usage: "+c.synopses[0]+"\n") || !strings.Contains(out, "\nflags:\n") {
				t.Fatalf("--help: code %d\nstdout %s\nstderr %s", code, out, errOut)
			}
			for _, s := range c.synopses[1:] {
				if !strings.Contains(out, "   or: "+s+"\n") {
					t.Errorf("--help lacks %q:\n%s", s, out)
				}
			}
			// Every flag in the synopses is listed.
			for _, m := range regexp.MustCompile(`--([a-z-]+)`).FindAllStringSubmatch(strings.Join(c.synopses, " "), -1) {
				if !strings.Contains(out, "\n  --"+m[1]+" ") {
					t.Errorf("--help lacks the flag --%s:\n%s", m[1], out)
				}
			}
			short, _, code := runCLI(t, c.name, "-h")
			if code != 0 || short != out {
				t.Errorf("-h: code %d, output differs from --help:\n%s", code, short)
			}
			viaHelp, _, code := runCLI(t, "help", c.name)
			if code != 0 || viaHelp != out {
				t.Errorf("help %s: code %d, output differs from --help:\n%s", c.name, code, viaHelp)
			}
		})
	}
	out, _, code := runCLI(t, "help")
	for _, c := range allCommands() {
		for _, s := range c.synopses {
			if !strings.Contains(out, "  "+s+"\n") {
				t.Errorf("segport help lacks %q", s)
			}
		}
	}
	if code != 0 || !strings.Contains(out, "--parameter-overrides") {
		t.Errorf("segport help: code %d\n%s", code, out)
	}
	if _, _, code := runCLI(t, "help", "nope"); code != 2 {
		t.Errorf("help nope: exit code %d, want 2", code)
	}
}

// TestREADMEShowsTheCLI: the README's CLI table shows every synopsis of
// segport help, as it is.
func TestREADMEShowsTheCLI(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range allCommands() {
		for _, s := range c.synopses {
			if cell := "`" + strings.ReplaceAll(s, "|", `\|`) + "`"; !strings.Contains(string(readme), cell) {
				t.Errorf("README lacks %s", cell)
			}
		}
	}
}

// TestExitCodes: usage, file and environment errors exit 2, with a message
// that names the path once.
func TestExitCodes(t *testing.T) {
	notDir := writeFile(t, "file", "x")
	empty := t.TempDir()
	folder := t.TempDir()
	if err := os.WriteFile(filepath.Join(folder, "a.csv"), []byte("ChannelType,Address\nEMAIL,a@example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	two := t.TempDir()
	for _, f := range []string{"a.csv", "b.csv"} {
		if err := os.WriteFile(filepath.Join(two, f), []byte("ChannelType,Address\nEMAIL,a@example.com\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		args    []string
		code    int
		wantOut string // in stdout, or else in stderr
	}{
		{"unknown command", []string{"nope"}, 2, `unknown command "nope"`},
		{"no command", nil, 2, "Exit codes:"},
		{"bad flag", []string{"jobs", "list", "--nope"}, 2, "flag provided but not defined: -nope (see segport jobs --help)"},
		{"import a missing file", []string{"import", "--data", t.TempDir(), "/no/such.csv"}, 2, "segport: /no/such.csv: no such file or directory"},
		{"import an empty folder", []string{"import", "--data", t.TempDir(), empty}, 2, empty + " holds no files"},
		{"no file of the format", []string{"import", "--data", t.TempDir(), "--format", "json", folder}, 2, "nothing to import: no file is JSON"},
		{"a segment without one", []string{"import", "--data", t.TempDir(), "--define-segment=false", "--segment", "s", folder}, 2, "--define-segment=false imports without one"},
		{"replace without a segment", []string{"import", "--data", t.TempDir(), "--define-segment=false", "--replace", folder}, 2, "--define-segment=false imports without one"},
		{"replace with a folder of files", []string{"import", "--data", t.TempDir(), "--replace", two}, 2, "each would be a job replacing the one before"},
		{"validate a missing file", []string{"validate", "/no/such.csv"}, 2, "/no/such.csv: no such file or directory\n"},
		{"validate a folder", []string{"validate", folder}, 0, filepath.Join(folder, "a.csv") + ": 1 rows, 1 valid, 0 invalid"},
		{"parse a folder", []string{"parse", folder}, 2, folder + " is a folder: name a file"},
		{"data folder under a file", []string{"jobs", "list", "--data", filepath.Join(notDir, "data")}, 2, "data folder: mkdir"},
		{"data folder is a file", []string{"segments", "list", "--data", notDir}, 2, "data folder: mkdir"},
		{"unknown parameter", []string{"jobs", "list", "--data", t.TempDir(), "--parameter-overrides", "NoSuchParameter=1"}, 2, "NoSuchParameter"},
		{"bad override", []string{"jobs", "list", "--data", t.TempDir(), "--parameter-overrides", "PieceSize"}, 2, `"PieceSize" is not Name=Value`},
		{"segment with a slash", []string{"import", "--data", t.TempDir(), "--segment", "a/b", folder}, 2, `segport: segment name "a/b": a segment name cannot contain "/"`},
		{"segment leaving imports/", []string{"import", "--data", t.TempDir(), "--segment", "../reports", folder}, 2, `segport: segment name "../reports": a segment name cannot contain "/"`},
		{"segment ..", []string{"import", "--data", t.TempDir(), "--segment", "..", folder}, 2, `segport: segment name "..": a segment name cannot be "." or ".."`},
		{"segment named like an id", []string{"import", "--data", t.TempDir(), "--segment", "22fd417f064ff33e", folder}, 2, "that is the form of a segment id"},
		{"file named like an id", []string{"import", "--data", t.TempDir(), writeFile(t, "0123456789abcdef.csv", "x")}, 2, `segment name "0123456789abcdef"`},
		{"segments get a/b", []string{"segments", "get", "--data", t.TempDir(), "a/b"}, 2, `segport: segment name "a/b": a segment name cannot contain "/"`},
		{"segments members ..", []string{"segments", "members", "--data", t.TempDir(), ".."}, 2, `segport: segment name "..": a segment name cannot be "." or ".."`},
		{"overrides on AWS", []string{"jobs", "list", "--aws", "--parameter-overrides", "PieceSize=1"}, 2, "sam deploy --parameter-overrides"},
		{"console without --aws", []string{"console"}, 2, "console serves the deployed stack's console: give it --aws (segport dev serves the local stack's)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(out+"segport: "+errOut, tc.wantOut) {
				t.Errorf("exit code %d, want %d with %q\nstdout %s\nstderr %s", code, tc.code, tc.wantOut, out, errOut)
			}
		})
	}
}

// TestSignals: Ctrl-C and SIGTERM end a command promptly, even one reading an
// endless record, with the shell's 128 + signal exit code.
func TestSignals(t *testing.T) {
	tests := []struct {
		args []string
		sig  syscall.Signal
	}{
		{[]string{"validate", "/dev/zero"}, syscall.SIGTERM},
		{[]string{"validate", "--format", "json", "/dev/zero"}, syscall.SIGINT},
		{[]string{"parse", "/dev/zero"}, syscall.SIGINT},
		{[]string{"migrate-check", "/dev/zero"}, syscall.SIGTERM},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.args, " ", tc.sig), func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], tc.args...)
			cmd.Env = append(os.Environ(), "SEGPORT_TEST_RUN_MAIN=1")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond) // well into /dev/zero
			cmd.Process.Signal(tc.sig)
			sent := time.Now()
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 128+int(tc.sig) || !strings.Contains(stderr.String(), "segport: interrupted") {
					t.Errorf("ended with %v, want exit code %d\n%s", err, 128+int(tc.sig), stderr.String())
				}
				if d := time.Since(sent); d > 3*time.Second {
					t.Errorf("ended %v after the signal", d)
				}
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("still running 10 s after %v", tc.sig)
			}
		})
	}
}

// TestControlCharactersEscaped: a custom attribute name holding terminal
// escapes is shown escaped, never sent to the terminal as it is. (A header
// cell that is no attribute is not shown at all: it may be data.)
func TestControlCharactersEscaped(t *testing.T) {
	f := writeFile(t, "evil.csv", "ChannelType,Address,Attributes.Evil\x1b]0;pwned\x07\x1b[2J\xc2\x9b31m\nEMAIL,x@example.com,1\n")
	out, errOut, code := runCLI(t, "validate", f)
	if code != 1 || !strings.Contains(out, `Evil\x1b]0;pwned\x07\x1b[2J\u009b31m`) || strings.ContainsAny(out+errOut, "\x1b\x07\u009b") {
		t.Errorf("code %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	var b strings.Builder
	w := cleanWriter{&b}
	fmt.Fprint(w, "tab\tnew\nline\r\x7f é ✓ \xc2\x85")
	if got := b.String(); got != `tab`+"\t"+`new`+"\n"+`line\x0d\x7f é ✓ \u0085` {
		t.Errorf("cleanWriter wrote %q", got)
	}
}

func TestParameterOverridesFlag(t *testing.T) {
	tests := []struct {
		args []string
		want string
		pos  []string
	}{
		{[]string{"--parameter-overrides", "PieceSize=1024", "f.csv"}, "PieceSize=1024", []string{"f.csv"}},
		{[]string{"--parameter-overrides", "PieceSize=1024", "MaxReceiveCount=3", "f.csv"}, "MaxReceiveCount=3 PieceSize=1024", []string{"f.csv"}},
		{[]string{"--parameter-overrides", "PieceSize=1024 MaxReceiveCount=3"}, "MaxReceiveCount=3 PieceSize=1024", nil},
		{[]string{"--parameter-overrides", "ParameterKey=PieceSize,ParameterValue=9", "--parameter-overrides", "LogRetentionDays=1"}, "LogRetentionDays=1 PieceSize=9", nil},
	}
	for _, tc := range tests {
		fs := flag.NewFlagSet("import", flag.ContinueOnError)
		sf := addStackFlags(fs)
		pos, err := parseFlags(fs, tc.args)
		if err != nil || sf.params.String() != tc.want || !slices.Equal(pos, tc.pos) {
			t.Errorf("%q: overrides %q, positional %q, %v; want %q, %q", tc.args, sf.params.String(), pos, err, tc.want, tc.pos)
		}
	}
}

// TestImportWithParameterOverrides: the local stack runs with the template
// parameters given, as sam deploy --parameter-overrides would deploy it, and
// the summary says how many failures are beyond the 100 it lists.
func TestImportWithParameterOverrides(t *testing.T) {
	var b strings.Builder
	b.WriteString("ChannelType,Address\n")
	for i := range 105 {
		fmt.Fprintf(&b, "FAX,%d\n", i)
	}
	for i := range 5 {
		fmt.Fprintf(&b, "EMAIL,user%d@example.com\n", i)
	}
	f := writeFile(t, "big.csv", b.String())
	plan, _, _ := runCLI(t, "plan", "--piece-size", "512", f)
	m := regexp.MustCompile(`, (\d+) pieces of about`).FindStringSubmatch(plan)
	if m == nil || m[1] == "1" {
		t.Fatalf("plan: %s", plan)
	}
	out, errOut, code := runCLI(t, "import", "--data", t.TempDir(), "--parameter-overrides", "PieceSize=512", "MaxReceiveCount=3", f)
	for _, want := range []string{
		"  pieces:    " + m[1] + " total, " + m[1] + " completed, 0 failed\n",
		"  endpoints: 5 imported, 105 failed\n",
		"  ... and 5 more failures in the error report\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if code != 0 || !regexp.MustCompile(`(?m)^  created:   \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(out) || t.Failed() {
		t.Fatalf("code %d\n%s\n%s", code, out, errOut)
	}
}
