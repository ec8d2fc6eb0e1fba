package job

import "github.com/segport/segport/pkg/endpoint"

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
