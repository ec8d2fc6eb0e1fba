package localrun

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/segport/segport/internal/localstack"
	"github.com/segport/segport/pkg/job"
)

// redeliver wraps a handler so that every batch arrives shuffled and every message
// is sent to its queue once more, with a random delay: each is delivered at least
// twice, out of order.
func redeliver(rt **Runtime, seed uint64) func(localstack.EventSource, localstack.Handler) localstack.Handler {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, seed))
	seen := map[string]bool{}
	return func(src localstack.EventSource, h localstack.Handler) localstack.Handler {
		return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			mu.Lock()
			rng.Shuffle(len(ev.Records), func(i, j int) { ev.Records[i], ev.Records[j] = ev.Records[j], ev.Records[i] })
			var again []string
			for _, r := range ev.Records {
				if !seen[r.Body] {
					seen[r.Body] = true
					again = append(again, r.Body)
				}
			}
			delay := int32(rng.IntN(3))
			mu.Unlock()
			for _, body := range again {
				_, err := (*rt).Stack.SQSClient().SendMessage(ctx, &sqs.SendMessageInput{
					QueueUrl: aws.String(src.QueueURL), MessageBody: aws.String(body), DelaySeconds: delay,
				})
				if err != nil {
					return events.SQSEventResponse{}, err
				}
			}
			return h(ctx, ev)
		}
	}
}

// workload is three imports into two segments with overlapping endpoints, updates
// out of date order, shared users and bad rows.
var workload = []struct{ key, body string }{
	{"imports/alpha/one.csv", func() string {
		var b strings.Builder
		b.WriteString("Id,ChannelType,Address,EffectiveDate,Demographic.Make,Attributes.Tags,User.UserId,User.UserAttributes.Tier\n")
		for i := 0; i < 40; i++ {
			fmt.Fprintf(&b, "e%02d,EMAIL,u%02d@example.com,2024-01-%02dT00:00:00Z,Make%d,t%d,user%d,tier%d\n", i%25, i, 1+i%28, i, i%3, i%7, i)
		}
		b.WriteString("bad,EMAIL,not-an-address,,,,,\n")
		return b.String()
	}()},
	{"imports/alpha/two.json", func() string {
		var b strings.Builder
		for i := 0; i < 30; i++ {
			fmt.Fprintf(&b, `{"Id":"e%02d","Demographic":{"Model":"M%d"},"EffectiveDate":"2023-06-%02dT00:00:00Z","Attributes":{"Tags":["j%d"]},"User":{"UserId":"user%d","UserAttributes":{"Tier":["jt%d"]}}}`+"\n", i, i, 1+i%28, i, i%7, i)
		}
		b.WriteString(`{"ChannelType":"FAX","Address":"1"}` + "\n")
		return b.String()
	}()},
	{"imports/beta/three.csv", "ChannelType,Address,Location.Country\nEMAIL,u01@example.com,USA\nSMS,206 555 0100,CAN\nEMAIL,u01@example.com,MEX\n"},
}

func runWorkload(t *testing.T, rt *Runtime) string {
	for i, f := range workload {
		id := job.NewId("redelivery", fmt.Sprint(i))
		put(t, rt, f.key, f.body, id)
		if j := waitJob(t, rt, id); j.JobStatus != job.Completed {
			t.Fatalf("%s: %+v", f.key, j)
		}
	}
	if err := rt.Idle(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	return dumpOf(t, rt)
}

func TestDuplicatedShuffledDeliveryEqualsCleanRun(t *testing.T) {
	t.Parallel()           // its own stack: it runs beside the other long tests
	const batchBytes = 600 // about two rows a write batch: many batches to reorder
	clean := runWorkload(t, openRuntime(t, Options{BatchBytes: batchBytes}))
	var rt *Runtime
	rt = openRuntime(t, Options{BatchBytes: batchBytes, Wrap: redeliver(&rt, 7)})
	chaotic := runWorkload(t, rt)
	if clean != chaotic {
		t.Fatalf("duplicated, shuffled delivery changed the result:\n--- clean\n%s\n--- redelivered\n%s", clean, chaotic)
	}
	for _, want := range []string{`"EndpointCount":30`, `"TotalProcessed":40`, `"TotalFailures":1`, "not a valid email address", `"UserId":"user3"`} {
		if !strings.Contains(clean, want) {
			t.Errorf("dump lacks %s:\n%s", want, clean)
		}
	}
}
