package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/johannesboyne/gofakes3"
)

// BucketName is the local name of the template's bucket; further buckets,
// if any, get BucketName + "-" + lower-case logical id.
const BucketName = "segport"

// queueAttributes are the AWS::SQS::Queue properties passed on as queue
// attributes (fauxqs refuses SqsManagedSseEnabled and ignores KMS anyway).
var queueAttributes = []string{
	"DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod",
	"ReceiveMessageWaitTimeSeconds", "VisibilityTimeout", "FifoQueue", "ContentBasedDeduplication",
}

// provisioner creates the template's resources in the emulators.
type provisioner struct {
	tmpl       *template
	res        *resolver
	s3         gofakes3.Backend
	sqs        *sqs.Client
	ddb        *dynamodb.Client
	visibility time.Duration
	// deadLetters maps a queue's logical id to its DLQ's logical id.
	deadLetters map[string]string
}

func newProvisioner(t *template, params map[string]string) *provisioner {
	res := &resolver{tmpl: t, params: params, attrs: map[string]map[string]string{}}
	for id, r := range t.Resources {
		// Resources the stack does not emulate still Ref to their logical id.
		res.attrs[id] = map[string]string{"": id}
		if r.Type == typeFunction {
			res.attrs[id]["Arn"] = "arn:aws:lambda:" + Region + ":" + AccountID + ":function:" + id
		}
	}
	return &provisioner{tmpl: t, res: res, deadLetters: map[string]string{}}
}

func (p *provisioner) run(ctx context.Context) error {
	if err := p.buckets(); err != nil {
		return err
	}
	if err := p.queues(ctx); err != nil {
		return err
	}
	return p.tables(ctx)
}

func (p *provisioner) buckets() error {
	for i, id := range p.tmpl.ofType(typeBucket) {
		name := BucketName
		if i > 0 {
			name += "-" + strings.ToLower(id)
		}
		p.res.attrs[id] = map[string]string{"": name, "Arn": "arn:aws:s3:::" + name}
		ok, err := p.s3.BucketExists(name)
		if err != nil {
			return fmt.Errorf("check bucket %s: %w", name, err)
		}
		if ok {
			continue
		}
		if err := p.s3.CreateBucket(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

// queues creates every queue, then sets the redrive policies, which need the
// dead-letter queues' ARNs.
func (p *provisioner) queues(ctx context.Context) error {
	ids := p.tmpl.ofType(typeQueue)
	for _, id := range ids {
		if err := p.createQueue(ctx, id); err != nil {
			return fmt.Errorf("create queue %s: %w", id, err)
		}
	}
	for _, id := range ids {
		if err := p.redrive(ctx, id); err != nil {
			return fmt.Errorf("redrive policy of queue %s: %w", id, err)
		}
	}
	return nil
}

func (p *provisioner) createQueue(ctx context.Context, id string) error {
	props := p.tmpl.Resources[id].Properties
	attrs := map[string]string{}
	for _, name := range queueAttributes {
		if v, ok := props[name]; ok {
			s, err := p.res.value(v)
			if err != nil {
				return fmt.Errorf("property %s: %w", name, err)
			}
			attrs[name] = s
		}
	}
	if p.visibility > 0 {
		attrs["VisibilityTimeout"] = strconv.Itoa(int(math.Ceil(p.visibility.Seconds())))
	}
	out, err := p.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(id), Attributes: attrs})
	if err != nil {
		return err
	}
	got, err := p.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       out.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return fmt.Errorf("queue arn: %w", err)
	}
	url := aws.ToString(out.QueueUrl)
	p.res.attrs[id] = map[string]string{
		"": url, "Arn": got.Attributes["QueueArn"], "QueueName": id, "QueueUrl": url,
	}
	return nil
}

func (p *provisioner) redrive(ctx context.Context, id string) error {
	policy, err := redrivePolicy(p.tmpl.Resources[id].Properties["RedrivePolicy"])
	if err != nil || policy == nil {
		return err
	}
	arn, err := p.res.value(policy["deadLetterTargetArn"])
	if err != nil {
		return fmt.Errorf("deadLetterTargetArn: %w", err)
	}
	maxReceive, err := p.res.value(policy["maxReceiveCount"])
	if err != nil {
		return fmt.Errorf("maxReceiveCount: %w", err)
	}
	dlq := p.queueByArn(arn)
	if dlq == "" {
		return fmt.Errorf("dead-letter queue %s: %w", arn, errUnknownRef)
	}
	p.deadLetters[id] = dlq
	doc := fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":%q}`, arn, maxReceive)
	_, err = p.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{
		QueueUrl:   aws.String(p.res.attrs[id][""]),
		Attributes: map[string]string{"RedrivePolicy": doc},
	})
	return err
}

// redrivePolicy accepts the policy as a mapping or as a JSON string.
func redrivePolicy(v any) (map[string]any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return x, nil
	case string:
		var m map[string]any
		if err := json.Unmarshal([]byte(x), &m); err != nil {
			return nil, err
		}
		return m, nil
	}
	return nil, fmt.Errorf("RedrivePolicy %v: want a mapping", v)
}

