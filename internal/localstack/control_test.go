package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
)

// TestControlPlane: the SDK's CloudFormation, Lambda and S3 clients read the
// stack as they read a deployed one, and a disabled mapping or an emptied
// notification configuration stops what it drives.
func TestControlPlane(t *testing.T) {
	var invoked atomic.Int32
	var created atomic.Int32
	s := startStack(t, Options{
		Invokers: map[string]Invoker{"TriggerFunction": func(ctx context.Context, p json.RawMessage) (any, error) {
			invoked.Add(1)
			if strings.Contains(string(p), "fail") {
				return nil, errors.New("no such prefix")
			}
			return map[string]string{"Id": "job1"}, nil
		}},
		OnObjectCreated: func(context.Context, events.S3Event) error { created.Add(1); return nil },
	})
	ctx := testContext(t)
	cfg := s.AWSConfig()

	// CloudFormation: the outputs, resolved locally.
	cfn := cloudformation.NewFromConfig(cfg)
	out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(StackName)})
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	for k, want := range map[string]string{
		"BucketName": s.Bucket, "ParseQueueUrl": s.Resources["ParseQueue"], "JobsTableName": s.Resources["JobsTable"],
		"TriggerFunctionArn":  "arn:aws:lambda:us-east-1:000000000000:function:TriggerFunction",
		"TriggerLogGroupName": "/aws/lambda/segport-TriggerFunction",
	} {
		if outputs[k] != want {
			t.Errorf("output %s = %q, want %q", k, outputs[k], want)
		}
	}
	if len(out.Stacks[0].Parameters) == 0 || out.Stacks[0].StackStatus != "CREATE_COMPLETE" {
		t.Errorf("stack %+v", out.Stacks[0])
	}
	_, err = cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("other")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationError" || !strings.Contains(ae.ErrorMessage(), "other does not exist") {
		t.Errorf("describe another stack: %v", err)
	}

	// Lambda: mappings, the trigger's on-failure destination, Invoke.
	lc := lambda.NewFromConfig(cfg)
	esm, err := lc.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{FunctionName: aws.String(outputs["WriterFunctionArn"])})
	if err != nil || len(esm.EventSourceMappings) != 1 {
		t.Fatalf("writer mappings %+v, %v", esm, err)
	}
	m := esm.EventSourceMappings[0]
	if aws.ToString(m.EventSourceArn) != outputs["WriteQueueArn"] || aws.ToString(m.State) != "Enabled" || len(m.FunctionResponseTypes) != 1 {
		t.Errorf("writer mapping %+v", m)
	}
	ic, err := lc.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String(outputs["TriggerFunctionArn"])})
	if err != nil || ic.DestinationConfig == nil || !strings.HasSuffix(aws.ToString(ic.DestinationConfig.OnFailure.Destination), ":TriggerFailures") {
		t.Errorf("trigger invoke config %+v, %v", ic, err)
	}
	res, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(outputs["TriggerFunctionArn"]), Payload: []byte(`{}`)})
	if err != nil || res.FunctionError != nil || string(res.Payload) != `{"Id":"job1"}` {
		t.Errorf("invoke: %+v, %v", res, err)
	}
	res, err = lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("TriggerFunction"), Payload: []byte(`"fail"`)})
	if err != nil || aws.ToString(res.FunctionError) != "Unhandled" || !strings.Contains(string(res.Payload), "no such prefix") {
		t.Errorf("failed invoke: %+v, %v", res, err)
	}

	// CloudWatch: the template's alarms, a DLQ alarm firing with a message in its queue.
	cw := cloudwatch.NewFromConfig(cfg)
	firing := func() []string {
		t.Helper()
		out, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String(StackName + "-"), StateValue: cwtypes.StateValueAlarm})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, a := range out.MetricAlarms {
			names = append(names, aws.ToString(a.AlarmName))
		}
		return names
	}
	all, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{})
	if err != nil || len(all.MetricAlarms) != 5 || len(firing()) != 0 {
		t.Fatalf("alarms %+v, %v; firing %v", all, err, firing())
	}
	sendBodies(ctx, t, s, s.Resources["ParseDLQ"], "dead")
	if got := firing(); len(got) != 1 || got[0] != "segport-ParseDLQAlarm" {
		t.Errorf("firing with a parse DLQ message: %v", got)
	}

	// A disabled mapping delivers nothing until enabled again.
	var got atomic.Int32
	if _, err := s.StartMapping(ctx, Mapping{QueueURL: s.Resources["WriteQueue"], Handler: func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		got.Add(1)
		return events.SQSEventResponse{}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: m.UUID, Enabled: aws.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	sendBodies(ctx, t, s, s.Resources["WriteQueue"], "one")
	time.Sleep(2 * time.Second)
	if got.Load() != 0 {
		t.Fatalf("a disabled mapping delivered %d batches", got.Load())
	}
	got2, _ := lc.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: m.UUID})
	if aws.ToString(got2.State) != "Disabled" {
		t.Errorf("state after disabling: %+v", got2)
	}
	lc.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: m.UUID, Enabled: aws.Bool(true)})
	for deadline := time.Now().Add(10 * time.Second); got.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	if got.Load() == 0 {
		t.Error("the enabled mapping delivered nothing")
	}

	// S3: the notification configuration is the template's, and emptying it
	// stops the events.
	s3c := s.S3Client()
	nc, err := s3c.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String(s.Bucket)})
	if err != nil || len(nc.LambdaFunctionConfigurations) != 2 {
		t.Fatalf("notification configuration %+v, %v", nc, err)
	}
	prefixes := map[string]bool{}
	for _, lf := range nc.LambdaFunctionConfigurations {
		if aws.ToString(lf.LambdaFunctionArn) != outputs["TriggerFunctionArn"] || len(lf.Events) != 1 || lf.Events[0] != "s3:ObjectCreated:*" {
			t.Errorf("notification to %s, events %v, filter %s: want ObjectCreated to %s", aws.ToString(lf.LambdaFunctionArn), lf.Events, filterRules(lf.Filter), outputs["TriggerFunctionArn"])
		}
		prefixes[filterRules(lf.Filter)] = true
	}
	if !prefixes["Prefix=imports/"] || !prefixes["Prefix=deletes/"] {
		t.Errorf("notifications under %v, want imports/ and deletes/", prefixes)
	}
	put := func(key string) {
		t.Helper()
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
		if err := s.Idle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	put("imports/a/1.csv")
	if created.Load() != 1 {
		t.Fatalf("%d events for one upload", created.Load())
	}
	if _, err := s3c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: aws.String(s.Bucket), NotificationConfiguration: &s3types.NotificationConfiguration{}}); err != nil {
		t.Fatal(err)
	}
	put("imports/a/2.csv")
	if created.Load() != 1 {
		t.Errorf("an upload without notification configuration made an event")
	}
	if _, err := s3c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: aws.String(s.Bucket), NotificationConfiguration: &s3types.NotificationConfiguration{
			LambdaFunctionConfigurations: nc.LambdaFunctionConfigurations}}); err != nil {
		t.Fatal(err)
	}
	put("imports/a/3.csv")
	if created.Load() != 2 {
		t.Errorf("the restored configuration made %d events in all, want 2", created.Load())
	}
}

