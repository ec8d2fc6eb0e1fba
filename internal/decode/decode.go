// Package decode reads endpoint files: CSV (RFC 4180, a header of dotted attribute
// names) and newline-delimited JSON. Decoders stream: one endpoint per Decode call,
// memory bounded by the row limit, whatever the size of the file.
package decode

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/segport/segport/internal/csvframe"
	"github.com/segport/segport/pkg/endpoint"
)

// Format is an endpoint file format.
type Format string

// The formats, named as Pinpoint names them.
const (
	CSV  Format = "CSV"
	JSON Format = "JSON"
)

// ParseFormat accepts "csv", "json" and "ndjson" in any case.
func ParseFormat(s string) (Format, error) {
	switch strings.ToUpper(s) {
	case "CSV":
		return CSV, nil
	case "JSON", "NDJSON", "JSONL":
		return JSON, nil
	}
	return "", fmt.Errorf("unknown format %q: want csv or json", s)
}

// FormatOf guesses the format from a file name's extension.
func FormatOf(name string) (Format, bool) {
	switch strings.ToLower(path.Ext(name)) {
	case ".csv":
		return CSV, true
	case ".json", ".jsonl", ".ndjson":
		return JSON, true
	}
	return "", false
}

// Sniff guesses the format from a file's first bytes: a JSON file's first
// non-blank character is '{'.
func Sniff(head []byte) Format {
	head = bytes.TrimPrefix(head, bom)
	head = bytes.TrimLeft(head, " \t\r\n")
	if len(head) > 0 && head[0] == '{' {
		return JSON
	}
	return CSV
}

// Sentinel errors; a FileError or RowError wraps one where it applies.
var (
	ErrCompressed        = errors.New("compressed input is not supported")
	ErrNotUTF8           = errors.New("input is not UTF-8")
	ErrUnknownHeader     = errors.New("unknown header")
	ErrDuplicateHeader   = errors.New("duplicated header")
	ErrDelimiter         = errors.New("not comma-delimited")
	ErrUnterminatedQuote = errors.New("unterminated quoted field")
	ErrEmptyHeader       = errors.New("missing header")
	ErrRowTooLong        = errors.New("row too long")
	ErrFieldCount        = errors.New("wrong number of fields")
	ErrSyntax            = errors.New("syntax error")
	ErrInvalidEndpoint   = errors.New("invalid endpoint")
)

// FileError stops a file: nothing after it can be decoded. Line and Byte locate it
// (1-based line; Byte is the 0-based offset in the file, -1 when not known).
type FileError struct {
	File  string
	Line  int
	Byte  int64
	Field string
	Msg   string
	Err   error
}

func (e *FileError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File + ":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *FileError) Unwrap() error { return e.Err }

// RowError is a problem with one row; decoding goes on with the next row.
type RowError struct {
	File  string
	Line  int // the line on which the record starts
	Field string
	Msg   string
	Err   error
}

func (e *RowError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File + ":")
	}
	fmt.Fprintf(&b, "%d: ", e.Line)
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *RowError) Unwrap() error { return e.Err }

// Row is one decoded record. Raw is the record as it stood in the file, without its
// line ending (at most the first rawKeep bytes of an over-long one); it is reused by
// the next Decode.
type Row struct {
	Line     int
	Raw      []byte
	Endpoint *endpoint.Endpoint
	// UserIds, with a nil Endpoint, make the row a user-ID definition: its users
	// belong to the segment, and so do all their endpoints. A CSV file whose
	// header is User.UserId alone lists them, several to a line separated by
	// spaces; a JSON line that gives User.UserId and nothing else gives one.
	UserIds []string
}

// Decoder is implemented by the CSV and NDJSON decoders. Decode returns the next
// endpoint, or the row with a *RowError (go on), a *FileError (stop) or io.EOF.
// Any error but a *RowError is final: every later Decode returns it again.
type Decoder interface {
	Decode() (*Row, error)
}

