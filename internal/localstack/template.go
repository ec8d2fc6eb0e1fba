package localstack

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Resource types the stack provisions or resolves.
const (
	typeBucket   = "AWS::S3::Bucket"
	typeQueue    = "AWS::SQS::Queue"
	typeTable    = "AWS::DynamoDB::Table"
	typeFunction = "AWS::Serverless::Function"
	typeLogGroup = "AWS::Logs::LogGroup"
)

// template is the part of a SAM template the local stack understands.
// Property values keep intrinsic functions in their long JSON form
// ({"Ref": x}, {"Fn::Sub": s}, {"Fn::GetAtt": [x, attr]}) whatever the
// template's syntax was.
type template struct {
	Parameters map[string]parameter
	GlobalEnv  map[string]any
	Resources  map[string]resource
	Outputs    map[string]struct{ Value any }
}

type parameter struct {
	Default any
}

type resource struct {
	Type       string
	Properties map[string]any
}

// ParseDocument reads a SAM template in YAML (short-form tags allowed) or JSON
// into maps, slices and scalars, intrinsic functions in their long JSON form
// ({"Ref": x}, {"Fn::Sub": s}, {"Fn::GetAtt": [x, attr]}, {"Fn::If": [...]}).
func ParseDocument(data []byte) (map[string]any, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	if len(root.Content) == 0 {
		return nil, errors.New("parse template: empty document")
	}
	doc, err := plain(root.Content[0])
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	top, ok := doc.(map[string]any)
	if !ok {
		return nil, errors.New("parse template: top level is not a mapping")
	}
	return top, nil
}

// parseTemplate reads a SAM template in YAML (short-form tags allowed) or JSON.
func parseTemplate(data []byte) (*template, error) {
	top, err := ParseDocument(data)
	if err != nil {
		return nil, err
	}
	t := &template{GlobalEnv: envVariables(dig(top, "Globals", "Function"))}
	if err := remarshal(top["Parameters"], &t.Parameters); err != nil {
		return nil, fmt.Errorf("parse template parameters: %w", err)
	}
	if err := remarshal(top["Resources"], &t.Resources); err != nil {
		return nil, fmt.Errorf("parse template resources: %w", err)
	}
	if err := remarshal(top["Outputs"], &t.Outputs); err != nil {
		return nil, fmt.Errorf("parse template outputs: %w", err)
	}
	return t, nil
}

// plain turns a YAML node into maps, slices and scalars, rewriting short-form
// intrinsic tags (!Ref, !Sub, !GetAtt, ...) into their long form.
func plain(n *yaml.Node) (any, error) {
	v, err := untagged(n)
	if err != nil || !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return v, err
	}
	name := strings.TrimPrefix(n.Tag, "!")
	switch name {
	case "Ref", "Condition":
		return map[string]any{name: v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok {
			logical, attr, _ := strings.Cut(s, ".")
			v = []any{logical, attr}
		}
	}
	return map[string]any{"Fn::" + name: v}, nil
}

func untagged(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.AliasNode:
		return plain(n.Alias)
	case yaml.ScalarNode:
		if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
			return n.Value, nil
		}
		var v any
		err := n.Decode(&v)
		return v, err
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := plain(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := plain(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			out[n.Content[i].Value] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
}

// remarshal copies a generic value into a typed one through JSON, which lets
// CloudFormation property names fill AWS SDK input types directly.
func remarshal(in, out any) error {
	if in == nil {
		return nil
	}
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// dig follows mapping keys; it returns nil when one is missing.
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

func envVariables(function any) map[string]any {
	vars, _ := dig(function, "Environment", "Variables").(map[string]any)
	return vars
}

// ofType returns the logical ids of the resources of one type, sorted.
func (t *template) ofType(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// findTemplate walks up from dir looking for template.yaml.
func findTemplate(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("find template.yaml: %w", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "template.yaml")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("find template.yaml above %s: not found", dir)
		}
	}
}

// loadTemplate returns the template bytes from the options: the embedded
// copy, else the given path, else template.yaml found above the working dir.
func loadTemplate(opts Options) ([]byte, error) {
	if len(opts.Template) > 0 {
		return opts.Template, nil
	}
	path := opts.TemplatePath
	if path == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("working directory: %w", err)
		}
		if path, err = findTemplate(wd); err != nil {
			return nil, err
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	return data, nil
}
