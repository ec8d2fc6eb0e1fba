package dynamo

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/segport/segport/pkg/job"
)

// Jobs table: partition key JobId, sort key Sk. Sk "job" is the job itself, a
// small item that every write batch touches (Progressed); Sk "settled" holds the
// sets of settled pieces, which grow with the job's pieces, apart, so that the
// job's item stays cheap to update; Sk "piece#<nnnnnn>" records the plan and
// progress of one piece. Every update is
// idempotent: sets and maps keyed by batch number record progress, so
// redelivered messages count once. The rules that read these records (when a
// piece has settled, what a job sums to) are pkg/job's.

const (
	jobSk     = "job"
	settledSk = "settled"
)

func pieceSk(i int) string { return fmt.Sprintf("piece#%06d", i) }

// jobKind marks job items, for the ByOrder index of every job.
const jobKind = "job"

// runningFlag marks the jobs that have not ended, for the sparse Running index
// the sweeper queries.
const runningFlag = "1"

// jobItem is the job's own item.
type jobItem struct {
	JobId           string         `json:"JobId"`
	Sk              string         `json:"Sk"`
	JobStatus       job.Status     `json:"JobStatus"`
	JobOrder        string         `json:"JobOrder"`
	SegmentId       string         `json:"SegmentId,omitempty"` // Definition.SegmentId, for the BySegment index
	Kind            string         `json:"Kind,omitempty"`      // "job", for the ByOrder index
	Running         string         `json:"Running,omitempty"`   // "1" until the job ends, for the Running index
	CreationDate    string         `json:"CreationDate"`
	CompletionDate  string         `json:"CompletionDate,omitempty"`
	TotalPieces     int            `json:"TotalPieces"`
	TotalRanges     int            `json:"TotalRanges,omitempty"` // while it is planned
	CompletedPieces int            `json:"CompletedPieces"`
	FailedPieces    int            `json:"FailedPieces"`
	TotalProcessed  int            `json:"TotalProcessed"`
	TotalFailures   int            `json:"TotalFailures"`
	Failures        []string       `json:"Failures,omitempty"`
	Definition      job.Definition `json:"Definition"`
	ErrorReport     string         `json:"ErrorReport,omitempty"`
	Launch          job.Launch     `json:"Launch"`
	Progress        int64          `json:"Progress"`
	Progressed      string         `json:"Progressed,omitempty"`
}

// settledItem holds the pieces that have settled, and those of them that failed.
type settledItem struct {
	Settled   []int `json:"Settled,omitempty" dynamodbav:",numberset,omitempty"`
	FailedSet []int `json:"FailedSet,omitempty" dynamodbav:",numberset,omitempty"`
}

func (it *jobItem) job() *job.Job {
	j := &job.Job{
		Id: it.JobId, JobStatus: it.JobStatus, CreationDate: it.CreationDate, CompletionDate: it.CompletionDate,
		TotalPieces: it.TotalPieces, CompletedPieces: it.CompletedPieces, FailedPieces: it.FailedPieces,
		TotalProcessed: it.TotalProcessed, TotalFailures: it.TotalFailures, Failures: it.Failures,
		Definition: it.Definition, ErrorReport: it.ErrorReport,
	}
	if j.Failures == nil {
		j.Failures = []string{}
	}
	return j
}

func (it *jobItem) head() *job.Head {
	h := &job.Head{Job: it.job(), Launch: it.Launch, Progress: it.Progress}
	h.Progressed, _ = time.Parse(time.RFC3339Nano, it.Progressed)
	h.Launch.TotalPieces = it.TotalPieces
	return h
}

// pieceItem is a piece's item. DynamoDB map keys are strings: batch numbers
// are written in decimal.
type pieceItem struct {
	JobId  string                   `json:"JobId"`
	Sk     string                   `json:"Sk"`
	Index  int                      `json:"Index"`
	Plan   job.Piece                `json:"Plan"`
	Parsed bool                     `json:"Parsed"`
	Result job.PieceResult          `json:"Result"`
	Done   map[string]job.Tally     `json:"Done"`
	Lost   map[string]job.LostBatch `json:"Lost"`
	GaveUp string                   `json:"GaveUp,omitempty"`
	Tries  int                      `json:"Tries,omitempty"`
}

func (it *pieceItem) state() (*job.PieceState, error) {
	p := &job.PieceState{Index: it.Index, Plan: it.Plan, Parsed: it.Parsed, Result: it.Result, GaveUp: it.GaveUp, Tries: it.Tries,
		Done: make(map[int]job.Tally, len(it.Done)), Lost: make(map[int]job.LostBatch, len(it.Lost))}
	for k, t := range it.Done {
		seq, err := strconv.Atoi(k)
		if err != nil {
			return nil, fmt.Errorf("piece %d: batch %q: %w", it.Index, k, err)
		}
		p.Done[seq] = t
	}
	for k, l := range it.Lost {
		seq, err := strconv.Atoi(k)
		if err != nil {
			return nil, fmt.Errorf("piece %d: batch %q: %w", it.Index, k, err)
		}
		p.Lost[seq] = l
	}
	return p, nil
}

