package decode

import (
	"bufio"
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
}

// NewJSON returns a decoder reading newline-delimited JSON from r.
func NewJSON(r io.Reader, opts Options) *JSONDecoder {
	d := &JSONDecoder{r: newReader(r, opts), attrs: make(map[string]endpoint.Attr)}
	d.b = endpoint.NewBuilder(d.r.opts.Limits)
	return d
}

// Decode returns the next endpoint; see Decoder.
func (d *JSONDecoder) Decode() (*Row, error) {
	if !d.started {
		d.started = true
		if err := d.r.start(); err != nil {
			return nil, err
		}
	}
	line, tooLong, err := d.readLine()
	if err != nil {
		return nil, err
	}
	row := &d.row
	*row = Row{Line: line, Raw: d.r.raw}
	if tooLong {
		return row, d.r.rowError(line, "", fmt.Sprintf("row is longer than the %d-byte limit", d.r.opts.RowLimit), ErrRowTooLong)
	}
	d.b.Reset()
	if col, msg := d.parse(trimEOL(d.r.raw)); msg != "" {
		return row, d.r.rowError(line, "", fmt.Sprintf("invalid JSON at column %d: %s", col, msg), ErrSyntax)
	}
	e, ferr := d.b.Finish()
	if ferr != nil {
		return row, d.r.rowError(line, ferr.Field, ferr.Msg, ErrInvalidEndpoint)
	}
	row.Endpoint = e
	return row, nil
}

// readLine reads the next non-blank line into d.r.raw.
func (d *JSONDecoder) readLine() (line int, tooLong bool, err error) {
	r := d.r
	for {
		r.raw = r.raw[:0]
		line, start := r.line, r.offset
		tooLong = false
		for {
			chunk, rerr := r.br.ReadSlice('\n')
			r.offset += int64(len(chunk))
			if !tooLong && len(r.raw)+len(chunk) > r.opts.RowLimit {
				tooLong = true
				r.raw = append(r.raw, chunk[:max(0, min(len(chunk), rawKeep-len(r.raw)))]...)
			} else if !tooLong {
				r.raw = append(r.raw, chunk...)
			}
			if rerr == bufio.ErrBufferFull {
				continue
			}
			if rerr == io.EOF && r.offset == start {
				return 0, false, io.EOF
			}
			if rerr != nil && rerr != io.EOF {
				return 0, false, fmt.Errorf("read line %d: %w", r.line, rerr)
			}
			if rerr == nil {
				r.line++
			}
			break
		}
		if !tooLong && len(bytes.TrimSpace(r.raw)) == 0 {
			continue
		}
		if !tooLong {
			if err := r.checkUTF8(r.raw, line, start); err != nil {
				return 0, false, err
			}
		}
		return line, tooLong, nil
	}
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
		d.b.Fail(a.Name(), "expected a single value, not a list")
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

// scalar parses a string or number and gives it to the builder.
func (d *JSONDecoder) scalar(a endpoint.Attr) string {
	p := &d.p
	switch c := p.buf[p.pos]; {
	case c == '"':
		var msg string
		p.val, msg = p.appendString(p.val[:0])
		if msg != "" {
			return msg
		}
		d.b.Set(a, string(p.val))
	case c == '-' || (c >= '0' && c <= '9'):
		n, msg := p.number()
		if msg != "" {
			return msg
		}
		d.b.Set(a, string(n))
	case c == 'n':
		if !p.literal("null") {
			return "invalid literal"
		}
	case c == 't' || c == 'f':
		if !p.literal("true") && !p.literal("false") {
			return "invalid literal"
		}
		d.b.Fail(a.Name(), "expected a string or a number, not a boolean")
	default:
		d.b.Fail(a.Name(), "expected a string or a number")
		return p.skipValue()
	}
	return ""
}

// attr resolves p.path, recording an unknown name on the builder.
func (d *JSONDecoder) attr() (endpoint.Attr, bool) {
	p := &d.p
	if a, ok := d.attrs[string(p.path)]; ok {
		return a, true
	}
	name := string(p.path)
	a, err := endpoint.Lookup(name)
	if err != nil {
		if isGroup(name) {
			d.b.Fail(name, "expected an object")
		} else {
			d.b.Fail(name, err.Error())
		}
		return a, false
	}
	if len(d.attrs) < 4096 {
		d.attrs[name] = a
	}
	return a, true
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

// skipValue steps over any JSON value, checking its syntax.
func (p *jsonParser) skipValue() string {
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
		return p.skipContainer(c)
	case p.literal("true"), p.literal("false"), p.literal("null"):
		return ""
	}
	return "unexpected character " + strconv.QuoteRune(rune(p.buf[p.pos]))
}

func (p *jsonParser) skipContainer(open byte) string {
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
		if msg := p.skipValue(); msg != "" {
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