// Options tune a decoder. The zero value decodes a whole file with the spec's limits.
type Options struct {
	File     string          // name used in error messages
	Limits   endpoint.Limits // a zero field means its endpoint.DefaultLimits() value
	RowLimit int             // bytes in one record; 0 means 1 MiB
	Header   []string        // CSV only: the header, when decoding a piece of a file after it
	Line     int             // the line number of the first record in r; 0 means 1
	Offset   int64           // the byte offset of r's start in the file

	// ReuseEndpoint lets Decode return the memory of the Endpoint it returned
	// before, overwritten: it is valid until the next Decode (its strings stay
	// valid). Like csv.Reader's ReuseRecord, it saves an allocation per row
	// (about 1 KB) for a caller done with each endpoint before the next.
	ReuseEndpoint bool

	// Inflate bounds what a compressed file (a gzip Pinpoint export) may
	// decompress to; a zero field means its DefaultInflate value.
	Inflate Inflate

	// NoDerivedId leaves Id empty where it would be derived, for a caller
	// that checks rows but never reads their Ids (segport validate); the
	// verdict on every row is the same (see endpoint.Builder.NoDerivedId).
	NoDerivedId bool
}

// Inflate caps decompression, so that a small file cannot make a parser
// decompress without end (a "gzip bomb"): past Bytes decompressed bytes, or
// past Ratio decompressed bytes per compressed byte read (once a MiB has been
// decompressed), the file fails with a FileError; the rows before it stand.
type Inflate struct {
	Ratio int   // decompressed bytes per compressed byte
	Bytes int64 // decompressed bytes in all
}

// DefaultInflate is the template's default: JSON exports compress about 10:1,
// so 100:1 leaves room; 64 GiB is more than a parser reads in its 300 s.
var DefaultInflate = Inflate{Ratio: 100, Bytes: 64 << 30}

// WithDefaults fills the zero fields.
func (c Inflate) WithDefaults() Inflate {
	if c.Ratio <= 0 {
		c.Ratio = DefaultInflate.Ratio
	}
	if c.Bytes <= 0 {
		c.Bytes = DefaultInflate.Bytes
	}
	return c
}

// inflateFloor is how much may be decompressed before the ratio is checked:
// a stream's first bytes can compress far better than the whole.
const inflateFloor = 1 << 20

// CappedInflater returns r, the decompressed stream of a file, cut at c:
// compressed tells how many compressed bytes have been read, line the line
// being read. Past the cap, Read returns a *FileError naming the file, the
// line and the cap.
func CappedInflater(r io.Reader, compressed func() int64, c Inflate, file string, line func() int) io.Reader {
	return &cappedInflater{r: r, in: compressed, c: c.WithDefaults(), file: file, line: line}
}

type cappedInflater struct {
	r    io.Reader
	in   func() int64
	c    Inflate
	out  int64
	file string
	line func() int
}

func (c *cappedInflater) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.out += int64(n)
	over := ""
	switch {
	case c.out > c.c.Bytes:
		over = fmt.Sprintf("more than %d bytes (MaxInflateGiB)", c.c.Bytes)
	case c.out > inflateFloor && c.out > int64(c.c.Ratio)*max(c.in(), 1):
		over = fmt.Sprintf("more than %d bytes for each compressed byte (MaxInflateRatio)", c.c.Ratio)
	}
	if over != "" {
		return 0, &FileError{File: c.file, Line: c.line(), Byte: -1, Err: ErrCompressed,
			Msg: "the gzip stream decompresses to " + over + ", the cap on decompression; the rows before this line were read"}
	}
	return n, err
}

const (
	defaultRowLimit = 1 << 20
	rawKeep         = 4096 // bytes of an over-long row kept for the error report
)

var bom = []byte{0xEF, 0xBB, 0xBF}

// New returns the decoder for format f.
func New(f Format, r io.Reader, opts Options) Decoder {
	if f == JSON {
		return NewJSON(r, opts)
	}
	return NewCSV(r, opts)
}

func (o *Options) defaults() {
	o.Limits = o.Limits.WithDefaults()
	if o.RowLimit <= 0 {
		o.RowLimit = defaultRowLimit
	}
	if o.Line <= 0 {
		o.Line = 1
	}
}

// magic numbers of the compressed formats we refuse.
var magics = []struct {
	name  string
	magic []byte
}{
	{"gzip", []byte{0x1f, 0x8b}},
	{"zip", []byte("PK\x03\x04")},
	{"zip", []byte("PK\x05\x06")},
	{"bzip2", []byte("BZh1")}, {"bzip2", []byte("BZh2")}, {"bzip2", []byte("BZh3")},
	{"bzip2", []byte("BZh4")}, {"bzip2", []byte("BZh5")}, {"bzip2", []byte("BZh6")},
	{"bzip2", []byte("BZh7")}, {"bzip2", []byte("BZh8")}, {"bzip2", []byte("BZh9")},
	{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0}},
}