// CreateJob stores a new job unless one with its id exists; it returns the stored
// job and whether this call created it.
func (s *Store) CreateJob(ctx context.Context, j *job.Job, launch job.Launch) (*job.Job, bool, error) {
	item, err := marshal(jobItem{JobId: j.Id, Sk: jobSk, JobStatus: j.JobStatus, JobOrder: launch.JobOrder,
		SegmentId: j.Definition.SegmentId, Kind: jobKind, Running: runningFlag, CreationDate: j.CreationDate, Definition: j.Definition,
		Launch: launch, Progressed: s.now()})
	if err != nil {
		return nil, false, fmt.Errorf("encode job %s: %w", j.Id, err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.t.Jobs),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(JobId)"),
	})
	if err == nil {
		return j, true, nil
	}
	if !isConditionFailed(err) {
		return nil, false, fmt.Errorf("create job %s: %w", j.Id, err)
	}
	stored, err := s.Head(ctx, j.Id)
	if err != nil {
		return nil, false, err
	}
	return stored.Job, false, nil
}

// StartJob records the pieces' plans, each unless it is recorded already (a
// repeated start never resets a piece's progress), and moves a job that is
// CREATED or INITIALIZING to PROCESSING with launch and TotalPieces; its
// Progress moves on, so that an end computed before the start is not stored.
func (s *Store) StartJob(ctx context.Context, jobId string, launch job.Launch, pieces []job.Piece) error {
	items := make([]map[string]types.AttributeValue, len(pieces))
	for i, p := range pieces {
		item, err := marshal(pieceItem{JobId: jobId, Sk: pieceSk(p.Index), Index: p.Index, Plan: p,
			Done: map[string]job.Tally{}, Lost: map[string]job.LostBatch{}})
		if err != nil {
			return fmt.Errorf("encode piece %d of job %s: %w", p.Index, jobId, err)
		}
		items[i] = item
	}
	if err := s.putAbsent(ctx, s.t.Jobs, items); err != nil {
		return fmt.Errorf("record the pieces of job %s: %w", jobId, err)
	}
	launch.TotalPieces = len(pieces)
	l, err := attributeValue(launch)
	if err != nil {
		return err
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.t.Jobs),
		Key:                 jobKey(jobId, jobSk),
		UpdateExpression:    aws.String("SET JobStatus = :s, TotalPieces = :n, Launch = :l, Progressed = :now ADD Progress :one"),
		ConditionExpression: aws.String("JobStatus IN (:c, :i)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":s": str(string(job.Processing)), ":c": str(string(job.Created)), ":i": str(string(job.Initializing)),
			":n": num(int64(len(pieces))), ":l": l, ":now": str(s.now()), ":one": num(1),
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("start job %s: %w", jobId, err)
	}
	return nil
}

// Head reads the job's own item.
func (s *Store) Head(ctx context.Context, id string) (*job.Head, error) {
	var it jobItem
	if err := s.getItem(ctx, s.t.Jobs, jobKey(id, jobSk), "job "+id, &it); err != nil {
		return nil, err
	}
	return it.head(), nil
}

// FinishJob stores a job's final state if the job's progress is still progress.
func (s *Store) FinishJob(ctx context.Context, j *job.Job, progress int64) error {
	values := map[string]types.AttributeValue{
		":s": str(string(j.JobStatus)), ":d": str(j.CompletionDate),
		":p": num(int64(j.TotalProcessed)), ":f": num(int64(j.TotalFailures)),
		":cp": num(int64(j.CompletedPieces)), ":fp": num(int64(j.FailedPieces)),
		":fl": failureList(j.Failures), ":pr": num(progress),
	}
	expr := "SET JobStatus = :s, CompletionDate = :d, TotalProcessed = :p, TotalFailures = :f, " +
		"CompletedPieces = :cp, FailedPieces = :fp, Failures = :fl"
	if j.ErrorReport != "" {
		expr += ", ErrorReport = :r REMOVE Running"
		values[":r"] = str(j.ErrorReport)
	} else {
		expr += " REMOVE Running, ErrorReport"
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.t.Jobs),
		Key:                       jobKey(j.Id, jobSk),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("attribute_exists(JobId) AND Progress = :pr"),
		ExpressionAttributeValues: values,
	})
	if isConditionFailed(err) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("finish job %s: %w", j.Id, err)
	}
	return nil
}

