package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/segport/segport/internal/decode"
	"github.com/segport/segport/internal/metrics"
	"github.com/segport/segport/internal/pinpointexport"
	"github.com/segport/segport/internal/plan"
	"github.com/segport/segport/pkg/endpoint"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/stats"
)

// ImportsPrefix is the folder whose objects are imported: imports/<segment>/...
const ImportsPrefix = "imports/"

// MetaJobId is the object metadata key (x-amz-meta-segport-job-id) with which an
// uploader chooses the job id of the import it starts, so that it can wait for it.
const MetaJobId = "segport-job-id"

// MetaFormat is the object metadata key with which an uploader names the format
// (CSV or JSON) of a file whose extension does not.
const MetaFormat = "segport-format"

var jobIdPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// Trigger starts import jobs: from S3 ObjectCreated events, or from a direct
// CreateImportJob-style request naming an s3:// folder.
type Trigger struct {
	Jobs     JobBook
	Segments SegmentBook
	// Registry and Limits register the custom attribute names of CSV headers
	// when a job starts, in file and column order, so that which names fit the
	// deployment's limit does not depend on the order pieces are parsed in.
	Registry  Registry
	Limits    endpoint.Limits
	Objects   Objects
	Assume    AssumeFunc // nil: no cross-account imports
	Parse     Queue
	Bucket    string
	PieceSize int64
	// BatchBytes bounds the write batches of the jobs it starts; 0 means just
	// under SQS's message limit.
	BatchBytes int
	Now        Clock
	Log        *slog.Logger
	Metrics    Metrics
}

// Request is a CreateImportJob-style request: import every object under S3Url.
type Request struct {
	S3Url       string `json:"S3Url"`
	Format      string `json:"Format,omitempty"`
	SegmentName string `json:"SegmentName,omitempty"`
	SegmentId   string `json:"SegmentId,omitempty"`
	JobId       string `json:"JobId,omitempty"` // optional: repeat a request idempotently
	// RoleArn and ExternalId name a role to assume to read a bucket in another
	// account, as Pinpoint's CreateImportJob does.
	RoleArn    string `json:"RoleArn,omitempty"`
	ExternalId string `json:"ExternalId,omitempty"`
}