// Compression names the compressed format whose magic number starts head, or "".
func Compression(head []byte) string {
	for _, m := range magics {
		if bytes.HasPrefix(head, m.magic) {
			return m.name
		}
	}
	return ""
}

// reader frames records for both decoders: it checks the start of the file, counts
// lines and bytes and enforces the row limit.
type reader struct {
	opts   Options
	br     *bufio.Reader
	line   int    // line number of the next unread byte
	offset int64  // file offset of the next unread byte
	raw    []byte // the current record
	buf    []byte // holds a record that does not lie whole in br's buffer
	clean  bool   // the current record holds no character a value may not (see clean)
	err    error  // the final error, once there is one
}

// final makes every error but a row error sticky: after a FileError, a read error
// or io.EOF nothing more is decoded. A row error comes with its row.
func (r *reader) final(row *Row, err error) (*Row, error) {
	if err != nil && row == nil {
		r.err = err
	}
	return row, err
}

// record reads the next non-blank record and returns the line it starts on.
// r.raw holds its bytes: a view of the read buffer when the record lies
// in it whole, as most do, else r.buf. A record ends at a newline; in CSV
// (quoted), not at one inside a quoted field: package csvframe decides, as it
// does when a large file is split into pieces. A quote that opens no quoted
// field (a bare quote in an unquoted field) fails its record only, which then
// ends at its line's end, as encoding/csv ends it. A record over the row limit
// is read to its end but only its first rawKeep bytes are kept.
func (r *reader) record(quoted bool) (line int, tooLong bool, err error) {
	for {
		line, start, tooLong, err := r.next(quoted)
		if err != nil || tooLong {
			return line, tooLong, err
		}
		blank := len(trimEOL(r.raw)) == 0
		if !quoted {
			blank = len(bytes.TrimSpace(r.raw)) == 0 // white space alone is no JSON
		}
		if !blank {
			if r.clean = printable(trimEOL(r.raw)); r.clean {
				return line, false, nil
			}
			if err := r.checkUTF8(r.raw, line, start); err != nil {
				return line, false, err
			}
			r.clean = clean(r.raw)
			return line, false, nil
		}
	}
}

// next reads the next record, blank or not, and returns where it starts.

func (r *reader) next(quoted bool) (line int, start int64, tooLong bool, err error) {
	line, start = r.line, r.offset
	r.buf = r.buf[:0]
	state := csvframe.FieldStart
	for first := true; ; first = false {
		chunk, rerr := r.br.ReadSlice('\n')
		if rerr != nil && rerr != bufio.ErrBufferFull && rerr != io.EOF {
			return 0, 0, false, fmt.Errorf("read line %d: %w", r.line, rerr)
		}
		switch {
		case !quoted:
		case first && rerr != bufio.ErrBufferFull: // a whole line, as most records are
			if state = csvframe.FieldStart; csvframe.OpenAfter(chunk) {
				state = csvframe.Quoted
			}
		default:
			state = state.After(chunk)
		}
		r.offset += int64(len(chunk))
		if rerr == nil {
			r.line++
		}
		ends := rerr == io.EOF || (rerr == nil && state != csvframe.Quoted)
		switch {
		case first && ends && len(chunk) <= r.opts.RowLimit:
			r.raw = chunk // valid until the next read, as Row.Raw promises
		case !tooLong && len(r.buf)+len(chunk) > r.opts.RowLimit:
			tooLong = true
			r.buf = r.buf[:min(len(r.buf), rawKeep)]
			r.buf = append(r.buf, chunk[:max(0, min(len(chunk), rawKeep-len(r.buf)))]...)
			r.raw = r.buf
		case !tooLong:
			r.buf = append(r.buf, chunk...)
			r.raw = r.buf
		}
		switch {
		case rerr == io.EOF && r.offset == start:
			return 0, 0, false, io.EOF
		case rerr == io.EOF && state == csvframe.Quoted:
			return 0, 0, false, &FileError{File: r.opts.File, Line: line, Byte: start, Err: ErrUnterminatedQuote,
				Msg: "a quoted field opened in the record starting on this line is never closed"}
		case ends:
			return line, start, tooLong, nil
		}
	}
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

func newReader(r io.Reader, opts Options) *reader {
	opts.defaults()
	return &reader{opts: opts, br: bufio.NewReaderSize(r, 64*1024), line: opts.Line, offset: opts.Offset}
}

// start checks the first bytes of a whole file: compression and BOM.
func (r *reader) start() error {
	if r.opts.Offset != 0 {
		return nil
	}
	head, _ := r.br.Peek(6)
	if name := Compression(head); name != "" {
		return &FileError{File: r.opts.File, Line: 1, Byte: 0, Err: ErrCompressed,
			Msg: "the file is " + name + "-compressed; compressed files cannot be imported, decompress it first"}
	}
	if bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}) {
		return &FileError{File: r.opts.File, Line: 1, Byte: 0, Err: ErrNotUTF8,
			Msg: "the file is UTF-16 encoded (it starts with a UTF-16 byte order mark); save it as UTF-8"}
	}
	if bytes.HasPrefix(head, bom) {
		r.br.Discard(len(bom))
		r.offset += int64(len(bom))
	}
	return nil
}

