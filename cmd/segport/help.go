package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// command is one command of the CLI, as `segport help` and `--help` show it.
type command struct {
	name     string
	synopses []string
	what     string
}

// fileCommands need no stack; stackCommands use the local stack or, with
// --aws, the deployed one. The README's CLI table shows the same synopses.
var (
	fileCommands = []command{
		{"validate", []string{"segport validate [--format csv|json] [--country-codes alpha-3|alpha-2] [--json] PATH..."},
			"checks files (a folder: every file in it): one FILE:LINE: FIELD: message line per bad row, then a summary line per file"},
		{"parse", []string{"segport parse [--format csv|json] [--country-codes alpha-3|alpha-2] FILE"},
			"prints each valid endpoint as one canonical JSON line; row errors go to stderr"},
		{"plan", []string{"segport plan [--piece-size N] [--format csv|json] FILE"},
			"prints the byte-range pieces an import would split the file into"},
		{"migrate-check", []string{"segport migrate-check [--country-codes alpha-3|alpha-2] [--json] PATH..."},
			"a dry run of migrating a Pinpoint export: files or folders, gzip or not"},
	}
	stackCommands = []command{
		{"import", []string{
			"segport import [--segment NAME] [--format csv|json] [--wait DURATION] [--json] [--chaos SPEC] PATH|s3://bucket/prefix...",
			"segport import --define-segment=false [--format csv|json] [--wait DURATION] [--json] PATH|s3://bucket/prefix...",
			"segport import --pinpoint-export PATH|s3://bucket/prefix --segment NAME [--json]"},
			"imports files, folders (one job per file) or an s3:// prefix (one job), waits and prints the jobs"},
		{"jobs", []string{"segport jobs list", "segport jobs get ID"}, "import jobs; get adds what the job cost"},
		{"segments", []string{"segport segments list", "segport segments get NAME [--version N]", "segport segments members NAME [--version N]", "segport segments users NAME [--version N]", "segport segments versions NAME", "segport segments delete NAME"},
			"segments, by default their current version; members prints the version's endpoints as canonical JSON lines (a segment of users: its users' endpoints), users its user IDs; versions lists every version; delete deletes the segment, its versions and members (the endpoints stay)"},
		{"endpoints", []string{"segport endpoints get ID", "segport endpoints delete ID..."}, "one endpoint, canonical JSON; delete erases endpoints from every table and segment"},
		{"users", []string{"segport users delete USER_ID..."}, "erases users: their attributes, every endpoint of theirs and their memberships"},
		{"dump", []string{"segport dump [--dates]"}, "the canonical dump of every table and error report, sorted"},
		{"dlq", []string{"segport dlq redrive"}, "sends the messages of the dead-letter queues back to their queues"},
		{"doctor", []string{"segport doctor [--aws] [--probe]"},
			"checks a deployment, or the local stack, one line per check: pass, warn or FAIL with the fix"},
		{"dev", []string{"segport dev [--api-port N] [--chaos SPEC]"},
			"runs the local stack until Ctrl-C, prints export lines for the AWS CLI and SDKs, and serves the query API and the console"},
		{"console", []string{"segport console --aws [--stack NAME] [--port N]"},
			"serves the web console on 127.0.0.1 for the deployed stack, its calls signed with your AWS credentials"},
	}
)

func usage() string {
	var b strings.Builder
	b.WriteString("segport - import Pinpoint-style endpoint files into DynamoDB segments\n\nFiles (no stack needed):\n")
	for _, c := range fileCommands {
		for _, s := range c.synopses {
			fmt.Fprintf(&b, "  %s\n", s)
		}
	}
	b.WriteString("\nImports and queries (the local stack by default; --aws for the deployed stack):\n")
	for _, c := range stackCommands {
		for _, s := range c.synopses {
			fmt.Fprintf(&b, "  %s\n", s)
		}
	}
	b.WriteString(`
Common flags of the stack commands:
  --data DIR     local stack data folder (env SEGPORT_DATA, default ./.segport)
  --parameter-overrides Name=Value ...
                 template parameters of the local stack the command starts (as sam's)
  --aws          use the stack deployed with sam deploy
  --stack NAME   its CloudFormation stack name (default: from samconfig.toml)
  --json         print JSON

segport COMMAND --help (or segport help COMMAND) shows a command's flags.

Exit codes: 0 success; 1 invalid rows or a FAILED job; 2 a usage, file,
environment or deployment error, an import past its --wait deadline, or a
failed doctor check; 130 (143) interrupted by Ctrl-C (SIGTERM). The same
locally and with --aws.
`)
	return b.String()
}

// helpError is what parseFlags returns for -h or --help: run prints the
// command's usage and flags to stdout and exits 0.
type helpError struct{ fs *flag.FlagSet }

func (e *helpError) Error() string { return e.fs.Name() + ": help requested" }

func allCommands() []command { return slices.Concat(fileCommands, stackCommands) }

func findCommand(name string) (command, bool) {
	for _, c := range allCommands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// printHelp prints a command's synopses, what it does and its flags.
func printHelp(w io.Writer, fs *flag.FlagSet) {
	c, _ := findCommand(fs.Name())
	for i, s := range c.synopses {
		prefix := "usage: "
		if i > 0 {
			prefix = "   or: "
		}
		fmt.Fprintf(w, "%s%s\n", prefix, s)
	}
	fmt.Fprintf(w, "\n%s.\n\nflags:\n", c.what)
	fs.VisitAll(func(f *flag.Flag) {
		arg, text := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if arg != "" {
			name += " " + arg
		}
		if len(name) > 20 {
			name += "\n" + strings.Repeat(" ", 22)
		}
		fmt.Fprintf(w, "  %-20s %s", name, text)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// helpCmd is `segport help [COMMAND]`.
func helpCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage())
		return nil
	}
	if _, ok := findCommand(args[0]); !ok {
		return usageErr("help: unknown command %q", args[0])
	}
	err := dispatch(ctx, args[0], []string{"--help"}, stdout, stderr)
	if !errors.As(err, new(*helpError)) {
		return fmt.Errorf("help %s: %w", args[0], err)
	}
	return err
}
