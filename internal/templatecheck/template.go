// Package templatecheck checks segport's SAM template against the rules a
// deployment must keep: every reference resolves, the functions' environment
// comes from the template's resources and parameters, SQS event sources report
// partial batch failures, queues have dead-letter queues, encryption and alarms,
// IAM names its resources, the bucket and tables are locked down and logs expire.
// Each check returns the problems it found, one sentence each; none means it passed.
package templatecheck

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/segport/segport/internal/localstack"
)

// Resource types the checks know.
const (
	typeFunction   = "AWS::Serverless::Function"
	typeQueue      = "AWS::SQS::Queue"
	typeTable      = "AWS::DynamoDB::Table"
	typeBucket     = "AWS::S3::Bucket"
	typeHttpApi    = "AWS::Serverless::HttpApi"
	typePolicy     = "AWS::S3::BucketPolicy"
	typeAlarm      = "AWS::CloudWatch::Alarm"
	typeLogGroup   = "AWS::Logs::LogGroup"
	typeRole       = "AWS::IAM::Role"
	typeIAMPolicy  = "AWS::IAM::Policy"
	typeManagedPol = "AWS::IAM::ManagedPolicy"
)

// Template is a parsed SAM template.
type Template struct {
	Doc        map[string]any
	Parameters map[string]any
	Conditions map[string]any
	Resources  map[string]Resource
	// GlobalFunction is Globals.Function.
	GlobalFunction map[string]any
}

// Resource is one entry of Resources.
type Resource struct {
	Type       string
	Properties map[string]any
	Metadata   map[string]any
	// DeletionPolicy and UpdateReplacePolicy are the resource's own attributes.
	DeletionPolicy, UpdateReplacePolicy string
}

// Parse reads a template; intrinsics come in their long form whatever the
// template's syntax (internal/localstack's reader, the one the local stack uses).
func Parse(data []byte) (*Template, error) {
	doc, err := localstack.ParseDocument(data)
	if err != nil {
		return nil, err
	}
	t := &Template{Doc: doc, Resources: map[string]Resource{}}
	t.Parameters, _ = doc["Parameters"].(map[string]any)
	t.Conditions, _ = doc["Conditions"].(map[string]any)
	t.GlobalFunction, _ = dig(doc, "Globals", "Function").(map[string]any)
	res, ok := doc["Resources"].(map[string]any)
	if !ok || len(res) == 0 {
		return nil, fmt.Errorf("parse template: no Resources")
	}
	for id, v := range res {
		m, _ := v.(map[string]any)
		r := Resource{}
		r.Type, _ = m["Type"].(string)
		r.Properties, _ = m["Properties"].(map[string]any)
		r.Metadata, _ = m["Metadata"].(map[string]any)
		r.DeletionPolicy, _ = m["DeletionPolicy"].(string)
		r.UpdateReplacePolicy, _ = m["UpdateReplacePolicy"].(string)
		if r.Properties == nil {
			r.Properties = map[string]any{}
		}
		t.Resources[id] = r
	}
	return t, nil
}

// OfType returns the logical ids of one type, sorted.
func (t *Template) OfType(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Functions returns the serverless functions' logical ids, sorted.
func (t *Template) Functions() []string { return t.OfType(typeFunction) }

// FunctionEnv is a function's environment: Globals' variables merged with its own.
func (t *Template) FunctionEnv(fn string) map[string]any {
	out := map[string]any{}
	for _, src := range []any{t.GlobalFunction, t.Resources[fn].Properties} {
		vars, _ := dig(src, "Environment", "Variables").(map[string]any)
		for k, v := range vars {
			out[k] = v
		}
	}
	return out
}

// functionProp is a function property, or the Globals' when the function has none.
func (t *Template) functionProp(fn, name string) any {
	if v, ok := t.Resources[fn].Properties[name]; ok {
		return v
	}
	return t.GlobalFunction[name]
}

var pseudo = map[string]bool{
	"AWS::AccountId": true, "AWS::Region": true, "AWS::StackName": true, "AWS::StackId": true,
	"AWS::Partition": true, "AWS::URLSuffix": true, "AWS::NoValue": true, "AWS::NotificationARNs": true,
}

// samGenerated are the attributes of resources SAM generates beside a function
// or API, which templates may reference (FunctionRole, HttpApi's stage...).
func (t *Template) generated(name string) bool {
	for _, suffix := range []string{"Role", "Alias", "Version", ".Stage", "ApiGatewayDefaultStage"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if _, exists := t.Resources[base]; exists {
				return true
			}
		}
	}
	return false
}

