package localstack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// TestSQSOperations checks the SQS calls the functions use against fauxqs.
func TestSQSOperations(t *testing.T) {
	t.Parallel()
	s := startStack(t, Options{})
	ctx := testContext(t)
	c := s.SQSClient()
	q := aws.String(s.Resources["WriteQueue"])
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q, MessageBody: aws.String("one")}); err != nil {
		t.Fatal(err)
	}
	batch, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: q, Entries: []sqstypes.SendMessageBatchRequestEntry{
		{Id: aws.String("a"), MessageBody: aws.String("two")},
		{Id: aws.String("b"), MessageBody: aws.String("three")},
	}})
	if err != nil || len(batch.Successful) != 2 {
		t.Fatalf("send batch = %v, %v", batch, err)
	}
	recv := func() []sqstypes.Message {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: q, MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount},
		})
		if err != nil {
			t.Fatal(err)
		}
		return out.Messages
	}
	msgs := recv()
	if len(msgs) != 3 || msgs[0].Attributes["ApproximateReceiveCount"] != "1" {
		t.Fatalf("received %d messages, attributes %v", len(msgs), msgs[0].Attributes)
	}
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: q, ReceiptHandle: msgs[0].ReceiptHandle, VisibilityTimeout: 0,
	}); err != nil {
		t.Fatal(err)
	}
	again := recv()
	if len(again) != 1 || aws.ToString(again[0].Body) != "one" || again[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("after ChangeMessageVisibility got %d messages", len(again))
	}
	entries := []sqstypes.DeleteMessageBatchRequestEntry{{Id: aws.String("0"), ReceiptHandle: again[0].ReceiptHandle}}
	for i, m := range msgs[1:] {
		entries = append(entries, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i + 1)), ReceiptHandle: m.ReceiptHandle})
	}
	del, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: q, Entries: entries})
	if err != nil || len(del.Successful) != 3 {
		t.Fatalf("delete batch = %+v, %v", del, err)
	}
	if n, err := s.queueDepth(ctx, s.Resources["WriteQueue"]); err != nil || n != 0 {
		t.Errorf("queue depth after deletes = %d, %v", n, err)
	}
}

const indexedTable = `
Resources:
  Indexed:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: Pk, AttributeType: S}
        - {AttributeName: Sk, AttributeType: S}
        - {AttributeName: Seg, AttributeType: S}
        - {AttributeName: At, AttributeType: N}
      KeySchema:
        - {AttributeName: Pk, KeyType: HASH}
        - {AttributeName: Sk, KeyType: RANGE}
      GlobalSecondaryIndexes:
        - IndexName: BySegment
          KeySchema:
            - {AttributeName: Seg, KeyType: HASH}
          Projection: {ProjectionType: KEYS_ONLY}
      LocalSecondaryIndexes:
        - IndexName: ByTime
          KeySchema:
            - {AttributeName: Pk, KeyType: HASH}
            - {AttributeName: At, KeyType: RANGE}
          Projection: {ProjectionType: ALL}
`

