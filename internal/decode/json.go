package decode

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/segport/segport/pkg/endpoint"
)

// JSONDecoder decodes newline-delimited JSON: one endpoint object per line, nested
// as Pinpoint nests it ({"Location":{"Country":"USA"}}); a dotted key
// ("Location.Country") is accepted too.
type JSONDecoder struct {
	r       *reader
	b       *endpoint.Builder
	started bool
	row     Row

	p     jsonParser
	attrs map[string]endpoint.Attr // resolved dotted names

	// The values and problems of a line are collected while it is parsed and given
	// to the builder once it parsed: the values then share one string, and a line
	// with a syntax error never reaches the builder.
	vals []byte
	ops  []op
}

// op is one value (vals[start:end]) or one problem (msg) of a line.
type op struct {
	attr       endpoint.Attr
	start, end int
	field, msg string
}

func (d *JSONDecoder) fail(field, msg string) {
	d.ops = append(d.ops, op{field: field, msg: msg})
}

// build gives the collected values and problems to the builder, in line order.
func (d *JSONDecoder) build() {
	d.b.Reset()
	d.b.TextChecked = printable(d.vals) || clean(d.vals) // escapes may make any character
	s := d.b.Arena.String(d.vals)
	for _, o := range d.ops {
		if o.msg != "" {
			d.b.Fail(o.field, o.msg)
		} else {
			d.b.Set(o.attr, s[o.start:o.end])
		}
	}
}

// NewJSON returns a decoder reading newline-delimited JSON from r.
func NewJSON(r io.Reader, opts Options) *JSONDecoder {
	d := &JSONDecoder{r: newReader(r, opts), attrs: make(map[string]endpoint.Attr)}
	d.b = endpoint.NewBuilder(d.r.opts.Limits)
	d.b.Reuse = opts.ReuseEndpoint
	d.b.NoDerivedId = opts.NoDerivedId
	d.b.UTF8Checked = true // whole lines are checked, and unescaping keeps UTF-8 valid
	return d
}

// Decode returns the next endpoint; see Decoder.
func (d *JSONDecoder) Decode() (*Row, error) {
	if d.r.err != nil {
		return nil, d.r.err
	}
	return d.r.final(d.decode())
}

func (d *JSONDecoder) decode() (*Row, error) {
	if !d.started {
		d.started = true
		if err := d.r.start(); err != nil {
			return nil, err
		}
	}
	line, tooLong, err := d.r.record(false)
	if err != nil {
		return nil, err
	}
	row := &d.row
	*row = Row{Line: line, Raw: trimEOL(d.r.raw)}
	if tooLong {
		return row, d.r.rowError(line, "", fmt.Sprintf("row is longer than the %d-byte limit", d.r.opts.RowLimit), ErrRowTooLong)
	}
	d.vals, d.ops = d.vals[:0], d.ops[:0]
	if col, msg := d.parse(trimEOL(d.r.raw)); msg != "" {
		return row, d.r.rowError(line, "", fmt.Sprintf("invalid JSON at column %d: %s", col, msg), ErrSyntax)
	}
	d.build()
	if id, ok := d.b.UserIdOnly(); ok {
		if msg := endpoint.CheckUserId(id); msg != "" {
			return row, d.r.rowError(line, "User.UserId", msg, ErrInvalidEndpoint)
		}
		row.UserIds = []string{id}
		return row, nil
	}
	e, ferr := d.b.Finish()
	if ferr != nil {
		return row, d.r.rowError(line, ferr.Field, ferr.Msg, ErrInvalidEndpoint)
	}
	row.Endpoint = e
	return row, nil
}

// parse reads one JSON object into the builder. Attribute problems go to the
// builder; a syntax problem comes back as a column and a message.
func (d *JSONDecoder) parse(line []byte) (int, string) {
	p := &d.p
	p.reset(line)
	p.skipSpace()
	if err := d.object(0); err != "" {
		return p.pos + 1, err
	}
	p.skipSpace()
	if p.pos != len(p.buf) {
		return p.pos + 1, "text after the endpoint object"
	}
	return 0, ""
}

const maxDepth = 3 // User.UserAttributes.name is the deepest path

// object parses an object whose members' names extend p.path.
func (d *JSONDecoder) object(depth int) string {
	p := &d.p
	if !p.consume('{') {
		return "expected an object"
	}
	p.skipSpace()
	if p.consume('}') {
		return ""
	}
	for {
		p.skipSpace()
		base := len(p.path)
		if base > 0 {
			p.path = append(p.path, '.')
		}
		var msg string
		if p.path, msg = p.appendString(p.path); msg != "" {
			return msg
		}
		p.skipSpace()
		if !p.consume(':') {
			return "expected ':' after a member name"
		}
		p.skipSpace()
		if msg := d.member(depth); msg != "" {
			return msg
		}
		p.path = p.path[:base]
		p.skipSpace()
		if p.consume('}') {
			return ""
		}
		if !p.consume(',') {
			return "expected ',' or '}'"
		}
	}
}

