package pinpointexport

// Counts says what the decoder did to the export's fields, counted over the
// rows that became endpoints: each map goes from a description to a number of rows.
type Counts struct {
	// Ignored: export-only fields dropped (ApplicationId, CohortId, and any field
	// the import format does not know), by dotted name.
	Ignored map[string]int
	// Converted: values rewritten into the import format, as
	// "Location.Country: US -> USA".
	Converted map[string]int
	// Kept: export-only fields kept, by name: "CreationDate", the endpoint's
	// creation date.
	Kept map[string]int
}

func (c *Counts) init() {
	if c.Ignored == nil {
		c.Ignored = map[string]int{}
	}
	if c.Converted == nil {
		c.Converted = map[string]int{}
	}
	if c.Kept == nil {
		c.Kept = map[string]int{}
	}
}

func (c *Counts) add(p *lineParser) {
	c.init()
	for i, name := range p.ignored {
		if !seen(p.ignored[:i], name) { // a duplicated member counts its row once
			c.Ignored[name]++
		}
	}
	for _, conv := range p.converted { // Location.Country is given once, or the row fails
		c.Converted[conv]++
	}
	if p.created {
		c.Kept["CreationDate"]++
	}
}

func seen(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// Merge adds o to c.
func (c *Counts) Merge(o *Counts) {
	c.init()
	for k, n := range o.Ignored {
		c.Ignored[k] += n
	}
	for k, n := range o.Converted {
		c.Converted[k] += n
	}
	for k, n := range o.Kept {
		c.Kept[k] += n
	}
}
