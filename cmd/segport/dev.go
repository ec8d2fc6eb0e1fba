package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/segport/segport/internal/console"
	"github.com/segport/segport/internal/httpapi"
	"github.com/segport/segport/internal/importer"
)

// devCmd runs the local stack until interrupted, importing whatever lands under
// imports/ in its bucket.
func devCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("dev", flag.ContinueOnError)
	sf := addStackFlags(fset)
	apiPort := fset.Int("api-port", 0, "`N`, the port of the query API on 127.0.0.1 (0: a free one)")
	chaosSpec := addChaosFlag(fset)
	if _, err := parseFlags(fset, args); err != nil {
		return err
	}
	if sf.aws {
		return usageErr("dev runs the local stack; it takes no --aws")
	}
	if err := setChaos(sf, *chaosSpec); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	t, err := openTarget(ctx, sf, log)
	if err != nil {
		return err
	}
	defer t.Close()
	if t.rt.Attached {
		return fmt.Errorf("a local stack already runs on %s", sf.data)
	}
	// The API wants SigV4 with the stack's credentials; the console's pages,
	// which cannot sign, carry the run's console session instead.
	sess, err := console.NewSession()
	if err != nil {
		return err
	}
	relay := t.rt.Stack.Relay("execute-api")
	verify := func(r *http.Request) error {
		if sess.Verify(r) == nil {
			return nil
		}
		return relay.Verify(r)
	}
	apiURL, stopAPI, err := serveAPI(sess.Wrap(t.app.Console(t.rt.Stack.AWSConfig(), log)), *apiPort, verify)
	if err != nil {
		return err
	}
	defer stopAPI()
	if err := t.rt.Stack.SetOutput("ApiUrl", apiURL); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# segport local stack on %s; files put under s3://%s/%s<segment>/ are imported.\n", sf.data, t.app.Config.Bucket, importer.ImportsPrefix)
	fmt.Fprintln(stdout, "# Paste these lines into a shell to point the AWS CLI and SDKs at it. Ctrl-C stops it.")
	for _, l := range t.rt.Stack.ExportLines() {
		fmt.Fprintln(stdout, l)
	}
	fmt.Fprintln(stdout, `# The query API (README "Querying segments"), signed like the deployed one:`)
	fmt.Fprintln(stdout, `#   curl --aws-sigv4 aws:amz:us-east-1:execute-api --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$SEGPORT_API_URL/v1/segments"`)
	fmt.Fprintf(stdout, "export SEGPORT_API_URL=%s\n", apiURL)
	fmt.Fprintf(stdout, "# The console (README \"The console\"): open %s in a browser on this machine.\n", sess.URL(apiURL))
	if n := t.rt.Resumed; n > 0 {
		fmt.Fprintf(stderr, "resumed %d import jobs an earlier run left unfinished: their unsettled pieces were sent again\n", n)
	}
	<-ctx.Done()
	fmt.Fprintln(stderr, "stopping")
	reportChaos(ctx, stderr, sf, nil)
	return nil
}

// serveAPI serves the query API (or the console in front of it) on
// 127.0.0.1:port behind httpapi.Loopback, which checks credentials with verify
// (nil: none), and returns its base URL.
func serveAPI(h http.Handler, port int, verify func(*http.Request) error) (string, func(), error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return "", nil, fmt.Errorf("query API listener: %w", err)
	}
	srv := &http.Server{Handler: httpapi.Loopback(h, ln.Addr().String(), verify), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}
	return "http://" + ln.Addr().String(), stop, nil
}