// TestFailedS3EventGoesToItsDestination: an S3 event the trigger fails on
// every attempt lands in the trigger's on-failure destination, in Lambda's
// destination record, as on AWS.
func TestFailedS3EventGoesToItsDestination(t *testing.T) {
	s := startStack(t, Options{OnObjectCreated: func(context.Context, events.S3Event) error { return errors.New("trigger broken") }})
	ctx := testContext(t)
	if _, err := s.S3Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String("imports/a/x y.csv"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := s.SQSClient().ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(s.Resources["TriggerFailures"])})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("trigger failures: %+v, %v", out, err)
	}
	var rec struct {
		RequestContext struct {
			Condition              string
			ApproximateInvokeCount int
		}
		RequestPayload  events.S3Event
		ResponsePayload struct{ ErrorMessage string }
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.Messages[0].Body)), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.RequestContext.Condition != "RetriesExhausted" || rec.RequestContext.ApproximateInvokeCount != 3 ||
		rec.RequestPayload.Records[0].S3.Object.Key != "imports/a/x+y.csv" || rec.ResponsePayload.ErrorMessage != "trigger broken" {
		t.Errorf("record %+v", rec)
	}
}

// filterRules shows a notification's key filter, for messages.
func filterRules(f *s3types.NotificationConfigurationFilter) string {
	if f == nil || f.Key == nil {
		return "none"
	}
	var rules []string
	for _, r := range f.Key.FilterRules {
		rules = append(rules, string(r.Name)+"="+aws.ToString(r.Value))
	}
	return strings.Join(rules, ",")
}
