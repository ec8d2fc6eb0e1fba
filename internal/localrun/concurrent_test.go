package localrun

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segport/segport/pkg/job"
)

// importConcurrently uploads files at once and waits for all their jobs.
func importConcurrently(t *testing.T, rt *Runtime, files map[string]string) map[string]*job.Job {
	t.Helper()
	ids := map[string]string{}
	var wg sync.WaitGroup
	for key, body := range files {
		ids[key] = job.NewId(t.Name(), key)
		wg.Add(1)
		go func(key, body string) {
			defer wg.Done()
			put(t, rt, key, body, ids[key])
		}(key, body)
	}
	wg.Wait()
	jobs := map[string]*job.Job{}
	for key, id := range ids {
		jobs[key] = waitJob(t, rt, id)
	}
	return jobs
}

func TestConcurrentImportsIntoOneSegment(t *testing.T) {
	rt := openRuntime(t, Options{BatchBytes: 800, Parameters: map[string]string{"PieceSize": "2048"}})
	var a, b strings.Builder
	a.WriteString("Id,ChannelType,Address,EffectiveDate,Demographic.Make,Demographic.Model\n")
	b.WriteString("Id,EffectiveDate,Demographic.Make,Location.City\n")
	for i := 0; i < 150; i++ {
		// Overlapping endpoints: "a" is older for even i, newer for odd i; i%10 == 0 ties.
		da, db := "2024-01-01T00:00:00Z", "2024-06-01T00:00:00Z"
		if i%2 == 1 {
			da, db = db, da
		}
		if i%10 == 0 {
			da, db = "2024-03-03T00:00:00Z", "2024-03-03T00:00:00Z"
		}
		fmt.Fprintf(&a, "c%03d,EMAIL,c%03d@example.com,%s,MakeA%d,ModelA%d\n", i, i, da, i, i)
		fmt.Fprintf(&b, "c%03d,%s,MakeB%d,City%d\n", i, db, i, i)
	}
	jobs := importConcurrently(t, rt, map[string]string{"imports/conc/a.csv": a.String(), "imports/conc/b.csv": b.String()})
	ja, jb := jobs["imports/conc/a.csv"], jobs["imports/conc/b.csv"]
	if ja.JobStatus != job.Completed || jb.JobStatus != job.Completed || ja.TotalProcessed != 150 || jb.TotalProcessed != 150 {
		t.Fatalf("jobs %+v\n%+v", ja, jb)
	}
	// On equal EffectiveDates the later job wins: the later creation date, then the
	// greater id, as job.Order sorts them (RFC 3339 strings with their trailing
	// zeros trimmed do not sort as times).
	bLater := order(t, jb) > order(t, ja)
	got := members(t, rt, "conc")
	if len(got) != 150 {
		t.Fatalf("%d members, want 150", len(got))
	}
	for i, e := range got {
		winner := "A"
		if i%2 == 0 || (i%10 == 0 && bLater) {
			winner = "B"
		}
		if i%10 == 0 && !bLater {
			winner = "A"
		}
		date := map[bool]string{true: "2024-06-01T00:00:00.000Z", false: "2024-03-03T00:00:00.000Z"}[i%10 != 0]
		want := fmt.Sprintf(`{"Id":"c%03d","ChannelType":"EMAIL","Address":"c%03d@example.com","EffectiveDate":"%s","Location":{"City":"City%d"},"Demographic":{"Make":"Make%s%d","Model":"ModelA%d"}}`,
			i, i, date, i, winner, i, i)
		if e != want {
			t.Fatalf("endpoint %d:\n got %s\nwant %s", i, e, want)
		}
	}
}

// order is the key that orders j among jobs.
func order(t *testing.T, j *job.Job) string {
	t.Helper()
	created, err := time.Parse(time.RFC3339Nano, j.CreationDate)
	if err != nil {
		t.Fatalf("job %s created %q: %v", j.Id, j.CreationDate, err)
	}
	return job.Order(created, j.Id)
}

func TestConcurrentWritersNeverExceedTheNameLimit(t *testing.T) {
	rt := openRuntime(t, Options{Parameters: map[string]string{"MaxCustomAttributeNames": "5", "PieceSize": "1024"}})
	files := map[string]string{}
	for f := 0; f < 3; f++ {
		var b strings.Builder
		b.WriteString("ChannelType,Address,Attributes.x,Attributes.y\n")
		for i := 0; i < 60; i++ {
			// Every row brings two names; each file its own except Attributes.x.
			fmt.Fprintf(&b, "EMAIL,f%dr%d@example.com,v,w\n", f, i)
		}
		files[fmt.Sprintf("imports/limit%d/f.csv", f)] = strings.Replace(b.String(), "Attributes.y", fmt.Sprintf("Attributes.y%d", f), 1)
		files[fmt.Sprintf("imports/limit%d/g.csv", f)] = fmt.Sprintf("ChannelType,Address,Metrics.m%d,Metrics.n%d\nEMAIL,g%d@example.com,1,2\n", f, f, f)
	}
	jobs := importConcurrently(t, rt, files)
	names, err := rt.App.Store.RegisteredNames(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) > 5 {
		t.Fatalf("%d names registered, the limit is 5: %v", len(names), names)
	}
	registered := map[string]bool{}
	for _, n := range names {
		registered[n] = true
	}
	processed, failed := 0, 0
	for _, j := range jobs {
		processed += j.TotalProcessed
		failed += j.TotalFailures
		for _, f := range j.Failures {
			if !strings.Contains(f, "custom attribute names (the limit is 5)") {
				t.Errorf("unexpected failure %q", f)
			}
		}
	}
	if processed+failed != 3*60+3 || processed == 0 {
		t.Fatalf("%d processed + %d failed, want %d rows", processed, failed, 3*60+3)
	}
	// No half registration: every imported endpoint's names are all registered.
	for _, e := range strings.Split(dumpOf(t, rt), "\n") {
		if !strings.HasPrefix(e, "endpoint ") {
			continue
		}
		for _, n := range []string{"x", "y0", "y1", "y2"} {
			if strings.Contains(e, `"`+n+`":[`) && !registered["Attributes."+n] {
				t.Errorf("endpoint has unregistered Attributes.%s: %s", n, e)
			}
		}
	}
}
