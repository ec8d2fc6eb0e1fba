package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"

	"github.com/segport/segport/internal/sqsq"
)

// dlqCmd handles `segport dlq redrive`: it moves the messages of every
// dead-letter queue back to the queue they came from.
func dlqCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fset := flag.NewFlagSet("dlq", flag.ContinueOnError)
	sf := addStackFlags(fset)
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "redrive" {
		return usageErr("usage: segport dlq redrive")
	}
	t, err := openTarget(ctx, sf, nil)
	if err != nil {
		return err
	}
	defer t.Close()
	dlqs := make([]string, 0, len(t.dlqs))
	for dlq := range t.dlqs {
		dlqs = append(dlqs, dlq)
	}
	sort.Strings(dlqs)
	for _, dlq := range dlqs {
		n, err := sqsq.New(t.sqs, t.dlqs[dlq]).Redrive(ctx, dlq)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d messages sent back to %s\n", dlq, n, t.dlqs[dlq])
	}
	if t.rt != nil && !t.rt.Attached {
		return t.rt.Idle(ctx) // this process runs the handlers: let the redriven messages land
	}
	return nil
}
