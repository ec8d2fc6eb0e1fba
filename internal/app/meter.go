package app

import (
	"context"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/segport/segport/internal/meter"
)

// The functions' handlers, metered (internal/meter): every message and S3 event
// record is handled with a counter of the requests it makes, and what it cost
// is stored under its job, where the job's Stats add it up. The Lambda mains
// and the local stack run these.

// TriggerHandler is the trigger function's handler.
func (a *App) TriggerHandler() meter.TriggerHandler {
	return meter.Trigger(a.Trigger.Handle, a.Store, a.meter)
}

// S3Handler handles the S3 events the local stack emits, as TriggerHandler does.
func (a *App) S3Handler() func(context.Context, events.S3Event) error {
	return meter.S3(a.Trigger.HandleS3, a.Store, a.meter)
}

// ParserHandler is the parser function's handler.
func (a *App) ParserHandler() meter.SQSHandler {
	return meter.SQS(a.Parser.HandleSQS, a.Store, a.meter)
}

// WriterHandler is the writer function's handler.
func (a *App) WriterHandler() meter.SQSHandler {
	return meter.SQS(a.Writer.HandleSQS, a.Store, a.meter)
}

// meterOptions: the function's memory is Lambda's AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
// else the template's 256 MB. Durations are measured on the real clock, not
// opts.Now, which tests may stop.
func meterOptions(opts Options) meter.Options {
	mb, _ := strconv.Atoi(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
	return meter.Options{MemoryMB: mb, Log: opts.Log}
}
