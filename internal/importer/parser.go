package importer

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/segport/segport/internal/decode"
	"github.com/segport/segport/internal/metrics"
	"github.com/segport/segport/pkg/endpoint"
	"github.com/segport/segport/pkg/job"
)

// Parser imports pieces: it streams a piece's byte range, decodes and validates its
// rows, sends valid endpoints to the write queue in size-bounded batches and
// records failures, then records what it found on the piece.
type Parser struct {
	Jobs    JobBook
	Objects Objects
	Assume  AssumeFunc // nil: no cross-account imports
	// ReportBucket receives the error reports: the deployment's own bucket,
	// whichever bucket the rows came from.
	ReportBucket string
	Registry     Registry
	Write        Queue
	// Parse, Segments and Concurrency serve planning (planner.go): the scan
	// that completes a job's ranges ensures its segment and queues its pieces,
	// reading and sending Concurrency at once (0 means 4).
	Parse       Queue
	Segments    SegmentBook
	Concurrency int
	Limits      endpoint.Limits
	// Inflate caps the decompression of a gzip export's piece.
	Inflate decode.Inflate
	// BatchBytes bounds a write message of a job that does not fix its own
	// bound (one started by an earlier version); 0 means just under SQS's limit.
	BatchBytes int
	Now        Clock
	Log        *slog.Logger
	Finisher   *Finisher
	Metrics    Metrics
	// MaxReceive is the parse queue's maxReceiveCount: on a message's last
	// delivery a failure abandons its piece, which then counts as failed.
	MaxReceive int
}

