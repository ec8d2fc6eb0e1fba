package endpoint

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Named is one custom attribute: its name and its value.
type Named[V any] struct {
	Name  string
	Value V
}

// Custom is one family of custom attributes, sorted by name, each name once. Its
// JSON form is Pinpoint's object {name: value}. It is a slice, not a map, because
// a decoder makes one per family for every row: the Builder carves them out of
// blocks it shares between endpoints, where a map costs two allocations each.
type Custom[V any] []Named[V]

// Lists is Attributes or User.UserAttributes: each name has a list of strings.
type Lists = Custom[[]string]

// Metrics is Metrics: each name has a number.
type Metrics = Custom[float64]

// CustomOf returns m's entries sorted by name.
func CustomOf[V any](m map[string]V) Custom[V] {
	if len(m) == 0 {
		return nil
	}
	c := make(Custom[V], 0, len(m))
	for k, v := range m {
		c = append(c, Named[V]{k, v})
	}
	c.sort()
	return c
}

func (c Custom[V]) sort() {
	if len(c) > 12 {
		slices.SortFunc(c, func(a, b Named[V]) int { return strings.Compare(a.Name, b.Name) })
		return
	}
	for i := 1; i < len(c); i++ { // a row's few names, often in order already
		for j := i; j > 0 && c[j].Name < c[j-1].Name; j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
}

// Map returns c as a map (nil when c is empty).
func (c Custom[V]) Map() map[string]V {
	if len(c) == 0 {
		return nil
	}
	m := make(map[string]V, len(c))
	for _, n := range c {
		m[n.Name] = n.Value
	}
	return m
}

// Names returns the names in order.
func (c Custom[V]) Names() []string {
	names := make([]string, len(c))
	for i, n := range c {
		names[i] = n.Name
	}
	return names
}

func (c Custom[V]) search(name string) (int, bool) {
	return slices.BinarySearchFunc(c, name, func(n Named[V], name string) int { return strings.Compare(n.Name, name) })
}

// Get returns the value of name.
func (c Custom[V]) Get(name string) (V, bool) {
	if i, ok := c.search(name); ok {
		return c[i].Value, true
	}
	var zero V
	return zero, false
}

// Put sets the value of name, keeping c in order.
func (c *Custom[V]) Put(name string, v V) {
	i, ok := c.search(name)
	if ok {
		(*c)[i].Value = v
		return
	}
	*c = slices.Insert(*c, i, Named[V]{name, v})
}

// MarshalJSON writes the JSON object {name: value} with the names in order: the
// bytes encoding/json writes for the same map.
func (c Custom[V]) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 16*len(c)+2)
	b = append(b, '{')
	for i, n := range c {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, n.Name)
		b = append(b, ':')
		var err error
		if b, err = appendJSONValue(b, n.Value); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func appendJSONValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case []string:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		return append(b, ']'), nil
	case float64:
		return appendJSONFloat(b, v)
	}
	j, err := json.Marshal(v)
	return append(b, j...), err
}

// UnmarshalJSON reads a JSON object {name: value}.
func (c *Custom[V]) UnmarshalJSON(data []byte) error {
	var m map[string]V
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	*c = CustomOf(m)
	return nil
}

// appendJSONString appends s as encoding/json writes it with HTML escaping off;
// encoding/json escapes <, > and & itself when its encoder asks for them.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONFloat appends f as encoding/json writes a float64.
func appendJSONFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, &json.UnsupportedValueError{Str: strconv.FormatFloat(f, 'g', -1, 64)}
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-09 becomes e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}
