package endpoint

import (
	"slices"
	"strings"
)

// A file with a header (CSV) gives every row the same attributes in the same
// order. A Builder told them once, with SetColumns, resolves each column's custom
// attribute then: its name is checked once, its values have a fixed place in the
// row, and its family's order by name is known. Set finds a custom attribute
// among the row's names and sorts them at the end, row after row; SetColumn
// does neither. Both check the same things in the same order.

// column is one column of the file.
type column struct {
	attr Attr
	slot int // its custom attribute in b.slots; -1 for the other attributes
}

// slot is one custom attribute of the file's columns.
type slot struct {
	kind    Kind
	name    string
	nameErr string // what checkName says of the name
	base    int    // where its values go in a row's window (lists)
	width   int    // how many columns give it values: the most a row can
	// The current row:
	n      int     // values given (a metric: 0 or 1)
	bytes  int     // the name and values given, for the AttributeBytes limit
	metric float64 // the value of a metric
}

// columnPlan is what SetColumns works out.
type columnPlan struct {
	columns []column
	slots   []slot
	order   [3][]int // the slots of each family, by name
	width   int      // values a row's lists can hold
	window  []string // the current row's list values: slot s from slots[s].base
}

// SetColumns tells the Builder the attributes of a file's columns, for SetRow. A
// row is built with SetRow or with Set, not both.
func (b *Builder) SetColumns(attrs []Attr) {
	p := &columnPlan{columns: make([]column, len(attrs))}
	index := make(map[Attr]int)
	for i, a := range attrs {
		p.columns[i] = column{attr: a, slot: -1}
		if a.Kind != KindAttribute && a.Kind != KindMetric && a.Kind != KindUserAttribute {
			continue
		}
		s, ok := index[a]
		if !ok {
			s = len(p.slots)
			index[a] = s
			p.slots = append(p.slots, slot{kind: a.Kind, name: a.Custom, nameErr: b.checkName(a.Custom)})
		}
		p.slots[s].width++
		p.columns[i].slot = s
	}
	for s := range p.slots {
		sl := &p.slots[s]
		if sl.kind != KindMetric {
			sl.base, p.width = p.width, p.width+sl.width
		}
		f := family(sl.kind)
		p.order[f] = append(p.order[f], s)
	}
	for f := range p.order {
		slices.SortFunc(p.order[f], func(x, y int) int { return strings.Compare(p.slots[x].name, p.slots[y].name) })
	}
	b.plan = p
}

// Span is where a value lies in the text of a row: text[Start:End].
type Span struct{ Start, End int }

// SetRow sets the columns of one row (see SetColumns): column i, attribute
// attrs[i], has the value text[spans[i].Start:spans[i].End]; it is Set(attrs[i],
// value) for each column in turn. spans has a Span for each column, no more.
func (b *Builder) SetRow(text string, spans []Span) {
	columns := b.plan.columns[:len(spans)]
	checked := b.UTF8Checked && b.TextChecked
	for i, sp := range spans {
		if sp.Start == sp.End {
			continue
		}
		if b.err != nil {
			return // the row has failed: nothing more to check
		}
		c, v := &columns[i], text[sp.Start:sp.End]
		if !checked || !trimmed(v) { // prepare, without a call for most values
			if v = b.trimAndCheck(c.attr, v); v == "" {
				continue
			}
		}
		if c.slot >= 0 {
			b.setSlot(c, v)
		} else {
			b.set(c.attr, v)
		}
	}
}

// setSlot is setCustom for a column's custom attribute and a prepared value.
func (b *Builder) setSlot(c *column, v string) {
	p := b.plan
	s := &p.slots[c.slot]
	m, ok := b.acceptCustom(c.attr, v, s.n, s.bytes, s.nameErr)
	if !ok {
		return
	}
	s.bytes += customBytes(c.attr, v, s.n)
	if s.kind == KindMetric {
		s.n, s.metric = 1, m
		return
	}
	if p.window == nil {
		p.window = carve(&b.vals, p.width, blockLen)
	}
	p.window[s.base+s.n] = v
	s.n++
}

// resetRow forgets the current row's custom values. The window of a row that
// was not handed out is kept for the next.
func (p *columnPlan) resetRow(keepWindow bool) {
	for s := range p.slots {
		p.slots[s].n, p.slots[s].bytes = 0, 0
	}
	if !keepWindow {
		p.window = nil
	}
}

// putSlots puts the row's custom attributes in the endpoint, each family in the
// order of its names.
func (b *Builder) putSlots() {
	p, e := b.plan, b.e
	if n := b.families[family(KindAttribute)]; n > 0 {
		e.Attributes = p.lists(carve(&b.listBlock, n, blockLen), KindAttribute)
	}
	if n := b.families[family(KindUserAttribute)]; n > 0 {
		b.user().UserAttributes = p.lists(carve(&b.listBlock, n, blockLen), KindUserAttribute)
	}
	if n := b.families[family(KindMetric)]; n > 0 {
		out, k := carve(&b.metricBlock, n, blockLen), 0
		for _, s := range p.order[family(KindMetric)] {
			if sl := &p.slots[s]; sl.n > 0 {
				out[k] = Named[float64]{sl.name, sl.metric}
				k++
			}
		}
		e.Metrics = out
	}
}

// lists fills out with the row's lists of family k.
func (p *columnPlan) lists(out Lists, k Kind) Lists {
	i := 0
	for _, s := range p.order[family(k)] {
		if sl := &p.slots[s]; sl.n > 0 {
			out[i] = Named[[]string]{sl.name, p.window[sl.base : sl.base+sl.n : sl.base+sl.n]}
			i++
		}
	}
	return out
}
