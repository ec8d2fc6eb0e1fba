package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/segport/segport/internal/decode"
)

// DryRunBytes is how much of a file the dry run reads: the page sends the
// file's first DryRunBytes, and the server decodes the records they hold
// whole, with the decoder the parser uses.
const DryRunBytes = 64 << 10

// dryRunRows is how many rows the dry run returns; it counts them all.
const dryRunRows = 20

// dryRun is what POST /console/api/dry-run answers.
type dryRun struct {
	File    string       `json:"File"`
	Format  string       `json:"Format"`
	Bytes   int          `json:"Bytes"`   // bytes decoded
	Partial bool         `json:"Partial"` // the file goes on after them
	Checked int          `json:"Checked"` // rows decoded
	Valid   int          `json:"Valid"`
	Invalid int          `json:"Invalid"`
	Rows    []dryRunRow  `json:"Rows"` // the first dryRunRows
	Error   *fileProblem `json:"Error,omitempty"`
}

type dryRunRow struct {
	Line     int             `json:"Line"`
	Endpoint json.RawMessage `json:"Endpoint,omitempty"` // canonical JSON of a valid row
	Field    string          `json:"Field,omitempty"`
	Message  string          `json:"Message,omitempty"` // why the row would fail
}

type fileProblem struct {
	Line    int    `json:"Line,omitempty"`
	Message string `json:"Message"`
}

// dryRun decodes the start of a file: ?name= names it (its extension gives
// the format unless ?format= does), ?partial=1 says the body is the start of a
// longer file, so its last, cut record is left out.
func (h *Handler) dryRun(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("name")
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, DryRunBytes))
	if err != nil {
		writeError(w, &consoleError{http.StatusRequestEntityTooLarge, "a dry run reads at most the first 64 KiB of a file"})
		return
	}
	fm, err := formatOf(q.Get("format"), name, body)
	if err != nil {
		writeError(w, err)
		return
	}
	out := dryRun{File: name, Format: string(fm), Partial: q.Get("partial") == "1", Rows: []dryRunRow{}}
	if out.Partial {
		// The last line may be cut: decode up to the last line break only. A
		// CSV record whose quoted field holds that break is cut too; it is
		// left out below.
		if i := bytes.LastIndexByte(body, '\n'); i >= 0 {
			body = body[:i+1]
		}
	}
	out.Bytes = len(body)
	dec := decode.New(fm, bytes.NewReader(body), decode.Options{File: name, Limits: h.opts.Limits})
	for {
		row, err := dec.Decode()
		var re *decode.RowError
		var fe *decode.FileError
		switch {
		case err == io.EOF:
			writeJSON(w, http.StatusOK, out)
			return
		case errors.As(err, &re):
			out.Checked++
			out.Invalid++
			if len(out.Rows) < dryRunRows {
				out.Rows = append(out.Rows, dryRunRow{Line: re.Line, Field: re.Field, Message: re.Msg})
			}
		case errors.As(err, &fe):
			if !(out.Partial && errors.Is(err, decode.ErrUnterminatedQuote)) {
				out.Error = &fileProblem{Line: fe.Line, Message: fe.Error()}
			}
			writeJSON(w, http.StatusOK, out)
			return
		case err != nil:
			out.Error = &fileProblem{Message: err.Error()}
			writeJSON(w, http.StatusOK, out)
			return
		default:
			out.Checked++
			out.Valid++
			if len(out.Rows) < dryRunRows {
				b, err := row.Endpoint.MarshalCanonical()
				if err != nil {
					h.fail(w, r, err)
					return
				}
				out.Rows = append(out.Rows, dryRunRow{Line: row.Line, Endpoint: b})
			}
		}
	}
}

// formatOf is the format a request names, else that of the file's extension,
// else the one its first bytes look like, as `segport validate` picks it.
func formatOf(given, name string, head []byte) (decode.Format, error) {
	if given != "" {
		fm, err := decode.ParseFormat(given)
		if err != nil {
			return "", badRequest("format: %v", err)
		}
		return fm, nil
	}
	if fm, ok := decode.FormatOf(name); ok {
		return fm, nil
	}
	return decode.Sniff(head), nil
}
