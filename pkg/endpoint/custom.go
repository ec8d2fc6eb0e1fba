package endpoint

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// The custom attributes of a row are collected as they are set and put in the
// endpoint's maps by Finish: each map is made once, at its final size, and a
// row that fails never makes one. A name given again (a repeated CSV column)
// is found by a short scan of the row's names, not by hashing.

// custom is one custom attribute name of the current row, in the order first given.
type custom struct {
	kind   Kind
	name   string
	n      int     // values given: of an Attributes.* or User.UserAttributes.* list, or 1 for a metric
	bytes  int     // its name and values so far, for the AttributeBytes limit
	start  int     // where its values begin, once Finish has placed them (see placeValues)
	metric float64 // the value of a Metrics.* attribute
}

// listValue is one value of a list attribute, b.customs[custom], in the order given.
type listValue struct {
	custom int
	v      string
}

// customIndexAt is the number of names in a row past which they are found through
// a map: rows with more names than that are rare, and a scan would cost n².
const customIndexAt = 16

// family is the index of a custom kind in b.families.
func family(k Kind) int { return int(k - KindAttribute) }

// find returns the index of attribute a in b.customs, or -1.
func (b *Builder) find(a Attr) int {
	if len(b.customs) > customIndexAt {
		if i, ok := b.index[a]; ok {
			return i
		}
		return -1
	}
	for i := range b.customs {
		if c := &b.customs[i]; c.kind == a.Kind && c.name == a.Custom {
			return i
		}
	}
	return -1
}

// add appends a new name to b.customs and returns its index.
func (b *Builder) add(c custom) int {
	i := len(b.customs)
	b.customs = append(b.customs, c)
	switch {
	case len(b.customs) == customIndexAt+1:
		if b.index == nil {
			b.index = make(map[Attr]int)
		}
		for j, c := range b.customs {
			b.index[Attr{Kind: c.kind, Custom: c.name}] = j
		}
	case len(b.customs) > customIndexAt+1:
		b.index[Attr{Kind: c.kind, Custom: c.name}] = i
	}
	return i
}

func (b *Builder) resetCustoms() {
	if len(b.customs) > customIndexAt {
		clear(b.index)
	}
	b.customs, b.values, b.families = b.customs[:0], b.values[:0], [3]int{}
}

// setCustom sets a value of a custom attribute of the row, found among the
// names the row has given so far (see acceptCustom for the checks).
func (b *Builder) setCustom(a Attr, v string) {
	i := b.find(a)
	n, used, nameErr := 0, 0, ""
	if i < 0 {
		nameErr = b.checkName(a.Custom)
	} else {
		n, used = b.customs[i].n, b.customs[i].bytes
	}
	m, ok := b.acceptCustom(a, v, n, used, nameErr)
	if !ok {
		return
	}
	if i < 0 {
		i = b.add(custom{kind: a.Kind, name: a.Custom, metric: m})
	}
	b.customs[i].n++
	b.customs[i].bytes = used + customBytes(a, v, n)
	if a.Kind != KindMetric {
		b.values = append(b.values, listValue{i, v})
	}
}

// acceptCustom checks value v of custom attribute a, which the row has given n
// values of used bytes so far, and counts it in the endpoint's size and its
// family; the caller stores it and counts its bytes (customBytes). The checks come in an order that makes the first problem reported
// not depend on how values are stored: the name, when v is its first value
// (nameErr is what checkName says of it), then the value, then the limits. For a
// metric it returns the number.
func (b *Builder) acceptCustom(a Attr, v string, n, used int, nameErr string) (metric float64, ok bool) {
	first := n == 0
	if first && nameErr != "" {
		b.Fail(a.Name(), nameErr)
		return 0, false
	}
	f := family(a.Kind)
	if a.Kind == KindMetric {
		m, number := parseFinite(v)
		switch {
		case !number:
			b.Fail(a.Name(), "not a finite number")
		case !dynamoNumber(m):
			b.Fail(a.Name(), numberRange)
		case !first:
			b.Fail(a.Name(), "given more than once")
		case b.families[f] >= b.Limits.AttributesPerEndpoint:
			b.Fail(a.Name(), "more than "+strconv.Itoa(b.Limits.AttributesPerEndpoint)+" custom attributes in Metrics")
		default:
			b.families[f]++
			b.size += len(a.Custom) + 8
			if m == 0 {
				m = 0 // no negative zero
			}
			return m, true
		}
		return 0, false
	}
	if len(v) > b.Limits.ValueLength { // a character is at least a byte
		if n := utf8.RuneCountInString(v); n > b.Limits.ValueLength {
			b.Fail(a.Name(), "value has "+strconv.Itoa(n)+" characters, the limit is "+strconv.Itoa(b.Limits.ValueLength))
			return 0, false
		}
	}
	switch {
	case first && b.families[f] >= b.Limits.AttributesPerEndpoint:
		b.Fail(a.Name(), "more than "+strconv.Itoa(b.Limits.AttributesPerEndpoint)+" custom attributes in "+familyName(a.Kind))
		return 0, false
	case !first && n >= b.Limits.ValuesPerAttribute:
		b.Fail(a.Name(), "more than "+strconv.Itoa(b.Limits.ValuesPerAttribute)+" values")
		return 0, false
	case used+customBytes(a, v, n) > b.Limits.AttributeBytes:
		b.Fail(a.Name(), "name and values take more than "+strconv.Itoa(b.Limits.AttributeBytes)+" bytes, the most one attribute may take")
		return 0, false
	case first:
		b.families[f]++
		b.size += len(a.Custom)
	}
	b.size += len(v)
	return 0, true
}

