package main

// The checks of segport doctor, each through the AWS APIs that a deployed
// stack and the local stack's control plane both serve.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/pkg/job"
)

// redeploy is the fix for a resource that differs from what the template made.
const redeploy = "deploy the template again (sam build && sam deploy), which restores it"

func (dr *doctor) outputs() finding {
	return finding{pass, "outputs", fmt.Sprintf("%d outputs, template version %s", len(dr.d.outputs), dr.d.outputs["TemplateVersion"]), ""}
}

// notification: uploads under imports/ (imports) and deletes/ (delete files)
// must reach the trigger.
func (dr *doctor) notification(ctx context.Context) finding {
	bucket, trigger := dr.d.outputs["BucketName"], dr.d.outputs["TriggerFunctionArn"]
	const name = "bucket notification"
	out, err := dr.s3.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String(bucket)})
	if err != nil {
		return finding{fail, name, fmt.Sprintf("cannot read the notification configuration of bucket %s: %v", bucket, err), "allow s3:GetBucketNotification, or check the bucket exists"}
	}
	var covered []string
	for _, want := range []string{importer.ImportsPrefix, importer.DeletesPrefix} {
		if !notifies(out.LambdaFunctionConfigurations, trigger, want) {
			return finding{fail, name, fmt.Sprintf("bucket %s sends no s3:ObjectCreated:* event under %s to the trigger %s: uploads there start no job", bucket, want, trigger), redeploy}
		}
		covered = append(covered, "s3://"+bucket+"/"+want+"*")
	}
	return finding{pass, name, strings.Join(covered, " and ") + " ObjectCreated events go to the trigger", ""}
}

// notifies reports whether one of configs sends the ObjectCreated events of
// keys under prefix to the function trigger (or one of its versions).
func notifies(configs []s3types.LambdaFunctionConfiguration, trigger, prefix string) bool {
	for _, c := range configs {
		fn := aws.ToString(c.LambdaFunctionArn)
		if fn != trigger && !strings.HasPrefix(fn, trigger+":") {
			continue
		}
		filter := ""
		if c.Filter != nil && c.Filter.Key != nil {
			for _, r := range c.Filter.Key.FilterRules {
				if strings.EqualFold(string(r.Name), "prefix") {
					filter = aws.ToString(r.Value)
				}
			}
		}
		if slices.Contains(c.Events, s3types.Event("s3:ObjectCreated:*")) && strings.HasPrefix(prefix, filter) {
			return true
		}
	}
	return false
}

// mappings: the parse and write queues must feed their functions, reporting
// batch item failures.
func (dr *doctor) mappings(ctx context.Context) []finding {
	var out []finding
	for _, m := range []struct{ fn, queue string }{{"Parser", "Parse"}, {"Writer", "Write"}} {
		name := strings.ToLower(m.queue) + " queue mapping"
		fnArn, queueArn := dr.d.outputs[m.fn+"FunctionArn"], dr.d.outputs[m.queue+"QueueArn"]
		res, err := dr.lambda.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{FunctionName: aws.String(fnArn), EventSourceArn: aws.String(queueArn)})
		if err != nil {
			out = append(out, finding{fail, name, fmt.Sprintf("cannot list the event-source mappings of %s: %v", fnArn, err), "allow lambda:ListEventSourceMappings"})
			continue
		}
		var found bool
		for _, esm := range res.EventSourceMappings {
			if aws.ToString(esm.EventSourceArn) != queueArn {
				continue
			}
			found = true
			uuid, state := aws.ToString(esm.UUID), aws.ToString(esm.State)
			switch {
			case state != "Enabled" && state != "Enabling" && state != "Updating":
				out = append(out, finding{fail, name, fmt.Sprintf("%s → %s is %s: its messages wait in the queue", queueArn, m.fn+"Function", state),
					"aws lambda update-event-source-mapping --uuid " + uuid + " --enabled"})
			case !slices.Contains(esm.FunctionResponseTypes, "ReportBatchItemFailures"):
				out = append(out, finding{fail, name, fmt.Sprintf("%s → %s does not report batch item failures: one failed message makes its whole batch come back", queueArn, m.fn+"Function"),
					"aws lambda update-event-source-mapping --uuid " + uuid + " --function-response-types ReportBatchItemFailures"})
			default:
				out = append(out, finding{pass, name, fmt.Sprintf("%s, with batch item failures", state), ""})
			}
		}
		if !found {
			out = append(out, finding{fail, name, fmt.Sprintf("no event-source mapping feeds %s to %s", queueArn, fnArn), redeploy})
		}
	}
	return out
}