// TestDynamoOperations checks the DynamoDB calls the functions use against
// dynalite, on a table built from template YAML with both index kinds.
func TestDynamoOperations(t *testing.T) {
	t.Parallel()
	s := startStack(t, Options{})
	ctx := testContext(t)
	c := s.DynamoClient()
	createIndexedTable(ctx, t, c)
	table := aws.String("Indexed")
	str := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	key := func(pk, sk string) map[string]ddbtypes.AttributeValue {
		return map[string]ddbtypes.AttributeValue{"Pk": str(pk), "Sk": str(sk)}
	}
	put := &dynamodb.PutItemInput{
		TableName: table, Item: map[string]ddbtypes.AttributeValue{"Pk": str("p"), "Sk": str("1"), "Seg": str("s1"), "At": &ddbtypes.AttributeValueMemberN{Value: "10"}},
		ConditionExpression: aws.String("attribute_not_exists(Pk)"),
	}
	if _, err := c.PutItem(ctx, put); err != nil {
		t.Fatal(err)
	}
	var ccf *ddbtypes.ConditionalCheckFailedException
	if _, err := c.PutItem(ctx, put); !errors.As(err, &ccf) {
		t.Errorf("conditional put again: err = %v, want ConditionalCheckFailedException", err)
	}

	up, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: table, Key: key("p", "1"),
		UpdateExpression: aws.String("ADD Tags :t, Nums :n"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":t": &ddbtypes.AttributeValueMemberSS{Value: []string{"x", "y"}},
			":n": &ddbtypes.AttributeValueMemberNS{Value: []string{"1", "2"}},
		},
		ReturnValues: ddbtypes.ReturnValueAllNew,
	})
	if err != nil {
		t.Fatal(err)
	}
	tags, _ := up.Attributes["Tags"].(*ddbtypes.AttributeValueMemberSS)
	if tags == nil || len(tags.Value) != 2 || up.Attributes["Seg"] == nil {
		t.Errorf("ALL_NEW attributes = %v", up.Attributes)
	}

	var writes []ddbtypes.WriteRequest
	for i := 2; i <= 4; i++ {
		item := map[string]ddbtypes.AttributeValue{"Pk": str("p"), "Sk": str(fmt.Sprint(i)), "Seg": str("s1"), "At": &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(i)}}
		writes = append(writes, ddbtypes.WriteRequest{PutRequest: &ddbtypes.PutRequest{Item: item}})
	}
	bw, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]ddbtypes.WriteRequest{"Indexed": writes}})
	if err != nil || len(bw.UnprocessedItems) != 0 {
		t.Fatalf("batch write = %v, %v", bw, err)
	}
	bg, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]ddbtypes.KeysAndAttributes{
		"Indexed": {Keys: []map[string]ddbtypes.AttributeValue{key("p", "1"), key("p", "3"), key("p", "9")}, ConsistentRead: aws.Bool(true)},
	}})
	if err != nil || len(bg.Responses["Indexed"]) != 2 {
		t.Fatalf("batch get = %v, %v", bg, err)
	}
	checkCounts(t, c, table)
}

func createIndexedTable(ctx context.Context, t *testing.T, c *dynamodb.Client) {
	t.Helper()
	tmpl, err := parseTemplate([]byte(indexedTable))
	if err != nil {
		t.Fatal(err)
	}
	in, err := tableInput("Indexed", tmpl.Resources["Indexed"].Properties)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTable(ctx, in); err != nil {
		t.Fatal(err)
	}
	// dynalite, as DynamoDB, refuses items until the table is ACTIVE.
	if err := dynamodb.NewTableExistsWaiter(c).Wait(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

func checkCounts(t *testing.T, c *dynamodb.Client, table *string) {
	t.Helper()
	ctx := testContext(t)
	count := func(index, cond string, v ddbtypes.AttributeValue) int32 {
		in := &dynamodb.QueryInput{
			TableName: table, Select: ddbtypes.SelectCount,
			KeyConditionExpression:    aws.String(cond),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":v": v},
		}
		if index != "" {
			in.IndexName = aws.String(index)
		}
		out, err := c.Query(ctx, in)
		if err != nil {
			t.Fatalf("query %s: %v", index, err)
		}
		if out.Items != nil {
			t.Errorf("Select COUNT returned items")
		}
		return out.Count
	}
	got := []int32{
		count("", "Pk = :v", &ddbtypes.AttributeValueMemberS{Value: "p"}),
		count("BySegment", "Seg = :v", &ddbtypes.AttributeValueMemberS{Value: "s1"}),
	}
	if !slices.Equal(got, []int32{4, 4}) {
		t.Errorf("counts = %v, want [4 4]", got)
	}
	_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
		{Put: &ddbtypes.Put{TableName: table, Item: map[string]ddbtypes.AttributeValue{"Pk": &ddbtypes.AttributeValueMemberS{Value: "t"}, "Sk": &ddbtypes.AttributeValueMemberS{Value: "1"}}}},
	}})
	if err == nil {
		t.Log("dynalite now supports TransactWriteItems; update the package doc")
	}
}