// member parses the value of the member named p.path.
func (d *JSONDecoder) member(depth int) string {
	p := &d.p
	if p.pos >= len(p.buf) {
		return "unexpected end of line"
	}
	switch c := p.buf[p.pos]; {
	case c == '{':
		if !isGroup(string(p.path)) {
			d.notGroup()
			return p.skipValue()
		}
		if depth >= maxDepth {
			return "objects nested too deeply"
		}
		return d.object(depth + 1)
	case c == 'n':
		if !p.literal("null") {
			return "invalid literal"
		}
		return ""
	}
	a, ok := d.attr()
	if !ok {
		return p.skipValue()
	}
	if p.buf[p.pos] != '[' {
		return d.scalar(a)
	}
	if !a.MultiValue() {
		d.fail(a.Name(), "expected a single value, not a list")
		return p.skipValue()
	}
	p.pos++
	p.skipSpace()
	if p.consume(']') {
		return ""
	}
	for {
		p.skipSpace()
		if msg := d.scalar(a); msg != "" {
			return msg
		}
		p.skipSpace()
		if p.consume(']') {
			return ""
		}
		if !p.consume(',') {
			return "expected ',' or ']'"
		}
	}
}

// scalar parses a string or number and collects it as a value of a.
func (d *JSONDecoder) scalar(a endpoint.Attr) string {
	p := &d.p
	if p.pos >= len(p.buf) {
		return "unexpected end of line"
	}
	switch c := p.buf[p.pos]; {
	case c == '"':
		start := len(d.vals)
		var msg string
		if d.vals, msg = p.appendString(d.vals); msg != "" {
			return msg
		}
		d.ops = append(d.ops, op{attr: a, start: start, end: len(d.vals)})
	case c == '-' || (c >= '0' && c <= '9'):
		n, msg := p.number()
		if msg != "" {
			return msg
		}
		start := len(d.vals)
		d.vals = append(d.vals, n...)
		d.ops = append(d.ops, op{attr: a, start: start, end: len(d.vals)})
	case c == 'n':
		if !p.literal("null") {
			return "invalid literal"
		}
	case c == 't' || c == 'f':
		if !p.literal("true") && !p.literal("false") {
			return "invalid literal"
		}
		d.fail(a.Name(), "expected a string or a number, not a boolean")
	default:
		d.fail(a.Name(), "expected a string or a number")
		return p.skipValue()
	}
	return ""
}

// attr resolves p.path, recording an unknown name as a problem.
func (d *JSONDecoder) attr() (endpoint.Attr, bool) {
	p := &d.p
	if a, ok := d.attrs[string(p.path)]; ok {
		return a, true
	}
	name := string(p.path)
	a, err := endpoint.Lookup(name)
	if err != nil {
		if isGroup(name) {
			d.fail(name, "expected an object")
		} else {
			d.fail(name, err.Error())
		}
		return a, false
	}
	if len(d.attrs) < 4096 {
		d.attrs[name] = a
	}
	return a, true
}

// notGroup records an object given where p.path names no group of attributes.
func (d *JSONDecoder) notGroup() {
	name := string(d.p.path)
	a, err := endpoint.Lookup(name)
	switch {
	case err != nil:
		d.fail(name, err.Error())
	case a.MultiValue():
		d.fail(name, "expected a string or a list of strings, not an object")
	default:
		d.fail(name, "expected a string or a number, not an object")
	}
}

func isGroup(name string) bool {
	switch name {
	case "Location", "Demographic", "User", "Attributes", "Metrics", "User.UserAttributes":
		return true
	}
	return false
}

// jsonParser holds the scanning state of one line.
type jsonParser struct {
	buf  []byte
	pos  int
	path []byte
	val  []byte
}

func (p *jsonParser) reset(b []byte) {
	p.buf, p.pos, p.path = b, 0, p.path[:0]
}

