package job

import (
	"strconv"

	"github.com/segport/segport/internal/jsonw"
	"github.com/segport/segport/pkg/endpoint"
	"github.com/segport/segport/pkg/segment"
)

// MaxMessageBytes is the largest message body SQS takes (1 MiB since 2025).
const MaxMessageBytes = 1 << 20

// WriteBatch carries validated endpoints from the parser to the writer. Seq numbers
// the batches of one piece from 0; the parser cuts batches at the same rows every
// time it parses a piece, so a batch is identified by (JobId, Piece, Seq).
type WriteBatch struct {
	JobId     string `json:"JobId"`
	JobOrder  string `json:"JobOrder"`
	SegmentId string `json:"SegmentId"`
	Shards    int    `json:"Shards"`         // the segment's membership shards
	Version   int    `json:"Version"`        // the segment version the job makes
	Base      int    `json:"Base,omitempty"` // its generation: members go to segment.MemberSet(SegmentId, Base)
	Key       string `json:"Key"`            // the object the rows come from
	Piece     int    `json:"Piece"`
	Seq       int    `json:"Seq"`
	// Delete is true for a batch of a delete job: its rows are deleted.
	Delete bool       `json:"Delete,omitempty"`
	Rows   []WriteRow `json:"Rows"`
}

// Tally counts the batch's rows per channel.
func (b *WriteBatch) Tally() Tally {
	var t Tally
	for _, r := range b.Rows {
		ch := ""
		if r.Endpoint != nil {
			ch = r.Endpoint.ChannelType
		}
		t.Count(ch)
	}
	return t
}

// Name names the batch uniquely among all jobs' batches.
func (b *WriteBatch) Name() string {
	return b.JobId + "#" + strconv.Itoa(b.Piece) + "#" + strconv.Itoa(b.Seq)
}

// MemberSet names the member partitions the batch's members go to: its
// segment's, in its version's generation.
func (b *WriteBatch) MemberSet() string { return segment.MemberSet(b.SegmentId, b.Base) }

// FirstLine is the line of the batch's first row.
func (b *WriteBatch) FirstLine() int {
	if len(b.Rows) == 0 {
		return 0
	}
	return b.Rows[0].Line
}

// AppendHead appends the JSON of b without its rows, up to the opening bracket of
// "Rows": the parser appends rows encoded one by one (WriteRow.AppendJSON, comma
// separated) and closes the batch with CloseBatch. The bytes are json.Marshal's.
func (b *WriteBatch) AppendHead(dst []byte) []byte {
	dst = jsonw.AppendString(append(dst, `{"JobId":`...), b.JobId, true)
	dst = jsonw.AppendString(append(dst, `,"JobOrder":`...), b.JobOrder, true)
	dst = jsonw.AppendString(append(dst, `,"SegmentId":`...), b.SegmentId, true)
	dst = strconv.AppendInt(append(dst, `,"Shards":`...), int64(b.Shards), 10)
	dst = strconv.AppendInt(append(dst, `,"Version":`...), int64(b.Version), 10)
	if b.Base != 0 {
		dst = strconv.AppendInt(append(dst, `,"Base":`...), int64(b.Base), 10)
	}
	dst = jsonw.AppendString(append(dst, `,"Key":`...), b.Key, true)
	dst = strconv.AppendInt(append(dst, `,"Piece":`...), int64(b.Piece), 10)
	dst = strconv.AppendInt(append(dst, `,"Seq":`...), int64(b.Seq), 10)
	if b.Delete {
		dst = append(dst, `,"Delete":true`...)
	}
	return append(dst, `,"Rows":[`...)
}

// CloseBatch ends a batch begun with AppendHead.
func CloseBatch(dst []byte) []byte { return append(dst, "]}"...) }

// WriteRow is one endpoint definition with the stamp that orders it, or one
// user-ID definition (UserId, no Endpoint): the user belongs to the segment.
type WriteRow struct {
	Line     int                `json:"L"`
	Stamp    string             `json:"S"`
	Endpoint *endpoint.Endpoint `json:"E"`
	UserId   string             `json:"U,omitempty"`
}

// AppendJSON appends r's JSON to b: json.Marshal's bytes, without reflection (see
// endpoint.Endpoint.AppendJSON).
func (r WriteRow) AppendJSON(b []byte) ([]byte, error) {
	b = strconv.AppendInt(append(b, `{"L":`...), int64(r.Line), 10)
	b = jsonw.AppendString(append(b, `,"S":`...), r.Stamp, true)
	b = append(b, `,"E":`...)
	if r.Endpoint == nil {
		b = append(b, "null"...)
		if r.UserId != "" {
			b = jsonw.AppendString(append(b, `,"U":`...), r.UserId, true)
		}
		return append(b, '}'), nil
	}
	b, err := r.Endpoint.AppendJSON(b, true)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// PieceResult is what the parser records when it has read a whole piece.
type PieceResult struct {
	Batches  int      `json:"Batches"`            // write batches sent
	Rows     int      `json:"Rows"`               // valid endpoint definitions
	Failed   int      `json:"Failed"`             // rows that failed
	Failures []string `json:"Failures,omitempty"` // the first MaxFailures failures, in file order
	Report   string   `json:"Report,omitempty"`   // key of the piece's part of the error report, if any rows failed
	Error    string   `json:"Error,omitempty"`    // why the piece could not be read to its end, if it could not
	Cuts     []Cut    `json:"Cuts,omitempty"`     // the write batches, by Seq
}

// Cut is one write batch as the parser cut it: its first line and its tally.
type Cut struct {
	Line int `json:"Line"`
	Tally
}