// HandleSQS is the Lambda entry point for the parse queue.
func (p *Parser) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, rec := range ev.Records {
		var m job.ParseMessage
		err := json.Unmarshal([]byte(rec.Body), &m)
		switch {
		case err == nil && m.Range != nil:
			err = p.planRange(ctx, &m)
		case err == nil:
			err = p.Piece(ctx, &m)
		default:
			err = fmt.Errorf("decode parse message: %w", err)
		}
		if err != nil {
			logger(p.Log).Error("piece not imported; it will be retried", "message", rec.MessageId, "job", m.JobId, "piece", m.Piece.Index, "err", err)
			switch {
			case !lastDelivery(rec.Attributes, p.MaxReceive) || m.JobId == "":
			case m.Range != nil:
				p.abandonRange(ctx, &m, err)
			default:
				p.abandon(ctx, &m, err)
			}
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	return resp, nil
}

// abandon records a piece whose message goes to the dead-letter queue as failed,
// so that its job ends instead of waiting for it.
func (p *Parser) abandon(ctx context.Context, m *job.ParseMessage, cause error) {
	rec, err := p.Jobs.PieceGaveUp(ctx, m.JobId, m.Piece.Index, pieceGaveUp(m.Piece, "its message "+abandonReason(p.MaxReceive, cause)))
	if err == nil {
		err = p.Finisher.PieceProgress(ctx, m.JobId, rec)
	}
	if err != nil {
		logger(p.Log).Error("abandoned piece not recorded", "job", m.JobId, "piece", m.Piece.Index, "err", err)
	}
}

// Piece imports one piece. It is safe to repeat: the batches it cuts and the
// failures it finds are the same every time.
func (p *Parser) Piece(ctx context.Context, m *job.ParseMessage) error {
	// The job must exist; it may have ended already: a piece redriven from the
	// dead-letter queue, or a duplicate, is parsed again and finishing reconciles.
	if _, err := p.Jobs.Head(ctx, m.JobId); err != nil {
		return fmt.Errorf("read job %s: %w", m.JobId, err)
	}
	created, err := time.Parse(time.RFC3339Nano, m.Created)
	if err != nil {
		return fmt.Errorf("job %s creation date %q: %w", m.JobId, m.Created, err)
	}
	run := &pieceRun{p: p, m: m, created: created, names: map[string]bool{}}
	defer run.close()
	if err := run.read(ctx); err != nil {
		return err
	}
	if err := run.flush(ctx); err != nil {
		return err
	}
	if err := run.uploadReport(ctx); err != nil {
		return err
	}
	rec, err := p.Jobs.PieceParsed(ctx, m.JobId, m.Piece.Index, run.res)
	if err != nil {
		return err
	}
	record(p.Metrics, metrics.Record{Handler: "Parser", Job: m.JobId, Piece: &m.Piece.Index,
		Rows: run.res.Rows, Failures: run.res.Failed, Batches: run.res.Batches, Since: created})
	logger(p.Log).Info("piece parsed", "job", m.JobId, "piece", m.Piece.Index, "rows", run.res.Rows,
		"failed", run.res.Failed, "batches", run.res.Batches, "error", run.res.Error != "")
	return p.Finisher.PieceProgress(ctx, m.JobId, rec)
}

// The parser reads a piece through prefetchInflight ranged GETs of
// prefetchWindow bytes: memory stays bounded whatever the piece size.
const (
	prefetchWindow   = 4 << 20
	prefetchInflight = 3
)

// pieceRun is the state of one parse of one piece.
type pieceRun struct {
	p       *Parser
	m       *job.ParseMessage
	created time.Time
	res     job.PieceResult
	names   map[string]bool // custom attribute names known to be registered

	batch   []byte // the rows of the batch being cut, comma separated
	row     []byte // the JSON of the row being added to batch
	cut     job.Cut
	body    []byte // the message being sent
	report  *os.File
	reportW *csv.Writer
}

func (run *pieceRun) read(ctx context.Context) error {
	m := run.m
	objects, err := objectsFor(run.p.Objects, run.p.Assume, m.Source)
	if err != nil {
		return err
	}
	body := objects.Prefetch(ctx, m.Bucket, m.Piece.Key, m.Piece.Start, m.Piece.End, prefetchWindow, prefetchInflight)
	defer body.Close()
	format, err := ParseFormat(m.Format)
	if err != nil {
		return err
	}
	dec := newDecoder(format, body, decode.Options{
		File: m.Piece.Key, Limits: run.p.Limits, Header: m.Piece.Header, Line: m.Piece.Line, Offset: m.Piece.Start,
		Inflate:       run.p.Inflate,
		ReuseEndpoint: true, // accept encodes each row before the next is decoded
	})
	defer logExportCounts(run.p.Log, m, dec)
	for {
		row, err := dec.Decode()
		var rowErr *decode.RowError
		var fileErr *decode.FileError
		switch {
		case err == io.EOF:
			return nil
		case errors.As(err, &rowErr):
			if err := run.fail(row.Line, rowErr.Field, rowErr.Msg, row.Raw); err != nil {
				return err
			}
		case errors.As(err, &fileErr):
			run.res.Error = fileErr.Error()
			return nil
		case errors.Is(err, job.ErrNotFound):
			run.res.Error = fmt.Sprintf("%s: the file vanished before it was read", m.Piece.Key)
			return nil
		case err != nil:
			return fmt.Errorf("read piece %d of job %s: %w", m.Piece.Index, m.JobId, err)
		default:
			if err := run.accept(ctx, row); err != nil {
				return err
			}
		}
	}
}

// accept registers the row's custom attribute names and adds it to the batch;
// a user-ID row adds one definition per user.
func (run *pieceRun) accept(ctx context.Context, row *decode.Row) error {
	if row.Endpoint == nil {
		stamp := job.Stamp(run.created, run.m.JobOrder, run.m.Piece.File, row.Line)
		for _, u := range row.UserIds {
			if err := run.add(ctx, job.WriteRow{Line: row.Line, Stamp: stamp, UserId: u}, ""); err != nil {
				return err
			}
		}
		return nil
	}
	e := row.Endpoint
	if run.m.Delete {
		if field := deleteRowExtra(e); field != "" {
			return run.fail(row.Line, field, deleteRowMessage, row.Raw)
		}
	}
	if field, msg, err := run.register(ctx, e); err != nil {
		return err
	} else if msg != "" {
		return run.fail(row.Line, field, msg, row.Raw)
	}
	eff := run.created
	if e.EffectiveDate != "" {
		if t, ok := endpoint.ParseDate(e.EffectiveDate); ok {
			eff = t
		}
	}
	return run.add(ctx, job.WriteRow{Line: row.Line, Stamp: job.Stamp(eff, run.m.JobOrder, run.m.Piece.File, row.Line), Endpoint: e}, e.ChannelType)
}

// add puts one definition in the batch, sending the batch first if it is full.
func (run *pieceRun) add(ctx context.Context, wr job.WriteRow, channel string) error {
	b, err := wr.AppendJSON(run.row[:0])
	run.row = b
	if err != nil {
		return fmt.Errorf("encode row %d: %w", wr.Line, err)
	}
	if run.cut.Rows > 0 && len(run.batch)+len(b)+1 > run.limit() {
		if err := run.flush(ctx); err != nil {
			return err
		}
	}
	if run.cut.Rows > 0 {
		run.batch = append(run.batch, ',')
	} else {
		run.cut.Line = wr.Line
	}
	run.batch = append(run.batch, b...)
	run.cut.Count(channel)
	run.res.Rows++
	return nil
}

func (run *pieceRun) limit() int {
	if run.m.BatchBytes > 0 {
		return run.m.BatchBytes
	}
	if run.p.BatchBytes > 0 {
		return run.p.BatchBytes
	}
	return job.MaxMessageBytes - 1024 // room for the batch's head
}

// register makes sure the row's custom attribute names fit the deployment's limit.
func (run *pieceRun) register(ctx context.Context, e *endpoint.Endpoint) (field, msg string, err error) {
	var fresh []string
	for n := range e.CustomNames() {
		if !run.names[n] {
			fresh = append(fresh, n)
		}
	}
	if len(fresh) == 0 {
		return "", "", nil
	}
	limit := run.p.Limits.CustomAttributeNames
	all, ok, err := run.p.Registry.Register(ctx, fresh, limit)
	if err != nil {
		return "", "", err
	}
	for _, n := range all {
		run.names[n] = true
	}
	if !ok {
		unknown := ""
		for _, n := range fresh {
			if !run.names[n] {
				unknown = n
				break
			}
		}
		return unknown, fmt.Sprintf("the deployment already has %d custom attribute names (the limit is %d); this one is new", len(all), limit), nil
	}
	return "", "", nil
}

// flush sends the current batch.
func (run *pieceRun) flush(ctx context.Context) error {
	if run.cut.Rows == 0 {
		return nil
	}
	m := run.m
	head := job.WriteBatch{JobId: m.JobId, JobOrder: m.JobOrder, SegmentId: m.SegmentId, Shards: m.Shards,
		Version: m.Version, Base: m.Base, Key: m.Piece.Key, Piece: m.Piece.Index, Seq: run.res.Batches, Delete: m.Delete}
	run.body = job.CloseBatch(append(head.AppendHead(run.body[:0]), run.batch...))
	if err := run.p.Write.Send(ctx, [][]byte{run.body}); err != nil {
		return fmt.Errorf("send batch %d of piece %d of job %s: %w", run.res.Batches, m.Piece.Index, m.JobId, err)
	}
	run.res.Batches++
	run.res.Cuts = append(run.res.Cuts, run.cut)
	run.batch, run.cut = run.batch[:0], job.Cut{}
	return nil
}

// fail records a bad row: counted, among the first failures kept, and in the
// piece's part of the error report.
func (run *pieceRun) fail(line int, field, msg string, raw []byte) error {
	run.res.Failed++
	if len(run.res.Failures) < job.MaxFailures {
		run.res.Failures = append(run.res.Failures, job.Failure(run.m.Piece.Key, line, field, msg))
	}
	if run.report == nil {
		f, err := os.CreateTemp("", "segport-failures-*.csv")
		if err != nil {
			return fmt.Errorf("open error report: %w", err)
		}
		run.report, run.reportW = f, csv.NewWriter(f)
	}
	return run.reportW.Write([]string{run.m.Piece.Key, fmt.Sprint(line), field, msg, string(bytes.TrimRight(raw, "\r\n"))})
}

func (run *pieceRun) uploadReport(ctx context.Context) error {
	if run.report == nil {
		return nil
	}
	run.reportW.Flush()
	if err := run.reportW.Error(); err != nil {
		return fmt.Errorf("write error report: %w", err)
	}
	key := reportPartKey(run.m.JobId, run.m.Piece.Index)
	if err := run.p.Objects.PutFile(ctx, run.p.ReportBucket, key, run.report.Name(), "text/csv; charset=utf-8"); err != nil {
		return err
	}
	run.res.Report = key
	return nil
}

func (run *pieceRun) close() {
	if run.report != nil {
		run.report.Close()
		os.Remove(run.report.Name())
	}
}
