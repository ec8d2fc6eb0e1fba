// Package importer holds the functions' handlers: the trigger creates an import
// job and fans its planning out in ranges, the parser scans a range (and the
// last scan starts the job with its pieces: planner.go) or turns a piece into
// write batches and failures, the
// writer applies batches to the tables, the finisher ends jobs and the sweeper
// makes sure they end. The handlers depend only on the domain packages and on
// the small interfaces declared here, each method with its contract; the
// adapters in internal/dynamo, internal/s3src and internal/sqsq satisfy them, and so do the
// in-memory ones the simulator runs on.
//
// The guarantees (DESIGN.md), where they are enforced, and what proves them:
//
//   - Nothing lost, nothing doubled: every row carries a stamp (job.Stamp) and
//     the writer merges by stamps (internal/merge) with conditional puts at the
//     version read, so any delivery order and any duplicates give the tables of
//     applying each row once in stamp order. Proved by the chaos and shuffled
//     redelivery tests of internal/localrun and the simulator's table invariant.
//   - Every job ends: the last settle of a piece finishes the job (Finisher);
//     a failure on a last delivery records the piece or batch as given up or
//     lost (Parser, Writer); what dies without an answer is found in the
//     dead-letter queues, and work lost altogether is sent again after
//     StallAfter and settled as failed after MaxTries (Sweeper); a range that
//     cannot be planned fails its job before it starts. Proved by
//     TestCrashOnLastDeliveryEndsTheJob, TestPoisonedPlanFailsTheJobAndRedriveCompletesIt, TestKilledStackResumesItsJobs,
//     TestEmptyFolderFailsAtOnce and the simulator's "every job is final".
//   - Exact accounting: counts are computed from per-piece and per-batch records
//     by job.Summarize, never incremented; the end is stored only at the progress
//     it was computed from (JobBook.FinishJob), so racing finishers agree. Proved
//     by pkg/job's table tests and the simulator's count invariants.
//   - Nothing grows with history: a job's contribution to its segment is applied
//     once (SegmentBook.SetContribution) without an entry per import on the
//     segment, and members count themselves as they are first added
//     (EndpointStore.AddMembers); planning is one message per range, the trigger
//     reading no file. Proved by TestSegmentCostsDoNotGrowWithHistory and
//     TestPlanningRunsInParallelMessages.
//   - No PII in logs: the handlers log ids and counts only. Proved by
//     TestNoPIIInLogs and TestSamLocalInvoke.
package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/segport/segport/internal/merge"
	"github.com/segport/segport/internal/metrics"
	"github.com/segport/segport/pkg/job"
)

// Objects is what the handlers need of S3. Missing objects are job.ErrNotFound.
type Objects interface {
	Head(ctx context.Context, bucket, key string) (*job.Object, error)
	// Range reads bytes [start, end) of an object.
	Range(ctx context.Context, bucket, key string, start, end int64) (io.ReadCloser, error)
	// Prefetch reads bytes [start, end) through up to inflight ranged reads of
	// window bytes each, ahead of the reader.
	Prefetch(ctx context.Context, bucket, key string, start, end, window int64, inflight int) io.ReadCloser
	// List returns every object under prefix, subfolders included.
	List(ctx context.Context, bucket, prefix string) ([]*job.Object, error)
	PutFile(ctx context.Context, bucket, key, path, contentType string) error
	Put(ctx context.Context, bucket, key string, body io.Reader, contentType string, meta map[string]string) error
	// Concat writes header followed by the objects keys, in order, to dstKey;
	// repeating it writes the same object.
	Concat(ctx context.Context, bucket, dstKey string, header []byte, keys []string) error
}

// AssumeFunc returns Objects that read with credentials of an assumed role, for
// imports from a bucket in another account.
type AssumeFunc func(src job.Source) (Objects, error)

