package templatecheck

import (
	"fmt"
	"sort"
	"strings"
)

// Grant is one statement of a function's execution role: what it allows, on
// what, and where it comes from.
type Grant struct {
	Source    string // the role's policy, a SAM policy template, or an AWS managed policy SAM attaches
	Actions   []string
	Resources []string // as the template writes them: TableName, Queue.Arn, a Sub's format
	// Generated marks statements SAM or AWS write (policy templates, managed
	// policies), whose action wildcards are theirs.
	Generated bool
}

func (g Grant) String() string {
	return fmt.Sprintf("%s on %s (%s)", strings.Join(g.Actions, ", "), strings.Join(g.Resources, ", "), g.Source)
}

// samTemplate is a SAM policy template: the actions it grants and the
// parameter naming its resource.
type samTemplate struct {
	param   string
	actions []string
}

// samTemplates are the SAM policy templates the checks understand (from SAM's
// policy_templates.json). A template using another one fails the IAM check
// until it is added here, so its actions are reviewed once.
var samTemplates = map[string]samTemplate{
	"S3ReadPolicy":  {"BucketName", []string{"s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObjectVersion", "s3:GetLifecycleConfiguration"}},
	"S3WritePolicy": {"BucketName", []string{"s3:PutObject", "s3:PutObjectAcl", "s3:PutLifecycleConfiguration"}},
	"S3CrudPolicy": {"BucketName", []string{"s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObjectVersion",
		"s3:PutObject", "s3:PutObjectAcl", "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration", "s3:DeleteObject"}},
	"DynamoDBReadPolicy":  {"TableName", []string{"dynamodb:GetItem", "dynamodb:Scan", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:DescribeTable"}},
	"DynamoDBWritePolicy": {"TableName", []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"}},
	"DynamoDBCrudPolicy": {"TableName", []string{"dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:Query",
		"dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem", "dynamodb:DescribeTable", "dynamodb:ConditionCheckItem"}},
	"SQSSendMessagePolicy": {"QueueName", []string{"sqs:SendMessage*"}},
	"SQSPollerPolicy": {"QueueName", []string{"sqs:ChangeMessageVisibility", "sqs:ChangeMessageVisibilityBatch", "sqs:DeleteMessage",
		"sqs:DeleteMessageBatch", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"}},
	"LambdaInvokePolicy": {"FunctionName", []string{"lambda:InvokeFunction"}},
}

// Managed policies SAM attaches to the roles it generates.
var (
	basicExecution = Grant{Source: "AWS managed AWSLambdaBasicExecutionRole (SAM adds it)", Generated: true,
		Actions: []string{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}, Resources: []string{"*"}}
	sqsExecution = Grant{Source: "AWS managed AWSLambdaSQSQueueExecutionRole (SAM adds it for an SQS event)", Generated: true,
		Actions: []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}, Resources: []string{"*"}}
)

// Actions IAM cannot scope to a resource, so "*" is their only resource; and
// the basic execution role's, which writes logs only.
var unscoped = map[string]bool{
	"cloudwatch:PutMetricData": true, "xray:PutTraceSegments": true, "xray:PutTelemetryRecords": true,
}

// Permissions lists what a function's execution role allows, and the problems
// met reading it.
func (t *Template) Permissions(fn string) ([]Grant, []string) {
	var grants []Grant
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s: ", fn)+fmt.Sprintf(format, args...))
	}
	if role := t.functionProp(fn, "Role"); role != nil {
		id := ""
		for _, r := range refs(role) {
			if t.Resources[r.name].Type == typeRole {
				id = r.name
			}
		}
		if id == "" {
			bad("its Role is not a role of this template, so its permissions cannot be checked")
			return nil, problems
		}
		if t.Resources[fn].Properties["Policies"] != nil {
			bad("it has both Role and Policies; SAM ignores Policies then")
		}
		return t.rolePermissions(fn, id)
	}
	grants = append(grants, basicExecution)
	events, _ := t.Resources[fn].Properties["Events"].(map[string]any)
	for _, name := range sortedKeys(events) {
		if dig(events[name], "Type") == "SQS" {
			grants = append(grants, sqsExecution)
			break
		}
	}
	for i, p := range list(t.functionProp(fn, "Policies")) {
		switch x := p.(type) {
		case string:
			bad("Policies[%d] attaches the managed policy %s, whose statements the template does not show", i, x)
		case map[string]any:
			if _, ok := x["Statement"]; ok {
				grants = append(grants, t.statements(fmt.Sprintf("Policies[%d]", i), x)...)
				continue
			}
			if len(x) != 1 {
				bad("Policies[%d] is neither a policy document nor one SAM policy template", i)
				continue
			}
			for name, arg := range x {
				st, ok := samTemplates[name]
				if !ok {
					bad("Policies[%d] uses the SAM policy template %s, which the checks do not know: add it to samTemplates", i, name)
					continue
				}
				target := dig(arg, st.param)
				if !t.namesResource(target) {
					bad("Policies[%d] %s: %s names no resource of the template", i, name, st.param)
				}
				grants = append(grants, Grant{Source: "SAM policy template " + name, Generated: true,
					Actions: st.actions, Resources: []string{render(target)}})
			}
		default:
			bad("Policies[%d] is not understood", i)
		}
	}
	return grants, problems
}

// rolePermissions reads an IAM role of the template: its inline policies, the
// policies attached to it in the template, and its managed policies.
func (t *Template) rolePermissions(fn, id string) ([]Grant, []string) {
	var grants []Grant
	var problems []string
	props := t.Resources[id].Properties
	for _, arn := range list(props["ManagedPolicyArns"]) {
		problems = append(problems, fmt.Sprintf("%s: role %s attaches the managed policy %s, whose statements the template does not show", fn, id, render(arn)))
	}
	for _, p := range list(props["Policies"]) {
		name, _ := dig(p, "PolicyName").(string)
		doc, _ := dig(p, "PolicyDocument").(map[string]any)
		grants = append(grants, t.statements(id+" policy "+name, doc)...)
	}
	for _, pid := range append(t.OfType(typeIAMPolicy), t.OfType(typeManagedPol)...) {
		pp := t.Resources[pid].Properties
		for _, r := range list(pp["Roles"]) {
			if refersTo(r, id) {
				doc, _ := pp["PolicyDocument"].(map[string]any)
				grants = append(grants, t.statements(pid, doc)...)
			}
		}
	}
	return grants, problems
}

// statements reads the Allow statements of a policy document. A Deny or a
// statement IAM would refuse is kept as written so that IAM() reports it.
func (t *Template) statements(source string, doc map[string]any) []Grant {
	return t.statementsOf(source, doc, false)
}

// statementsOf reads a policy document's Allow statements, or its Deny ones.
func (t *Template) statementsOf(source string, doc map[string]any, deny bool) []Grant {
	var out []Grant
	for i, s := range conditionalStatements(list(doc["Statement"])) {
		if (dig(s, "Effect") == "Deny") != deny {
			continue
		}
		g := Grant{Source: fmt.Sprintf("%s statement %d", source, i)}
		if sid, ok := dig(s, "Sid").(string); ok {
			g.Source = source + " " + sid
		}
		for _, a := range list(dig(s, "Action")) {
			g.Actions = append(g.Actions, render(a))
		}
		if dig(s, "NotAction") != nil {
			g.Actions = append(g.Actions, "NotAction")
		}
		for _, r := range list(dig(s, "Resource")) {
			g.Resources = append(g.Resources, render(r))
		}
		if dig(s, "NotResource") != nil {
			g.Resources = append(g.Resources, "NotResource")
		}
		out = append(out, g)
	}
	return out
}

// conditionalStatements expands a statement given as Fn::If into both its
// branches (AWS::NoValue is none), so that each is checked as if it applied.
func conditionalStatements(stmts []any) []any {
	var out []any
	for _, s := range stmts {
		branches, ok := dig(s, "Fn::If").([]any)
		if !ok || len(branches) != 3 {
			out = append(out, s)
			continue
		}
		for _, b := range branches[1:] {
			if dig(b, "Ref") != "AWS::NoValue" {
				out = append(out, conditionalStatements([]any{b})...)
			}
		}
	}
	return out
}

// IAM checks every function's permissions: each statement names its resources,
// no resource is a bare wildcard (except for the few actions IAM cannot scope,
// and the basic execution role's logs), and no action has a wildcard that SAM
// did not generate.
func (t *Template) IAM() []string {
	var problems []string
	for _, fn := range t.Functions() {
		grants, ps := t.Permissions(fn)
		problems = append(problems, ps...)
		for _, g := range grants {
			if len(g.Resources) == 0 {
				problems = append(problems, fmt.Sprintf("%s: %s names no resource", fn, g.Source))
			}
			for _, r := range g.Resources {
				if r == "NotResource" {
					problems = append(problems, fmt.Sprintf("%s: %s uses NotResource", fn, g.Source))
				}
				if wildcardResource(r) && !allUnscoped(g) {
					problems = append(problems, fmt.Sprintf("%s: %s allows %s on every resource (%s)", fn, g.Source, strings.Join(g.Actions, ", "), r))
				}
			}
			for _, a := range g.Actions {
				if a == "NotAction" || (strings.Contains(a, "*") && !g.Generated) {
					problems = append(problems, fmt.Sprintf("%s: %s grants %s: name the actions", fn, g.Source, a))
				}
			}
		}
	}
	return problems
}

func allUnscoped(g Grant) bool {
	if g.Source == basicExecution.Source {
		return true // log delivery only
	}
	for _, a := range g.Actions {
		if !unscoped[a] {
			return false
		}
	}
	return true
}

// wildcardResource reports a resource that names no particular resource: "*",
// or an ARN whose resource part is only a wildcard (arn:aws:s3:::*,
// arn:aws:dynamodb:r:a:table/*). A bucket's objects (bucket/*) are particular.
func wildcardResource(r string) bool {
	if r == "*" {
		return true
	}
	parts := strings.SplitN(subVar.ReplaceAllString(r, "v"), ":", 6)
	if len(parts) < 6 {
		return false
	}
	res := parts[5]
	if res == "*" || res == "*/*" {
		return true
	}
	typ, rest, ok := strings.Cut(res, "/")
	return ok && parts[2] != "s3" && typ != "" && strings.Trim(rest, "*/") == ""
}

// render writes a template value as the template reads: Ref X as X, GetAtt X.A
// as X.A, a Sub as its format with pseudo parameters kept.
func render(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if len(x) == 1 {
			for fn, arg := range x {
				switch fn {
				case "Ref":
					return fmt.Sprint(arg)
				case "Fn::GetAtt":
					if parts, ok := arg.([]any); ok && len(parts) == 2 {
						return fmt.Sprintf("%v.%v", parts[0], parts[1])
					}
				case "Fn::Sub":
					if parts, ok := arg.([]any); ok && len(parts) > 0 {
						arg = parts[0]
					}
					return fmt.Sprint(arg)
				}
			}
		}
	}
	return fmt.Sprint(v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
