package localrun

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/segport/segport/internal/localstack"
	"github.com/segport/segport/pkg/job"
)

// The same CSV file registers the same custom attribute names and fails the
// same rows whatever order its pieces are parsed in: its header's names are
// registered in column order when its job starts. Pieces here are delivered
// last first.
func TestNameLimitDoesNotFollowDeliveryOrder(t *testing.T) {
	t.Parallel() // its own stack: it runs beside the other long tests
	rt := openRuntime(t, Options{Parameters: map[string]string{"MaxCustomAttributeNames": "3", "PieceSize": "2048"},
		Wrap: lastPieceFirst()})
	var b strings.Builder
	b.WriteString("ChannelType,Address,Attributes.a,Attributes.b,Metrics.c,Attributes.d\n")
	withD := 0
	for i := range 600 {
		d := ""
		if i%7 == 3 {
			d, withD = "z", withD+1
		}
		fmt.Fprintf(&b, "EMAIL,n%d@example.com,x,y,%d,%s\n", i, i, d)
	}
	j := importFile(t, rt, "imports/names/f.csv", b.String())
	if j.TotalPieces < 3 || j.JobStatus != job.Completed || j.TotalProcessed != 600-withD || j.TotalFailures != withD {
		t.Fatalf("job %s: %d pieces, %d processed, %d failures; want COMPLETED, 3+ pieces, %d, %d",
			j.JobStatus, j.TotalPieces, j.TotalProcessed, j.TotalFailures, 600-withD, withD)
	}
	for _, f := range j.Failures {
		if !strings.Contains(f, ": Attributes.d: ") {
			t.Fatalf("failure %q, want every one on Attributes.d", f)
		}
	}
	names, err := rt.App.Store.RegisteredNames(context.Background())
	if err != nil || strings.Join(names, ",") != "Attributes.a,Attributes.b,Metrics.c" {
		t.Fatalf("registry %v %v", names, err)
	}
}

// lastPieceFirst holds each parse message but the job's last piece back a
// little, so that the last piece is parsed first.
func lastPieceFirst() func(localstack.EventSource, localstack.Handler) localstack.Handler {
	return func(src localstack.EventSource, h localstack.Handler) localstack.Handler {
		if src.Function != "ParserFunction" {
			return h
		}
		return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			for _, r := range ev.Records {
				var m job.ParseMessage
				if json.Unmarshal([]byte(r.Body), &m) == nil && m.Piece.Index != m.TotalPieces-1 {
					time.Sleep(time.Second)
				}
			}
			return h(ctx, ev)
		}
	}
}
