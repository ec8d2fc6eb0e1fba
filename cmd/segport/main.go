// Command segport checks, converts and imports Pinpoint-style endpoint files and
// queries the segments they become, on the embedded local stack or on AWS.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// exitError carries an exit code with its message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func usageErr(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// Exit codes, one rule in both modes: 1 is kept for what is wrong with the
// user's data, invalid rows and FAILED jobs; every other error, of usage, of a
// file, of the environment or the deployment (missing outputs, a failed
// trigger invoke, a --wait deadline, a failed doctor check), is 2. A command ended by a
// signal exits 128 + its number, as a shell reports it.
const codeError = 2

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var caught atomic.Int32
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := signalNumber(<-sigs)
		caught.Store(int32(sig))
		cancel()
		<-sigs // a second signal does not wait for the command to clean up
		os.Exit(128 + sig)
	}()
	stderr := cleanWriter{os.Stderr}
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	if sig := int(caught.Load()); sig != 0 && ctx.Err() != nil {
		fmt.Fprintln(stderr, "segport: interrupted")
		os.Exit(128 + sig)
	}
	code := exitCode(err)
	var ee *exitError
	if !errors.As(err, &ee) || ee.err != errSilent {
		fmt.Fprintln(stderr, "segport:", err)
	}
	os.Exit(code)
}

func signalNumber(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return int(n)
	}
	return int(syscall.SIGINT)
}

// exitCode is an error's exit code: its own, else 2.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return codeError
}

// errSilent ends a command whose output already said what went wrong.
var errSilent = errors.New("")

// run runs one command. What it prints goes through cleanWriter: a control
// character in a file name, a header or a stored value is shown escaped,
// never sent to the terminal.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	stdout, stderr = cleanWriter{stdout}, cleanWriter{stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return &exitError{code: codeError, err: errSilent}
	}
	err := dispatch(ctx, args[0], args[1:], stdout, stderr)
	var he *helpError
	if errors.As(err, &he) {
		printHelp(stdout, he.fs)
		return nil
	}
	return err
}

func dispatch(ctx context.Context, cmd string, rest []string, stdout, stderr io.Writer) error {
	switch cmd {
	case "validate":
		return validateCmd(ctx, rest, stdout, stderr)
	case "parse":
		return parseCmd(ctx, rest, stdout, stderr)
	case "plan":
		return planCmd(ctx, rest, stdout)
	case "migrate-check":
		return migrateCheckCmd(ctx, rest, stdout)
	case "import":
		return importCmd(ctx, rest, stdout, stderr)
	case "jobs", "segments", "endpoints", "users":
		return queryCmd(ctx, cmd, rest, stdout)
	case "dlq":
		return dlqCmd(ctx, rest, stdout)
	case "dump":
		return dumpCmd(ctx, rest, stdout)
	case "dev":
		return devCmd(ctx, rest, stdout, stderr)
	case "console":
		return consoleCmd(ctx, rest, stdout, stderr)
	case "doctor":
		return doctorCmd(ctx, rest, stdout)
	case "help", "-h", "--help":
		return helpCmd(ctx, rest, stdout, stderr)
	}
	return usageErr("unknown command %q (see segport help)", cmd)
}
