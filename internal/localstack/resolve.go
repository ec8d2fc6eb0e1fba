package localstack

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Local values of the pseudo parameters.
const (
	Region    = "us-east-1"
	AccountID = "000000000000"
	StackName = "segport"
)

// errUnknownRef reports an intrinsic naming a resource or parameter that is
// not in the template.
var errUnknownRef = errors.New("not in the template")

// resolver turns template values into local strings once the resources exist.
type resolver struct {
	tmpl   *template
	params map[string]string
	// attrs holds each resource's local values: "" is its Ref value, other
	// keys are GetAtt attribute names.
	attrs map[string]map[string]string
}

// parameterValues merges overrides into the template defaults; an override
// of a parameter the template does not declare is an error.
func parameterValues(t *template, overrides map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(t.Parameters))
	for name, p := range t.Parameters {
		if p.Default != nil {
			s, err := scalar(p.Default)
			if err != nil {
				return nil, fmt.Errorf("parameter %s default: %w", name, err)
			}
			out[name] = s
		}
	}
	for name, v := range overrides {
		if _, ok := t.Parameters[name]; !ok {
			return nil, fmt.Errorf("parameter override %s: %w", name, errUnknownRef)
		}
		out[name] = v
	}
	return out, nil
}

// scalar formats a YAML/JSON scalar the way CloudFormation passes it on.
func scalar(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	}
	return "", fmt.Errorf("value %v is not a scalar", v)
}

// value resolves a property value to a local string.
func (r *resolver) value(v any) (string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return scalar(v)
	}
	if len(m) != 1 {
		return "", fmt.Errorf("value %v is not a scalar or an intrinsic", v)
	}
	for fn, arg := range m {
		switch fn {
		case "Ref":
			name, _ := arg.(string)
			return r.ref(name)
		case "Fn::GetAtt":
			return r.getAtt(arg)
		case "Fn::Sub":
			return r.sub(v, arg)
		case "Fn::Join":
			return r.join(arg)
		}
		return "", fmt.Errorf("intrinsic %s is not supported locally", fn)
	}
	return "", nil
}

func (r *resolver) ref(name string) (string, error) {
	switch name {
	case "AWS::Region":
		return Region, nil
	case "AWS::AccountId":
		return AccountID, nil
	case "AWS::StackName":
		return StackName, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	}
	if v, ok := r.params[name]; ok {
		return v, nil
	}
	if _, ok := r.tmpl.Parameters[name]; ok {
		return "", fmt.Errorf("parameter %s has no default and no override", name)
	}
	if a, ok := r.attrs[name]; ok {
		return a[""], nil
	}
	return "", fmt.Errorf("ref %s: %w", name, errUnknownRef)
}

func (r *resolver) getAtt(arg any) (string, error) {
	parts, _ := arg.([]any)
	if len(parts) != 2 {
		return "", fmt.Errorf("GetAtt %v: want [resource, attribute]", arg)
	}
	logical, _ := parts[0].(string)
	attr, _ := parts[1].(string)
	return r.attr(logical, attr)
}

func (r *resolver) attr(logical, attr string) (string, error) {
	a, ok := r.attrs[logical]
	if !ok {
		return "", fmt.Errorf("GetAtt %s.%s: %w", logical, attr, errUnknownRef)
	}
	v, ok := a[attr]
	if !ok || attr == "" {
		return "", fmt.Errorf("GetAtt %s.%s: attribute not supported locally", logical, attr)
	}
	return v, nil
}

var subVar = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

// sub resolves Fn::Sub. A Sub equal to a bucket's BucketName property names
// that bucket, so it becomes the local bucket name rather than the
// stack-account-region string it would be in AWS.
func (r *resolver) sub(whole, arg any) (string, error) {
	for _, id := range r.tmpl.ofType(typeBucket) {
		name := r.tmpl.Resources[id].Properties["BucketName"]
		if name != nil && reflect.DeepEqual(name, whole) {
			return r.attrs[id][""], nil
		}
	}
	format, vars, err := subArgs(arg)
	if err != nil {
		return "", err
	}
	var firstErr error
	out := subVar.ReplaceAllStringFunc(format, func(m string) string {
		name := m[2 : len(m)-1]
		v, err := r.subVariable(name, vars)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return v
	})
	out = strings.ReplaceAll(out, "${!", "${")
	return out, firstErr
}

func subArgs(arg any) (string, map[string]any, error) {
	if s, ok := arg.(string); ok {
		return s, nil, nil
	}
	parts, _ := arg.([]any)
	if len(parts) == 2 {
		s, ok1 := parts[0].(string)
		vars, ok2 := parts[1].(map[string]any)
		if ok1 && ok2 {
			return s, vars, nil
		}
	}
	return "", nil, fmt.Errorf("Sub %v: want a string or [string, variables]", arg)
}

func (r *resolver) subVariable(name string, vars map[string]any) (string, error) {
	if v, ok := vars[name]; ok {
		return r.value(v)
	}
	if logical, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
		return r.attr(logical, attr)
	}
	return r.ref(name)
}

func (r *resolver) join(arg any) (string, error) {
	parts, _ := arg.([]any)
	if len(parts) != 2 {
		return "", fmt.Errorf("Join %v: want [separator, list]", arg)
	}
	sep, _ := parts[0].(string)
	items, _ := parts[1].([]any)
	out := make([]string, 0, len(items))
	for _, it := range items {
		s, err := r.value(it)
		if err != nil {
			return "", err
		}
		out = append(out, s)
	}
	return strings.Join(out, sep), nil
}

// env resolves a set of environment variables.
func (r *resolver) env(vars map[string]any) (map[string]string, error) {
	out := make(map[string]string, len(vars))
	names := make([]string, 0, len(vars))
	for name := range vars {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v, err := r.value(vars[name])
		if err != nil {
			return nil, fmt.Errorf("environment variable %s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

// functionEnvs resolves the global environment and, per function, the
// global one merged with the function's own.
func (r *resolver) functionEnvs() (map[string]string, map[string]map[string]string, error) {
	global, err := r.env(r.tmpl.GlobalEnv)
	if err != nil {
		return nil, nil, fmt.Errorf("globals: %w", err)
	}
	out := map[string]map[string]string{}
	for _, fn := range r.tmpl.ofType(typeFunction) {
		own, err := r.env(envVariables(r.tmpl.Resources[fn].Properties))
		if err != nil {
			return nil, nil, fmt.Errorf("function %s: %w", fn, err)
		}
		merged := make(map[string]string, len(global)+len(own))
		for k, v := range global {
			merged[k] = v
		}
		for k, v := range own {
			merged[k] = v
		}
		out[fn] = merged
	}
	return global, out, nil
}
