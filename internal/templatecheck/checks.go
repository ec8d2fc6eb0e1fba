package templatecheck

import (
	"fmt"
	"slices"
	"strings"
)

// Structure checks what CloudFormation and SAM need before anything else: the
// SAM transform, a type on every resource, and every Ref, GetAtt, Sub variable
// and condition naming something the template or AWS defines.
func (t *Template) Structure() []string {
	var problems []string
	if !slices.Contains(list(t.Doc["Transform"]), any("AWS::Serverless-2016-10-31")) {
		problems = append(problems, "the template does not declare Transform: AWS::Serverless-2016-10-31")
	}
	for _, id := range sortedKeys(asAny(t.Resources)) {
		if t.Resources[id].Type == "" {
			problems = append(problems, fmt.Sprintf("%s has no Type", id))
		}
	}
	check := func(where string, v any) {
		for _, r := range refs(v) {
			if !t.resolves(r) {
				name := r.name
				if r.attr != "" {
					name += "." + r.attr
				}
				problems = append(problems, fmt.Sprintf("%s: %s %s refers to nothing in the template", where, r.kind, name))
			}
		}
	}
	check("Globals", t.Doc["Globals"])
	check("Conditions", t.Conditions)
	check("Outputs", t.Doc["Outputs"])
	for _, id := range sortedKeys(asAny(t.Resources)) {
		check(id, t.Resources[id].Properties)
	}
	return problems
}

// Environment checks that every variable a function's code reads (reads:
// function → names) is set for that function from a resource or parameter of
// the template, and that the template sets no SEGPORT_* variable its code
// ignores. Variables in localOnly are read but never deployed.
func (t *Template) Environment(reads map[string][]string, localOnly []string) []string {
	var problems []string
	for _, fn := range t.Functions() {
		names, ok := reads[fn]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: its code was not found, so what it reads is unknown", fn))
			continue
		}
		env := t.FunctionEnv(fn)
		for _, name := range names {
			if slices.Contains(localOnly, name) {
				continue
			}
			v, ok := env[name]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s reads %s, which the template does not set", fn, name))
			case !t.namesResource(v):
				problems = append(problems, fmt.Sprintf("%s: %s is not set from a resource or parameter of the template", fn, name))
			}
		}
		for _, name := range sortedKeys(env) {
			if strings.HasPrefix(name, "SEGPORT_") && !slices.Contains(names, name) {
				problems = append(problems, fmt.Sprintf("%s: the template sets %s, which its code does not read", fn, name))
			}
		}
	}
	return problems
}

// SQSEventSources checks every SQS event source: it reads a queue of the
// template, reports partial batch failures, and the queue's visibility timeout
// covers the function's timeout (Lambda refuses the mapping otherwise).
func (t *Template) SQSEventSources() []string {
	var problems []string
	for _, fn := range t.Functions() {
		events, _ := t.Resources[fn].Properties["Events"].(map[string]any)
		for _, name := range sortedKeys(events) {
			if dig(events[name], "Type") != "SQS" {
				continue
			}
			where := fn + " event " + name
			props, _ := dig(events[name], "Properties").(map[string]any)
			if !slices.Contains(list(props["FunctionResponseTypes"]), any("ReportBatchItemFailures")) {
				problems = append(problems, where+" does not report batch item failures (FunctionResponseTypes: [ReportBatchItemFailures])")
			}
			q := t.refOfType(props["Queue"], typeQueue)
			if q == "" {
				problems = append(problems, where+" reads no queue of the template")
				continue
			}
			vis, _ := number(t.Resources[q].Properties["VisibilityTimeout"], 30)
			timeout, _ := number(t.functionProp(fn, "Timeout"), 3)
			if vis < timeout {
				problems = append(problems, fmt.Sprintf("%s: queue %s's visibility timeout %v s is shorter than the function's timeout %v s", where, q, vis, timeout))
			}
		}
	}
	return problems
}

