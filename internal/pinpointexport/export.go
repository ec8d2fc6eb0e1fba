// Package pinpointexport reads the output of an Amazon Pinpoint export job
// (CreateExportJob) as endpoint definitions segport imports: it is the decoder
// of the PINPOINT_EXPORT import format, a decode.Decoder like the CSV and NDJSON
// ones, feeding the same endpoint.Builder.
//
// What an export is, as AWS documents it (from memory of the Amazon Pinpoint
// Developer Guide, "Exporting endpoints from Amazon Pinpoint", and the Amazon
// Pinpoint API Reference: CreateExportJob / ExportJobRequest, and the Endpoint
// resource's EndpointResponse, EndpointLocation, EndpointDemographic and
// EndpointUser schemas):
//
//   - An export job writes one or more objects under the S3 prefix its
//     ExportJobRequest.S3UrlPrefix names. Each object is newline-delimited JSON, one
//     EndpointResponse per line, and is usually gzip-compressed. Objects are read
//     whole; an uncompressed one may be split at newlines like any NDJSON file.
//   - An EndpointResponse holds the import attributes (Address, Attributes,
//     ChannelType, Demographic{AppVersion, Locale, Make, Model, ModelVersion,
//     Platform, PlatformVersion, Timezone}, EffectiveDate, EndpointStatus, Id,
//     Location{City, Country, Latitude, Longitude, PostalCode, Region}, Metrics,
//     OptOut, RequestId, User{UserAttributes, UserId}) and fields only an export
//     has: ApplicationId (the project), CohortId ("0" to "99", a random bucket for
//     A/B tests) and CreationDate (ISO 8601, when the endpoint was created).
//   - Address may be missing (an endpoint of a channel without one, or one whose
//     address was removed): the exported Id is always there and identifies it.
//   - EndpointLocation.Country is documented as ISO 3166-1 alpha-2 ("US"); the
//     deployment stores one form (endpoint.CountryForm, alpha-3 by default).
//
// The decoder converts an export line into an import row: countries are stored in
// the deployment's form (and counted when converted), CreationDate is kept as the endpoint's creation date, ApplicationId,
// CohortId and any field segport has no use for are ignored and counted (Counts),
// never failed. Everything else follows the import rules of pkg/endpoint, so a
// value an import would refuse fails its row with the same message.
package pinpointexport

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/segport/segport/internal/decode"
	"github.com/segport/segport/pkg/endpoint"
)

// Format is the import format of a Pinpoint export, as a CreateImportJob request
// and a job's Definition name it.
const Format decode.Format = "PINPOINT_EXPORT"

const (
	defaultRowLimit = 1 << 20 // as internal/decode
	rawKeep         = 4096    // bytes of an over-long row kept for the error report
)

var bom = []byte{0xEF, 0xBB, 0xBF}

// Decoder reads one export object (or a byte range of an uncompressed one) and
// returns one endpoint per Decode call; see decode.Decoder.
type Decoder struct {
	opts    decode.Options
	src     *sourceReader
	br      *bufio.Reader
	started bool
	gzipped bool
	err     error // the final error, once there is one

	line   int   // line number of the next unread byte
	offset int64 // offset of the next unread byte in the (decompressed) content
	buf    []byte
	row    decode.Row

	b      *endpoint.Builder
	p      lineParser
	counts Counts
}

// NewDecoder returns a decoder reading an export object from r. With
// opts.Offset 0, r is a whole object, gzip-compressed or not; with a larger
// offset it is a byte range of an uncompressed one, starting at a line.
func NewDecoder(r io.Reader, opts decode.Options) *Decoder {
	opts.Limits = opts.Limits.WithDefaults()
	if opts.RowLimit <= 0 {
		opts.RowLimit = defaultRowLimit
	}
	if opts.Line <= 0 {
		opts.Line = 1
	}
	d := &Decoder{opts: opts, src: &sourceReader{r: r}, line: opts.Line, offset: opts.Offset}
	d.b = endpoint.NewBuilder(opts.Limits)
	d.b.UTF8Checked = true // whole lines are checked, and unescaping keeps UTF-8 valid
	d.b.Reuse = opts.ReuseEndpoint
	return d
}

// Counts returns what the decoder has converted and ignored so far, over the
// rows it returned as valid endpoints.
func (d *Decoder) Counts() *Counts { return &d.counts }

// Gzipped reports whether the object is gzip-compressed; it is known after the
// first Decode.
func (d *Decoder) Gzipped() bool { return d.gzipped }

// Decode returns the next endpoint; see decode.Decoder.
func (d *Decoder) Decode() (*decode.Row, error) {
	if d.err != nil {
		return nil, d.err
	}
	row, err := d.decode()
	if err != nil && row == nil {
		d.err = err
	}
	return row, err
}

func (d *Decoder) decode() (*decode.Row, error) {
	if !d.started {
		d.started = true
		if err := d.start(); err != nil {
			return nil, err
		}
	}
	raw, line, tooLong, err := d.record()
	if err != nil {
		return nil, err
	}
	row := &d.row
	*row = decode.Row{Line: line, Raw: raw}
	if tooLong {
		return row, d.rowError(line, "", fmt.Sprintf("row is longer than the %d-byte limit", d.opts.RowLimit), decode.ErrRowTooLong)
	}
	d.b.Reset()
	d.p.reset()
	if msg := d.p.parse(raw, d.b); msg != "" {
		return row, d.rowError(line, "", "invalid JSON: "+msg, decode.ErrSyntax)
	}
	e, ferr := d.b.Finish()
	if ferr != nil {
		return row, d.rowError(line, ferr.Field, ferr.Msg, decode.ErrInvalidEndpoint)
	}
	d.counts.add(&d.p)
	row.Endpoint = e
	return row, nil
}

