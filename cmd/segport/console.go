package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/segport/segport/internal/console"
)

// consoleCmd is `segport console --aws`: the web console on 127.0.0.1 for the
// deployed stack. Its calls go to the stack's query API (signed with the user's
// own credentials) and bucket; `segport dev` serves the local stack's console.
func consoleCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("console", flag.ContinueOnError)
	sf := addStackFlags(fset)
	port := fset.Int("port", 0, "`N`, the console's port on 127.0.0.1 (0: a free one)")
	if _, err := parseFlags(fset, args); err != nil {
		return err
	}
	if !sf.aws {
		return usageErr("console serves the deployed stack's console: give it --aws (segport dev serves the local stack's)")
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	t, err := openTarget(ctx, sf, log)
	if err != nil {
		return err
	}
	defer t.Close()
	h, err := awsConsole(t, log)
	if err != nil {
		return err
	}
	// It calls the deployed stack with the user's credentials: only the user's
	// browser, given the session, may use it, not other users of the machine.
	sess, err := console.NewSession()
	if err != nil {
		return err
	}
	url, stop, err := serveAPI(sess.Wrap(h), *port, sess.Verify)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(stdout, "# segport console for the deployed API %s and the bucket %s, with your AWS credentials.\n", t.apiURL, t.app.Config.Bucket)
	fmt.Fprintf(stdout, "# Open %s in a browser on this machine. Ctrl-C stops it.\n", sess.URL(url))
	<-ctx.Done()
	fmt.Fprintln(stderr, "stopping")
	return nil
}

// awsConsole is the console in front of the deployed stack: the API forwarded,
// uploads and reports in its bucket through t's S3 client.
func awsConsole(t *target, log *slog.Logger) (*console.Handler, error) {
	if t.apiURL == "" {
		return nil, fmt.Errorf("the stack has no ApiUrl output: deploy a template with the query API (sam build && sam deploy)")
	}
	fwd, err := console.NewForwarder(t.apiURL, t.app.AWS)
	if err != nil {
		return nil, err
	}
	return console.New(console.Options{
		API: fwd, Reader: console.APIReader{API: fwd}, Importer: console.APIImporter{API: fwd},
		Objects: t.app.Objects, Bucket: t.app.Config.Bucket, Limits: t.app.Config.Limits, Log: log,
	}), nil
}