// objectsFor returns the Objects that read src: own if src names no role.
func objectsFor(own Objects, assume AssumeFunc, src job.Source) (Objects, error) {
	if src.RoleArn == "" {
		return own, nil
	}
	if assume == nil {
		return nil, errors.New("imports with a RoleArn are not configured in this deployment")
	}
	return assume(src)
}

// Queue is what the handlers need of SQS: delivery at least once, in any order.
type Queue interface {
	Send(ctx context.Context, bodies [][]byte) error
}

// DeadLetters is what the sweeper needs of a dead-letter queue.
type DeadLetters interface {
	// Peek returns up to max messages without removing them (so that they can
	// still be redriven); a message peeked is hidden from the next Peek for a
	// while. It returns fewer, or none, when the queue holds fewer.
	Peek(ctx context.Context, max int) ([][]byte, error)
}

// JobBook is the bookkeeping of import jobs (the Jobs table). Every method is
// safe to repeat with the same arguments: a redelivered message, or a retry
// after a crash, records nothing twice. Each returns job.ErrNotFound for a job
// that does not exist.
type JobBook interface {
	// CreateJob stores j, CREATED, with launch (what its parse messages share),
	// unless a job with its id exists. It returns the stored job and whether
	// this call created it.
	CreateJob(ctx context.Context, j *job.Job, launch job.Launch) (*job.Job, bool, error)
	// StartPlanning records the job's ranges (job.Range), each unless it is
	// recorded already, and moves a CREATED job to INITIALIZING.
	StartPlanning(ctx context.Context, jobId string, ranges []job.Range) error
	// RangeScanned records what the scan of a range found, marks the job as
	// progressing, and reports whether every range of the job is scanned while
	// the job is still INITIALIZING.
	RangeScanned(ctx context.Context, jobId string, index int, r job.RangeResult) (bool, error)
	// RangeTried counts one more re-send of a range by the sweeper and marks
	// the job as progressing; it returns the count.
	RangeTried(ctx context.Context, jobId string, index int) (int, error)
	// Ranges returns the states of all the job's ranges, in range order.
	Ranges(ctx context.Context, jobId string) ([]*job.RangeState, error)
	// ReopenPlanning moves a job that FAILED before it started back to
	// INITIALIZING, without its end, if its Progress is still progress
	// (moving it on), and starts the range's re-send count again. It reports
	// whether it reopened the job.
	ReopenPlanning(ctx context.Context, jobId string, progress int64, index int) (bool, error)
	// StartJob records the plans of the job's pieces, each unless it is
	// recorded already (starting again never resets a piece's progress), and
	// moves a job that is CREATED or INITIALIZING to PROCESSING with launch
	// and TotalPieces = len(pieces), moving its Progress on: an end computed
	// before the start (a planning failure) is then not stored.
	StartJob(ctx context.Context, jobId string, launch job.Launch, pieces []job.Piece) error
	// Head reads the job's own record, not its pieces: one small read.
	Head(ctx context.Context, jobId string) (*job.Head, error)
	// PieceParsed records what parsing found in a piece, replacing an earlier
	// parse's result, clearing GaveUp and the sweeper's Tries, and marks the job
	// as progressing. It returns the piece's state as stored after the update;
	// so do the others.
	PieceParsed(ctx context.Context, jobId string, index int, r job.PieceResult) (*job.PieceState, error)
	// BatchDone records that write batch seq of a piece was written, with its
	// tally, clears the piece's Tries and marks the job as progressing.
	BatchDone(ctx context.Context, jobId string, index, seq int, t job.Tally) (*job.PieceState, error)
	// BatchLost records that write batch seq was abandoned, with the members
	// it had added; a later record replaces an earlier one (another delivery
	// may have added more before it too was abandoned).
	BatchLost(ctx context.Context, jobId string, index, seq int, lost job.LostBatch) (*job.PieceState, error)
	// PieceGaveUp records why a piece's parse was abandoned, unless a reason is
	// recorded already.
	PieceGaveUp(ctx context.Context, jobId string, index int, reason string) (*job.PieceState, error)
	// PieceTried counts one more re-send of a piece by the sweeper and marks the
	// job as progressing; it returns the count.
	PieceTried(ctx context.Context, jobId string, index int) (int, error)
	// SettlePiece records that a piece has settled, failed or not, and moves the
	// job's Progress on (not Progressed: settling again what had settled is no
	// progress). It reports whether the job is to be finished: every piece has
	// settled, or the job has ended already (then a late change must be
	// reflected in its end).
	SettlePiece(ctx context.Context, jobId string, index int, failed bool) (bool, error)
	// Piece returns the state of one piece: one small read.
	Piece(ctx context.Context, jobId string, index int) (*job.PieceState, error)
	// Pieces returns the states of all the job's pieces, in piece order.
	Pieces(ctx context.Context, jobId string) ([]*job.PieceState, error)
	// FinishJob stores the job's final state, unless the job's progress has
	// moved on from progress since it was read: then job.ErrConflict.
	FinishJob(ctx context.Context, j *job.Job, progress int64) error
	// Running returns the jobs that have not ended, oldest first.
	Running(ctx context.Context) ([]*job.Head, error)
}