// Handle is the Lambda entry point: an S3 event, or a Request.
func (t *Trigger) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Records []json.RawMessage `json:"Records"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("decode trigger event: %w", err)
	}
	if probe.Records != nil {
		var ev events.S3Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("decode S3 event: %w", err)
		}
		return nil, t.HandleS3(ctx, ev)
	}
	var req Request
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, fmt.Errorf("decode CreateImportJob request: %w", err)
	}
	return t.CreateImportJob(ctx, req)
}

// HandleS3 starts one job per created object.
func (t *Trigger) HandleS3(ctx context.Context, ev events.S3Event) error {
	var errs []error
	for _, rec := range ev.Records {
		if !strings.HasPrefix(rec.EventName, "ObjectCreated:") {
			continue
		}
		if err := t.objectCreated(ctx, rec); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (t *Trigger) objectCreated(ctx context.Context, rec events.S3EventRecord) error {
	bucket := rec.S3.Bucket.Name
	key := rec.S3.Object.URLDecodedKey
	if key == "" {
		key = rec.S3.Object.Key
	}
	if strings.HasSuffix(key, "/") || !strings.HasPrefix(key, ImportsPrefix) {
		return nil // a folder marker, or not an import
	}
	obj, err := t.Objects.Head(ctx, bucket, key)
	if errors.Is(err, job.ErrNotFound) {
		logger(t.Log).Warn("imported object vanished before its job started", "bucket", bucket, "sequencer", rec.S3.Object.Sequencer)
		return nil
	}
	if err != nil {
		return err
	}
	id := obj.Metadata[MetaJobId]
	if !jobIdPattern.MatchString(id) {
		id = job.NewId(bucket, key, rec.S3.Object.Sequencer, rec.S3.Object.ETag)
	}
	created := rec.EventTime
	if created.IsZero() {
		created = t.Now.now()
	}
	segName, _, _ := strings.Cut(strings.TrimPrefix(key, ImportsPrefix), "/")
	format, _ := ParseFormat(obj.Metadata[MetaFormat])
	spec := jobSpec{
		id: id, created: created, bucket: bucket, objects: []*job.Object{obj}, format: format,
		def: job.Definition{S3Url: "s3://" + bucket + "/" + key, SegmentName: segName, SegmentId: job.SegmentId(segName)},
	}
	if !strings.Contains(strings.TrimPrefix(key, ImportsPrefix), "/") {
		spec.fail = "the file is not in a segment folder: put it under " + ImportsPrefix + "<segment>/"
		spec.def.SegmentName, spec.def.SegmentId = "", ""
	}
	_, err = t.start(ctx, spec)
	return err
}

// CreateImportJob imports every object under req.S3Url (subfolders included) as
// one job and returns the job as it stands once its pieces are queued.
func (t *Trigger) CreateImportJob(ctx context.Context, req Request) (*job.Job, error) {
	bucket, prefix, err := job.ParseS3URL(req.S3Url)
	if err != nil {
		return nil, err
	}
	if req.SegmentName == "" && req.SegmentId == "" {
		return nil, errors.New("the request names no segment: give SegmentName or SegmentId")
	}
	if req.SegmentId == "" {
		req.SegmentId = job.SegmentId(req.SegmentName)
	}
	if req.SegmentName == "" {
		req.SegmentName = req.SegmentId
	}
	var format decode.Format
	if req.Format != "" {
		if format, err = ParseFormat(req.Format); err != nil {
			return nil, err
		}
	}
	created := t.Now.now()
	id := req.JobId
	if !jobIdPattern.MatchString(id) {
		id = job.NewId(req.S3Url, req.SegmentId, created.Format(time.RFC3339Nano))
	}
	src := job.Source{RoleArn: req.RoleArn, ExternalId: req.ExternalId}
	objects, err := objectsFor(t.Objects, t.Assume, src)
	if err != nil {
		return nil, err
	}
	objs, err := objects.List(ctx, bucket, prefix)
	if err != nil {
		return nil, err
	}
	spec := jobSpec{
		id: id, created: created, bucket: bucket, objects: objs, format: format, source: src, reader: objects,
		def: job.Definition{S3Url: req.S3Url, Format: string(format), SegmentName: req.SegmentName, SegmentId: req.SegmentId},
	}
	if len(objs) == 0 {
		spec.fail = "no objects under " + req.S3Url
	}
	return t.start(ctx, spec)
}

// jobSpec is a job about to start.
type jobSpec struct {
	id      string
	created time.Time
	bucket  string
	objects []*job.Object
	format  decode.Format // "" to take it from the objects
	def     job.Definition
	fail    string     // a reason to fail the job at once
	source  job.Source // how to read the objects
	reader  Objects    // reads the objects; nil means t.Objects
}

// start creates the job, plans its pieces and queues them. Repeating it for the
// same job id queues the same pieces again, which the parser and writer absorb.
func (t *Trigger) start(ctx context.Context, s jobSpec) (*job.Job, error) {
	stats.Attribute(ctx, s.id) // what this invocation costs is the job's (internal/meter)
	pl, err := t.plan(ctx, s)
	if err != nil {
		return nil, err
	}
	s.def.Format = string(pl.format)
	created := s.created.UTC().Format(job.DateFormat)
	j := &job.Job{Id: s.id, JobStatus: job.Created, CreationDate: created, Definition: s.def, Failures: []string{}}
	order := job.Order(s.created, s.id)
	launch := job.Launch{JobOrder: order, Created: created, Bucket: s.bucket, Format: string(pl.format),
		SegmentId: s.def.SegmentId, TotalPieces: len(pl.pieces), Source: s.source, BatchBytes: t.BatchBytes}
	if launch.BatchBytes <= 0 {
		launch.BatchBytes = job.MaxMessageBytes - 1024 // room for the batch's head
	}
	if s.def.SegmentId != "" {
		if launch.Shards, err = t.Segments.EnsureSegment(ctx, s.def.SegmentId, s.def.SegmentName, created); err != nil {
			return nil, err
		}
	}
	stored, _, err := t.Jobs.CreateJob(ctx, j, launch)
	if err != nil {
		return nil, err
	}
	if stored.JobStatus != job.Created {
		return stored, nil // started already; the sweeper sends again whatever stalled
	}
	log := logger(t.Log).With("job", s.id)

	if pl.reason == "" && len(pl.pieces) == 0 {
		pl.reason = s.def.S3Url + ": nothing to import: every file is empty"
	}
	if pl.reason != "" {
		log.Warn("job failed before parsing", "reason", pl.reason)
		j.JobStatus, j.CompletionDate, j.Failures = job.Failed, t.Now.now().Format(job.DateFormat), []string{pl.reason}
		if err := t.Jobs.FinishJob(ctx, j, 0); err != nil {
			return nil, err
		}
		return t.current(ctx, s.id)
	}
	if err := t.register(ctx, pl.names); err != nil {
		return nil, err
	}
	if err := t.Jobs.StartJob(ctx, s.id, pl.pieces); err != nil {
		return nil, err
	}
	bodies := make([][]byte, len(pl.pieces))
	for i, p := range pl.pieces {
		bodies[i], err = json.Marshal(job.ParseMessage{JobId: s.id, Launch: launch, Piece: p})
		if err != nil {
			return nil, fmt.Errorf("encode parse message: %w", err)
		}
	}
	if err := t.Parse.Send(ctx, bodies); err != nil {
		return nil, fmt.Errorf("queue %d pieces of job %s: %w", len(pl.pieces), s.id, err)
	}
	log.Info("job started", "pieces", len(pl.pieces), "files", len(s.objects), "format", pl.format)
	record(t.Metrics, metrics.Record{Handler: "Trigger", Job: s.id, Pieces: len(pl.pieces), Since: s.created})
	return t.current(ctx, s.id)
}

// register registers the custom attribute names of the job's CSV headers, in
// order, as many as fit the deployment's limit. Rows that set a name that did
// not fit fail when they are parsed, whichever piece is parsed first.
func (t *Trigger) register(ctx context.Context, names []string) error {
	if len(names) == 0 || t.Registry == nil {
		return nil
	}
	limit := t.Limits.CustomAttributeNames
	if _, ok, err := t.Registry.Register(ctx, names, limit); err != nil || ok {
		return err
	}
	for _, n := range names {
		if _, ok, err := t.Registry.Register(ctx, []string{n}, limit); err != nil || !ok {
			return err
		}
	}
	return nil
}

func (t *Trigger) current(ctx context.Context, id string) (*job.Job, error) {
	h, err := t.Jobs.Head(ctx, id)
	if err != nil {
		return nil, err
	}
	return h.Job, nil
}

// jobPlan is a job's pieces, or the reason it fails before any is parsed.
type jobPlan struct {
	pieces []job.Piece
	format decode.Format
	names  []string // the custom attribute names of the CSV headers, in order
	reason string
}

// plan decides the format and splits every object into pieces. A reason instead
// of pieces fails the job.
func (t *Trigger) plan(ctx context.Context, s jobSpec) (jobPlan, error) {
	if s.fail != "" {
		return jobPlan{reason: s.fail}, nil
	}
	objs := append([]*job.Object(nil), s.objects...)
	sort.Slice(objs, func(i, k int) bool { return objs[i].Key < objs[k].Key })
	if s.reader == nil {
		s.reader = t.Objects
	}
	var pl jobPlan
	format, reason, err := t.format(ctx, s.reader, objs, s.format)
	if err != nil || reason != "" {
		return jobPlan{reason: reason}, err
	}
	pl.format = format
	seen := map[string]bool{}
	for i, o := range objs {
		if o.Size == 0 {
			if len(objs) == 1 {
				return jobPlan{format: format, reason: "s3://" + o.Bucket + "/" + o.Key + ": the file is empty"}, nil
			}
			continue // an empty file in a folder adds nothing
		}
		ps, header, reason, err := t.planObject(ctx, s.reader, o, i, format)
		if err != nil || reason != "" {
			return jobPlan{format: format, reason: reason}, err
		}
		for _, p := range ps {
			p.Index = len(pl.pieces)
			pl.pieces = append(pl.pieces, p)
		}
		for _, col := range header {
			a, err := endpoint.Lookup(strings.TrimSpace(col))
			if err == nil && a.Custom != "" && !seen[a.Name()] {
				seen[a.Name()] = true
				pl.names = append(pl.names, a.Name())
			}
		}
	}
	return pl, nil
}

// format returns the one format of the objects, or a reason naming the keys when
// they mix formats or contradict the requested one.
func (t *Trigger) format(ctx context.Context, objects Objects, objs []*job.Object, want decode.Format) (decode.Format, string, error) {
	if want == pinpointexport.Format {
		return want, "", nil // an export's objects are named .gz or nothing: only the request knows them
	}
	byFormat := map[decode.Format][]string{}
	for _, o := range objs {
		f, ok := decode.FormatOf(o.Key)
		if want != "" && len(objs) == 1 {
			f, ok = want, true
		}
		if !ok {
			var err error
			if f, err = sniff(ctx, objects, o); err != nil {
				return "", "", err
			}
		}
		byFormat[f] = append(byFormat[f], o.Key)
	}
	if len(byFormat) > 1 {
		return "", fmt.Sprintf("the import mixes formats (one format per import): CSV %s; JSON %s",
			strings.Join(byFormat[decode.CSV], ", "), strings.Join(byFormat[decode.JSON], ", ")), nil
	}
	var format decode.Format
	for f := range byFormat {
		format = f
	}
	if want != "" && format != want {
		return "", fmt.Sprintf("the request says %s but the files are %s: %s", want, format, strings.Join(byFormat[format], ", ")), nil
	}
	return format, "", nil
}

// planObject splits one object into pieces of about PieceSize. A CSV header is
// read once here and travels with every piece after the first.
func (t *Trigger) planObject(ctx context.Context, objects Objects, o *job.Object, file int, format decode.Format) ([]job.Piece, []string, string, error) {
	if format == pinpointexport.Format {
		if ps, whole, reason, err := planCompressed(ctx, objects, o, file); whole || reason != "" || err != nil {
			return ps, nil, reason, err
		}
	}
	var header []string
	if format == decode.CSV {
		var reason string
		var err error
		if header, reason, err = readHeader(ctx, objects, o); err != nil || reason != "" {
			return nil, nil, reason, err
		}
	}
	size := t.PieceSize
	if size <= 0 {
		size = 64 << 20
	}
	open := func(ctx context.Context, start, end int64) (io.ReadCloser, error) {
		return objects.Range(ctx, o.Bucket, o.Key, start, end)
	}
	ps, err := plan.Split(ctx, o.Size, open, plan.Options{PieceSize: size, Quotes: format == decode.CSV})
	if errors.Is(err, job.ErrNotFound) {
		return nil, nil, "s3://" + o.Bucket + "/" + o.Key + ": the file vanished before it was read", nil
	}
	if err != nil {
		return nil, nil, "", fmt.Errorf("plan s3://%s/%s: %w", o.Bucket, o.Key, err)
	}
	pieces := make([]job.Piece, len(ps))
	for i, p := range ps {
		pieces[i] = job.Piece{Key: o.Key, File: file, Start: p.Start, End: p.End, Line: p.Line}
		if p.Start > 0 {
			pieces[i].Header = header
		}
	}
	return pieces, header, "", nil
}

// header reads a CSV object's header. A file-level problem in it (compression,
// encoding, an unknown column) is a reason to fail the job before any row is read.
func readHeader(ctx context.Context, objects Objects, o *job.Object) ([]string, string, error) {
	r, err := objects.Range(ctx, o.Bucket, o.Key, 0, min(o.Size, headerWindow))
	if errors.Is(err, job.ErrNotFound) {
		return nil, "s3://" + o.Bucket + "/" + o.Key + ": the file vanished before it was read", nil
	}
	if err != nil {
		return nil, "", err
	}
	defer r.Close()
	dec := decode.NewCSV(r, decode.Options{File: o.Key})
	_, err = dec.Decode()
	var fe *decode.FileError
	if errors.As(err, &fe) {
		return nil, fe.Error(), nil
	}
	if h := dec.Header(); h != nil {
		return h, "", nil
	}
	if err != nil && err != io.EOF && !decode.IsRowError(err) {
		return nil, "", fmt.Errorf("read the header of s3://%s/%s: %w", o.Bucket, o.Key, err)
	}
	return nil, o.Key + ": the header is longer than " + fmt.Sprint(headerWindow) + " bytes", nil
}

// headerWindow bounds the bytes read to find a CSV header.
const headerWindow = 2 << 20

// sniff reads the first bytes of an object without a telling extension.
func sniff(ctx context.Context, objects Objects, o *job.Object) (decode.Format, error) {
	r, err := objects.Range(ctx, o.Bucket, o.Key, 0, min(o.Size, 512))
	if err != nil {
		return "", err
	}
	defer r.Close()
	head, err := io.ReadAll(r)
	if err != nil {
		return "", fmt.Errorf("read the start of s3://%s/%s: %w", o.Bucket, o.Key, err)
	}
	return decode.Sniff(head), nil
}
