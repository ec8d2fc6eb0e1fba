package job

import (
	"strconv"

	"github.com/segport/segport/internal/jsonw"
	"github.com/segport/segport/pkg/endpoint"
)

// WriteBatch carries validated endpoints from the parser to the writer. Seq numbers
// the batches of one piece from 0; the parser cuts batches at the same rows every
// time it parses a piece, so a batch is identified by (JobId, Piece, Seq).
type WriteBatch struct {
	JobId     string     `json:"JobId"`
	JobOrder  string     `json:"JobOrder"`
	SegmentId string     `json:"SegmentId"`
	Piece     int        `json:"Piece"`
	Seq       int        `json:"Seq"`
	Rows      []WriteRow `json:"Rows"`
}

// WriteRow is one endpoint definition with the stamp that orders it.
type WriteRow struct {
	Line     int                `json:"L"`
	Stamp    string             `json:"S"`
	Endpoint *endpoint.Endpoint `json:"E"`
}

// AppendJSON appends r's JSON to b: json.Marshal's bytes, without reflection (see
// endpoint.Endpoint.AppendJSON).
func (r WriteRow) AppendJSON(b []byte) ([]byte, error) {
	b = strconv.AppendInt(append(b, `{"L":`...), int64(r.Line), 10)
	b = jsonw.AppendString(append(b, `,"S":`...), r.Stamp, true)
	b = append(b, `,"E":`...)
	if r.Endpoint == nil {
		return append(b, "null}"...), nil
	}
	b, err := r.Endpoint.AppendJSON(b, true)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// PieceResult is what the parser records when it has read a whole piece.
type PieceResult struct {
	Batches       int            // write batches sent
	Rows          int            // valid endpoint definitions
	Failed        int            // rows that failed
	ChannelCounts map[string]int // valid rows per channel
	Failures      []string       // the first MaxFailures failures, in file order
	Report        string         // key of the piece's part of the error report, if any rows failed
	Error         string         // why the piece could not be read to its end, if it could not
}
