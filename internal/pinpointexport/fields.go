package pinpointexport

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/segport/segport/pkg/endpoint"
)

// exportOnly are the EndpointResponse fields an import file does not have and
// segport has no use for: ignored, and counted.
var exportOnly = map[string]bool{"ApplicationId": true, "CohortId": true}

// groups are the EndpointResponse members whose value is an object of attributes.
var groups = map[string]bool{
	"Location": true, "Demographic": true, "User": true,
	"Attributes": true, "Metrics": true, "User.UserAttributes": true,
}

// creationDate is where CreationDate goes: the endpoint's creation date.
var creationDate = endpoint.Attr{Kind: endpoint.KindCreationDate}

// lineParser turns one EndpointResponse line into builder values and notes what
// it converted and ignored. Members are given to the builder in the order of
// their names, so that the first problem reported for a row is the same on every
// parse, whatever the order of the line's members.
type lineParser struct {
	ignored   []string // dotted names of the fields ignored
	converted []string // "Location.Country: US -> USA"
	created   bool     // the line gave a CreationDate
}

func (p *lineParser) reset() {
	p.ignored, p.converted, p.created = p.ignored[:0], p.converted[:0], false
}

// parse reads one line into b. Problems with values go to b; a JSON syntax
// problem is returned. The line is decoded in one pass into generic values
// (numbers as float64, which is what a metric or a coordinate becomes anyway).
func (p *lineParser) parse(line []byte, b *endpoint.Builder) string {
	var top map[string]any
	if err := json.Unmarshal(line, &top); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return "column 1: expected an endpoint object"
		}
		return syntax(err)
	}
	if top == nil {
		return "column 1: expected an endpoint object" // null
	}
	p.object("", top, b)
	return ""
}

// object gives the members of an object to b; prefix is the object's dotted
// name and a dot ("" at the top).
func (p *lineParser) object(prefix string, m map[string]any, b *endpoint.Builder) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p.member(prefix+k, m[k], b)
	}
}

// member gives the value of the member named name to b.
func (p *lineParser) member(name string, v any, b *endpoint.Builder) {
	if v == nil {
		return // null: not given
	}
	switch {
	case groups[name]:
		m, ok := v.(map[string]any)
		if !ok {
			b.Fail(name, "expected an object")
			return
		}
		p.object(name+".", m, b)
		return
	case exportOnly[name]:
		p.ignored = append(p.ignored, name)
		return
	case name == "CreationDate":
		p.created = v != ""
		p.value(creationDate, v, b)
		return
	}
	a, err := endpoint.Lookup(name)
	if err != nil {
		// A field the import format does not know: newer exports may carry more.
		p.ignored = append(p.ignored, name)
		return
	}
	p.value(a, v, b)
}

// value gives v to attribute a: a string or a number, or for a list attribute a
// list of them.
func (p *lineParser) value(a endpoint.Attr, v any, b *endpoint.Builder) {
	list, ok := v.([]any)
	if !ok {
		p.scalar(a, v, b)
		return
	}
	if !a.MultiValue() {
		b.Fail(a.Name(), "expected a single value, not a list")
		return
	}
	for _, it := range list {
		if _, ok := it.([]any); ok {
			b.Fail(a.Name(), "expected a string, not a list")
			return
		}
		p.scalar(a, it, b)
	}
}

func (p *lineParser) scalar(a endpoint.Attr, v any, b *endpoint.Builder) {
	switch v := v.(type) {
	case string:
		p.set(a, v, b)
	case float64:
		p.set(a, strconv.FormatFloat(v, 'g', -1, 64), b)
	case bool:
		b.Fail(a.Name(), "expected a string or a number, not a boolean")
	case map[string]any:
		if a.MultiValue() {
			b.Fail(a.Name(), "expected a string or a list of strings, not an object")
		} else {
			b.Fail(a.Name(), "expected a string or a number, not an object")
		}
	}
}

// set gives a its value, noting a country code the deployment stores in the
// other form (exports write alpha-2; the default form is alpha-3).
func (p *lineParser) set(a endpoint.Attr, v string, b *endpoint.Builder) {
	if a.Kind == endpoint.KindCountry {
		code := strings.TrimSpace(v)
		if c, msg := endpoint.NormalizeCountry(code, b.Limits.Country); msg == "" && len(c) != len(code) {
			p.converted = append(p.converted, a.Name()+": "+strings.ToUpper(code)+" -> "+c)
		}
	}
	b.Set(a, v)
}

// syntax describes a JSON syntax error.
func syntax(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "column " + strconv.FormatInt(se.Offset, 10) + ": " + se.Error()
	}
	return err.Error()
}
