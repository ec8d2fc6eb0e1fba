package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/stats"
)

// pricesVar overrides the unit prices of EstimatedCostUSD (stats.ParsePrices'
// form): "DynamoDBWritePerMillion=0.7625,SQSPerMillion=0.5".
const pricesVar = "SEGPORT_PRICES"

// addStats sets the jobs' Stats: the sum of their usage records, priced at
// SEGPORT_PRICES (default: us-east-1 on-demand). With settle, on the local
// stack, it first waits for the handlers to be idle, so that the last
// invocation of each job (which ended it) has stored what it cost.
func addStats(ctx context.Context, t *target, settle bool, jobs ...*job.Job) error {
	prices, err := stats.ParsePrices(os.Getenv(pricesVar))
	if err != nil {
		return usageErr("%s: %v", pricesVar, err)
	}
	if settle {
		if t.rt != nil && !t.rt.Attached {
			if err := t.rt.Idle(ctx); err != nil {
				return err
			}
		} else {
			// Elsewhere the invocation that ended the job stores its counts
			// a moment after: give it that moment.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
	}
	for _, j := range jobs {
		u, err := t.app.Store.Usage(ctx, j.Id)
		if err != nil {
			return err
		}
		s := prices.WithCost(u)
		j.Stats = &s
	}
	return nil
}

// printStats writes a job's Stats in printJob's text form.
func printStats(w io.Writer, s *stats.Stats) {
	ops := make([]string, 0, len(s.Requests))
	for op, n := range s.Requests {
		ops = append(ops, fmt.Sprintf("%s %d", op, n))
	}
	sort.Strings(ops)
	fmt.Fprintf(w, "  requests:  %s\n", strings.Join(ops, ", "))
	fmt.Fprintf(w, "  dynamodb:  %.1f write units, %.1f read units\n", s.DynamoDBWriteUnits, s.DynamoDBReadUnits)
	fmt.Fprintf(w, "  sqs:       %d requests, billed as %d\n", s.SQSRequests, s.SQSBilledRequests)
	fmt.Fprintf(w, "  s3:        %d GET, %d PUT\n", s.S3GetRequests, s.S3PutRequests)
	fmt.Fprintf(w, "  lambda:    %d invocations, %.0f ms, %.3f GB-s\n", s.LambdaInvocations, s.LambdaMilliseconds, s.LambdaGBSeconds)
	fmt.Fprintf(w, "  cost:      $%.6f (estimated)\n", s.EstimatedCostUSD)
}
