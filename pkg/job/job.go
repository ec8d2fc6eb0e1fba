// Package job holds the import job model: Pinpoint's ImportJobResponse shape, the
// pieces a job is planned into, and the messages that flow between the functions.
// It does no I/O.
package job

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/segport/segport/pkg/endpoint"
	"github.com/segport/segport/pkg/segment"
	"github.com/segport/segport/pkg/stats"
)

// Status is a Pinpoint JobStatus.
type Status string

// The job statuses, as Pinpoint names them.
const (
	Created                    Status = "CREATED"
	PreparingForInitialization Status = "PREPARING_FOR_INITIALIZATION"
	Initializing               Status = "INITIALIZING"
	Processing                 Status = "PROCESSING"
	PendingJob                 Status = "PENDING_JOB"
	Completing                 Status = "COMPLETING"
	Completed                  Status = "COMPLETED"
	Failing                    Status = "FAILING"
	Failed                     Status = "FAILED"
)

// Final reports whether the job has ended.
func (s Status) Final() bool { return s == Completed || s == Failed }

// MaxFailures is how many failure lines a job keeps in Failures; the error report
// has them all.
const MaxFailures = 100

// Definition says what a job imports and where to.
type Definition struct {
	S3Url       string `json:"S3Url"`
	Format      string `json:"Format"`
	SegmentId   string `json:"SegmentId"`
	SegmentName string `json:"SegmentName"`
	// DefineSegment is false for an import that defines no segment
	// (CreateImportJob's DefineSegment: false): its endpoints are upserted and
	// no segment is created or changed. nil means true.
	DefineSegment *bool `json:"DefineSegment,omitempty"`
	// Skipped lists the objects under S3Url that the import skipped because
	// the request's Format is the other one (Pinpoint imports only the
	// requested format): s3:// URLs in key order, the first MaxSkipped, then
	// "... and N more".
	Skipped []string `json:"Skipped,omitempty"`
	// Replace makes the job's version exactly its endpoints (and users),
	// rather than the previous version plus them (an append, the default).
	Replace bool `json:"Replace,omitempty"`
	// Delete is true for a delete job (a file dropped under deletes/): its
	// rows name endpoints (Id) or users (User.UserId) to delete, and it
	// defines no segment.
	Delete bool `json:"Delete,omitempty"`
}

// Mode names how a job's import makes its version: "REPLACE" or "APPEND".
func (d Definition) Mode() string {
	if d.Replace {
		return "REPLACE"
	}
	return "APPEND"
}

// MaxSkipped bounds Definition.Skipped, so that the job's item does not grow
// with the folder.
const MaxSkipped = 100

// SkippedList returns Definition.Skipped for urls.
func SkippedList(urls []string) []string {
	if len(urls) <= MaxSkipped {
		return urls
	}
	return append(urls[:MaxSkipped:MaxSkipped], fmt.Sprintf("... and %d more", len(urls)-MaxSkipped))
}

// Job is an import job, shaped like Pinpoint's ImportJobResponse.
type Job struct {
	Id              string     `json:"Id"`
	JobStatus       Status     `json:"JobStatus"`
	CreationDate    string     `json:"CreationDate"`
	CompletionDate  string     `json:"CompletionDate,omitempty"`
	TotalPieces     int        `json:"TotalPieces"`
	CompletedPieces int        `json:"CompletedPieces"`
	FailedPieces    int        `json:"FailedPieces"`
	TotalProcessed  int        `json:"TotalProcessed"`
	TotalFailures   int        `json:"TotalFailures"`
	Failures        []string   `json:"Failures"`
	Definition      Definition `json:"Definition"`
	ErrorReport     string     `json:"ErrorReport,omitempty"`
	// Stats are what the job's work cost, when the reader asked for them
	// (pkg/stats): requests per service, capacity units, Lambda time, price.
	Stats *stats.Stats `json:"Stats,omitempty"`
	// Progress is how far a running job is (segport's own; absent once it ended).
	Progress *Progress `json:"Progress,omitempty"`
}

// Progress is how far a running job is: TotalProcessed counts the rows written,
// these the pieces read so far and the valid rows they held.
type Progress struct {
	PiecesParsed int `json:"PiecesParsed"`
	RowsParsed   int `json:"RowsParsed"`
}

// ExpectedRows estimates the valid rows of a running job: those of the pieces
// parsed so far, scaled to all its pieces; at least the rows written.
func (j *Job) ExpectedRows() int {
	if j.Progress == nil || j.Progress.PiecesParsed == 0 {
		return j.TotalProcessed
	}
	n := j.Progress.RowsParsed * j.TotalPieces / j.Progress.PiecesParsed
	return max(n, j.TotalProcessed)
}

// Piece is one byte range of one object, parsed by one parser invocation.
type Piece struct {
	Key    string   `json:"Key"`              // the object's key
	Index  int      `json:"Index"`            // the piece's number in the job, from 0, in file order
	File   int      `json:"File"`             // the object's number in the job, from 0
	Start  int64    `json:"Start"`            // first byte
	End    int64    `json:"End"`              // one past the last byte
	Line   int      `json:"Line"`             // the line number of the first byte
	Header []string `json:"Header,omitempty"` // CSV: the header, for a piece that starts after it
}