// onFailure: S3 events the trigger fails must land in TriggerFailures.
func (dr *doctor) onFailure(ctx context.Context) finding {
	const name = "trigger on-failure destination"
	fn := dr.d.outputs["TriggerFunctionArn"]
	qa, err := dr.t.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(dr.d.outputs["TriggerFailuresUrl"]),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return finding{fail, name, fmt.Sprintf("cannot read the queue %s: %v", dr.d.outputs["TriggerFailuresUrl"], err), redeploy}
	}
	want := qa.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	cfg, err := dr.lambda.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String(fn)})
	var got string
	if err == nil && cfg.DestinationConfig != nil && cfg.DestinationConfig.OnFailure != nil {
		got = aws.ToString(cfg.DestinationConfig.OnFailure.Destination)
	}
	var ae smithy.APIError
	switch {
	case err != nil && !(errors.As(err, &ae) && ae.ErrorCode() == "ResourceNotFoundException"):
		return finding{fail, name, fmt.Sprintf("cannot read the event invoke configuration of %s: %v", fn, err), "allow lambda:GetFunctionEventInvokeConfig"}
	case got != want:
		return finding{fail, name, fmt.Sprintf("S3 events the trigger fails go to %q, not to the TriggerFailures queue %s: they are lost without a trace", got, want),
			"aws lambda put-function-event-invoke-config --function-name " + fn + " --destination-config OnFailure={Destination=" + want + "}, or " + redeploy}
	}
	return finding{pass, name, "failed S3 events go to the TriggerFailures queue", ""}
}

// queues: the depths of every queue; a message in a dead-letter queue or the
// trigger's failure queue is a failure of its own.
func (dr *doctor) queues(ctx context.Context) []finding {
	var out []finding
	for _, q := range dr.t.queues {
		visible, inFlight, err := depth(ctx, dr.t.sqs, q.url)
		if err != nil {
			out = append(out, finding{fail, q.name, fmt.Sprintf("cannot read %s: %v", q.url, err), redeploy})
			continue
		}
		detail := fmt.Sprintf("%d waiting, %d in flight", visible, inFlight)
		if !q.deadLetter || visible == 0 {
			out = append(out, finding{pass, q.name, detail, ""})
			continue
		}
		if age, ok := dr.oldest(ctx, q.url); ok {
			detail += fmt.Sprintf(", the oldest seen sent %s ago", age.Round(time.Second))
		}
		fix := "find the cause in the " + dr.logFor(q.name) + " (each line names its job, piece and batch), fix it, then segport dlq redrive" + dr.modeFlag()
		if q.name == "trigger failures" {
			fix = "the messages are the S3 events the trigger failed (aws sqs receive-message --queue-url " + q.url + "): find why in the " + dr.logFor(q.name) + ", then upload those files again"
		}
		out = append(out, finding{fail, q.name, detail, fix})
	}
	return out
}

func (dr *doctor) modeFlag() string {
	if dr.local {
		return " --data " + dr.t.dataDir
	}
	return " --aws --stack " + dr.d.stack
}

// logFor names the log of the function that fed a queue.
func (dr *doctor) logFor(queue string) string {
	fn := map[string]string{"parse DLQ": "Parser", "write DLQ": "Writer", "trigger failures": "Trigger"}[queue]
	if dr.local {
		return "local stack's log: " + dr.t.whereToLook("", nil)[0]
	}
	return strings.ToLower(fn) + "'s log group " + dr.d.outputs[fn+"LogGroupName"]
}

// oldest peeks at a few messages of a dead-letter queue for the oldest send
// time. Nothing consumes dead-letter messages but a redrive, so peeking is safe.
func (dr *doctor) oldest(ctx context.Context, url string) (time.Duration, bool) {
	out, err := dr.t.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 0,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameSentTimestamp},
	})
	if err != nil || len(out.Messages) == 0 {
		return 0, false
	}
	oldest := int64(0)
	for _, m := range out.Messages {
		// Visible again at once, whatever the queue makes of a zero timeout on receive.
		dr.t.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
		ms, _ := strconv.ParseInt(m.Attributes[string(sqstypes.MessageSystemAttributeNameSentTimestamp)], 10, 64)
		if ms > 0 && (oldest == 0 || ms < oldest) {
			oldest = ms
		}
	}
	if oldest == 0 {
		return 0, false
	}
	return dr.now().Sub(time.UnixMilli(oldest)), true
}