func (p *jsonParser) skipSpace() {
	for p.pos < len(p.buf) {
		switch p.buf[p.pos] {
		case ' ', '\t', '\r', '\n':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) consume(c byte) bool {
	if p.pos < len(p.buf) && p.buf[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func (p *jsonParser) literal(s string) bool {
	if bytes.HasPrefix(p.buf[p.pos:], []byte(s)) {
		p.pos += len(s)
		return true
	}
	return false
}

// appendString parses a JSON string at p.pos and appends its value to dst.
func (p *jsonParser) appendString(dst []byte) ([]byte, string) {
	if !p.consume('"') {
		return dst, "expected a string"
	}
	for {
		rest := p.buf[p.pos:]
		k := bytes.IndexAny(rest, "\"\\")
		if k < 0 {
			return dst, "string is not closed"
		}
		for _, c := range rest[:k] {
			if c < 0x20 {
				return dst, "control character in a string"
			}
		}
		dst = append(dst, rest[:k]...)
		p.pos += k + 1
		if rest[k] == '"' {
			return dst, ""
		}
		var msg string
		if dst, msg = p.escape(dst); msg != "" {
			return dst, msg
		}
	}
}

// escape decodes the escape sequence after a backslash.
func (p *jsonParser) escape(dst []byte) ([]byte, string) {
	if p.pos >= len(p.buf) {
		return dst, "string is not closed"
	}
	c := p.buf[p.pos]
	p.pos++
	switch c {
	case '"', '\\', '/':
		return append(dst, c), ""
	case 'b':
		return append(dst, '\b'), ""
	case 'f':
		return append(dst, '\f'), ""
	case 'n':
		return append(dst, '\n'), ""
	case 'r':
		return append(dst, '\r'), ""
	case 't':
		return append(dst, '\t'), ""
	case 'u':
		r, ok := p.hex4()
		if !ok {
			return dst, "invalid \\u escape"
		}
		if utf16.IsSurrogate(r) {
			r2 := utf8.RuneError
			if p.literal(`\u`) {
				if lo, ok := p.hex4(); ok {
					r2 = utf16.DecodeRune(r, lo)
				}
			}
			r = r2
		}
		return utf8.AppendRune(dst, r), ""
	}
	return dst, "invalid escape sequence"
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.pos+4 > len(p.buf) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.buf[p.pos:p.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.pos += 4
	return rune(v), true
}

// number returns the literal text of a JSON number.
func (p *jsonParser) number() ([]byte, string) {
	start := p.pos
	if p.pos < len(p.buf) && p.buf[p.pos] == '-' {
		p.pos++
	}
	digits := func() int {
		n := 0
		for p.pos < len(p.buf) && p.buf[p.pos] >= '0' && p.buf[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if digits() == 0 {
		return nil, "invalid number"
	}
	if p.consume('.') && digits() == 0 {
		return nil, "invalid number"
	}
	if p.consume('e') || p.consume('E') {
		if !p.consume('+') {
			p.consume('-')
		}
		if digits() == 0 {
			return nil, "invalid number"
		}
	}
	return p.buf[start:p.pos], ""
}

// maxSkipDepth bounds the nesting of a value that is skipped (the value of an
// unknown or misused member), so that a row of a million '[' does not grow the
// stack to a million frames.
const maxSkipDepth = 64

// skipValue steps over any JSON value, checking its syntax.
func (p *jsonParser) skipValue() string {
	return p.skip(0)
}

func (p *jsonParser) skip(depth int) string {
	p.skipSpace()
	if p.pos >= len(p.buf) {
		return "unexpected end of line"
	}
	switch c := p.buf[p.pos]; {
	case c == '"':
		var msg string
		p.val, msg = p.appendString(p.val[:0])
		return msg
	case c == '-' || (c >= '0' && c <= '9'):
		_, msg := p.number()
		return msg
	case c == '{' || c == '[':
		if depth >= maxSkipDepth {
			return "values nested too deeply"
		}
		return p.skipContainer(c, depth)
	case p.literal("true"), p.literal("false"), p.literal("null"):
		return ""
	}
	return "unexpected character " + strconv.QuoteRune(rune(p.buf[p.pos]))
}

func (p *jsonParser) skipContainer(open byte, depth int) string {
	closing := byte('}')
	if open == '[' {
		closing = ']'
	}
	p.pos++
	p.skipSpace()
	if p.consume(closing) {
		return ""
	}
	for {
		p.skipSpace()
		if open == '{' {
			var msg string
			if p.val, msg = p.appendString(p.val[:0]); msg != "" {
				return msg
			}
			p.skipSpace()
			if !p.consume(':') {
				return "expected ':' after a member name"
			}
		}
		if msg := p.skip(depth + 1); msg != "" {
			return msg
		}
		p.skipSpace()
		if p.consume(closing) {
			return ""
		}
		if !p.consume(',') {
			return "expected ',' or '" + string(closing) + "'"
		}
	}
}
