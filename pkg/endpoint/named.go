package endpoint

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/segport/segport/internal/jsonw"
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
	return c.appendJSON(make([]byte, 0, 16*len(c)+2), false)
}

// appendJSON appends MarshalJSON's object to b; escapeHTML escapes <, > and & as
// encoding/json's Marshal does.
func (c Custom[V]) appendJSON(b []byte, escapeHTML bool) ([]byte, error) {
	b = append(b, '{')
	for i, n := range c {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonw.AppendString(b, n.Name, escapeHTML)
		b = append(b, ':')
		switch v := any(n.Value).(type) {
		case []string:
			b = jsonw.AppendStrings(b, v, escapeHTML)
		case float64:
			var err error
			if b, err = jsonw.AppendFloat(b, v); err != nil {
				return nil, err
			}
		default:
			j, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			b = append(b, j...)
		}
	}
	return append(b, '}'), nil
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
