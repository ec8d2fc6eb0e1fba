package meter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/segport/segport/pkg/stats"
)

// Recorder stores the counts of one unit of work under its job. key names the
// unit's delivery, so that storing the same counts again changes nothing.
type Recorder interface {
	RecordUsage(ctx context.Context, jobId, key string, s stats.Stats) error
}

// Options configure the handler wrappers.
type Options struct {
	// MemoryMB is the function's memory, for GB-seconds (default 256, the
	// template's MemorySize).
	MemoryMB int
	Now      func() time.Time
	Log      *slog.Logger
}

func (o Options) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

func (o Options) memory() int {
	if o.MemoryMB <= 0 {
		return 256
	}
	return o.MemoryMB
}

// SQSHandler is an SQS-triggered Lambda handler.
type SQSHandler func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// SQS meters an SQS handler. It hands h the messages one at a time, each with
// a Counter of its own in the context and its job read from the body's JobId,
// measures the time h takes over it, and stores the message's counts under
// its job, keyed by message id, receive count and invocation: a redelivery is
// counted again (AWS bills it again), storing twice is not.
//
// The invocation itself (one Lambda request, and the event-source mapping's
// receive and delete, estimated) is counted with the first message that names
// a job: per job, an invocation whose messages belong to several jobs counts
// for the first one only, so that the jobs' figures add up to the bill.
func SQS(h SQSHandler, rec Recorder, o Options) SQSHandler {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		inv := newInvocation(ctx, rec, o)
		payload := 0
		for _, r := range ev.Records {
			payload += len(r.Body)
		}
		// One ReceiveMessage (billed by its payload) and one DeleteMessageBatch.
		inv.share = stats.Stats{SQSRequests: 2, SQSBilledRequests: stats.SQSBilled(payload) + 1}
		var resp events.SQSEventResponse
		for i := range ev.Records {
			r := ev.Records[i]
			key := r.MessageId + "#" + r.Attributes["ApproximateReceiveCount"] + "#" + inv.id
			var out events.SQSEventResponse
			err := inv.unit(ctx, key, jobOf(r.Body), func(ctx context.Context) error {
				var err error
				out, err = h(ctx, events.SQSEvent{Records: ev.Records[i : i+1]})
				return err
			})
			if err != nil {
				return events.SQSEventResponse{}, err // a failed invocation: every message comes back
			}
			resp.BatchItemFailures = append(resp.BatchItemFailures, out.BatchItemFailures...)
		}
		return resp, nil
	}
}

// TriggerHandler is the trigger's Lambda handler: an S3 event or a request.
type TriggerHandler func(context.Context, json.RawMessage) (any, error)

// Trigger meters the trigger's Lambda handler: an S3 event's records are handed
// to h one at a time, each with a Counter; h names each record's job with
// stats.Attribute.
func Trigger(h TriggerHandler, rec Recorder, o Options) TriggerHandler {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		inv := newInvocation(ctx, rec, o)
		var probe struct {
			Records []json.RawMessage `json:"Records"`
		}
		if json.Unmarshal(raw, &probe) != nil || len(probe.Records) < 2 {
			var res any
			err := inv.unit(ctx, inv.id+"#0", "", func(ctx context.Context) error {
				var err error
				res, err = h(ctx, raw)
				return err
			})
			return res, err
		}
		var errs []error
		for i, r := range probe.Records {
			one, err := json.Marshal(map[string][]json.RawMessage{"Records": {r}})
			if err == nil {
				err = inv.unit(ctx, inv.id+"#"+strconv.Itoa(i), "", func(ctx context.Context) error {
					_, err := h(ctx, one)
					return err
				})
			}
			errs = append(errs, err)
		}
		return nil, errors.Join(errs...)
	}
}

// S3 meters a handler of decoded S3 events (the local stack's notifications)
// as Trigger does.
func S3(h func(context.Context, events.S3Event) error, rec Recorder, o Options) func(context.Context, events.S3Event) error {
	return func(ctx context.Context, ev events.S3Event) error {
		inv := newInvocation(ctx, rec, o)
		var errs []error
		for i := range ev.Records {
			errs = append(errs, inv.unit(ctx, inv.id+"#"+strconv.Itoa(i), "", func(ctx context.Context) error {
				return h(ctx, events.S3Event{Records: ev.Records[i : i+1]})
			}))
		}
		return errors.Join(errs...)
	}
}

// invocation is one handler invocation being metered.
type invocation struct {
	rec     Recorder
	o       Options
	id      string      // the Lambda request id, or a random one
	share   stats.Stats // what the invocation costs besides its units' work
	charged bool        // the invocation has been counted with a unit
}

func newInvocation(ctx context.Context, rec Recorder, o Options) *invocation {
	inv := &invocation{rec: rec, o: o}
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		inv.id = lc.AwsRequestID
	} else {
		b := make([]byte, 12)
		rand.Read(b)
		inv.id = hex.EncodeToString(b)
	}
	return inv
}

// unit runs fn with a Counter and stores its counts under key.
func (inv *invocation) unit(ctx context.Context, key, jobId string, fn func(context.Context) error) error {
	c := stats.NewCounter(jobId)
	start := inv.o.now()
	err := fn(stats.NewContext(ctx, c))
	c.Invocation(0, inv.o.now().Sub(start), inv.o.memory())
	jobId = c.Job()
	if jobId == "" {
		return err // nothing to attribute the work to
	}
	if !inv.charged {
		inv.charged = true
		c.Invocation(1, 0, inv.o.memory())
		c.Add(inv.share)
	}
	if serr := inv.rec.RecordUsage(stats.Detach(ctx), jobId, key, c.Stats()); serr != nil {
		log := inv.o.Log
		if log == nil {
			log = slog.Default()
		}
		log.Warn("usage not recorded; the job's stats will miss it", "job", jobId, "err", serr)
	}
	return err
}

// jobOf reads the JobId that parse and write messages start with, without
// decoding the rest of the body.
func jobOf(body string) string {
	dec := json.NewDecoder(strings.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return ""
		}
		if t == "JobId" {
			var id string
			if dec.Decode(&id) != nil {
				return ""
			}
			return id
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return ""
		}
	}
	return ""
}