// Queues checks every queue: server-side encryption, a dead-letter queue
// unless it is one, and a CloudWatch alarm on its depth (a dead-letter queue's
// visible messages; a source queue's visible messages or oldest message's age).
// A function's on-failure destination is a dead-letter queue of its events.
func (t *Template) Queues() []string {
	var problems []string
	dlqs := map[string]bool{}
	for _, id := range t.OfType(typeQueue) {
		if d := t.refOfType(dig(t.Resources[id].Properties, "RedrivePolicy", "deadLetterTargetArn"), typeQueue); d != "" {
			dlqs[d] = true
		}
	}
	for _, fn := range t.Functions() {
		dest := dig(t.functionProp(fn, "EventInvokeConfig"), "DestinationConfig", "OnFailure", "Destination")
		if d := t.refOfType(dest, typeQueue); d != "" {
			dlqs[d] = true
		}
	}
	for _, id := range t.OfType(typeQueue) {
		props := t.Resources[id].Properties
		if !isTrue(props["SqsManagedSseEnabled"]) && props["KmsMasterKeyId"] == nil {
			problems = append(problems, id+" is not encrypted (SqsManagedSseEnabled or KmsMasterKeyId)")
		}
		if !dlqs[id] {
			rp := props["RedrivePolicy"]
			if t.refOfType(dig(rp, "deadLetterTargetArn"), typeQueue) == "" {
				problems = append(problems, id+" has no dead-letter queue of the template (RedrivePolicy.deadLetterTargetArn)")
			} else if n, ok := number(dig(rp, "maxReceiveCount"), 0); ok && n < 1 || !ok && !t.namesResource(dig(rp, "maxReceiveCount")) {
				problems = append(problems, id+"'s RedrivePolicy has no maxReceiveCount")
			}
		}
		metrics := []string{"ApproximateNumberOfMessagesVisible"}
		if !dlqs[id] {
			metrics = append(metrics, "ApproximateAgeOfOldestMessage")
		}
		if !t.hasQueueAlarm(id, metrics) {
			problems = append(problems, fmt.Sprintf("%s has no CloudWatch alarm on %s", id, strings.Join(metrics, " or ")))
		}
	}
	return problems
}

func (t *Template) hasQueueAlarm(queue string, metrics []string) bool {
	for _, id := range t.OfType(typeAlarm) {
		p := t.Resources[id].Properties
		name, _ := p["MetricName"].(string)
		if p["Namespace"] != "AWS/SQS" || !slices.Contains(metrics, name) {
			continue
		}
		for _, d := range list(p["Dimensions"]) {
			if dig(d, "Name") == "QueueName" && refersTo(dig(d, "Value"), queue) {
				return true
			}
		}
	}
	return false
}

// Buckets checks every bucket: default encryption, the four public access
// blocks, and a bucket policy that denies requests without TLS.
func (t *Template) Buckets() []string {
	var problems []string
	for _, id := range t.OfType(typeBucket) {
		props := t.Resources[id].Properties
		encrypted := false
		for _, rule := range list(dig(props, "BucketEncryption", "ServerSideEncryptionConfiguration")) {
			if alg, _ := dig(rule, "ServerSideEncryptionByDefault", "SSEAlgorithm").(string); alg != "" {
				encrypted = true
			}
		}
		if !encrypted {
			problems = append(problems, id+" has no default encryption (BucketEncryption)")
		}
		for _, flag := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
			if !isTrue(dig(props, "PublicAccessBlockConfiguration", flag)) {
				problems = append(problems, fmt.Sprintf("%s does not set PublicAccessBlockConfiguration.%s", id, flag))
			}
		}
		if !t.deniesInsecureTransport(id) {
			problems = append(problems, id+" has no bucket policy denying s3:* on the bucket and its objects when aws:SecureTransport is false")
		}
	}
	return problems
}

// Expires checks that every bucket expires the objects under each prefix: an
// enabled lifecycle rule on the prefix with ExpirationInDays.
func (t *Template) Expires(prefixes ...string) []string {
	var problems []string
	for _, id := range t.OfType(typeBucket) {
		for _, prefix := range prefixes {
			expires := false
			for _, rule := range list(dig(t.Resources[id].Properties, "LifecycleConfiguration", "Rules")) {
				if dig(rule, "Status") == "Enabled" && dig(rule, "Prefix") == prefix && dig(rule, "ExpirationInDays") != nil {
					expires = true
				}
			}
			if !expires {
				problems = append(problems, fmt.Sprintf("%s keeps %s forever: no enabled lifecycle rule with ExpirationInDays on that prefix", id, prefix))
			}
		}
	}
	return problems
}

func (t *Template) deniesInsecureTransport(bucket string) bool {
	for _, pid := range t.OfType(typePolicy) {
		p := t.Resources[pid].Properties
		if !refersTo(p["Bucket"], bucket) {
			continue
		}
		for _, s := range list(dig(p, "PolicyDocument", "Statement")) {
			principal := dig(s, "Principal")
			if dig(s, "Effect") != "Deny" || !(principal == "*" || dig(principal, "AWS") == "*") ||
				!slices.Contains(list(dig(s, "Action")), any("s3:*")) {
				continue
			}
			if v := dig(s, "Condition", "Bool", "aws:SecureTransport"); v != false && v != "false" {
				continue
			}
			var bucketARN, objects bool
			for _, r := range list(dig(s, "Resource")) {
				if refersTo(r, bucket) || t.namesResource(r) {
					if strings.HasSuffix(render(r), "/*") {
						objects = true
					} else {
						bucketARN = true
					}
				}
			}
			if bucketARN && objects {
				return true
			}
		}
	}
	return false
}

