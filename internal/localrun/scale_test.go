package localrun

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/segport/segport/internal/dynamo"
	"github.com/segport/segport/internal/meter"
	"github.com/segport/segport/pkg/job"
)

// seedItems writes items with BatchWriteItem, 25 at a time, a few calls at once:
// a fast setup for what many earlier imports would have left.
func seedItems(t *testing.T, rt *Runtime, table string, n int, item func(i int) map[string]types.AttributeValue) {
	t.Helper()
	ctx := testCtx(t)
	db := rt.Stack.DynamoClient()
	work := make(chan []types.WriteRequest)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for reqs := range work {
				pending := map[string][]types.WriteRequest{table: reqs}
				for len(pending[table]) > 0 {
					out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
					if err != nil {
						errs <- err
						return
					}
					pending = out.UnprocessedItems
				}
			}
		}()
	}
	for i := 0; i < n; i += 25 {
		reqs := make([]types.WriteRequest, 0, 25)
		for k := i; k < min(i+25, n); k++ {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item(k)}})
		}
		select {
		case work <- reqs:
		case err := <-errs:
			t.Fatal(err)
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// segmentItemSize is the size of a segment's item as DynamoDB counts it.
func segmentItemSize(t *testing.T, rt *Runtime, name string) int {
	t.Helper()
	out, err := rt.Stack.DynamoClient().GetItem(testCtx(t), &dynamodb.GetItemInput{
		TableName: aws.String(rt.App.Config.Tables.Segments), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"SegmentId": s(job.SegmentId(name))},
	})
	if err != nil || out.Item == nil {
		t.Fatalf("segment %s: %v", name, err)
	}
	return meter.ItemSize(out.Item)
}

// smallFile is the same 50 rows of new endpoints for every segment.
func smallFile(tag string) string {
	body := "ChannelType,Address,Location.City\n"
	for i := range 50 {
		body += fmt.Sprintf("EMAIL,%s-%d@example.com,Town\n", tag, i)
	}
	return body
}

// A segment's item does not grow with its imports, and ending a job costs the
// same whatever the size of its segment (issue "Production scale").
func TestSegmentCostsDoNotGrowWithHistory(t *testing.T) {
	t.Parallel() // its own stack: it runs beside the other long tests
	rt := openRuntime(t, Options{})

	// 100,000 earlier imports into one segment, as the jobs they left.
	name := "history"
	first := importFile(t, rt, "imports/"+name+"/first.csv", smallFile("first"))
	size1 := segmentItemSize(t, rt, name)
	seedItems(t, rt, rt.App.Config.Tables.Jobs, 100_000, func(i int) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{
			"JobId": s(fmt.Sprintf("seeded-%06d", i)), "Sk": s("job"), "JobStatus": s("COMPLETED"),
			"SegmentId": s(job.SegmentId(name)), "JobOrder": s(fmt.Sprintf("20260101T000000.000.seeded-%06d", i)),
			"Applied": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				"Size": &types.AttributeValueMemberN{Value: "1"}, "New": &types.AttributeValueMemberN{Value: "1"},
				"V":        &types.AttributeValueMemberN{Value: "1"},
				"Channels": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"EMAIL": &types.AttributeValueMemberN{Value: "1"}}}}},
		}
	})
	again := importFile(t, rt, "imports/"+name+"/again.csv", smallFile("again"))
	if first.JobStatus != job.Completed || again.JobStatus != job.Completed || again.TotalProcessed != 50 {
		t.Fatalf("jobs %+v, %+v", first, again)
	}
	if size2 := segmentItemSize(t, rt, name); math.Abs(float64(size2-size1)) > 8 {
		t.Fatalf("the segment's item grew from %d to %d bytes", size1, size2)
	}
	checkSegment(t, rt, name)

	// The same import into a segment of 1,000 members and one of 100,000.
	units := map[int]float64{}
	for _, n := range []int{1_000, 100_000} {
		seg := fmt.Sprintf("members-%d", n)
		prime := importFile(t, rt, "imports/"+seg+"/prime.csv", smallFile(seg+"-prime")) // creates the segment
		seedItems(t, rt, rt.App.Config.Tables.Members, n, func(i int) map[string]types.AttributeValue {
			id := fmt.Sprintf("seeded-%07d", i)
			return map[string]types.AttributeValue{"Shard": s(dynamo.ShardKey(job.SegmentId(seg), id, rt.App.Config.Shards)), "EndpointId": s(id)}
		})
		j := importFile(t, rt, "imports/"+seg+"/f.csv", smallFile("same"))
		if prime.JobStatus != job.Completed || j.JobStatus != job.Completed {
			t.Fatalf("jobs %+v, %+v", prime, j)
		}
		st, err := rt.App.Store.Usage(context.Background(), j.Id)
		if err != nil {
			t.Fatal(err)
		}
		units[n] = st.DynamoDBReadUnits + st.DynamoDBWriteUnits
		t.Logf("segment of %d members: the import cost %.1f read and %.1f write units, %d DynamoDB requests",
			n, st.DynamoDBReadUnits, st.DynamoDBWriteUnits, st.Service("DynamoDB"))
	}
	if small, big := units[1_000], units[100_000]; small == 0 || math.Abs(big-small)/small > 0.10 {
		t.Fatalf("the same import cost %.1f units into 1,000 members and %.1f into 100,000", small, big)
	}
}
