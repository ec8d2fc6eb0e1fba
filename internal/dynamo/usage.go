package dynamo

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/segport/segport/internal/meter"
	"github.com/segport/segport/pkg/stats"
)

// Usage items: JobId "<job>#usage", Sk "usage#<key>" in the Jobs table, one per
// unit of work done for the job (a partition of their own: thousands of them do
// not crowd the job's partition, whose items every batch updates) (a message handled, an S3 event record), holding what it cost
// (stats.Stats). The key names the delivery (message id, receive count,
// invocation), so a redelivered message adds an item, as it adds to the bill,
// and storing the same counts again changes nothing. A job's Stats are the sum
// of its usage items, taken when read: work done after the job ended (the
// finishing invocation's last requests, a late duplicate) is in it too.
const usagePrefix = "usage#"

// usagePartition is the partition key of a job's usage items.
func usagePartition(jobId string) string { return jobId + "#usage" }

type usageItem struct {
	JobId string `json:"JobId"`
	Sk    string `json:"Sk"`
	stats.Stats
}

// RecordUsage stores the counts of one unit of work for a job. The write that
// stores them is counted in them: one request, and the write units of the item
// (computed from its size; the SDK's retries of this one call are not counted).
// It is an UpdateItem, which the functions may already do on the Jobs table.
func (s *Store) RecordUsage(ctx context.Context, jobId, key string, st stats.Stats) error {
	ctx = stats.Detach(ctx)
	st = st.Clone()
	st.EstimatedCostUSD = 0
	st.Add(stats.Stats{Requests: map[string]int64{"DynamoDB.UpdateItem": 1}})
	var item map[string]types.AttributeValue
	for units := 1.0; ; {
		withPut := st.Clone()
		withPut.Add(stats.Stats{DynamoDBWriteUnits: units, DynamoDBComputedUnits: units})
		var err error
		if item, err = marshal(usageItem{JobId: usagePartition(jobId), Sk: usagePrefix + key, Stats: withPut}); err != nil {
			return fmt.Errorf("encode usage of job %s: %w", jobId, err)
		}
		// The units are part of the item they pay for: settle on a fixed point.
		u := stats.WriteUnits(meter.ItemSize(item))
		if u <= units {
			break
		}
		units = u
	}
	keys := map[string]types.AttributeValue{"JobId": item["JobId"], "Sk": item["Sk"]}
	names := map[string]string{}
	values := map[string]types.AttributeValue{}
	var sets []string
	for _, name := range slices.Sorted(maps.Keys(item)) {
		if _, ok := keys[name]; ok {
			continue
		}
		k := strconv.Itoa(len(sets))
		names["#a"+k], values[":a"+k] = name, item[name]
		sets = append(sets, "#a"+k+" = :a"+k)
	}
	// Asked for, the units reported can be checked against those computed.
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.t.Jobs), Key: keys, UpdateExpression: aws.String("SET " + strings.Join(sets, ", ")),
		ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
	})
	if err != nil {
		return fmt.Errorf("record usage of job %s: %w", jobId, err)
	}
	return nil
}

// Usage sums a job's usage items: its Stats, without the cost.
func (s *Store) Usage(ctx context.Context, jobId string) (stats.Stats, error) {
	items, err := s.query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(s.t.Jobs),
		KeyConditionExpression: aws.String("JobId = :j AND begins_with(Sk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":j": str(usagePartition(jobId)), ":p": str(usagePrefix),
		},
		ConsistentRead: aws.Bool(true),
	})
	var total stats.Stats
	if err != nil {
		return total, err
	}
	for _, item := range items {
		var it usageItem
		if err := unmarshal(item, &it); err != nil {
			return total, fmt.Errorf("decode usage of job %s: %w", jobId, err)
		}
		total.Add(it.Stats)
	}
	total.EstimatedCostUSD = 0
	return total, nil
}
