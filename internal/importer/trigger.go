package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/segport/segport/internal/decode"
	"github.com/segport/segport/internal/pinpointexport"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
	"github.com/segport/segport/pkg/stats"
)

// ImportsPrefix is the folder whose objects are imported: imports/<segment>/...
const ImportsPrefix = "imports/"

// DeletesPrefix is the folder of delete files: each object under it, at any
// depth, is a delete job whose rows name endpoints (Id) or users
// (User.UserId) to delete (README "Deleting endpoints, users and segments").
const DeletesPrefix = "deletes/"

// MetaJobId is the object metadata key (x-amz-meta-segport-job-id) with which an
// uploader chooses the job id of the import it starts, so that it can wait for it.
const MetaJobId = "segport-job-id"

// MetaMode is the object metadata key (x-amz-meta-segport-mode) with which an
// uploader makes a dropped file replace its segment: "replace" (any letter
// case). Absent, or "append", the file appends, the drop folder's default.
const MetaMode = "segport-mode"

// ParseMode reads a MetaMode value: whether it asks for a replace.
func ParseMode(s string) (replace bool, err error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "append":
		return false, nil
	case "replace":
		return true, nil
	}
	return false, fmt.Errorf("%s %s: the import mode is append or replace", MetaMode, segment.QuoteShort(s))
}

// MetaFormat is the object metadata key with which an uploader names the format
// (CSV or JSON) of a file whose extension does not.
const MetaFormat = "segport-format"

// Trigger starts import jobs: from S3 ObjectCreated events, or from a direct
// CreateImportJob-style request naming an s3:// folder.
type Trigger struct {
	Jobs    JobBook
	Objects Objects
	Assume  AssumeFunc // nil: no cross-account imports
	// SourceAccounts are the accounts whose roles a request's RoleArn may name
	// (the SourceAccountIds parameter); none: no cross-account imports.
	SourceAccounts []string
	Parse          Queue
	Bucket         string
	PieceSize      int64
	// RangeChunks is how many chunks of PieceSize one plan message scans; 0
	// means 16 (1 GiB at the default piece size).
	RangeChunks int
	// Concurrency bounds the reads and sends in flight while a job starts;
	// 0 means 4.
	Concurrency int
	// BatchBytes bounds the write batches of the jobs it starts; 0 means just
	// under SQS's message limit.
	BatchBytes int
	Now        Clock
	Log        *slog.Logger
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
	// DefineSegment false (Pinpoint's flag) upserts the endpoints without
	// creating or changing a segment: the request then names none (SegmentName
	// and SegmentId are ignored, as Pinpoint ignores them). Absent means true.
	DefineSegment *bool `json:"DefineSegment,omitempty"`
	// RegisterEndpoints is Pinpoint's flag to store the imported endpoints.
	// segport always stores them (a segment's members are read from the
	// Endpoints table), so it may be absent or true; false is refused.
	RegisterEndpoints *bool `json:"RegisterEndpoints,omitempty"`
	// Replace makes the import's version exactly its endpoints, rather than
	// the previous version plus them (an append, the default).
	Replace bool `json:"Replace,omitempty"`
}

// DefinesSegment reports whether the request imports into a segment.
func (r *Request) DefinesSegment() bool { return r.DefineSegment == nil || *r.DefineSegment }

