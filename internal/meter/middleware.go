// Package meter counts what segport's work costs on AWS. Its SDK middleware
// (Add, for the clients' APIOptions) counts every request a client sends into
// the stats.Counter of the request's context, with the DynamoDB capacity units
// and SQS billing chunks it used; its handler wrappers (SQS, Trigger) give
// each unit of work a Counter, measure the Lambda time around it and store the
// counts under the unit's job.
package meter

import (
	"context"
	"errors"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/segport/segport/pkg/stats"
)

const (
	unitsID    = "segport.meter.units"
	requestsID = "segport.meter.requests"
)

// Add installs the meter on a client's middleware stack; put it in
// aws.Config.APIOptions. Installing it twice is harmless.
func Add(stack *middleware.Stack) error {
	if _, ok := stack.Initialize.Get(unitsID); ok {
		return nil
	}
	if err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc(unitsID, units), middleware.After); err != nil {
		return err
	}
	// Last in the deserialize step, next to the transport: it runs once per
	// attempt, so the SDK's retries are counted, and sees whether the attempt
	// got an answer before any error is decoded.
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc(requestsID, requests), middleware.After)
}

type payloadKey struct{}

// requests counts one attempt that reached the server and got an answer.
func requests(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleDeserialize(ctx, in)
	if c := stats.FromContext(ctx); c != nil {
		if _, ok := out.RawResponse.(*smithyhttp.Response); ok {
			payload, _ := ctx.Value(payloadKey{}).(int)
			c.Request(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), stats.SQSBilled(payload))
		}
	}
	return out, md, err
}

// units asks DynamoDB for the capacity a call consumes and counts it, and
// notes the payload of an SQS send for the billing chunks.
func units(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	c := stats.FromContext(ctx)
	if c == nil {
		return next.HandleInitialize(ctx, in)
	}
	in.Parameters = askCapacity(in.Parameters)
	if p := sendPayload(in.Parameters); p > 0 {
		ctx = context.WithValue(ctx, payloadKey{}, p)
	}
	out, md, err := next.HandleInitialize(ctx, in)
	if err == nil {
		consumed(c, in.Parameters, out.Result)
		if r, ok := out.Result.(*sqs.ReceiveMessageOutput); ok {
			// The answer is the payload of a receive: the chunks past the first.
			c.Add(stats.Stats{SQSBilledRequests: stats.SQSBilled(receivePayload(r)) - 1})
		}
	} else if cf := (*ddbtypes.ConditionalCheckFailedException)(nil); errors.As(err, &cf) {
		conditionFailed(c, in.Parameters, cf)
	}
	return out, md, err
}

// askCapacity returns a copy of a DynamoDB input with ReturnConsumedCapacity
// TOTAL, and any other input as it is.
func askCapacity(p any) any {
	const total = ddbtypes.ReturnConsumedCapacityTotal
	switch v := p.(type) {
	case *dynamodb.GetItemInput:
		cp := *v
		cp.ReturnConsumedCapacity = total
		return &cp
	case *dynamodb.PutItemInput:
		cp := *v
		cp.ReturnConsumedCapacity = total
		return &cp
	case *dynamodb.UpdateItemInput:
		cp := *v
		cp.ReturnConsumedCapacity = total
		return &cp
	case *dynamodb.DeleteItemInput:
		cp := *v
		cp.ReturnConsumedCapacity = total
		return &cp
	case *dynamodb.BatchGetItemInput:
		cp := *v
		cp.ReturnConsumedCapacity = total
		return &cp
	case *dynamodb.BatchWriteItemInput:
		cp := *v
		cp.ReturnConsumedCapacity = total
		return &cp
	case *dynamodb.QueryInput:
		cp := *v
		cp.ReturnConsumedCapacity = total
		return &cp
	case *dynamodb.ScanInput:
		cp := *v
		cp.ReturnConsumedCapacity = total
		return &cp
	}
	return p
}

// capacity returns the units of reported capacities, and false if there were
// none.
func capacity(cs ...*ddbtypes.ConsumedCapacity) (float64, bool) {
	total, found := 0.0, false
	for _, cc := range cs {
		if cc != nil && cc.CapacityUnits != nil {
			total += *cc.CapacityUnits
			found = true
		}
	}
	return total, found
}

func capacities(cs []ddbtypes.ConsumedCapacity) (float64, bool) {
	ps := make([]*ddbtypes.ConsumedCapacity, len(cs))
	for i := range cs {
		ps[i] = &cs[i]
	}
	return capacity(ps...)
}

