package decode

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/segport/segport/pkg/endpoint"
)

// CSVDecoder decodes an RFC 4180 endpoint file whose first record is a header of
// dotted attribute names. A repeated Attributes.* or User.UserAttributes.* column
// adds a value to that attribute.
type CSVDecoder struct {
	r       *reader
	b       *endpoint.Builder
	cols    []endpoint.Attr
	header  []string
	started bool
	row     Row

	fields   []string
	fieldBuf []byte
	escaped  []span
}

// NewCSV returns a decoder reading CSV from r.
func NewCSV(r io.Reader, opts Options) *CSVDecoder {
	d := &CSVDecoder{r: newReader(r, opts)}
	d.b = endpoint.NewBuilder(d.r.opts.Limits)
	d.b.UTF8Checked = true // reader.record checks whole records
	return d
}

// Header returns the header, once the first Decode has read it.
func (d *CSVDecoder) Header() []string { return d.header }

// Decode returns the next endpoint; see Decoder.
func (d *CSVDecoder) Decode() (*Row, error) {
	if d.r.err != nil {
		return nil, d.r.err
	}
	return d.r.final(d.decode())
}

func (d *CSVDecoder) decode() (*Row, error) {
	if !d.started {
		d.started = true
		if err := d.readHeader(); err != nil {
			return nil, err
		}
	}
	line, tooLong, err := d.r.record(true)
	if err != nil {
		return nil, err
	}
	row := &d.row
	*row = Row{Line: line, Raw: trimEOL(d.r.raw)}
	if tooLong {
		return row, d.r.rowError(line, "", fmt.Sprintf("row is longer than the %d-byte limit", d.r.opts.RowLimit), ErrRowTooLong)
	}
	fields, col, msg := d.split(trimEOL(d.r.raw))
	if msg != "" {
		return row, d.r.rowError(line, "", fmt.Sprintf("column %d: %s", col, msg), ErrSyntax)
	}
	if len(fields) != len(d.cols) {
		return row, d.r.rowError(line, "", fmt.Sprintf("row has %d fields, the header has %d", len(fields), len(d.cols)), ErrFieldCount)
	}
	d.b.Reset()
	for i, f := range fields {
		d.b.Set(d.cols[i], f)
	}
	e, ferr := d.b.Finish()
	if ferr != nil {
		return row, d.r.rowError(line, ferr.Field, ferr.Msg, ErrInvalidEndpoint)
	}
	row.Endpoint = e
	return row, nil
}

func (d *CSVDecoder) readHeader() error {
	if h := d.r.opts.Header; h != nil {
		return d.setHeader(h, d.r.line-1)
	}
	if err := d.r.start(); err != nil {
		return err
	}
	line, tooLong, err := d.r.record(true)
	switch {
	case err == io.EOF:
		return &FileError{File: d.r.opts.File, Line: 1, Byte: -1, Err: ErrEmptyHeader, Msg: "the file is empty: a CSV endpoint file starts with a header row"}
	case err != nil:
		return err
	case tooLong:
		return &FileError{File: d.r.opts.File, Line: line, Byte: -1, Err: ErrRowTooLong, Msg: "the header is longer than the row limit"}
	}
	fields, col, msg := d.split(trimEOL(d.r.raw))
	if msg != "" {
		return &FileError{File: d.r.opts.File, Line: line, Byte: -1, Err: ErrSyntax, Msg: fmt.Sprintf("header column %d: %s", col, msg)}
	}
	return d.setHeader(fields, line)
}