func (p *provisioner) queueByArn(arn string) string {
	for _, id := range p.tmpl.ofType(typeQueue) {
		if p.res.attrs[id]["Arn"] == arn {
			return id
		}
	}
	return ""
}

func (p *provisioner) tables(ctx context.Context) error {
	existing, err := p.listTables(ctx)
	if err != nil {
		return err
	}
	for _, id := range p.tmpl.ofType(typeTable) {
		p.res.attrs[id] = map[string]string{
			"": id, "Arn": "arn:aws:dynamodb:" + Region + ":" + AccountID + ":table/" + id,
		}
		in, err := tableInput(id, p.tmpl.Resources[id].Properties)
		if err != nil {
			return err
		}
		if slices.Contains(existing, id) {
			err = p.checkTable(ctx, in)
		} else {
			_, err = p.ddb.CreateTable(ctx, in)
		}
		if err == nil {
			err = p.waitActive(ctx, id)
		}
		if err != nil {
			return fmt.Errorf("table %s: %w", id, err)
		}
	}
	return nil
}

// waitActive polls a table until it is ACTIVE. dynalite, as DynamoDB, answers
// CreateTable with a CREATING table and activates it a moment later; until
// then every item operation on it fails with ResourceNotFoundException.
func (p *provisioner) waitActive(ctx context.Context, table string) error {
	for {
		out, err := p.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			return fmt.Errorf("describe: %w", err)
		}
		if out.Table.TableStatus == ddbtypes.TableStatusActive {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait until active (%s): %w", out.Table.TableStatus, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (p *provisioner) listTables(ctx context.Context) ([]string, error) {
	var names []string
	pages := dynamodb.NewListTablesPaginator(p.ddb, &dynamodb.ListTablesInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list tables: %w", err)
		}
		names = append(names, page.TableNames...)
	}
	return names, nil
}

// errSchemaChanged means a persisted table no longer matches the template.
var errSchemaChanged = errors.New("persisted table differs from the template; delete the data directory to recreate it")

// checkTable compares a persisted table's key schema and index names with
// the template's.
func (p *provisioner) checkTable(ctx context.Context, want *dynamodb.CreateTableInput) error {
	out, err := p.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: want.TableName})
	if err != nil {
		return fmt.Errorf("describe: %w", err)
	}
	got := out.Table
	if keyString(got.KeySchema) != keyString(want.KeySchema) {
		return fmt.Errorf("key schema %s, template %s: %w", keyString(got.KeySchema), keyString(want.KeySchema), errSchemaChanged)
	}
	var gotIdx, wantIdx []string
	for _, g := range got.GlobalSecondaryIndexes {
		gotIdx = append(gotIdx, aws.ToString(g.IndexName)+keyString(g.KeySchema))
	}
	for _, g := range want.GlobalSecondaryIndexes {
		wantIdx = append(wantIdx, aws.ToString(g.IndexName)+keyString(g.KeySchema))
	}
	slices.Sort(gotIdx)
	slices.Sort(wantIdx)
	if !slices.Equal(gotIdx, wantIdx) {
		return fmt.Errorf("global secondary indexes %v, template %v: %w", gotIdx, wantIdx, errSchemaChanged)
	}
	return nil
}

func keyString(ks []ddbtypes.KeySchemaElement) string {
	parts := make([]string, 0, len(ks))
	for _, k := range ks {
		parts = append(parts, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
	}
	return "(" + strings.Join(parts, ",") + ")"
}

// tableProperties are the AWS::DynamoDB::Table properties that shape a table
// locally; their CloudFormation names match the SDK input fields.
type tableProperties struct {
	AttributeDefinitions   []ddbtypes.AttributeDefinition
	KeySchema              []ddbtypes.KeySchemaElement
	GlobalSecondaryIndexes []ddbtypes.GlobalSecondaryIndex
	LocalSecondaryIndexes  []ddbtypes.LocalSecondaryIndex
	BillingMode            ddbtypes.BillingMode
	ProvisionedThroughput  *ddbtypes.ProvisionedThroughput
}

// tableInput builds the CreateTable call for a template table named by its
// logical id.
func tableInput(id string, props map[string]any) (*dynamodb.CreateTableInput, error) {
	var tp tableProperties
	if err := remarshal(props, &tp); err != nil {
		return nil, fmt.Errorf("table %s properties: %w", id, err)
	}
	if len(tp.KeySchema) == 0 {
		return nil, fmt.Errorf("table %s: no KeySchema", id)
	}
	return &dynamodb.CreateTableInput{
		TableName:              aws.String(id),
		AttributeDefinitions:   tp.AttributeDefinitions,
		KeySchema:              tp.KeySchema,
		GlobalSecondaryIndexes: tp.GlobalSecondaryIndexes,
		LocalSecondaryIndexes:  tp.LocalSecondaryIndexes,
		BillingMode:            tp.BillingMode,
		ProvisionedThroughput:  tp.ProvisionedThroughput,
	}, nil
}