// consumed counts the capacity a successful DynamoDB call reported, or else
// what DynamoDB's sizing rules say it used.
func consumed(c *stats.Counter, params, result any) {
	var (
		u        float64
		reported bool
		read     bool
		compute  func() float64
	)
	switch out := result.(type) {
	case *dynamodb.GetItemOutput:
		in := params.(*dynamodb.GetItemInput)
		read = true
		u, reported = capacity(out.ConsumedCapacity)
		compute = func() float64 { return stats.ReadUnits(ItemSize(out.Item), consistent(in.ConsistentRead)) }
	case *dynamodb.PutItemOutput:
		in := params.(*dynamodb.PutItemInput)
		u, reported = capacity(out.ConsumedCapacity)
		compute = func() float64 { return stats.WriteUnits(max(ItemSize(in.Item), ItemSize(out.Attributes))) }
	case *dynamodb.UpdateItemOutput:
		u, reported = capacity(out.ConsumedCapacity)
		compute = func() float64 { return stats.WriteUnits(ItemSize(out.Attributes)) }
	case *dynamodb.DeleteItemOutput:
		u, reported = capacity(out.ConsumedCapacity)
		compute = func() float64 { return stats.WriteUnits(ItemSize(out.Attributes)) }
	case *dynamodb.BatchGetItemOutput:
		in := params.(*dynamodb.BatchGetItemInput)
		read = true
		u, reported = capacities(out.ConsumedCapacity)
		compute = func() float64 { return batchGetUnits(in, out) }
	case *dynamodb.BatchWriteItemOutput:
		in := params.(*dynamodb.BatchWriteItemInput)
		u, reported = capacities(out.ConsumedCapacity)
		compute = func() float64 { return batchWriteUnits(in.RequestItems) - batchWriteUnits(out.UnprocessedItems) }
	case *dynamodb.QueryOutput:
		in := params.(*dynamodb.QueryInput)
		read = true
		u, reported = capacity(out.ConsumedCapacity)
		compute = func() float64 { return itemsReadUnits(out.Items, consistent(in.ConsistentRead)) }
	case *dynamodb.ScanOutput:
		in := params.(*dynamodb.ScanInput)
		read = true
		u, reported = capacity(out.ConsumedCapacity)
		compute = func() float64 { return itemsReadUnits(out.Items, consistent(in.ConsistentRead)) }
	default:
		return
	}
	if !reported {
		u = compute()
	}
	if read {
		c.Units(0, u, !reported)
	} else {
		c.Units(u, 0, !reported)
	}
}

// conditionFailed counts a conditional write whose condition was false.
// DynamoDB charges it the write units of the item as stored, and reports
// none: the units are computed from the item the write carried (or the one
// the error returned), at least one.
func conditionFailed(c *stats.Counter, params any, cf *ddbtypes.ConditionalCheckFailedException) {
	size := ItemSize(cf.Item)
	if in, ok := params.(*dynamodb.PutItemInput); ok {
		size = max(size, ItemSize(in.Item))
	}
	c.Units(stats.WriteUnits(size), 0, true)
}

func consistent(b *bool) bool { return b != nil && *b }

// batchGetUnits: every key read is a GetItem of its own, found or not.
func batchGetUnits(in *dynamodb.BatchGetItemInput, out *dynamodb.BatchGetItemOutput) float64 {
	u := 0.0
	for table, ka := range in.RequestItems {
		c := consistent(ka.ConsistentRead)
		items := out.Responses[table]
		for _, it := range items {
			u += stats.ReadUnits(ItemSize(it), c)
		}
		missing := len(ka.Keys) - len(items) - len(out.UnprocessedKeys[table].Keys)
		u += float64(max(missing, 0)) * stats.ReadUnits(0, c)
	}
	return u
}

func batchWriteUnits(reqs map[string][]ddbtypes.WriteRequest) float64 {
	u := 0.0
	for _, rs := range reqs {
		for _, r := range rs {
			if r.PutRequest != nil {
				u += stats.WriteUnits(ItemSize(r.PutRequest.Item))
			} else {
				u++
			}
		}
	}
	return u
}

// itemsReadUnits: a Query or Scan page is charged by the sum of its items' sizes.
func itemsReadUnits(items []map[string]ddbtypes.AttributeValue, consistent bool) float64 {
	size := 0
	for _, it := range items {
		size += ItemSize(it)
	}
	return stats.ReadUnits(size, consistent)
}

// sendPayload is what SQS counts as the payload of a send: bodies and
// message attributes.
func sendPayload(p any) int {
	switch v := p.(type) {
	case *sqs.SendMessageInput:
		return len(deref(v.MessageBody)) + attrsSize(v.MessageAttributes)
	case *sqs.SendMessageBatchInput:
		n := 0
		for _, e := range v.Entries {
			n += len(deref(e.MessageBody)) + attrsSize(e.MessageAttributes)
		}
		return n
	}
	return 0
}

func receivePayload(r *sqs.ReceiveMessageOutput) int {
	n := 0
	for _, m := range r.Messages {
		n += len(deref(m.Body)) + attrsSize(m.MessageAttributes)
	}
	return n
}

func attrsSize(attrs map[string]sqstypes.MessageAttributeValue) int {
	n := 0
	for name, a := range attrs {
		n += len(name) + len(deref(a.DataType)) + len(deref(a.StringValue)) + len(a.BinaryValue)
	}
	return n
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Config returns cfg with the meter in its APIOptions, for every client built
// from it.
func Config(cfg aws.Config) aws.Config {
	cfg = cfg.Copy()
	cfg.APIOptions = append(slices.Clip(cfg.APIOptions), Add)
	return cfg
}