// Check returns the request's own mistake, if any, as a message for its sender.
func (r *Request) Check() error {
	if r.RegisterEndpoints != nil && !*r.RegisterEndpoints {
		return errors.New("RegisterEndpoints: false is not supported: segport always stores the endpoints it imports; leave it out or set it true")
	}
	if !r.DefinesSegment() {
		if r.Replace {
			return errors.New("Replace: true needs a segment to replace: it cannot go with DefineSegment: false")
		}
		return nil // SegmentName and SegmentId are ignored
	}
	return CheckSegment(r.SegmentName, r.SegmentId)
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
	deletes := strings.HasPrefix(key, DeletesPrefix)
	if strings.HasSuffix(key, "/") || (!strings.HasPrefix(key, ImportsPrefix) && !deletes) {
		return nil // a folder marker, or neither an import nor a delete
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
	if !job.IsId(id) {
		id = job.NewId(bucket, key, rec.S3.Object.Sequencer, rec.S3.Object.ETag)
	}
	created := rec.EventTime
	if created.IsZero() {
		created = t.Now.now()
	}
	segName, _, _ := strings.Cut(strings.TrimPrefix(key, ImportsPrefix), "/")
	format, _ := ParseFormat(obj.Metadata[MetaFormat])
	replace, modeErr := ParseMode(obj.Metadata[MetaMode])
	spec := jobSpec{
		id: id, created: created, bucket: bucket, objects: []*job.Object{obj}, format: format,
		def: job.Definition{S3Url: "s3://" + bucket + "/" + key, SegmentName: segName, SegmentId: job.SegmentId(segName), Replace: replace},
	}
	if deletes { // a delete file has no segment, and no mode
		noSegment := false
		spec.def = job.Definition{S3Url: spec.def.S3Url, DefineSegment: &noSegment, Delete: true}
	} else if modeErr != nil {
		// A replace that cannot be told from an append imports nothing:
		// appending what was meant to replace would be worse.
		spec.fail = "s3://" + bucket + "/" + key + ": " + modeErr.Error()
		spec.def.SegmentName, spec.def.SegmentId = "", ""
	} else if !strings.Contains(strings.TrimPrefix(key, ImportsPrefix), "/") {
		spec.fail = "the file is not in a segment folder: put it under " + ImportsPrefix + "<segment>/"
		spec.def.SegmentName, spec.def.SegmentId = "", ""
	} else if err := segment.CheckName(segName); err != nil {
		spec.fail = "s3://" + bucket + "/" + key + ": " + err.Error()
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
	if len(prefix) > MaxKeyBytes {
		return nil, ErrLongPrefix
	}
	if err := req.Check(); err != nil {
		return nil, err
	}
	var noSegment *bool
	switch {
	case !req.DefinesSegment():
		req.SegmentName, req.SegmentId, noSegment = "", "", req.DefineSegment
	case req.SegmentId == "":
		req.SegmentId = segment.IdOf(req.SegmentName)
	}
	var format decode.Format
	if req.Format != "" {
		if format, err = ParseFormat(req.Format); err != nil {
			return nil, err
		}
	}
	created := t.Now.now()
	id := req.JobId
	if !job.IsId(id) {
		id = job.NewId(req.S3Url, req.SegmentId, created.Format(time.RFC3339Nano))
	}
	src := job.Source{RoleArn: req.RoleArn, ExternalId: req.ExternalId}
	if err := checkSource(src, t.SourceAccounts); err != nil {
		return nil, err
	}
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
		def: job.Definition{S3Url: req.S3Url, Format: string(format), SegmentName: req.SegmentName, SegmentId: req.SegmentId, DefineSegment: noSegment,
			Replace: req.Replace},
	}
	if len(objs) == 0 {
		spec.fail = "no objects under " + req.S3Url
	}
	return t.start(ctx, spec)
}

// MaxKeyBytes is S3's limit on an object key.
const MaxKeyBytes = 1024

// ErrLongPrefix is a request whose prefix no S3 key can start with.
var ErrLongPrefix = fmt.Errorf("the S3Url's prefix is longer than S3's %d-byte key limit", MaxKeyBytes)

// ErrNoSegment is a request that names no segment.
var ErrNoSegment = errors.New("the request names no segment: give SegmentName or SegmentId, or DefineSegment: false to import the endpoints without a segment")

// CheckSegment checks the segment a CreateImportJob request names, by the one
// rule of pkg/segment: a SegmentName creates the segment or adds to it; a
// SegmentId on its own names a segment that exists (the planner fails the job
// if it does not), so a request can never make a segment whose id shadows
// another's name; both together must agree.
func CheckSegment(name, id string) error {
	if name == "" && id == "" {
		return ErrNoSegment
	}
	if name != "" {
		if err := segment.CheckName(name); err != nil {
			return err
		}
	}
	if id != "" {
		if err := segment.CheckId(id); err != nil {
			return err
		}
	}
	if name != "" && id != "" && segment.IdOf(name) != id {
		return &segment.NameError{Name: id, Reason: "this SegmentId is not the id of the SegmentName " + strconv.Quote(name) + " (" + segment.IdOf(name) + "): give one of them"}
	}
	return nil
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

// start creates the job and fans its planning out: one plan message per range
// of whole chunks (see planner.go). It reads no object, except the first bytes
// of those whose name does not tell their format. Repeating it for a job that
// is still being planned sends its plan messages again, which the planner
// absorbs.
func (t *Trigger) start(ctx context.Context, s jobSpec) (*job.Job, error) {
	stats.Attribute(ctx, s.id) // what this invocation costs is the job's (internal/meter)
	pl, err := t.prepare(ctx, s)
	if err != nil {
		return nil, err
	}
	s.def.Format = string(pl.format)
	s.def.Skipped = job.SkippedList(pl.skipped)
	created := s.created.UTC().Format(job.DateFormat)
	j := &job.Job{Id: s.id, JobStatus: job.Created, CreationDate: created, Definition: s.def, Failures: []string{}}
	launch := job.Launch{JobOrder: job.Order(s.created, s.id), Created: created, Bucket: s.bucket, Format: string(pl.format),
		SegmentId: s.def.SegmentId, Source: s.source, BatchBytes: t.BatchBytes, Delete: s.def.Delete}
	if launch.BatchBytes <= 0 {
		launch.BatchBytes = job.MaxMessageBytes - 1024 // room for the batch's head
	}
	stored, _, err := t.Jobs.CreateJob(ctx, j, launch)
	if err != nil {
		return nil, err
	}
	if stored.JobStatus != job.Created && stored.JobStatus != job.Initializing {
		return stored, nil // started already; the sweeper sends again whatever stalled
	}
	log := logger(t.Log).With("job", s.id)
	if len(pl.skipped) > 0 {
		log.Info("objects of the other format skipped", "skipped", len(pl.skipped), "format", pl.format)
	}
	if pl.reason != "" {
		log.Warn("job failed before parsing", "reason", pl.reason)
		j.JobStatus, j.CompletionDate, j.Failures = job.Failed, t.Now.now().Format(job.DateFormat), []string{pl.reason}
		if err := t.Jobs.FinishJob(ctx, j, 0); err != nil && !errors.Is(err, job.ErrConflict) {
			return nil, err
		}
		return t.current(ctx, s.id)
	}
	if err := t.Jobs.StartPlanning(ctx, s.id, pl.ranges); err != nil {
		return nil, err
	}
	bodies := make([][]byte, len(pl.ranges))
	for i := range pl.ranges {
		bodies[i], err = json.Marshal(job.ParseMessage{JobId: s.id, Launch: launch, Range: &pl.ranges[i]})
		if err != nil {
			return nil, fmt.Errorf("encode plan message: %w", err)
		}
	}
	if err := sendAll(ctx, t.Parse, bodies, t.Concurrency); err != nil {
		return nil, fmt.Errorf("queue %d plan messages of job %s: %w", len(bodies), s.id, err)
	}
	log.Info("job planning", "ranges", len(pl.ranges), "files", len(s.objects), "format", pl.format)
	return t.current(ctx, s.id)
}

func (t *Trigger) current(ctx context.Context, id string) (*job.Job, error) {
	h, err := t.Jobs.Head(ctx, id)
	if err != nil {
		return nil, err
	}
	return h.Job, nil
}

// jobPlan is a job's ranges, or the reason it fails before any is scanned.
type jobPlan struct {
	ranges  []job.Range
	format  decode.Format
	reason  string
	skipped []string // s3:// URLs of the objects not of the requested format
}

// prepare decides the format and cuts every object into ranges of whole
// chunks; it needs only the objects' names and sizes. A reason instead of
// ranges fails the job.
func (t *Trigger) prepare(ctx context.Context, s jobSpec) (jobPlan, error) {
	if s.fail != "" {
		return jobPlan{reason: s.fail}, nil
	}
	objs := append([]*job.Object(nil), s.objects...)
	sort.Slice(objs, func(i, k int) bool { return objs[i].Key < objs[k].Key })
	if s.reader == nil {
		s.reader = t.Objects
	}
	format, skip, reason, err := t.format(ctx, s.reader, objs, s.format)
	if err != nil || reason != "" {
		return jobPlan{reason: reason}, err
	}
	pl := jobPlan{format: format}
	if len(skip) > 0 {
		kept := objs[:0:0]
		for i, o := range objs {
			if skip[i] {
				pl.skipped = append(pl.skipped, "s3://"+o.Bucket+"/"+o.Key)
			} else {
				kept = append(kept, o)
			}
		}
		objs = kept
		if len(objs) == 0 {
			pl.reason = fmt.Sprintf("%s: nothing to import: the request asks for %s and every object is of the other format (%d skipped)", s.def.S3Url, format, len(pl.skipped))
			return pl, nil
		}
	}
	chunk := t.PieceSize
	if chunk <= 0 {
		chunk = 64 << 20
	}
	perRange := t.RangeChunks
	if perRange <= 0 {
		perRange = rangeChunks
	}
	for i, o := range objs {
		if o.Size == 0 && len(objs) == 1 {
			return jobPlan{format: format, reason: "s3://" + o.Bucket + "/" + o.Key + ": the file is empty"}, nil
		}
		// An empty file in a folder adds nothing: it has no ranges.
		pl.ranges = append(pl.ranges, job.Ranges(o.Key, i, o.Size, chunk, perRange, len(pl.ranges))...)
	}
	if len(pl.ranges) == 0 {
		pl.reason = s.def.S3Url + ": nothing to import: every file is empty"
	}
	return pl, nil
}

// format returns the one format of the objects, or a reason naming the keys when
// they mix formats or contradict the requested one. With a requested format
// and several objects, those of the other format are to be skipped (skip[i]),
// as Pinpoint imports only the requested format. It reads the first bytes of
// the objects whose name does not tell their format, a few at once.
func (t *Trigger) format(ctx context.Context, objects Objects, objs []*job.Object, want decode.Format) (format decode.Format, skip []bool, reason string, err error) {
	if want == pinpointexport.Format {
		return want, nil, "", nil // an export's objects are named .gz or nothing: only the request knows them
	}
	formats := make([]decode.Format, len(objs))
	var unnamed []int
	for i, o := range objs {
		f, ok := decode.FormatOf(o.Key)
		if want != "" && len(objs) == 1 {
			f, ok = want, true
		}
		if !ok {
			unnamed = append(unnamed, i)
		}
		formats[i] = f
	}
	err = eachAtOnce(ctx, len(unnamed), t.Concurrency, func(k int) error {
		o := objs[unnamed[k]]
		f, err := sniff(ctx, objects, o)
		formats[unnamed[k]] = f
		return err
	})
	if err != nil {
		return "", nil, "", err
	}
	if want != "" && len(objs) > 1 {
		skip = make([]bool, len(objs))
		for i := range objs {
			skip[i] = formats[i] != want
		}
		return want, skip, "", nil
	}
	byFormat := map[decode.Format][]string{}
	for i, o := range objs {
		byFormat[formats[i]] = append(byFormat[formats[i]], o.Key)
	}
	if len(byFormat) > 1 {
		return "", nil, fmt.Sprintf("the import mixes formats (one format per import; name a Format to import only that one): CSV %s; JSON %s",
			strings.Join(byFormat[decode.CSV], ", "), strings.Join(byFormat[decode.JSON], ", ")), nil
	}
	for f := range byFormat {
		format = f
	}
	if want != "" && format != want {
		return "", nil, fmt.Sprintf("the request says %s but the files are %s: %s", want, format, strings.Join(byFormat[format], ", ")), nil
	}
	return format, nil, "", nil
}

// readHeader reads a CSV object's header. A file-level problem in it
// (compression, encoding, an unknown column) is a reason to fail the job
// before any row is read.
func readHeader(ctx context.Context, objects Objects, o *job.Object) ([]string, string, error) {
	r, err := objects.Range(ctx, o.Bucket, o.Key, 0, min(o.Size, headerWindow))
	if errors.Is(err, job.ErrNotFound) {
		return nil, vanished(o), nil
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

var roleArnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::([0-9]{12}):role/[\w+=,.@/-]+$`)

// checkSource refuses a role to assume that the deployment does not allow:
// one in an account not among allowed, or named without an ExternalId (the
// other account's trust policy should require it; segport requires it too).
func checkSource(src job.Source, allowed []string) error {
	if src.RoleArn == "" {
		return nil
	}
	m := roleArnPattern.FindStringSubmatch(src.RoleArn)
	if m == nil {
		return fmt.Errorf("RoleArn %s is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)", segmentQuote(src.RoleArn))
	}
	if src.ExternalId == "" {
		return errors.New("RoleArn needs an ExternalId: the role's trust policy should require it (README \"Importing from another account\")")
	}
	if len(allowed) == 0 {
		return errors.New("RoleArn: this deployment imports from no other account; list the account in the SourceAccountIds parameter")
	}
	if !slices.Contains(allowed, m[1]) {
		return fmt.Errorf("RoleArn: account %s is not among the accounts this deployment imports from (the SourceAccountIds parameter)", m[1])
	}
	return nil
}

// segmentQuote quotes a caller's value, shortened.
func segmentQuote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return strconv.Quote(s)
}
