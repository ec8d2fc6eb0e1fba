// Package importer holds the three functions' handlers: the trigger plans an import
// into pieces, the parser turns a piece into write batches and failures, and the
// writer applies batches to the tables and finishes the job. The handlers depend on
// small interfaces declared here; the adapters in pkg/dynamo, pkg/s3src and
// pkg/sqsq satisfy them.
package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/segport/segport/pkg/dynamo"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/merge"
	"github.com/segport/segport/pkg/metrics"
	"github.com/segport/segport/pkg/s3src"
	"github.com/segport/segport/pkg/segment"
)

// Objects is what the handlers need of S3.
type Objects interface {
	Head(ctx context.Context, bucket, key string) (*s3src.Object, error)
	Range(ctx context.Context, bucket, key string, start, end int64) (io.ReadCloser, error)
	Prefetch(ctx context.Context, bucket, key string, start, end, window int64, inflight int) io.ReadCloser
	List(ctx context.Context, bucket, prefix string) ([]*s3src.Object, error)
	PutFile(ctx context.Context, bucket, key, path, contentType string) error
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

// Queue is what the handlers need of SQS.
type Queue interface {
	Send(ctx context.Context, bodies [][]byte) error
}

// JobStore is what the handlers need of the Jobs and Segments tables.
type JobStore interface {
	CreateJob(ctx context.Context, j *job.Job, order string) (*job.Job, bool, error)
	SetJobStatus(ctx context.Context, id string, status job.Status, pieces int) error
	FinishJob(ctx context.Context, j *job.Job) error
	JobRecord(ctx context.Context, id string) (*dynamo.JobRecord, error)
	PieceParsed(ctx context.Context, jobId string, index int, r job.PieceResult) (*dynamo.PieceRecord, error)
	BatchDone(ctx context.Context, jobId string, index, seq int) (*dynamo.PieceRecord, error)
	PieceAbandoned(ctx context.Context, jobId string, index int, reason string) (*dynamo.PieceRecord, error)
	BatchAbandoned(ctx context.Context, jobId string, index, seq, rows int, reason string) (*dynamo.PieceRecord, error)
	SettlePiece(ctx context.Context, jobId string, index int, failed bool) (bool, error)
	Pieces(ctx context.Context, jobId string) ([]*dynamo.PieceRecord, error)
	EnsureSegment(ctx context.Context, id, name, created string) error
	AddImport(ctx context.Context, segmentId string, im dynamo.Import) error
	CountMembers(ctx context.Context, segmentId string, shards int) (int, error)
	SetEndpointCount(ctx context.Context, segmentId string, count int, countedAt string) error
	Segment(ctx context.Context, id string) (*segment.Segment, error)
}

// Registry is the deployment-wide custom attribute registry.
type Registry interface {
	Register(ctx context.Context, names []string, limit int) ([]string, bool, error)
}

// EndpointStore is what the writer needs of the Endpoints, Users and Members tables.
type EndpointStore interface {
	GetEndpoints(ctx context.Context, ids []string) (map[string]dynamo.Versioned[merge.Endpoint], error)
	PutEndpoint(ctx context.Context, rec *merge.Endpoint, ver int64) error
	GetUsers(ctx context.Context, ids []string) (map[string]dynamo.Versioned[merge.User], error)
	PutUser(ctx context.Context, u *merge.User, ver int64) error
	AddMembers(ctx context.Context, segmentId string, ids []string) error
}

// Metrics receives one record per job started, piece parsed and batch handled
// (pkg/metrics writes them as CloudWatch Embedded Metric Format).
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

// abandonReason says why a message went to the dead-letter queue, briefly.
func abandonReason(what string, deliveries int, err error) string {
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return fmt.Sprintf("%s failed %d deliveries and is in the dead-letter queue (redrive it once the cause is fixed): %s", what, deliveries, msg)
}

// ReportKey is where a job's error report is written.
func ReportKey(jobId string) string { return "reports/" + jobId + ".csv" }

func reportPartKey(jobId string, piece int) string {
	return "reports/" + jobId + "/parts/" + pieceName(piece) + ".csv"
}

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