// stuckJobs: a job without progress for longer than the sweeper takes to end
// it (StallSeconds for each of MaxTries re-sends and the last settle, plus a
// sweep) means the sweeper does not run.
func (dr *doctor) stuckJobs(ctx context.Context) finding {
	const name = "running jobs"
	param := func(k string, def int) int {
		if n, err := strconv.Atoi(dr.d.params[k]); err == nil {
			return n
		}
		return def
	}
	limit := time.Duration(param("StallSeconds", 1800)*(param("MaxTries", 3)+1))*time.Second + time.Duration(param("SweepMinutes", 5))*time.Minute
	heads, err := dr.t.app.Store.Running(ctx)
	if err != nil {
		return finding{fail, name, fmt.Sprintf("cannot read the running jobs: %v", err), redeploy}
	}
	var stuck []string
	for _, h := range heads {
		if since := dr.now().Sub(h.Progressed); since > limit {
			stuck = append(stuck, fmt.Sprintf("%s (%s, no progress for %s)", h.Job.Id, h.Job.JobStatus, since.Round(time.Minute)))
		}
	}
	if len(stuck) > 0 {
		return finding{fail, name, fmt.Sprintf("%d of %d running jobs made no progress for longer than the sweeper's limit (%s): %s", len(stuck), len(heads), limit, strings.Join(stuck, ", ")),
			"the sweeper does not run: look at the SweeperFunction's schedule and log (/aws/lambda/" + dr.d.stack + "-SweeperFunction), then segport jobs get ID" + dr.modeFlag()}
	}
	return finding{pass, name, fmt.Sprintf("%d running, none without progress beyond the sweeper's limit (%s)", len(heads), limit), ""}
}

// tables: every table ACTIVE with point-in-time recovery; deletion
// protection is reported (the template turns it on unless TableDeletionProtection is false).
func (dr *doctor) tables(ctx context.Context) finding {
	const name = "tables"
	names := []string{"EndpointsTableName", "UsersTableName", "SegmentsTableName", "MembersTableName", "JobsTableName", "RegistryTableName"}
	var problems, unprotected []string
	pitrSkipped := false
	for _, k := range names {
		table := dr.d.outputs[k]
		out, err := dr.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", table, err))
			continue
		}
		if st := out.Table.TableStatus; st != ddbtypes.TableStatusActive {
			problems = append(problems, fmt.Sprintf("%s is %s", table, st))
		}
		if !aws.ToBool(out.Table.DeletionProtectionEnabled) {
			unprotected = append(unprotected, table)
		}
		pitr, err := dr.ddb.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(table)})
		var ae smithy.APIError
		switch {
		case errors.As(err, &ae) && strings.Contains(ae.ErrorCode(), "UnknownOperation"):
			pitrSkipped = true // dynalite has no backups
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: point-in-time recovery unknown: %v", table, err))
		case pitr.ContinuousBackupsDescription == nil || pitr.ContinuousBackupsDescription.PointInTimeRecoveryDescription == nil ||
			pitr.ContinuousBackupsDescription.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus != ddbtypes.PointInTimeRecoveryStatusEnabled:
			problems = append(problems, table+" has no point-in-time recovery")
		}
	}
	if len(problems) > 0 {
		return finding{fail, name, strings.Join(problems, "; "), redeploy}
	}
	detail := fmt.Sprintf("%d ACTIVE", len(names))
	if pitrSkipped {
		detail += "; point-in-time recovery is not emulated here"
	} else {
		detail += ", with point-in-time recovery"
	}
	if len(unprotected) > 0 {
		return finding{warn, name, fmt.Sprintf("%s; deletion protection is off on %d of them (the template turns it on unless TableDeletionProtection=false)", detail, len(unprotected)),
			"to keep the data from a stray delete: aws dynamodb update-table --deletion-protection-enabled --table-name " + unprotected[0] + " (and the others); turn it off again before sam delete"}
	}
	return finding{pass, name, detail + ", deletion protection on", ""}
}

// alarms: the stack's alarms in ALARM.
func (dr *doctor) alarms(ctx context.Context) finding {
	const name = "alarms"
	var firing []string
	p := cloudwatch.NewDescribeAlarmsPaginator(dr.cw, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String(dr.d.stack + "-"), StateValue: cwtypes.StateValueAlarm})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return finding{fail, name, fmt.Sprintf("cannot read the alarms: %v", err), "allow cloudwatch:DescribeAlarms"}
		}
		for _, a := range page.MetricAlarms {
			firing = append(firing, fmt.Sprintf("%s (%s)", aws.ToString(a.AlarmName), aws.ToString(a.StateReason)))
		}
	}
	if len(firing) > 0 {
		return finding{fail, name, fmt.Sprintf("%d in ALARM: %s", len(firing), strings.Join(firing, "; ")), "see the queue checks above and the functions' log groups"}
	}
	return finding{pass, name, "none in ALARM", ""}
}