// Tables checks every table for encryption at rest and point-in-time recovery.
func (t *Template) Tables() []string {
	var problems []string
	for _, id := range t.OfType(typeTable) {
		props := t.Resources[id].Properties
		if !isTrue(dig(props, "SSESpecification", "SSEEnabled")) {
			problems = append(problems, id+" does not enable SSESpecification.SSEEnabled")
		}
		if !isTrue(dig(props, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled")) {
			problems = append(problems, id+" does not enable point-in-time recovery")
		}
	}
	return problems
}

// Logs checks that every log group expires its logs and that every function
// logs to one of them: through LoggingConfig.LogGroup, or by a FunctionName
// whose /aws/lambda/<name> group the template creates.
func (t *Template) Logs() []string {
	var problems []string
	for _, id := range t.OfType(typeLogGroup) {
		if t.Resources[id].Properties["RetentionInDays"] == nil {
			problems = append(problems, id+" keeps its logs forever (no RetentionInDays)")
		}
	}
	for _, fn := range t.Functions() {
		if t.refOfType(dig(t.functionProp(fn, "LoggingConfig"), "LogGroup"), typeLogGroup) != "" {
			continue
		}
		if name := subFormat(t.Resources[fn].Properties["FunctionName"]); name != "" {
			found := false
			for _, id := range t.OfType(typeLogGroup) {
				found = found || subFormat(t.Resources[id].Properties["LogGroupName"]) == "/aws/lambda/"+name
			}
			if found {
				continue
			}
		}
		problems = append(problems, fn+" logs to no log group of the template (LoggingConfig.LogGroup, or FunctionName and /aws/lambda/<name>)")
	}
	return problems
}

// refOfType returns the logical id of the resource of type typ that v refers
// to with Ref or GetAtt, or "".
func (t *Template) refOfType(v any, typ string) string {
	for _, r := range refs(v) {
		if (r.kind == "Ref" || r.kind == "GetAtt") && t.Resources[r.name].Type == typ {
			return r.name
		}
	}
	return ""
}

// subFormat is a literal string, or a Sub's format string; "" otherwise.
func subFormat(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	s, _ := dig(v, "Fn::Sub").(string)
	return s
}

// number reads a YAML number (or numeric string); def when absent.
func number(v any, def float64) (float64, bool) {
	switch x := v.(type) {
	case nil:
		return def, true
	case int:
		return float64(x), true
	case float64:
		return x, true
	case string:
		var f float64
		_, err := fmt.Sscan(x, &f)
		return f, err == nil
	}
	return def, false
}

func asAny[V any](m map[string]V) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// maxRetention is SQS's longest message retention, 14 days.
const maxRetention = 1209600

// Safeguards checks what keeps data from being lost by accident or abuse: the
// tables and buckets are retained when the stack deletes or replaces them and
// the tables have deletion protection (set from a parameter); every queue keeps
// its messages 14 days; every HTTP API writes access logs and throttles.
func (t *Template) Safeguards() []string {
	var problems []string
	for _, typ := range []string{typeTable, typeBucket} {
		for _, id := range t.OfType(typ) {
			r := t.Resources[id]
			if r.DeletionPolicy != "Retain" || r.UpdateReplacePolicy != "Retain" {
				problems = append(problems, id+" is not retained: set DeletionPolicy and UpdateReplacePolicy to Retain")
			}
			if typ == typeTable && r.Properties["DeletionProtectionEnabled"] == nil {
				problems = append(problems, id+" sets no DeletionProtectionEnabled")
			}
		}
	}
	for _, id := range t.OfType(typeQueue) {
		if v := fmt.Sprint(t.Resources[id].Properties["MessageRetentionPeriod"]); v != fmt.Sprint(maxRetention) {
			problems = append(problems, fmt.Sprintf("%s keeps messages %s s, not 14 days (MessageRetentionPeriod %d)", id, v, maxRetention))
		}
	}
	for _, id := range t.OfType(typeRole) {
		for _, pol := range list(t.Resources[id].Properties["Policies"]) {
			for _, st := range conditionalStatements(list(dig(pol, "PolicyDocument", "Statement"))) {
				if dig(st, "Effect") != "Allow" || !slices.Contains(list(dig(st, "Action")), any("sts:AssumeRole")) {
					continue
				}
				if dig(st, "Condition", "StringEquals", "aws:ResourceAccount") == nil || dig(st, "Condition", "Null", "sts:ExternalId") != "false" {
					problems = append(problems, id+" may assume roles in any account or without an ExternalId: condition sts:AssumeRole on aws:ResourceAccount and a non-null sts:ExternalId")
				}
			}
		}
	}
	for _, id := range t.OfType(typeHttpApi) {
		props := t.Resources[id].Properties
		if dig(props, "AccessLogSettings", "DestinationArn") == nil || dig(props, "AccessLogSettings", "Format") == nil {
			problems = append(problems, id+" writes no access logs (AccessLogSettings)")
		}
		if dig(props, "DefaultRouteSettings", "ThrottlingRateLimit") == nil || dig(props, "DefaultRouteSettings", "ThrottlingBurstLimit") == nil {
			problems = append(problems, id+" does not throttle (DefaultRouteSettings.ThrottlingRateLimit, ThrottlingBurstLimit)")
		}
	}
	return problems
}