func failureList(fs []string) types.AttributeValue {
	l := make([]types.AttributeValue, len(fs))
	for i, f := range fs {
		l[i] = str(f)
	}
	return &types.AttributeValueMemberL{Value: l}
}

// PieceParsed records what the parser found in a piece.
func (s *Store) PieceParsed(ctx context.Context, jobId string, index int, r job.PieceResult) (*job.PieceState, error) {
	res, err := attributeValue(r)
	if err != nil {
		return nil, err
	}
	return s.progressed(ctx, jobId, index, "SET Parsed = :t, #res = :r REMOVE GaveUp, Tries", map[string]string{"#res": "Result"},
		map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}, ":r": res})
}

// BatchDone records that batch seq of a piece was written.
func (s *Store) BatchDone(ctx context.Context, jobId string, index, seq int, t job.Tally) (*job.PieceState, error) {
	av, err := attributeValue(t)
	if err != nil {
		return nil, err
	}
	return s.progressed(ctx, jobId, index, "SET #d.#s = :t REMOVE Tries", map[string]string{"#d": "Done", "#s": strconv.Itoa(seq)},
		map[string]types.AttributeValue{":t": av})
}

// BatchLost records that batch seq of a piece was abandoned; a later record
// replaces an earlier one.
func (s *Store) BatchLost(ctx context.Context, jobId string, index, seq int, lost job.LostBatch) (*job.PieceState, error) {
	av, err := attributeValue(lost)
	if err != nil {
		return nil, err
	}
	return s.updatePiece(ctx, jobId, index, "SET #l.#s = :l", map[string]string{"#l": "Lost", "#s": strconv.Itoa(seq)},
		map[string]types.AttributeValue{":l": av})
}

// PieceGaveUp records why a piece was given up, unless a reason is recorded.
func (s *Store) PieceGaveUp(ctx context.Context, jobId string, index int, reason string) (*job.PieceState, error) {
	return s.updatePiece(ctx, jobId, index, "SET GaveUp = if_not_exists(GaveUp, :g)", nil,
		map[string]types.AttributeValue{":g": str(reason)})
}

// PieceTried counts a re-send of a piece.
func (s *Store) PieceTried(ctx context.Context, jobId string, index int) (int, error) {
	p, err := s.progressed(ctx, jobId, index, "ADD Tries :one", nil, map[string]types.AttributeValue{":one": num(1)})
	if err != nil {
		return 0, err
	}
	return p.Tries, nil
}

// progressed updates a piece and marks its job as progressing.
func (s *Store) progressed(ctx context.Context, jobId string, index int, expr string, names map[string]string, values map[string]types.AttributeValue) (*job.PieceState, error) {
	p, err := s.updatePiece(ctx, jobId, index, expr, names, values)
	if err != nil {
		return nil, err
	}
	if _, err := s.markProgressed(ctx, jobId); err != nil {
		return nil, err
	}
	return p, nil
}

func (s *Store) updatePiece(ctx context.Context, jobId string, index int, expr string, names map[string]string, values map[string]types.AttributeValue) (*job.PieceState, error) {
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.t.Jobs),
		Key:                       jobKey(jobId, pieceSk(index)),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("attribute_exists(JobId)"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		return nil, fmt.Errorf("piece %d of job %s: %w", index, jobId, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("update piece %d of job %s: %w", index, jobId, err)
	}
	var it pieceItem
	if err := unmarshal(out.Attributes, &it); err != nil {
		return nil, fmt.Errorf("decode piece %d of job %s: %w", index, jobId, err)
	}
	return it.state()
}