// checkUTF8 returns a FileError locating the first invalid byte of rec, which
// starts at file offset off on line line.
func (r *reader) checkUTF8(rec []byte, line int, off int64) error {
	if utf8.Valid(rec) {
		return nil
	}
	i := 0
	for i < len(rec) {
		c, size := utf8.DecodeRune(rec[i:])
		if c == utf8.RuneError && size <= 1 {
			break
		}
		i += size
	}
	l := line + bytes.Count(rec[:i], []byte{'\n'})
	return &FileError{File: r.opts.File, Line: l, Byte: off + int64(i), Err: ErrNotUTF8,
		Msg: fmt.Sprintf("invalid UTF-8 at byte %d (0x%02x); files must be UTF-8 encoded", off+int64(i), rec[i])}
}

// printable reports whether b holds only printable ASCII (DEL included), 32
// bytes at a time: most records do, and then they are valid UTF-8 and hold no
// character a value may not (see endpoint.Builder.TextChecked). utf8.Valid
// would take a branch every eight bytes. A byte below 0x20 borrows in w-lo
// where w has no high bit (the classic "has less than" test).
func printable(b []byte) bool {
	const lo, hi = 0x2020202020202020, 0x8080808080808080
	var acc uint64
	for ; len(b) >= 32; b = b[32:] {
		w0, w1 := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])
		w2, w3 := binary.LittleEndian.Uint64(b[16:]), binary.LittleEndian.Uint64(b[24:])
		acc |= w0 | (w0-lo)&^w0 | w1 | (w1-lo)&^w1 | w2 | (w2-lo)&^w2 | w3 | (w3-lo)&^w3
	}
	for ; len(b) >= 8; b = b[8:] {
		w := binary.LittleEndian.Uint64(b)
		acc |= w | (w-lo)&^w
	}
	for _, c := range b {
		if c < 0x20 {
			return false
		}
		acc |= uint64(c)
	}
	return acc&hi == 0
}

// clean reports whether b, valid UTF-8, holds no character a value may not
// (see endpoint.Builder.TextChecked): no control character but tab, LF and CR,
// and neither U+FFFE nor U+FFFF (EF BF BE, EF BF BF). It is for the records
// printable cannot vouch for (non-ASCII text, line breaks in quotes), eight
// bytes at a time; one that fails has its values checked one by one, so that
// the error names the field.
func clean(b []byte) bool {
	const lo, hi = 0x2020202020202020, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if w := binary.LittleEndian.Uint64(b[i:]); (w-lo)&^w&hi != 0 && !allowedControls(b[i:i+8]) {
			return false
		}
	}
	if !allowedControls(b[i:]) {
		return false
	}
	for i := 0; ; i++ { // EF starts U+F000 to U+FFFF, which few texts hold
		j := bytes.IndexByte(b[i:], 0xEF)
		if j < 0 {
			return true
		}
		if i += j; i+2 < len(b) && b[i+1] == 0xBF && b[i+2] >= 0xBE {
			return false
		}
	}
}

// allowedControls reports whether b's bytes below 0x20 are tabs, LFs and CRs.
func allowedControls(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

func (r *reader) rowError(line int, field, msg string, err error) *RowError {
	return &RowError{File: r.opts.File, Line: line, Field: field, Msg: msg, Err: err}
}
