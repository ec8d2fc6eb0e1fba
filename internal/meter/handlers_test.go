package meter

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/segport/segport/pkg/stats"
)

func TestJobOf(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"JobId":"j1","Rows":[{"E":{}}]}`, "j1"},
		{`{"Piece":{"Key":"a"},"JobId":"j2"}`, "j2"},
		{`{"Rows":[]}`, ""},
		{`not json`, ""},
		{`["JobId"]`, ""},
	}
	for _, tt := range tests {
		if got := jobOf(tt.body); got != tt.want {
			t.Errorf("jobOf(%s) = %q, want %q", tt.body, got, tt.want)
		}
	}
}

type recorded struct {
	mu   sync.Mutex
	byID map[string]stats.Stats // job + key
}

func (r *recorded) RecordUsage(ctx context.Context, jobId, key string, s stats.Stats) error {
	if stats.FromContext(ctx) != nil {
		return errors.New("the recording request would count itself twice")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byID[jobId+" "+key] = s
	return nil
}

func TestSQSMetersEachMessage(t *testing.T) {
	rec := &recorded{byID: map[string]stats.Stats{}}
	clock := time.Unix(0, 0)
	o := Options{MemoryMB: 1024, Now: func() time.Time { clock = clock.Add(500 * time.Millisecond); return clock }}
	h := SQS(func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		if len(ev.Records) != 1 {
			t.Errorf("the handler got %d messages at once", len(ev.Records))
		}
		stats.FromContext(ctx).Request("DynamoDB", "PutItem", 0)
		var resp events.SQSEventResponse
		if ev.Records[0].Body == `{"JobId":"b"}` {
			resp.BatchItemFailures = []events.SQSBatchItemFailure{{ItemIdentifier: ev.Records[0].MessageId}}
		}
		return resp, nil
	}, rec, o)
	msg := func(id, body string) events.SQSMessage {
		return events.SQSMessage{MessageId: id, Body: body, Attributes: map[string]string{"ApproximateReceiveCount": "2"}}
	}
	resp, err := h(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		msg("m1", `{"JobId":"a"}`), msg("m2", `{"JobId":"b"}`), msg("m3", `{"JobId":"a"}`),
	}})
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m2" {
		t.Fatalf("resp %+v, err %v", resp, err)
	}
	if len(rec.byID) != 3 {
		t.Fatalf("recorded %v", rec.byID)
	}
	var a, b stats.Stats
	for k, s := range rec.byID {
		if k[0] == 'a' {
			a.Add(s)
		} else {
			b.Add(s)
		}
	}
	// The invocation counts once, with the first message's job; each message
	// took 500 ms at 1 GB.
	if a.LambdaInvocations != 1 || b.LambdaInvocations != 0 || a.Requests["DynamoDB.PutItem"] != 2 ||
		a.LambdaMilliseconds != 1000 || b.LambdaGBSeconds != 0.5 || a.SQSRequests != 2 || b.SQSRequests != 0 {
		t.Errorf("job a %+v, job b %+v", a, b)
	}
}
