package memstore

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/segport/segport/internal/merge"
	"github.com/segport/segport/pkg/endpoint"
	"github.com/segport/segport/pkg/job"
)

// faultsFunc adapts functions to Faults.
type faultsFunc struct {
	before      func(Op) error
	after       func(Op) error
	unprocessed func(Op, int) int
}

func (f faultsFunc) Before(_ context.Context, op Op) error {
	if f.before == nil {
		return nil
	}
	return f.before(op)
}

func (f faultsFunc) After(_ context.Context, op Op) error {
	if f.after == nil {
		return nil
	}
	return f.after(op)
}

func (f faultsFunc) Unprocessed(_ context.Context, op Op, n int) int {
	if f.unprocessed == nil {
		return 0
	}
	return f.unprocessed(op, n)
}

func TestPutEndpointConditions(t *testing.T) {
	ctx := context.Background()
	rec := func(id, city string) *merge.Endpoint {
		r := merge.NewEndpoint(id)
		r.E.Location = &endpoint.Location{City: city}
		r.Stamps["Location.City"] = "s1"
		return r
	}
	huge := rec("big", strings.Repeat("x", MaxItemBytes))
	tests := []struct {
		name    string
		setup   func(*DB)
		rec     *merge.Endpoint
		ver     int64
		wantErr error
		wantVal bool // a ValidationError
	}{
		{name: "new at 0", rec: rec("a", "Paris")},
		{name: "new at 1", rec: rec("a", "Paris"), ver: 1, wantErr: job.ErrConflict},
		{name: "exists at 0", setup: func(d *DB) { d.PutEndpoint(ctx, rec("a", "Oslo"), 0) }, rec: rec("a", "Paris"), wantErr: job.ErrConflict},
		{name: "exists at 1", setup: func(d *DB) { d.PutEndpoint(ctx, rec("a", "Oslo"), 0) }, rec: rec("a", "Paris"), ver: 1},
		{name: "stale version", setup: func(d *DB) { d.PutEndpoint(ctx, rec("a", "Oslo"), 0); d.PutEndpoint(ctx, rec("a", "Rome"), 1) },
			rec: rec("a", "Paris"), ver: 1, wantErr: job.ErrConflict},
		{name: "over 400 KB", rec: huge, wantVal: true},
		{name: "number out of range", rec: func() *merge.Endpoint {
			r := rec("a", "Paris")
			r.E.Metrics = endpoint.Metrics{{Name: "m", Value: 1e200}}
			return r
		}(), wantVal: true},
		{name: "number too small", rec: func() *merge.Endpoint {
			r := rec("a", "Paris")
			r.E.Metrics = endpoint.Metrics{{Name: "m", Value: 1e-200}}
			return r
		}(), wantVal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDB(&Env{}, 1)
			if tt.setup != nil {
				tt.setup(d)
			}
			err := d.PutEndpoint(ctx, tt.rec, tt.ver)
			var ve *ValidationError
			switch {
			case tt.wantVal && !errors.As(err, &ve):
				t.Fatalf("got %v, want a ValidationError", err)
			case !tt.wantVal && !errors.Is(err, tt.wantErr) && err != tt.wantErr:
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			}
			if err == nil {
				got, _ := d.GetEndpoints(ctx, []string{tt.rec.E.Id})
				if v := got[tt.rec.E.Id]; v.Ver != tt.ver+1 || v.Rec.E.Location.City != tt.rec.E.Location.City {
					t.Fatalf("stored %+v at version %d", v.Rec.E, v.Ver)
				}
			}
		})
	}
}

// A member keeps the batch that added it first: that batch counts it on every
// delivery, no other batch does.
func TestAddMembersCountsFirstInsertions(t *testing.T) {
	ctx := context.Background()
	d := NewDB(&Env{}, 4)
	ids := make([]string, 30)
	for i := range ids {
		ids[i] = strings.Repeat("e", i+1)
	}
	tests := []struct {
		name  string
		batch string
		ids   []string
		want  int
	}{
		{name: "first batch", batch: "j#0#0", ids: append(ids[:20:20], ids[:3]...), want: 20},
		{name: "the same batch again", batch: "j#0#0", ids: ids[:20], want: 20},
		{name: "another batch, half new", batch: "j#0#1", ids: ids[10:], want: 10},
		{name: "another job, nothing new", batch: "k#0#0", ids: ids, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := 1
			if tt.batch[0] == 'k' {
				v = 2
			}
			n, err := d.AddMembers(ctx, "seg", 4, v, tt.batch, tt.ids, nil)
			if err != nil || n != tt.want {
				t.Fatalf("AddMembers = %d, %v; want %d", n, err, tt.want)
			}
			if c, err := d.CountAdded(ctx, "seg", 4, tt.batch, tt.ids); err != nil || c != tt.want {
				t.Fatalf("CountAdded = %d, %v; want %d", c, err, tt.want)
			}
		})
	}
	if n := len(d.VersionMemberIds("seg", 1)); n != 30 {
		t.Fatalf("%d members of version 1, want 30: a member keeps the version that added it first", n)
	}
	if n := len(d.MemberIds("seg")); n != 30 {
		t.Fatalf("%d members, want 30", n)
	}
}