// SegmentBook is what ending a job needs of the Segments and Members tables.
type SegmentBook interface {
	// EnsureSegment creates the segment unless it exists, and returns the
	// number of shards its membership is spread over: fixed when it is created.
	// With no name it creates nothing: a segment that does not exist is
	// job.ErrNotFound (a request that named only a SegmentId).
	EnsureSegment(ctx context.Context, id, name, created string) (int, error)
	// SetContribution makes a job's contribution to its segment c: the change
	// from its previous contribution (none at first) is added to the segment's
	// totals (Size, ChannelCounts, and EndpointCount by c.Written.New) exactly
	// once, however often and however concurrently it is called. The segment's
	// record does not grow with the number of its imports.
	SetContribution(ctx context.Context, segmentId string, c job.Contribution) error
	// ReserveVersion returns the segment version of a job that starts: the
	// next number the first time, the same number on every later call while
	// the job runs. The segment holds the reservation until the version ends,
	// so that its record stays only the running jobs. It also returns the
	// version's generation (segment.MemberSet), where its members go: its own
	// number for a replace, else the latest replace reserved before it (0 if
	// none), whatever that replace's end.
	ReserveVersion(ctx context.Context, segmentId, jobId, created string, replace bool) (version, base int, err error)
	// EndVersion records how a job's version ended (a later call with a lower
	// Progress changes nothing), then moves the segment's current version on
	// over every version that has ended, in version order: the current
	// version is the latest COMPLETED one that, with every version before
	// it, has ended. Each step costs the same whatever the segment's size.
	EndVersion(ctx context.Context, segmentId string, v job.VersionEnd) error
	// AbandonVersion ends the version a job reserved, if it holds one, as
	// FAILED: the job failed before it started. Safe to repeat.
	AbandonVersion(ctx context.Context, segmentId, jobId, now string) error
}

// MemberCounter counts what an abandoned write batch left in the Members table.
type MemberCounter interface {
	// CountAdded returns how many of ids batch made members first (see
	// EndpointStore.AddMembers), without adding any.
	CountAdded(ctx context.Context, segmentId string, shards int, batch string, ids []string) (int, error)
}

// Registry is the deployment-wide custom attribute registry.
type Registry interface {
	// Register adds names unless that would pass limit; it returns every
	// registered name and whether names are all among them. Concurrent callers
	// never pass the limit together.
	Register(ctx context.Context, names []string, limit int) ([]string, bool, error)
}