// ref is one reference an intrinsic makes: to a parameter, resource or condition.
type ref struct {
	kind string // Ref, GetAtt, Sub, Condition
	name string
	attr string
}

var subVar = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

// refs lists every reference inside v.
func refs(v any) []ref {
	var out []ref
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			if len(x) == 1 {
				for fn, arg := range x {
					switch fn {
					case "Ref":
						if s, ok := arg.(string); ok {
							out = append(out, ref{kind: "Ref", name: s})
						}
					case "Fn::GetAtt":
						if parts, ok := arg.([]any); ok && len(parts) == 2 {
							name, _ := parts[0].(string)
							attr, _ := parts[1].(string)
							out = append(out, ref{kind: "GetAtt", name: name, attr: attr})
						}
					case "Fn::Sub":
						format, vars := arg, map[string]any(nil)
						if parts, ok := arg.([]any); ok && len(parts) == 2 {
							format = parts[0]
							vars, _ = parts[1].(map[string]any)
							walk(parts[1])
						}
						if s, ok := format.(string); ok {
							for _, m := range subVar.FindAllStringSubmatch(s, -1) {
								if _, local := vars[m[1]]; local {
									continue
								}
								name, attr, _ := strings.Cut(m[1], ".")
								if pseudo[m[1]] {
									name, attr = m[1], ""
								}
								out = append(out, ref{kind: "Sub", name: name, attr: attr})
							}
						}
						return
					case "Fn::If":
						if parts, ok := arg.([]any); ok && len(parts) == 3 {
							if c, ok := parts[0].(string); ok {
								out = append(out, ref{kind: "Condition", name: c})
							}
							walk(parts[1:])
							return
						}
					case "Condition":
						if c, ok := arg.(string); ok {
							out = append(out, ref{kind: "Condition", name: c})
							return
						}
					}
				}
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(x[k])
			}
		}
	}
	walk(v)
	return out
}

// resolves reports whether r names something the template (or AWS) defines.
func (t *Template) resolves(r ref) bool {
	switch {
	case r.kind == "Condition":
		_, ok := t.Conditions[r.name]
		return ok
	case pseudo[r.name]:
		return r.attr == ""
	}
	if _, ok := t.Parameters[r.name]; ok {
		return r.attr == ""
	}
	if _, ok := t.Resources[r.name]; ok {
		return true
	}
	return t.generated(r.name)
}

// namesResource reports whether v is taken from a resource or parameter of the
// template: a Ref or GetAtt of one, or a value equal to a resource's name
// property (a bucket named by the same !Sub as its BucketName).
func (t *Template) namesResource(v any) bool {
	for _, r := range refs(v) {
		if r.kind == "Condition" || pseudo[r.name] {
			continue
		}
		return t.resolves(r)
	}
	for _, r := range t.Resources {
		for _, p := range []string{"BucketName", "QueueName", "TableName", "LogGroupName", "FunctionName"} {
			if name, ok := r.Properties[p]; ok && reflect.DeepEqual(name, v) {
				return true
			}
		}
	}
	return false
}

// refersTo reports whether v is a Ref or GetAtt of the resource id.
func refersTo(v any, id string) bool {
	for _, r := range refs(v) {
		if r.name == id && (r.kind == "Ref" || r.kind == "GetAtt") {
			return true
		}
	}
	return false
}

// dig follows mapping keys; nil when one is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// list turns a scalar or a list into a list.
func list(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}

func isTrue(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return strings.EqualFold(x, "true")
	}
	return false
}
