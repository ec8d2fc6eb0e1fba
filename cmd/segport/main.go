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
	"syscall"
)

const usage = `segport - import Pinpoint-style endpoint files into DynamoDB segments

Files (no stack needed):
  segport validate [--format csv|json] [--json] FILE...
  segport parse [--format csv|json] FILE
  segport plan [--piece-size N] FILE
  segport migrate-check [--json] PATH...   (a Pinpoint export: files or folders, gzip or not)

Imports and queries (the local stack by default; --aws for the deployed stack):
  segport import [--segment NAME] [--format csv|json] [--json] [--chaos SPEC] PATH|s3://bucket/prefix...
  segport import --pinpoint-export PATH|s3://bucket/prefix --segment NAME [--json]
  segport jobs list | jobs get ID
  segport segments list | segments get NAME | segments members NAME
  segport endpoints get ID
  segport dump [--dates]
  segport dlq redrive
  segport dev [--chaos SPEC]

Common flags of the stack commands:
  --data DIR     local stack data folder (env SEGPORT_DATA, default ./.segport)
  --aws          use the stack deployed with sam deploy
  --stack NAME   its CloudFormation stack name (default: from samconfig.toml)
  --json         print JSON

Exit codes: 0 success; 1 invalid rows or a FAILED job; 2 a file-level or usage error.
`

// exitError carries an exit code with its message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func usageErr(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if ee == nil || ee.err != errSilent {
		fmt.Fprintln(os.Stderr, "segport:", err)
	}
	os.Exit(code)
}

// errSilent ends a command whose output already said what went wrong.
var errSilent = errors.New("")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &exitError{code: 2, err: errSilent}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "validate":
		return validateCmd(rest, stdout, stderr)
	case "parse":
		return parseCmd(rest, stdout, stderr)
	case "plan":
		return planCmd(ctx, rest, stdout)
	case "migrate-check":
		return migrateCheckCmd(rest, stdout)
	case "import":
		return importCmd(ctx, rest, stdout, stderr)
	case "jobs", "segments", "endpoints":
		return queryCmd(ctx, cmd, rest, stdout)
	case "dlq":
		return dlqCmd(ctx, rest, stdout)
	case "dump":
		return dumpCmd(ctx, rest, stdout)
	case "dev":
		return devCmd(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usageErr("unknown command %q (see segport help)", cmd)
}