func TestCrashAfterWriteKeepsIt(t *testing.T) {
	ctx := context.Background()
	crash := errors.New("crash")
	d := NewDB(&Env{Faults: faultsFunc{after: func(Op) error { return crash }}}, 1)
	if _, err := d.EnsureSegment(ctx, "s", "seg", "now"); !errors.Is(err, crash) {
		t.Fatalf("EnsureSegment: %v, want the crash", err)
	}
	if d.Segment("s") == nil {
		t.Fatal("a write followed by a crash is lost")
	}
	d = NewDB(&Env{Faults: faultsFunc{before: func(Op) error { return crash }}}, 1)
	if _, err := d.EnsureSegment(ctx, "s", "seg", "now"); !errors.Is(err, crash) {
		t.Fatalf("EnsureSegment: %v, want the crash", err)
	}
	if d.Segment("s") != nil {
		t.Fatal("a write refused before it was served was applied")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := NewDB(&Env{}, 1).EnsureSegment(cctx, "s", "seg", "now"); !errors.Is(err, context.Canceled) {
		t.Fatalf("a dead caller's write: %v", err)
	}
}

func TestSetContributionOnce(t *testing.T) {
	ctx := context.Background()
	d := NewDB(&Env{}, 1)
	d.EnsureSegment(ctx, "s", "seg", "now")
	if _, _, err := d.CreateJob(ctx, &job.Job{Id: "j", JobStatus: job.Created}, job.Launch{}); err != nil {
		t.Fatal(err)
	}
	c := job.Contribution{JobId: "j", JobOrder: "o1", Progress: 1,
		Written: job.Tally{Rows: 3, New: 3, Channels: map[string]int{"SMS": 2, "EMAIL": 1}}}
	for range 3 {
		if err := d.SetContribution(ctx, "s", c); err != nil {
			t.Fatal(err)
		}
	}
	c.Progress, c.Written = 2, job.Tally{Rows: 4, New: 4, Channels: map[string]int{"SMS": 4}}
	if err := d.SetContribution(ctx, "s", c); err != nil {
		t.Fatal(err)
	}
	stale := c
	stale.Progress, stale.Written = 1, job.Tally{Rows: 1, New: 1, Channels: map[string]int{"SMS": 1}}
	if err := d.SetContribution(ctx, "s", stale); err != nil { // computed before the last: changes nothing
		t.Fatal(err)
	}
	// The version moves with EndVersion, not with contributions.
	seg := d.Segment("s")
	if seg.ImportDefinition.Size != 4 || seg.EndpointCount != 4 || seg.ImportDefinition.ChannelCounts["SMS"] != 4 ||
		seg.ImportDefinition.ChannelCounts["EMAIL"] != 0 || seg.Version != 0 {
		t.Fatalf("segment %+v", seg)
	}
}

func TestRegisterLimit(t *testing.T) {
	ctx := context.Background()
	d := NewDB(&Env{}, 1)
	tests := []struct {
		names  []string
		ok     bool
		stored int
	}{
		{[]string{"a", "b"}, true, 2},
		{[]string{"b", "c"}, true, 3},
		{[]string{"d", "e"}, false, 3}, // would pass 4: none added
		{[]string{"d"}, true, 4},
		{[]string{"a"}, true, 4},
	}
	for _, tt := range tests {
		all, ok, err := d.Register(ctx, tt.names, 4)
		if err != nil || ok != tt.ok || len(all) != tt.stored {
			t.Fatalf("Register(%v): %v, %v, %v; want ok %v with %d names", tt.names, all, ok, err, tt.ok, tt.stored)
		}
	}
}

func TestQueue(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	env := &Env{Now: func() time.Time { return now }}
	dlq := NewQueue(env, "dlq", time.Minute, 0, nil)
	q := NewQueue(env, "q", time.Minute, 2, dlq)
	if err := q.Send(ctx, [][]byte{[]byte("a"), []byte("b")}); err != nil {
		t.Fatal(err)
	}
	vis := q.Visible()
	if len(vis) != 2 {
		t.Fatalf("%d visible, want 2", len(vis))
	}
	m, ok := q.Receive(vis[0])
	if !ok || m.Body != "a" || m.Attributes["ApproximateReceiveCount"] != "1" {
		t.Fatalf("Receive: %+v %v", m, ok)
	}
	if got := q.Visible(); len(got) != 1 {
		t.Fatalf("a received message is visible: %v", got)
	}
	now = now.Add(time.Minute)
	m, _ = q.Receive(vis[0])
	if m.Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("second receive: %+v", m)
	}
	now = now.Add(time.Minute)
	if got := q.Visible(); len(got) != 1 || dlq.Len() != 1 {
		t.Fatalf("after maxReceive: %d visible, %d in the DLQ; want 1, 1", len(got), dlq.Len())
	}
	peek, _ := dlq.Peek(ctx, 10)
	if len(peek) != 1 || string(peek[0]) != "a" || dlq.Len() != 1 {
		t.Fatalf("Peek: %q, %d left", peek, dlq.Len())
	}
	m, _ = q.Receive(vis[1])
	if !q.Delete(m.ReceiptHandle) || q.Len() != 0 {
		t.Fatalf("Delete: %d left", q.Len())
	}
	s := q.Stats()
	if s.Sent != 2 || s.Deleted != 1 || s.Dead != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestCheckBody(t *testing.T) {
	tests := []struct {
		name string
		body string
		ok   bool
	}{
		{"plain", `{"a":"b"}`, true},
		{"tab, newline, carriage return", "a\tb\nc\rd", true},
		{"escaped control", `{"a":"\u0007"}`, true},
		{"raw control", "a\x07b", false},
		{"U+FFFE", "a\uFFFEb", false},
		{"U+FFFF", "a\uFFFFb", false},
		{"U+FFFD", "a\uFFFDb", true},
		{"astral", "a\U0001F600b", true},
		{"not UTF-8", "a\xffb", false},
		{"too long", strings.Repeat("x", job.MaxMessageBytes+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckBody([]byte(tt.body)); (err == nil) != tt.ok {
				t.Fatalf("CheckBody: %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestObjects(t *testing.T) {
	ctx := context.Background()
	s := NewObjects(&Env{})
	s.Load("b", "k", []byte("0123456789"), map[string]string{"m": "v"})
	tests := []struct {
		name       string
		key        string
		start, end int64
		want       string
		notFound   bool
	}{
		{name: "range", key: "k", start: 2, end: 5, want: "234"},
		{name: "past the end", key: "k", start: 8, end: 50, want: "89"},
		{name: "empty range", key: "k", start: 5, end: 5, want: ""},
		{name: "missing", key: "nope", start: 0, end: 3, notFound: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := s.Range(ctx, "b", tt.key, tt.start, tt.end)
			if tt.notFound {
				if !errors.Is(err, job.ErrNotFound) {
					t.Fatalf("got %v, want job.ErrNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(r)
			if string(b) != tt.want {
				t.Fatalf("got %q, want %q", b, tt.want)
			}
		})
	}
	p, _ := io.ReadAll(s.Prefetch(ctx, "b", "k", 1, 9, 3, 2))
	if string(p) != "12345678" {
		t.Fatalf("Prefetch: %q", p)
	}
	if err := s.Concat(ctx, "b", "out", []byte("h:"), []string{"k", "k"}); err != nil {
		t.Fatal(err)
	}
	if out, _ := s.Get("b", "out"); string(out) != "h:01234567890123456789" {
		t.Fatalf("Concat: %q", out)
	}
	if err := s.Concat(ctx, "b", "out", nil, []string{"gone"}); !errors.Is(err, job.ErrNotFound) {
		t.Fatalf("Concat of a missing part: %v", err)
	}
	objs, _ := s.List(ctx, "b", "")
	if len(objs) != 2 || objs[0].Key != "k" || objs[1].Key != "out" {
		t.Fatalf("List: %+v", objs)
	}
	h, err := s.Head(ctx, "b", "k")
	if err != nil || h.Size != 10 || h.Metadata["m"] != "v" {
		t.Fatalf("Head: %+v, %v", h, err)
	}
}