// probe imports a generated 10-row file into a segment of its own and
// follows it to COMPLETED, then deletes the uploaded file.
func (dr *doctor) probe(ctx context.Context) finding {
	const name = "probe import"
	id := newJobId()
	seg := "segport-doctor-" + id[:8]
	var b strings.Builder
	b.WriteString("Id,ChannelType,Address\n")
	for i := range 10 {
		fmt.Fprintf(&b, "%s-%d,EMAIL,probe%d@example.com\n", seg, i, i)
	}
	key := importer.ImportsPrefix + seg + "/probe.csv"
	bucket := dr.d.outputs["BucketName"]
	if err := dr.t.app.Objects.Put(ctx, bucket, key, strings.NewReader(b.String()), "text/csv", map[string]string{importer.MetaJobId: id}); err != nil {
		return finding{fail, name, fmt.Sprintf("cannot upload s3://%s/%s: %v", bucket, key, err), "allow s3:PutObject on the bucket"}
	}
	start := time.Now()
	jobs, err := waitJobs(ctx, dr.t, []started{{id: id, source: "s3://" + bucket + "/" + key, uploaded: true}}, start, start.Add(5*time.Minute), io.Discard)
	if err != nil {
		return finding{fail, name, err.Error(), "see the checks above"}
	}
	j := jobs[0]
	if _, err := dr.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		return finding{warn, name, fmt.Sprintf("job %s %s, but its file stays: %v", j.Id, j.JobStatus, err), "aws s3 rm 's3://" + bucket + "/" + key + "'"}
	}
	if j.JobStatus != job.Completed || j.TotalProcessed != 10 {
		return finding{fail, name, fmt.Sprintf("job %s ended %s with %d of 10 endpoints written: %s", j.Id, j.JobStatus, j.TotalProcessed, strings.Join(j.Failures, "; ")),
			"segport jobs get " + j.Id + dr.modeFlag()}
	}
	return finding{pass, name, fmt.Sprintf("job %s COMPLETED 10 endpoints in %s into segment %s (its file deleted; the segment stays: segport cannot delete segments yet)",
		j.Id, time.Since(start).Round(time.Second), seg), ""}
}

// emptyPayloadHash is the SHA-256 of an empty body, which SigV4 signs.
const emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// api: the ApiUrl output answers a signed GET of the segment list, as other
// services will call it.
func (dr *doctor) api(ctx context.Context) finding {
	const name = "query API"
	base := dr.d.outputs["ApiUrl"]
	if dr.local && !dr.t.rt.Attached {
		return finding{warn, name, "not checked: the local query API runs only under segport dev, which records its URL as the ApiUrl output", "start segport dev --data " + dr.t.dataDir + " and run doctor again"}
	}
	url := strings.TrimSuffix(base, "/") + "/v1/segments?PageSize=1"
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return finding{fail, name, fmt.Sprintf("ApiUrl %q is not a URL: %v", base, err), redeploy}
	}
	creds, err := dr.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return finding{fail, name, fmt.Sprintf("no credentials to sign with: %v", err), "configure AWS credentials"}
	}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, emptyPayloadHash, "execute-api", dr.cfg.Region, dr.now()); err != nil {
		return finding{fail, name, fmt.Sprintf("sign the request: %v", err), ""}
	}
	res, err := http.DefaultClient.Do(req)
	if err == nil {
		res.Body.Close()
	}
	switch {
	case err == nil && res.StatusCode == http.StatusOK:
		return finding{pass, name, base + " answers GET /v1/segments", ""}
	case err != nil:
		return finding{fail, name, fmt.Sprintf("%s does not answer: %v", base, err), "see the ApiFunction's log (/aws/lambda/" + dr.d.stack + "-ApiFunction); " + redeploy}
	default:
		return finding{fail, name, fmt.Sprintf("GET %s answered %s", url, res.Status), "403: your identity needs execute-api:Invoke on the API; otherwise see the ApiFunction's log (/aws/lambda/" + dr.d.stack + "-ApiFunction)"}
	}
}
