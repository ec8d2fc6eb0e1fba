package decode

import (
	"bytes"
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
	userIds bool // the header is User.UserId alone: a user-ID file

	// The fields of the current record (see split).
	fields   []endpoint.Span
	fieldBuf []byte // the text of quoted fields that needed unescaping
}

// NewCSV returns a decoder reading CSV from r.
func NewCSV(r io.Reader, opts Options) *CSVDecoder {
	d := &CSVDecoder{r: newReader(r, opts)}
	d.b = endpoint.NewBuilder(d.r.opts.Limits)
	d.b.Reuse = opts.ReuseEndpoint
	d.b.NoDerivedId = opts.NoDerivedId
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
	text, col, msg := d.split(trimEOL(d.r.raw))
	if msg != "" {
		return row, d.r.rowError(line, "", fmt.Sprintf("column %d: %s", col, msg), ErrSyntax)
	}
	if len(d.fields) != len(d.cols) {
		return row, d.r.rowError(line, "", fmt.Sprintf("row has %d fields, the header has %d", len(d.fields), len(d.cols)), ErrFieldCount)
	}
	d.b.Reset()
	d.b.TextChecked = d.r.clean
	d.b.SetRow(text, d.fields)
	if d.userIds {
		return d.userIdRow(row)
	}
	e, ferr := d.b.Finish()
	if ferr != nil {
		return row, d.r.rowError(line, ferr.Field, ferr.Msg, ErrInvalidEndpoint)
	}
	row.Endpoint = e
	return row, nil
}

// userIdRow reads a line of a user-ID file: user IDs separated by white space.
func (d *CSVDecoder) userIdRow(row *Row) (*Row, error) {
	if d.b.Failed() {
		_, ferr := d.b.Finish()
		return row, d.r.rowError(row.Line, ferr.Field, ferr.Msg, ErrInvalidEndpoint)
	}
	ids, ok := d.b.UserIdOnly()
	if !ok {
		return row, d.r.rowError(row.Line, "User.UserId", "missing: each line of a user-ID file lists user IDs, separated by spaces", ErrInvalidEndpoint)
	}
	row.UserIds = strings.Fields(ids)
	for i, id := range row.UserIds {
		if msg := endpoint.CheckUserId(id); msg != "" {
			return row, d.r.rowError(row.Line, "User.UserId", fmt.Sprintf("user ID %d: %s", i+1, msg), ErrInvalidEndpoint)
		}
	}
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
	text, col, msg := d.split(trimEOL(d.r.raw))
	if msg != "" {
		return &FileError{File: d.r.opts.File, Line: line, Byte: -1, Err: ErrSyntax, Msg: fmt.Sprintf("header column %d: %s", col, msg)}
	}
	names := make([]string, len(d.fields))
	for i, f := range d.fields {
		names[i] = text[f.Start:f.End]
	}
	return d.setHeader(names, line)
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
			return fail("", unknownColumn(i+1, err), ErrUnknownHeader)
		}
		if seen[name] && !a.MultiValue() {
			return fail(name, fmt.Sprintf("duplicated header (column %d); only Attributes.* and User.UserAttributes.* may repeat", i+1), ErrDuplicateHeader)
		}
		seen[name] = true
		cols[i] = a
	}
	d.cols, d.header = cols, append([]string(nil), names...)
	d.userIds = len(cols) == 1 && cols[0].Kind == endpoint.KindUserId
	d.b.SetColumns(cols)
	return nil
}

// unknownColumn says which header column is no attribute, and what it may
// have meant, without repeating the cell: in a file without a header row the
// first line is data, whose first field may be an address. A plain name close
// to no attribute past the first column is most likely a custom attribute: the
// message names its families, with <name> for the cell.
func unknownColumn(col int, err error) string {
	msg := fmt.Sprintf("header column %d: unknown attribute", col)
	var ue *endpoint.UnknownAttributeError
	isUnknown := errors.As(err, &ue)
	switch {
	case isUnknown && ue.Hint() != "":
		return msg + ", did you mean " + ue.Hint() + "?"
	case col == 1:
		return msg + " (the first line must be the header row of attribute names, such as ChannelType,Address)"
	case isUnknown && ue.MaybeCustom():
		return msg + "; " + endpoint.CustomNames("<name>")
	}
	return msg
}

// split parses one record into d.fields and returns the one string they are
// substrings of: the record, followed by the text of the quoted fields that need
// unescaping ("" or a CRLF inside). On a syntax error it returns the 1-based
// column (byte) and a message. Fields are kept as offsets, not strings: storing
// a string in the heap costs a write barrier while the GC runs, and it often does.
//
// It looks for the record's quotes apart from its commas: most records have few
// or none, and bytes.IndexByte finds the next comma faster than a loop would.
func (d *CSVDecoder) split(rec []byte) (text string, col int, msg string) {
	fields := d.fields[:0]
	d.fieldBuf = d.fieldBuf[:0]
	q := nextQuote(rec, 0) // the next quote from start on
	crs := q < len(rec) && bytes.IndexByte(rec, '\r') >= 0
	for start := 0; ; {
		if start == q && q < len(rec) {
			f, end, col, msg := d.quotedField(rec, start, crs)
			if msg != "" {
				return "", col, msg
			}
			fields = append(fields, f)
			if end == len(rec) {
				break
			}
			start = end + 1 // rec[end] is a comma
			q = nextQuote(rec, start)
			continue
		}
		end := len(rec)
		if j := bytes.IndexByte(rec[start:], ','); j >= 0 {
			end = start + j
		}
		if q < end {
			return "", q + 1, `a double quote in an unquoted field; quote the field and double the quote ("")`
		}
		fields = append(fields, endpoint.Span{Start: start, End: end})
		if end == len(rec) {
			break
		}
		start = end + 1
	}
	d.fields = fields
	return d.b.Arena.Concat(rec, d.fieldBuf), 0, ""
}

// nextQuote returns the index of the first double quote in rec from i on, or
// len(rec).
func nextQuote(rec []byte, i int) int {
	if j := bytes.IndexByte(rec[i:], '"'); j >= 0 {
		return i + j
	}
	return len(rec)
}

// quotedField reads the quoted field that starts at rec[i] and returns it and the
// index after its closing quote. A field that needs unescaping ("", or a CRLF
// when crs says rec has a CR at all) is unescaped into d.fieldBuf, which split
// puts after the record.
func (d *CSVDecoder) quotedField(rec []byte, i int, crs bool) (f endpoint.Span, end, col int, msg string) {
	j, doubled := i+1, false
	for {
		k := bytes.IndexByte(rec[j:], '"')
		if k < 0 {
			return endpoint.Span{}, 0, i + 1, "quoted field is not closed"
		}
		j += k + 1
		if j < len(rec) && rec[j] == '"' {
			doubled = true
			j++
			continue
		}
		break
	}
	if j < len(rec) && rec[j] != ',' {
		return endpoint.Span{}, 0, j + 1, "text after the closing quote of a quoted field"
	}
	f = endpoint.Span{Start: i + 1, End: j - 1}
	if doubled || (crs && bytes.Contains(rec[f.Start:f.End], crlf)) {
		start := len(rec) + len(d.fieldBuf)
		d.fieldBuf = appendUnquoted(d.fieldBuf, rec[f.Start:f.End])
		f = endpoint.Span{Start: start, End: len(rec) + len(d.fieldBuf)}
	}
	return f, j, 0, ""
}

var crlf = []byte("\r\n")

// appendUnquoted appends the text of a quoted field: "" becomes " and a CRLF line
// break becomes LF.
func appendUnquoted(dst []byte, f []byte) []byte {
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
