package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/segport/segport/pkg/importer"
)

// devCmd runs the local stack until interrupted, importing whatever lands under
// imports/ in its bucket.
func devCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("dev", flag.ContinueOnError)
	sf := addStackFlags(fset)
	if _, err := parseFlags(fset, args); err != nil {
		return err
	}
	if sf.aws {
		return usageErr("dev runs the local stack; it takes no --aws")
	}
	t, err := openTarget(ctx, sf, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return err
	}
	defer t.Close()
	if t.rt.Attached {
		return fmt.Errorf("a local stack already runs on %s", sf.data)
	}
	fmt.Fprintf(stdout, "# segport local stack on %s; files put under s3://%s/%s<segment>/ are imported.\n", sf.data, t.app.Config.Bucket, importer.ImportsPrefix)
	fmt.Fprintln(stdout, "# Paste these lines into a shell to point the AWS CLI and SDKs at it. Ctrl-C stops it.")
	for _, l := range t.rt.Stack.ExportLines() {
		fmt.Fprintln(stdout, l)
	}
	<-ctx.Done()
	fmt.Fprintln(stderr, "stopping")
	return nil
}