// setHeader resolves the header's names to attributes.
func (d *CSVDecoder) setHeader(names []string, line int) error {
	fail := func(field, msg string, err error) error {
		return &FileError{File: d.r.opts.File, Line: max(line, 1), Byte: -1, Field: field, Msg: msg, Err: err}
	}
	if len(names) == 1 && strings.ContainsAny(names[0], ";\t") {
		kind := "semicolon"
		if strings.Contains(names[0], "\t") {
			kind = "tab"
		}
		return fail("", "the header looks "+kind+"-delimited; endpoint files must be comma-separated", ErrDelimiter)
	}
	cols := make([]endpoint.Attr, len(names))
	seen := make(map[string]bool, len(names))
	for i, name := range names {
		name = strings.TrimSpace(name)
		if name == "" {
			return fail("", fmt.Sprintf("header column %d is empty", i+1), ErrUnknownHeader)
		}
		a, err := endpoint.Lookup(name)
		if err != nil {
			return fail(name, err.Error(), ErrUnknownHeader)
		}
		if seen[name] && !a.MultiValue() {
			return fail(name, fmt.Sprintf("duplicated header (column %d); only Attributes.* and User.UserAttributes.* may repeat", i+1), ErrDuplicateHeader)
		}
		seen[name] = true
		cols[i] = a
	}
	d.cols, d.header = cols, append([]string(nil), names...)
	return nil
}

// split parses one record into fields. On a syntax error it returns the 1-based
// column (byte) and a message. The fields are substrings of one string made of the
// record; quoted fields that need unescaping ("" or a CRLF inside) share a second.
func (d *CSVDecoder) split(rec []byte) (fields []string, col int, msg string) {
	s := string(rec)
	if strings.IndexByte(s, '"') < 0 {
		// No quotes: a byte loop beats an IndexByte call per field, fields being short.
		fields, prev := d.fields[:0], 0
		for i := 0; i < len(s); i++ {
			if s[i] == ',' {
				fields = append(fields, s[prev:i])
				prev = i + 1
			}
		}
		d.fields = append(fields, s[prev:])
		return d.fields, 0, ""
	}
	fields, col, msg = d.splitQuoted(s)
	if msg != "" {
		return nil, col, msg
	}
	if len(d.escaped) > 0 {
		u := string(d.fieldBuf)
		for _, e := range d.escaped {
			fields[e.field] = u[e.start:e.end]
		}
	}
	d.fields = fields
	return fields, 0, ""
}

// splitQuoted splits a record that has quotes. A quoted field that needs
// unescaping is left in d.fieldBuf, noted in d.escaped.
func (d *CSVDecoder) splitQuoted(s string) (fields []string, col int, msg string) {
	fields, d.escaped, d.fieldBuf = d.fields[:0], d.escaped[:0], d.fieldBuf[:0]
	i := 0
	for {
		if i < len(s) && s[i] == '"' {
			j, doubled := i+1, false
			for {
				k := strings.IndexByte(s[j:], '"')
				if k < 0 {
					return nil, i + 1, "quoted field is not closed"
				}
				j += k + 1
				if j < len(s) && s[j] == '"' {
					doubled = true
					j++
					continue
				}
				break
			}
			if j < len(s) && s[j] != ',' {
				return nil, j + 1, "text after the closing quote of a quoted field"
			}
			f := s[i+1 : j-1]
			if doubled || strings.Contains(f, "\r\n") {
				start := len(d.fieldBuf)
				d.fieldBuf = appendUnquoted(d.fieldBuf, f)
				d.escaped = append(d.escaped, span{len(fields), start, len(d.fieldBuf)})
			}
			fields = append(fields, f)
			i = j
		} else {
			k := strings.IndexByte(s[i:], ',')
			if k < 0 {
				k = len(s) - i
			}
			f := s[i : i+k]
			if q := strings.IndexByte(f, '"'); q >= 0 {
				return nil, i + q + 1, `a double quote in an unquoted field; quote the field and double the quote ("")`
			}
			fields = append(fields, f)
			i += k
		}
		if i >= len(s) {
			break
		}
		i++ // the comma
	}
	return fields, 0, ""
}

// span is an unescaped quoted field: fields[field] is fieldBuf[start:end].
type span struct{ field, start, end int }

// appendUnquoted appends the text of a quoted field: "" becomes " and a CRLF line
// break becomes LF.
func appendUnquoted(dst []byte, f string) []byte {
	for i := 0; i < len(f); i++ {
		switch c := f[i]; {
		case c == '"':
			i++ // the second quote of ""
		case c == '\r' && i+1 < len(f) && f[i+1] == '\n':
			continue
		}
		dst = append(dst, f[i])
	}
	return dst
}

// IsRowError reports whether err leaves the decoder able to go on.
func IsRowError(err error) bool {
	var re *RowError
	return errors.As(err, &re)
}
