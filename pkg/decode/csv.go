package decode

import (
	"bufio"
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

	fieldBuf []byte
	ends     []int
	fields   []string
}

// NewCSV returns a decoder reading CSV from r.
func NewCSV(r io.Reader, opts Options) *CSVDecoder {
	d := &CSVDecoder{r: newReader(r, opts)}
	d.b = endpoint.NewBuilder(d.r.opts.Limits)
	return d
}

// Header returns the header, once the first Decode has read it.
func (d *CSVDecoder) Header() []string { return d.header }

// Decode returns the next endpoint; see Decoder.
func (d *CSVDecoder) Decode() (*Row, error) {
	if !d.started {
		d.started = true
		if err := d.readHeader(); err != nil {
			d.cols = nil
			return nil, err
		}
	}
	if d.cols == nil {
		return nil, errHeaderWithoutInput
	}
	line, tooLong, err := d.readRecord()
	if err != nil {
		return nil, err
	}
	row := &d.row
	*row = Row{Line: line, Raw: d.r.raw}
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
	line, tooLong, err := d.readRecord()
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

// readRecord reads the raw bytes of the next non-blank record into d.r.raw. A
// record ends at a newline outside quotes: quote parity decides, as it does when a
// large file is split into pieces.
func (d *CSVDecoder) readRecord() (line int, tooLong bool, err error) {
	r := d.r
	for {
		r.raw = r.raw[:0]
		line = r.line
		start := r.offset
		quotes := 0
		tooLong = false
		for {
			chunk, rerr := r.br.ReadSlice('\n')
			quotes += bytes.Count(chunk, quote)
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
			if rerr != nil && rerr != io.EOF {
				return 0, false, fmt.Errorf("read line %d: %w", r.line, rerr)
			}
			if rerr == nil {
				r.line++
				if quotes%2 == 1 {
					continue
				}
			} else if r.offset == start {
				return 0, false, io.EOF
			} else if quotes%2 == 1 {
				return 0, false, &FileError{File: r.opts.File, Line: line, Byte: start, Err: ErrUnterminatedQuote,
					Msg: "a quoted field opened in the record starting on this line is never closed"}
			}
			break
		}
		if len(trimEOL(r.raw)) == 0 && !tooLong {
			continue // blank line
		}
		if !tooLong {
			if err := r.checkUTF8(r.raw, line, start); err != nil {
				return 0, false, err
			}
		}
		return line, tooLong, nil
	}
}

var quote = []byte{'"'}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// split parses one record into fields. On a syntax error it returns the 1-based
// column (byte) and a message. The fields share one string allocation.
func (d *CSVDecoder) split(rec []byte) (fields []string, col int, msg string) {
	buf, ends := d.fieldBuf[:0], d.ends[:0]
	i := 0
	for {
		if i < len(rec) && rec[i] == '"' {
			j := i + 1
			for {
				k := bytes.IndexByte(rec[j:], '"')
				if k < 0 {
					return nil, i + 1, "quoted field is not closed"
				}
				buf = appendUnCRLF(buf, rec[j:j+k])
				j += k + 1
				if j < len(rec) && rec[j] == '"' {
					buf = append(buf, '"')
					j++
					continue
				}
				break
			}
			if j < len(rec) && rec[j] != ',' {
				return nil, j + 1, "text after the closing quote of a quoted field"
			}
			i = j
		} else {
			k := bytes.IndexByte(rec[i:], ',')
			if k < 0 {
				k = len(rec) - i
			}
			f := rec[i : i+k]
			if q := bytes.IndexByte(f, '"'); q >= 0 {
				return nil, i + q + 1, `a double quote in an unquoted field; quote the field and double the quote ("")`
			}
			buf = append(buf, f...)
			i += k
		}
		ends = append(ends, len(buf))
		if i >= len(rec) {
			break
		}
		i++ // the comma
	}
	d.fieldBuf, d.ends = buf, ends
	s := string(buf)
	fields = d.fields[:0]
	prev := 0
	for _, end := range ends {
		fields = append(fields, s[prev:end])
		prev = end
	}
	d.fields = fields
	return fields, 0, ""
}

// appendUnCRLF appends b, turning CRLF line breaks inside a quoted field into LF.
func appendUnCRLF(dst, b []byte) []byte {
	for {
		k := bytes.Index(b, []byte("\r\n"))
		if k < 0 {
			return append(dst, b...)
		}
		dst = append(dst, b[:k]...)
		dst = append(dst, '\n')
		b = b[k+2:]
	}
}

// IsRowError reports whether err leaves the decoder able to go on.
func IsRowError(err error) bool {
	var re *RowError
	return errors.As(err, &re)
}

