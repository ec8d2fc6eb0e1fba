package client_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/segport/segport/internal/dynamo"
	"github.com/segport/segport/internal/localrun"
	"github.com/segport/segport/internal/localrun/localruntest"
	"github.com/segport/segport/internal/merge"
	"github.com/segport/segport/pkg/client"
	"github.com/segport/segport/pkg/endpoint"
	"github.com/segport/segport/pkg/job"
)

var stack = localruntest.New(localrun.Options{VisibilityTimeout: 5 * time.Second, BatchBytes: 8 << 10})

// TestMain stops the local stack the tests share, each in segments of its own.
// Small write batches make an import land in many steps.
func TestMain(m *testing.M) {
	code := m.Run()
	stack.Close()
	os.Exit(code)
}

func runtime(t *testing.T) *localrun.Runtime { return stack.Runtime(t) }

func newClient(rt *localrun.Runtime) *client.Client {
	t := rt.App.Config.Tables
	return client.New(rt.Stack.AWSConfig(), client.Tables{
		Endpoints: t.Endpoints, Users: t.Users, Segments: t.Segments, Members: t.Members, Jobs: t.Jobs,
	})
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// genEndpoint is a complete, valid endpoint in canonical form; every tenth one has
// a user of its own with attributes.
func genEndpoint(prefix string, i int) *endpoint.Endpoint {
	lat, lon := 47.6, -122.3
	e := &endpoint.Endpoint{
		Id: fmt.Sprintf("%s-%06d", prefix, i), ChannelType: "EMAIL", Address: fmt.Sprintf("user%d@example.com", i),
		EndpointStatus: "ACTIVE", OptOut: "NONE", EffectiveDate: "2026-01-02T03:04:05.000Z",
		Location:    &endpoint.Location{City: "Seattle", Country: "USA", Latitude: &lat, Longitude: &lon, PostalCode: "98101"},
		Demographic: &endpoint.Demographic{Platform: "ios", Timezone: "America/Los_Angeles", Locale: "en_US"},
		Attributes:  endpoint.Lists{{Name: "Interests", Value: []string{"books", "music"}}},
		Metrics:     endpoint.Metrics{{Name: "visits", Value: float64(i)}},
		User:        &endpoint.User{UserId: fmt.Sprintf("%s-user-%06d", prefix, i)},
	}
	if i%10 == 0 {
		e.User.UserAttributes = endpoint.Lists{{Name: "FirstName", Value: []string{fmt.Sprintf("Name%d", i)}}}
	}
	return e
}

func canonicalOf(t *testing.T, e *endpoint.Endpoint) string {
	t.Helper()
	b, err := e.MarshalCanonical()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// seed writes n endpoints, their users and their membership straight to the
// tables, as the writer would, and returns the segment's id and the endpoints'
// canonical JSON by id.
func seed(t *testing.T, rt *localrun.Runtime, name string, n int) (string, map[string]string) {
	t.Helper()
	// A budget for 10,000 writes on a busy machine; the first error stops
	// every worker and the feeding loop, so a failure fails, never hangs.
	ctx, cancel := context.WithCancel(testCtx(t, 5*time.Minute))
	defer cancel()
	st := rt.App.Store
	segId := job.SegmentId(name)
	if _, err := st.EnsureSegment(ctx, segId, name, "2026-11-01T12:00:00Z"); err != nil {
		t.Fatal(err)
	}
	want := make(map[string]string, n)
	ids := make([]string, n)
	work := make(chan int)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := putEndpoint(ctx, st, genEndpoint(name, i), i); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
feed:
	for i := range n {
		e := genEndpoint(name, i)
		ids[i], want[e.Id] = e.Id, canonicalOf(t, e)
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if err := ctx.Err(); err != nil {
		t.Fatalf("seed %s: %v", name, err)
	}
	if _, err := st.AddMembers(ctx, segId, 0, 0, "seed", ids, nil); err != nil {
		t.Fatal(err)
	}
	return segId, want
}

func putEndpoint(ctx context.Context, st *dynamo.Store, e *endpoint.Endpoint, line int) error {
	stamp := job.Stamp(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "0", 0, line)
	if attrs := e.User.UserAttributes; attrs != nil {
		u := merge.NewUser(e.User.UserId)
		u.Apply(attrs, stamp)
		if err := st.PutUser(ctx, u, 0); err != nil {
			return err
		}
	}
	rec := merge.NewEndpoint(e.Id)
	rec.Apply(e, stamp)
	return st.PutEndpoint(ctx, rec, 0)
}