// EndpointStore is what the writer needs of the Endpoints, Users and Members tables.
type EndpointStore interface {
	// GetEndpoints reads endpoints with the version each was read at (0: new).
	GetEndpoints(ctx context.Context, ids []string) (map[string]merge.Versioned[merge.Endpoint], error)
	// PutEndpoint stores rec if it is still at version ver; job.ErrConflict if not.
	PutEndpoint(ctx context.Context, rec *merge.Endpoint, ver int64) error
	GetUsers(ctx context.Context, ids []string) (map[string]merge.Versioned[merge.User], error)
	PutUser(ctx context.Context, u *merge.User, ver int64) error
	// AddMembers records the endpoints as members of the segment (a member
	// set: segment.MemberSet names its generation's partitions), spread over
	// shards partitions, and returns how many of them batch (a name unique to
	// one write batch) made members first. A member keeps the version of the
	// batch that made it a member first: it belongs to that version and every
	// later one. Repeating a call returns the same count; two batches never
	// both count one member. Into a generation no longer kept it leaves
	// nothing and returns job.ErrPruned (so does AddUserMembers).
	// stamps gives each id the greatest stamp of its rows in the batch: the
	// member keeps the greatest of them, which orders it against deletes.
	AddMembers(ctx context.Context, segmentId string, shards, version int, batch string, ids []string, stamps map[string]string) (int, error)
	// AddUserMembers records users (user-ID definitions) as members of the
	// segment, which then reaches every endpoint of theirs when it is read.
	// A user member keeps the lowest version that added it (none for version
	// 0: every version). Repeating a call changes nothing.
	AddUserMembers(ctx context.Context, segmentId string, shards, version int, userIds []string) error
	MemberCounter
	Eraser
}

// Metrics receives one record per job started, piece parsed and batch handled
// (internal/metrics writes them as CloudWatch Embedded Metric Format).
type Metrics interface {
	Record(metrics.Record)
}

// record is nil-safe: a handler without Metrics records nothing.
func record(m Metrics, r metrics.Record) {
	if m != nil {
		m.Record(r)
	}
}

// Clock is injected so that tests control time.
type Clock func() time.Time

func (c Clock) now() time.Time {
	if c == nil {
		return time.Now().UTC()
	}
	return c().UTC()
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}

// lastDelivery reports whether an SQS message is on its last delivery before the
// queue's redrive policy moves it to the dead-letter queue.
func lastDelivery(attrs map[string]string, maxReceive int) bool {
	if maxReceive <= 0 {
		return false
	}
	n, err := strconv.Atoi(attrs["ApproximateReceiveCount"])
	return err == nil && n >= maxReceive
}

// abandonReason says, briefly, why a message went to the dead-letter queue.
func abandonReason(deliveries int, err error) string {
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return fmt.Sprintf("failed %d deliveries and is in the dead-letter queue (redrive it once the cause is fixed): %s", deliveries, msg)
}

// pieceGaveUp is the located reason of a piece given up.
func pieceGaveUp(p job.Piece, why string) string {
	return fmt.Sprintf("%s:%d: the piece from this line (bytes %d-%d) was not imported: %s", p.Key, p.Line, p.Start, p.End, why)
}

// ReportKey is where a job's error report is written.
func ReportKey(jobId string) string { return ReportsPrefix + jobId + ".csv" }

func reportPartKey(jobId string, piece int) string {
	return ReportsPrefix + jobId + "/parts/" + pieceName(piece) + ".csv"
}

// lostPartKey is the error report's part that lists the lost write batches.
func lostPartKey(jobId string) string { return ReportsPrefix + jobId + "/parts/lost.csv" }

// ReportsPrefix is the folder of the error reports. They hold the original
// rows, personal data included: the query API never reads it (its role denies
// it) and refuses to import from it.
const ReportsPrefix = "reports/"

func pieceName(i int) string {
	const digits = "0123456789"
	b := []byte("000000")
	for k := len(b) - 1; k >= 0 && i > 0; k-- {
		b[k] = digits[i%10]
		i /= 10
	}
	return string(b)
}

// reportHeader is the error report's header row.
var reportHeader = []byte("File,Line,Field,Message,Row\n")