// numberRange says why a number DynamoDB cannot store is refused, without the number.
const numberRange = "number out of DynamoDB's range: its magnitude must be 0 or from 1E-130 to below 1E+126"

// customBytes is what value v, given after n others, adds to the bytes of
// custom attribute a: the name comes with the first.
func customBytes(a Attr, v string, n int) int {
	if n == 0 {
		return len(a.Custom) + len(v)
	}
	return len(v)
}

func (b *Builder) checkName(name string) string {
	for _, n := range &b.goodNames { // a file names the same few, row after row
		if n == name {
			return ""
		}
	}
	if len(name) <= b.Limits.NameLength && plainASCII(name) {
		b.goodNames[b.nextName%len(b.goodNames)] = name
		b.nextName++
		return ""
	}
	if n := utf8.RuneCountInString(name); n > b.Limits.NameLength {
		return "name has " + strconv.Itoa(n) + " characters, the limit is " + strconv.Itoa(b.Limits.NameLength)
	}
	if strings.TrimSpace(name) != name || strings.ContainsFunc(name, isControl) {
		return "name has white space at its ends or control characters"
	}
	if msg := checkText(name); msg != "" {
		return "name " + msg
	}
	return ""
}

func familyName(k Kind) string {
	switch k {
	case KindMetric:
		return "Metrics"
	case KindUserAttribute:
		return "User.UserAttributes"
	}
	return "Attributes"
}

// putCustoms puts the row's custom attributes in the endpoint, sorted by name.
func (b *Builder) putCustoms() {
	if len(b.customs) == 0 {
		return
	}
	vals := b.placeValues()
	e := b.e
	e.Attributes = carve(&b.listBlock, b.families[family(KindAttribute)], blockLen)
	e.Metrics = carve(&b.metricBlock, b.families[family(KindMetric)], blockLen)
	var users Lists
	if n := b.families[family(KindUserAttribute)]; n > 0 {
		users = carve(&b.listBlock, n, blockLen)
		b.user().UserAttributes = users
	}
	var na, nm, nu int
	for i := range b.customs {
		c := &b.customs[i]
		switch c.kind {
		case KindAttribute:
			e.Attributes[na] = Named[[]string]{c.name, vals[c.start : c.start+c.n : c.start+c.n]}
			na++
		case KindUserAttribute:
			users[nu] = Named[[]string]{c.name, vals[c.start : c.start+c.n : c.start+c.n]}
			nu++
		case KindMetric:
			e.Metrics[nm] = Named[float64]{c.name, c.metric}
			nm++
		}
	}
	e.Attributes.sort()
	e.Metrics.sort()
	users.sort()
}

// blockLen is how many entries a shared block holds.
const blockLen = 256

// carve returns a window of n entries of *block, which is shared by many
// endpoints, making a new block of size entries when it is full. The window is
// capped, so that appending to one family never writes into another.
func carve[V any](block *[]V, n, size int) []V {
	if n == 0 {
		return nil
	}
	if cap(*block)-len(*block) < n {
		*block = make([]V, 0, max(size, n))
	}
	pos := len(*block)
	*block = (*block)[:pos+n]
	return (*block)[pos : pos+n : pos+n]
}

// placeValues lays the list values out in a window of b.vals, each list
// contiguous, and returns the window; c.start is where custom c's list begins in it.
func (b *Builder) placeValues() []string {
	vals := carve(&b.vals, len(b.values), blockLen)
	pos := 0
	for i := range b.customs {
		if c := &b.customs[i]; c.kind != KindMetric {
			c.start, pos, c.n = pos, pos+c.n, 0
		}
	}
	for _, lv := range b.values {
		c := &b.customs[lv.custom]
		vals[c.start+c.n] = lv.v
		c.n++
	}
	return vals
}