// SettlePiece records that a piece has settled, failed or not, then moves the
// job's progress on, and reports whether the job is to be finished: every
// piece has settled, or it has ended already.
func (s *Store) SettlePiece(ctx context.Context, jobId string, index int, failed bool) (bool, error) {
	expr := "ADD Settled :p DELETE FailedSet :p"
	if failed {
		expr = "ADD Settled :p, FailedSet :p"
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(s.t.Jobs),
		Key:              jobKey(jobId, settledSk),
		UpdateExpression: aws.String(expr),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":p": &types.AttributeValueMemberNS{Value: []string{strconv.Itoa(index)}},
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if err != nil {
		return false, fmt.Errorf("settle piece %d of job %s: %w", index, jobId, err)
	}
	var set settledItem
	if err := unmarshal(out.Attributes, &set); err != nil {
		return false, fmt.Errorf("decode the settled pieces of job %s: %w", jobId, err)
	}
	out, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.t.Jobs),
		Key:                 jobKey(jobId, jobSk),
		UpdateExpression:    aws.String("ADD Progress :one"),
		ConditionExpression: aws.String("attribute_exists(JobId)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": num(1),
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		return false, fmt.Errorf("job %s: %w", jobId, ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("move the progress of job %s on: %w", jobId, err)
	}
	var it jobItem
	if err := unmarshal(out.Attributes, &it); err != nil {
		return false, fmt.Errorf("decode job %s: %w", jobId, err)
	}
	return it.JobStatus.Final() || it.TotalPieces > 0 && len(set.Settled) >= it.TotalPieces, nil
}

// Piece returns the state of one piece of a job.
func (s *Store) Piece(ctx context.Context, jobId string, index int) (*job.PieceState, error) {
	var it pieceItem
	if err := s.getItem(ctx, s.t.Jobs, jobKey(jobId, pieceSk(index)), fmt.Sprintf("piece %d of job %s", index, jobId), &it); err != nil {
		return nil, err
	}
	return it.state()
}

// Pieces returns the states of a job's pieces, in piece order.
func (s *Store) Pieces(ctx context.Context, jobId string) ([]*job.PieceState, error) {
	items, err := s.query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(s.t.Jobs),
		KeyConditionExpression: aws.String("JobId = :j AND begins_with(Sk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":j": str(jobId), ":p": str("piece#"),
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	pieces := make([]*job.PieceState, 0, len(items))
	for _, item := range items {
		var it pieceItem
		if err := unmarshal(item, &it); err != nil {
			return nil, fmt.Errorf("decode piece of job %s: %w", jobId, err)
		}
		p, err := it.state()
		if err != nil {
			return nil, fmt.Errorf("decode piece of job %s: %w", jobId, err)
		}
		pieces = append(pieces, p)
	}
	sort.Slice(pieces, func(i, j int) bool { return pieces[i].Index < pieces[j].Index })
	return pieces, nil
}

// Running returns the jobs that have not ended, oldest first (the Running index,
// keys only: job items change with every batch, their keys never).
func (s *Store) Running(ctx context.Context) ([]*job.Head, error) {
	items, err := s.indexedJobs(ctx, RunningIndex, "Running", runningFlag)
	if err != nil {
		return nil, err
	}
	heads := make([]*job.Head, len(items))
	for i, it := range items {
		heads[i] = it.head()
	}
	return heads, nil
}

// indexedJobs reads the job items that a keys-only index of the Jobs table
// lists under attr = value, in the index's order.
func (s *Store) indexedJobs(ctx context.Context, index, attr, value string) ([]*jobItem, error) {
	keys, err := s.query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.t.Jobs),
		IndexName:                 aws.String(index),
		KeyConditionExpression:    aws.String("#k = :v"),
		ExpressionAttributeNames:  map[string]string{"#k": attr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": str(value)},
	})
	if err != nil {
		return nil, err
	}
	items, err := s.jobsOf(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]*jobItem, len(items))
	for i, item := range items {
		out[i] = new(jobItem)
		if err := unmarshal(item, out[i]); err != nil {
			return nil, fmt.Errorf("decode job: %w", err)
		}
	}
	return out, nil
}

// Job reads a job. While it runs, its counts are those of its pieces so far:
// TotalProcessed counts the rows written.
func (s *Store) Job(ctx context.Context, id string) (*job.Job, error) {
	if !job.IsId(id) {
		return nil, fmt.Errorf("job %.64q: %w", id, ErrNotFound) // no job has another form of id
	}
	h, err := s.Head(ctx, id)
	if err != nil {
		return nil, err
	}
	j := h.Job
	if j.JobStatus.Final() || j.JobStatus == job.Created {
		return j, nil
	}
	pieces, err := s.Pieces(ctx, id)
	if err != nil {
		return nil, err
	}
	sum := job.Summarize(pieces, h.Launch.TotalPieces)
	j.TotalProcessed, j.TotalFailures = sum.Written.Rows, sum.Failures
	j.CompletedPieces, j.FailedPieces = sum.Completed, sum.FailedN
	j.Progress = &job.Progress{}
	for _, p := range pieces {
		if p.Parsed {
			j.Progress.PiecesParsed++
			j.Progress.RowsParsed += p.Result.Rows
		}
	}
	return j, nil
}

// Jobs lists every job, oldest first (the ByOrder index); a running job
// carries its live counts, as Job gives them.
func (s *Store) Jobs(ctx context.Context) ([]*job.Job, error) {
	items, err := s.indexedJobs(ctx, JobsByOrderIndex, "Kind", jobKind)
	if err != nil {
		return nil, err
	}
	jobs := make([]*job.Job, 0, len(items))
	for _, it := range items {
		j := it.job()
		if !j.JobStatus.Final() {
			if j, err = s.Job(ctx, it.JobId); err != nil {
				return nil, err
			}
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

func jobKey(id, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"JobId": str(id), "Sk": str(sk)}
}