// start checks the first bytes of a whole object: gzip is decompressed, any other
// compression is refused, a BOM is dropped.
func (d *Decoder) start() error {
	d.br = bufio.NewReaderSize(d.src, 64*1024)
	if d.opts.Offset != 0 {
		return nil
	}
	head, _ := d.br.Peek(6)
	switch name := decode.Compression(head); name {
	case "":
	case "gzip":
		zr, err := gzip.NewReader(d.br)
		if err != nil {
			return d.gzipError(err)
		}
		d.gzipped = true
		capped := decode.CappedInflater(zr, func() int64 { return d.src.n }, d.opts.Inflate, d.opts.File, func() int { return d.line })
		d.br = bufio.NewReaderSize(capped, 64*1024)
		head, _ = d.br.Peek(6)
	default:
		return &decode.FileError{File: d.opts.File, Line: 1, Byte: 0, Err: decode.ErrCompressed,
			Msg: "the file is " + name + "-compressed; a Pinpoint export is gzip-compressed or plain JSON"}
	}
	if bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}) {
		return &decode.FileError{File: d.opts.File, Line: 1, Byte: 0, Err: decode.ErrNotUTF8,
			Msg: "the file is UTF-16 encoded (it starts with a UTF-16 byte order mark); save it as UTF-8"}
	}
	if bytes.HasPrefix(head, bom) {
		d.br.Discard(len(bom))
		d.offset += int64(len(bom))
	}
	return nil
}

// gzipError makes a damaged gzip stream a file-level error; any other error (a
// failed read of the object) is returned as it is, to be retried. A stream that
// ends early is damaged only if the object itself was read to its end: a read
// cut short by the network ends early too.
func (d *Decoder) gzipError(err error) error {
	var corrupt flate.CorruptInputError
	if errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.As(err, &corrupt) ||
		(errors.Is(err, io.ErrUnexpectedEOF) && d.src.eof) {
		return &decode.FileError{File: d.opts.File, Line: d.line, Byte: -1, Err: decode.ErrSyntax,
			Msg: "the gzip stream is damaged (" + err.Error() + "); the rows before this line were read"}
	}
	return err
}

// record reads the next non-blank line: its bytes without the line ending (valid
// until the next call), the line number, and whether it passed the row limit
// (then only its first rawKeep bytes are kept).
func (d *Decoder) record() ([]byte, int, bool, error) {
	for {
		line, start := d.line, d.offset
		d.buf = d.buf[:0]
		tooLong := false
		var raw []byte
		for first := true; ; first = false {
			chunk, err := d.br.ReadSlice('\n')
			if err != nil && err != bufio.ErrBufferFull && err != io.EOF {
				if d.gzipped {
					return nil, 0, false, d.gzipError(err)
				}
				return nil, 0, false, fmt.Errorf("read line %d: %w", d.line, err)
			}
			d.offset += int64(len(chunk))
			switch {
			case first && err != bufio.ErrBufferFull && len(chunk) <= d.opts.RowLimit:
				raw = chunk
			case !tooLong && len(d.buf)+len(chunk) > d.opts.RowLimit:
				tooLong = true
				keep := d.buf[:min(len(d.buf), rawKeep)]
				d.buf = append(keep, chunk[:min(len(chunk), rawKeep-len(keep))]...)
				raw = d.buf
			case !tooLong:
				d.buf = append(d.buf, chunk...)
				raw = d.buf
			}
			if err == nil {
				d.line++
				break
			}
			if err == io.EOF {
				if d.offset == start {
					return nil, 0, false, io.EOF
				}
				break
			}
		}
		raw = trimEOL(raw)
		if tooLong {
			return raw, line, true, nil
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		if !utf8.Valid(raw) {
			return nil, 0, false, d.notUTF8(raw, line, start)
		}
		return raw, line, false, nil
	}
}

func (d *Decoder) notUTF8(rec []byte, line int, off int64) error {
	i := 0
	for i < len(rec) {
		c, size := utf8.DecodeRune(rec[i:])
		if c == utf8.RuneError && size <= 1 {
			break
		}
		i += size
	}
	where := "byte"
	if d.gzipped {
		where = "byte of the decompressed content"
	}
	return &decode.FileError{File: d.opts.File, Line: line, Byte: off + int64(i), Err: decode.ErrNotUTF8,
		Msg: fmt.Sprintf("invalid UTF-8 at %s %d (0x%02x); files must be UTF-8 encoded", where, off+int64(i), rec[i])}
}

func (d *Decoder) rowError(line int, field, msg string, err error) *decode.RowError {
	return &decode.RowError{File: d.opts.File, Line: line, Field: field, Msg: msg, Err: err}
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

// sourceReader notes whether the object was read to its end.
type sourceReader struct {
	r   io.Reader
	eof bool
	n   int64 // bytes read
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err == io.EOF {
		s.eof = true
	}
	return n, err
}