// Launch is what every parse message of a job shares, stored with the job so
// that stalled pieces can be sent again.
type Launch struct {
	JobOrder  string `json:"JobOrder"` // sorts jobs: creation date, then id
	Created   string `json:"Created"`
	Bucket    string `json:"Bucket"`
	Format    string `json:"Format"`
	SegmentId string `json:"SegmentId"`
	Shards    int    `json:"Shards,omitempty"` // the segment's membership shards
	// Version is the segment version the job makes, reserved when it starts
	// (0 for a job into no segment); its members record it.
	Version int `json:"Version,omitempty"`
	// Base is the generation the version belongs to (segment.MemberSet): the
	// version of the latest replace reserved up to it. Its members go there.
	Base        int    `json:"Base,omitempty"`
	TotalPieces int    `json:"TotalPieces"`
	Source      Source `json:"Source,omitempty"`
	// BatchBytes bounds the job's write batches. It is fixed when the job
	// starts, so that a piece parsed again, by any version or configuration,
	// is cut into the same batches: a batch is known by its number.
	BatchBytes int `json:"BatchBytes,omitempty"`
	// Delete is true for a delete job (Definition.Delete).
	Delete bool `json:"Delete,omitempty"`
}

// ParseMessage asks the parser to import one piece or, with a Range, to scan
// one range of a job being planned.
type ParseMessage struct {
	JobId string `json:"JobId"`
	Launch
	Piece Piece  `json:"Piece"`
	Range *Range `json:"Range,omitempty"`
}

// Head is a job's own record, without its pieces.
type Head struct {
	Job    *Job
	Launch Launch
	// Progress moves on whenever a piece settles; a job's end is stored only at
	// the progress it was computed from.
	Progress int64
	// Progressed is when the job last made progress; the sweeper re-sends the
	// work of jobs that have made none for a while.
	Progressed time.Time
}

// Contribution is what one job adds to its segment.
type Contribution struct {
	JobId    string
	JobOrder string
	Written  Tally // endpoint definitions applied: Size and ChannelCounts
	// Progress is the job's progress the contribution was computed at: one
	// computed at a lower progress than the applied one is stale, not applied.
	Progress int64
	Format   string
	S3Url    string
	Now      string
}

// VersionEnd is how a job's segment version ended: its status, the job's own
// import definition, and the members it added first. It is recorded when the
// job ends, again whenever its end changes.
type VersionEnd struct {
	JobId    string
	Version  int
	Base     int // the version's generation (Launch.Base)
	Status   Status
	Written  Tally // the rows applied (Size, ChannelCounts) and members added first (New)
	Format   string
	S3Url    string
	Now      string
	Progress int64 // the job's progress the end was computed at: a lower one never replaces a higher
}

// Source says how to read a job's objects: with the functions' own role, or, for a
// bucket in another account, with a role assumed through STS.
type Source struct {
	RoleArn    string `json:"RoleArn,omitempty"`
	ExternalId string `json:"ExternalId,omitempty"`
}

// Order returns the key that orders jobs: creation date, then id.
func Order(created time.Time, id string) string {
	return created.UTC().Format(stampDate) + "." + id
}

// NewId returns a job id derived from what identifies the job's source, so that a
// redelivered event names the same job.
func NewId(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:16])
}

// IsId reports whether s has the form of a job id, as NewId makes them and
// requests and uploaders may choose them: 32 lower-case hex digits.
func IsId(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// SegmentId returns the id of the segment with the given name (segment.IdOf).
func SegmentId(name string) string { return segment.IdOf(name) }

// ParseS3URL splits s3://bucket/prefix.
func ParseS3URL(u string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok || rest == "" {
		return "", "", fmt.Errorf("%q is not an s3://bucket/prefix URL", u)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%q names no bucket", u)
	}
	return bucket, prefix, nil
}

// Failure formats one failure line the way `segport validate` prints it.
func Failure(file string, line int, field, msg string) string {
	s := fmt.Sprintf("%s:%d: ", file, line)
	if field != "" {
		s += field + ": "
	}
	return s + msg
}

// DateFormat is how jobs and segments write dates: Pinpoint's ISO 8601, in UTC,
// with milliseconds, as endpoints write theirs.
const DateFormat = endpoint.DateLayout

// stampDate is the compact, fixed-width form of dates inside stamps.
const stampDate = "20060102T150405.000"

// Stamp orders the rows of all imports: EffectiveDate, then job, file and line. A
// stored attribute keeps the stamp of the row that set it; a row changes an
// attribute only if its stamp is greater, so rows may land in any order, any
// number of times, and the result is that of applying them once in stamp order.
func Stamp(effective time.Time, jobOrder string, file, line int) string {
	b := make([]byte, 0, len(stampDate)+len(jobOrder)+32)
	b = effective.UTC().AppendFormat(b, stampDate)
	b = append(append(b, '|'), jobOrder...)
	b = appendOrdinal(append(b, '|'), file)
	b = appendOrdinal(append(b, '|'), line)
	return string(b)
}

// DeleteStamp places a delete made at at (by the CLI, the API or pkg/client)
// among the rows of all imports: after every row dated before at, including
// the rows without EffectiveDate of every job created before it. id tells
// apart deletes made in the same millisecond.
func DeleteStamp(at time.Time, id string) string { return Stamp(at, Order(at, id), 0, 0) }

// appendOrdinal appends n so that ordinals compare as strings as they do as
// numbers, however many digits they have: a letter giving the digit count
// ('a' for one digit), then the digits. A job's 10,000th file sorts after its
// 9,999th.
func appendOrdinal(b []byte, n int) []byte {
	if n < 0 {
		n = 0
	}
	digits := strconv.AppendInt(nil, int64(n), 10)
	return append(append(b, byte('a'+len(digits)-1)), digits...)
}
