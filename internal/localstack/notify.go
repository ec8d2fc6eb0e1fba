package localstack

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/johannesboyne/gofakes3"
)

// notifyRetryDelays are the waits before redelivering an S3 event whose
// handler failed; S3's asynchronous Lambda invoke retries twice too, only
// over minutes.
var notifyRetryDelays = []time.Duration{200 * time.Millisecond, time.Second}

// s3Trigger is one S3 event source of a function in the template.
type s3Trigger struct {
	configurationID string
	function        string // the ARN of the function it invokes
	bucket          string
	events          []string // "s3:ObjectCreated:*", "s3:ObjectCreated:Put", ...
	prefix, suffix  string
}

func (t s3Trigger) matches(bucket, key, eventName string) bool {
	if bucket != t.bucket || !strings.HasPrefix(key, t.prefix) || !strings.HasSuffix(key, t.suffix) {
		return false
	}
	kind, _, _ := strings.Cut(eventName, ":")
	for _, e := range t.events {
		if e == "s3:"+eventName || e == "s3:"+kind+":*" {
			return true
		}
	}
	return false
}

// notifier turns successful object-creating requests to the S3 emulator into
// S3 events delivered one at a time, in order, to a callback.
type notifier struct {
	triggersMu sync.Mutex
	triggers   []s3Trigger // the bucket notification configuration
	backend    gofakes3.Backend
	deliver    func(context.Context, events.S3Event) error
	now        func() time.Time
	log        *slog.Logger
	act        *activity // its gen moves with pending, for Idle

	// failed receives an event the handler failed on every attempt, with the
	// function its trigger names, as Lambda hands it to an on-failure destination.
	failed func(ctx context.Context, function string, ev events.S3Event, err error)

	sequencer atomic.Uint64
	pending   atomic.Int64 // requests in flight plus events not yet delivered
	queue     chan queuedEvent
	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

func newNotifier(triggers []s3Trigger, backend gofakes3.Backend, deliver func(context.Context, events.S3Event) error, now func() time.Time, log *slog.Logger, act *activity) *notifier {
	ctx, cancel := context.WithCancel(context.Background())
	n := &notifier{
		triggers: triggers, backend: backend, deliver: deliver, now: now, log: log, act: act,
		queue: make(chan queuedEvent, 1024), ctx: ctx, cancel: cancel, done: make(chan struct{}),
	}
	n.sequencer.Store(uint64(now().UnixNano()))
	go n.run()
	return n
}

// wrap observes the S3 handler's object-creating requests.
func (n *notifier) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("notification") {
			n.notificationConfiguration(w, r)
			return
		}
		eventName := creationEvent(r)
		if eventName == "" || n.deliver == nil {
			h.ServeHTTP(w, r)
			return
		}
		// Counted before the response reaches the client, so Idle never
		// sees a created object whose event is not pending yet.
		n.addPending(1)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		queued := 0
		if rec.status/100 == 2 {
			queued = n.objectCreated(r, rec, eventName)
		}
		n.addPending(queued - 1)
	})
}

// creationEvent names the S3 event a request would cause, or "" if none.
// PUTs with a subresource (?tagging, ?acl, ?partNumber...) create nothing.
func creationEvent(r *http.Request) string {
	q := r.URL.Query()
	if r.Method == http.MethodPost && q.Has("uploadId") {
		return "ObjectCreated:CompleteMultipartUpload"
	}
	if r.Method != http.MethodPut {
		return ""
	}
	for k := range q {
		if k != "x-id" {
			return ""
		}
	}
	if id := q.Get("x-id"); id != "" && id != "PutObject" && id != "CopyObject" {
		return ""
	}
	if r.Header.Get("X-Amz-Copy-Source") != "" {
		return "ObjectCreated:Copy"
	}
	return "ObjectCreated:Put"
}

