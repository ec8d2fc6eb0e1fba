package localstack

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/encoding/cbor"
)

// CloudWatch DescribeAlarms on the control plane (Smithy RPC v2 CBOR, as the
// SDK speaks it): the template's alarms, named as CloudFormation names them
// (<stack>-<logical id>), in the state the local stack can tell. An alarm on a
// queue's ApproximateNumberOfMessagesVisible is evaluated from the queue's
// depth now; the local stack measures nothing else (message ages, for one),
// so other alarms are INSUFFICIENT_DATA.

const typeAlarm = "AWS::CloudWatch::Alarm"

// localAlarm is one alarm of the template.
type localAlarm struct {
	name, namespace, metric, queueURL, operator string
	threshold                                   float64
}

func templateAlarms(tmpl *template, res *resolver) []localAlarm {
	var out []localAlarm
	for _, id := range tmpl.ofType(typeAlarm) {
		p := tmpl.Resources[id].Properties
		a := localAlarm{name: StackName + "-" + id}
		a.namespace, _ = p["Namespace"].(string)
		a.metric, _ = p["MetricName"].(string)
		a.operator, _ = p["ComparisonOperator"].(string)
		if v, err := res.value(p["Threshold"]); err == nil {
			a.threshold, _ = strconv.ParseFloat(v, 64)
		}
		dims, _ := p["Dimensions"].([]any)
		for _, d := range dims {
			if m, _ := d.(map[string]any); m["Name"] == "QueueName" {
				name, _ := res.value(m["Value"])
				for _, q := range tmpl.ofType(typeQueue) {
					if res.attrs[q]["QueueName"] == name {
						a.queueURL = res.attrs[q][""]
					}
				}
			}
		}
		out = append(out, a)
	}
	return out
}

// state evaluates an alarm now.
func (c *controlPlane) alarmState(ctx context.Context, a localAlarm) (string, string) {
	if a.namespace != "AWS/SQS" || a.metric != "ApproximateNumberOfMessagesVisible" || a.queueURL == "" || c.sqs == nil {
		return "INSUFFICIENT_DATA", "the local stack does not measure " + a.namespace + " " + a.metric
	}
	out, err := c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(a.queueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		return "INSUFFICIENT_DATA", "queue depth unknown: " + err.Error()
	}
	n, _ := strconv.ParseFloat(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)], 64)
	breach := n > a.threshold
	switch a.operator {
	case "GreaterThanOrEqualToThreshold":
		breach = n >= a.threshold
	case "LessThanThreshold":
		breach = n < a.threshold
	case "LessThanOrEqualToThreshold":
		breach = n <= a.threshold
	}
	reason := fmt.Sprintf("Threshold Crossed: the queue holds %v messages (%s %v)", n, a.operator, a.threshold)
	if breach {
		return "ALARM", reason
	}
	return "OK", fmt.Sprintf("the queue holds %v messages", n)
}

func (c *controlPlane) cloudWatch(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.URL.Path, "/service/GraniteServiceVersion20100801/operation/")
	if op != "DescribeAlarms" {
		cborError(w, http.StatusBadRequest, "InvalidAction", "the local stack serves DescribeAlarms only, not "+op)
		return
	}
	body, err := io.ReadAll(r.Body)
	in := cbor.Map{}
	if err == nil && len(body) > 0 {
		var v cbor.Value
		if v, err = cbor.Decode(body); err == nil {
			in, _ = v.(cbor.Map)
		}
	}
	if err != nil {
		cborError(w, http.StatusBadRequest, "InvalidParameterValue", err.Error())
		return
	}
	str := func(k string) string { s, _ := in[k].(cbor.String); return string(s) }
	prefix, stateValue := str("AlarmNamePrefix"), str("StateValue")
	alarms := cbor.List{}
	for _, a := range c.alarms {
		if !strings.HasPrefix(a.name, prefix) {
			continue
		}
		state, reason := c.alarmState(r.Context(), a)
		if stateValue != "" && state != stateValue {
			continue
		}
		alarms = append(alarms, cbor.Map{
			"AlarmName":          cbor.String(a.name),
			"AlarmArn":           cbor.String("arn:aws:cloudwatch:" + Region + ":" + AccountID + ":alarm:" + a.name),
			"StateValue":         cbor.String(state),
			"StateReason":        cbor.String(reason),
			"Namespace":          cbor.String(a.namespace),
			"MetricName":         cbor.String(a.metric),
			"ComparisonOperator": cbor.String(a.operator),
			"Threshold":          cbor.Float64(a.threshold),
		})
	}
	writeCBOR(w, http.StatusOK, cbor.Map{"MetricAlarms": alarms, "CompositeAlarms": cbor.List{}})
}

func writeCBOR(w http.ResponseWriter, status int, v cbor.Value) {
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.WriteHeader(status)
	w.Write(cbor.Encode(v))
}

func cborError(w http.ResponseWriter, status int, code, msg string) {
	writeCBOR(w, status, cbor.Map{"__type": cbor.String(code), "message": cbor.String(msg)})
}