// objectCreated queues one event per matching trigger and returns how many.
func (n *notifier) objectCreated(r *http.Request, rec *statusRecorder, eventName string) int {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if key == "" {
		return 0
	}
	count := 0
	n.triggersMu.Lock()
	triggers := n.triggers
	n.triggersMu.Unlock()
	for _, t := range triggers {
		if !t.matches(bucket, key, eventName) {
			continue
		}
		ev, err := n.event(t, r, rec.Header(), key, eventName)
		if err != nil {
			n.log.Error("build S3 event", "bucket", bucket, "key", key, "err", err)
			continue
		}
		select {
		case n.queue <- queuedEvent{ev, t.function}:
			count++
		case <-n.ctx.Done():
			return count
		}
	}
	return count
}

func (n *notifier) event(t s3Trigger, r *http.Request, hdr http.Header, key, eventName string) (events.S3Event, error) {
	obj, err := n.backend.HeadObject(t.bucket, key)
	if err != nil {
		return events.S3Event{}, fmt.Errorf("head object: %w", err)
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	rec := events.S3EventRecord{
		EventVersion:      "2.1",
		EventSource:       "aws:s3",
		AWSRegion:         Region,
		EventTime:         n.now().UTC().Truncate(time.Millisecond),
		EventName:         eventName,
		PrincipalID:       events.S3UserIdentity{PrincipalID: "AWS:" + AccountID},
		RequestParameters: events.S3RequestParameters{SourceIPAddress: host},
		ResponseElements: map[string]string{
			"x-amz-request-id": hdr.Get("x-amz-request-id"),
			"x-amz-id-2":       hdr.Get("x-amz-id-2"),
		},
		S3: events.S3Entity{
			SchemaVersion:   "1.0",
			ConfigurationID: t.configurationID,
			Bucket: events.S3Bucket{
				Name:          t.bucket,
				OwnerIdentity: events.S3UserIdentity{PrincipalID: AccountID},
				Arn:           "arn:aws:s3:::" + t.bucket,
			},
			Object: events.S3Object{
				Key:       EncodeEventKey(key),
				Size:      obj.Size,
				ETag:      fmt.Sprintf("%x", obj.Hash),
				VersionID: string(obj.VersionID),
				Sequencer: fmt.Sprintf("%016X", n.sequencer.Add(1)),
			},
		},
	}
	if obj.Contents != nil {
		obj.Contents.Close()
	}
	// Through JSON, as Lambda delivers it: that is what fills URLDecodedKey.
	var ev events.S3Event
	b, err := json.Marshal(events.S3Event{Records: []events.S3EventRecord{rec}})
	if err == nil {
		err = json.Unmarshal(b, &ev)
	}
	return ev, err
}

// EncodeEventKey encodes an object key the way S3 notifications do: form
// encoding (space as '+', UTF-8 bytes percent-encoded) with '/' kept.
func EncodeEventKey(key string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("-_.*/", c) >= 0:
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

func (n *notifier) run() {
	defer close(n.done)
	for {
		select {
		case <-n.ctx.Done():
			return
		case q := <-n.queue:
			n.deliverWithRetries(q)
			n.addPending(-1)
		}
	}
}

// queuedEvent is an S3 event on its way to a function.
type queuedEvent struct {
	ev       events.S3Event
	function string
}

func (n *notifier) deliverWithRetries(q queuedEvent) {
	ev := q.ev
	key := ev.Records[0].S3.Object.Key
	for attempt := 0; ; attempt++ {
		err := n.safeDeliver(ev)
		if err == nil {
			return
		}
		if attempt == len(notifyRetryDelays) {
			n.log.Error("S3 event failed every attempt", "key", key, "attempts", attempt+1, "err", err)
			if n.failed != nil {
				n.failed(n.ctx, q.function, ev, err)
			}
			return
		}
		n.log.Warn("S3 event handler failed; retrying", "key", key, "attempt", attempt+1, "err", err)
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(notifyRetryDelays[attempt]):
		}
	}
}

func (n *notifier) safeDeliver(ev events.S3Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panic: %v", p)
		}
	}()
	return n.deliver(n.ctx, ev)
}

func (n *notifier) addPending(d int) {
	n.pending.Add(int64(d))
	n.act.gen.Add(1)
}

func (n *notifier) idle() bool {
	return n.pending.Load() == 0
}

func (n *notifier) close() {
	n.closeOnce.Do(func() {
		n.cancel()
		<-n.done
	})
}

// statusRecorder remembers the status code the S3 handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
