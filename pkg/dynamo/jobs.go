package dynamo

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/segport/segport/pkg/job"
)

// Jobs table: partition key JobId, sort key Sk. Sk "job" is the job itself; Sk
// "piece#<nnnnnn>" records the progress of one piece. Progress is kept in sets
// (ADD of a set element is idempotent), so redelivered messages count once.

const jobSk = "job"

func pieceSk(i int) string { return fmt.Sprintf("piece#%06d", i) }

// jobItem is the job's own item.
type jobItem struct {
	JobId          string         `json:"JobId"`
	Sk             string         `json:"Sk"`
	JobStatus      job.Status     `json:"JobStatus"`
	JobOrder       string         `json:"JobOrder"`
	SegmentId      string         `json:"SegmentId,omitempty"` // Definition.SegmentId, for the BySegment index
	CreationDate   string         `json:"CreationDate"`
	CompletionDate string         `json:"CompletionDate,omitempty"`
	TotalPieces    int            `json:"TotalPieces"`
	TotalProcessed int            `json:"TotalProcessed"`
	TotalFailures  int            `json:"TotalFailures"`
	Failures       []string       `json:"Failures,omitempty"`
	Definition     job.Definition `json:"Definition"`
	ErrorReport    string         `json:"ErrorReport,omitempty"`
	DonePieces     []int          `json:"DonePieces,omitempty" dynamodbav:",numberset,omitempty"`
	FailedPieces   []int          `json:"FailedPieces,omitempty" dynamodbav:",numberset,omitempty"`
}

// PieceRecord is a piece's progress item.
type PieceRecord struct {
	JobId         string         `json:"JobId"`
	Sk            string         `json:"Sk"`
	Index         int            `json:"Index"`
	Parsed        bool           `json:"Parsed"`
	Batches       int            `json:"Batches"`
	Rows          int            `json:"Rows"`
	Failed        int            `json:"Failed"`
	ChannelCounts map[string]int `json:"ChannelCounts,omitempty"`
	Failures      []string       `json:"Failures,omitempty"`
	Report        string         `json:"Report,omitempty"`
	Error         string         `json:"Error,omitempty"`
	Done          []int          `json:"Done,omitempty" dynamodbav:",numberset,omitempty"`
	// GaveUp is why the parse message was abandoned to the dead-letter queue.
	GaveUp string `json:"GaveUp,omitempty"`
	// FailedBatches are the batches abandoned to the dead-letter queue, by number.
	FailedBatches map[string]FailedBatch `json:"FailedBatches,omitempty"`
}

// FailedBatch is a write batch that was abandoned after its last delivery.
type FailedBatch struct {
	Rows   int    `json:"Rows"`
	Reason string `json:"Reason"`
}

// Lost returns the failed batches not written since, and the rows they hold.
func (p *PieceRecord) Lost() (map[int]FailedBatch, int) {
	done := make(map[int]bool, len(p.Done))
	for _, d := range p.Done {
		done[d] = true
	}
	lost, rows := map[int]FailedBatch{}, 0
	for k, fb := range p.FailedBatches {
		n, err := strconv.Atoi(k)
		if err == nil && !done[n] {
			lost[n] = fb
			rows += fb.Rows
		}
	}
	return lost, rows
}

// Settled reports whether the piece has ended: parsed with every batch written or
// abandoned, or abandoned itself.
func (p *PieceRecord) Settled() bool {
	if p.GaveUp != "" && !p.Parsed {
		return true
	}
	lost, _ := p.Lost()
	return p.Parsed && len(p.Done)+len(lost) >= p.Batches
}

// Incomplete reports whether the piece ended without all its rows: unreadable,
// abandoned, or with abandoned batches.
func (p *PieceRecord) Incomplete() bool {
	lost, _ := p.Lost()
	return p.Error != "" || (p.GaveUp != "" && !p.Parsed) || len(lost) > 0
}

func (it *jobItem) job() *job.Job {
	j := &job.Job{
		Id: it.JobId, JobStatus: it.JobStatus, CreationDate: it.CreationDate, CompletionDate: it.CompletionDate,
		TotalPieces: it.TotalPieces, FailedPieces: len(it.FailedPieces),
		CompletedPieces: len(it.DonePieces) - len(it.FailedPieces),
		TotalProcessed:  it.TotalProcessed, TotalFailures: it.TotalFailures, Failures: it.Failures,
		Definition: it.Definition, ErrorReport: it.ErrorReport,
	}
	if j.Failures == nil {
		j.Failures = []string{}
	}
	return j
}

// CreateJob stores a new job unless one with its id exists; it returns the stored
// job and whether this call created it.
func (s *Store) CreateJob(ctx context.Context, j *job.Job, order string) (*job.Job, bool, error) {
	item, err := marshal(jobItem{JobId: j.Id, Sk: jobSk, JobStatus: j.JobStatus, JobOrder: order,
		SegmentId: j.Definition.SegmentId, CreationDate: j.CreationDate, Definition: j.Definition})
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
	stored, err := s.Job(ctx, j.Id)
	return stored, false, err
}

// SetJobStatus moves a job that has not ended to status, with its piece count
// when pieces > 0.
func (s *Store) SetJobStatus(ctx context.Context, id string, status job.Status, pieces int) error {
	expr := "SET JobStatus = :s"
	values := map[string]types.AttributeValue{":s": str(string(status)), ":c": str(string(job.Completed)), ":f": str(string(job.Failed))}
	if pieces > 0 {
		expr += ", TotalPieces = :n"
		values[":n"] = num(int64(pieces))
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.t.Jobs),
		Key:                       jobKey(id, jobSk),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("attribute_exists(JobId) AND JobStatus <> :c AND JobStatus <> :f"),
		ExpressionAttributeValues: values,
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("set status of job %s: %w", id, err)
	}
	return nil
}

// FinishJob stores a job's final state. Finishing is computed from the pieces'
// records, so finishing again (after a dead-letter redrive) stores the new truth.
func (s *Store) FinishJob(ctx context.Context, j *job.Job) error {
	values := map[string]types.AttributeValue{
		":s": str(string(j.JobStatus)), ":d": str(j.CompletionDate),
		":p": num(int64(j.TotalProcessed)), ":f": num(int64(j.TotalFailures)),
		":fl": failureList(j.Failures),
	}
	expr := "SET JobStatus = :s, CompletionDate = :d, TotalProcessed = :p, TotalFailures = :f, Failures = :fl"
	if j.ErrorReport != "" {
		expr += ", ErrorReport = :r"
		values[":r"] = str(j.ErrorReport)
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.t.Jobs),
		Key:                       jobKey(j.Id, jobSk),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("attribute_exists(JobId)"),
		ExpressionAttributeValues: values,
	})
	if err != nil && !isConditionFailed(err) {
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

// PieceParsed records what the parser found in a piece and returns the piece's
// record as it now stands.
func (s *Store) PieceParsed(ctx context.Context, jobId string, index int, r job.PieceResult) (*PieceRecord, error) {
	channels := map[string]types.AttributeValue{}
	for ch, n := range r.ChannelCounts {
		channels[ch] = num(int64(n))
	}
	values := map[string]types.AttributeValue{
		":t": &types.AttributeValueMemberBOOL{Value: true}, ":i": num(int64(index)),
		":b": num(int64(r.Batches)), ":r": num(int64(r.Rows)), ":f": num(int64(r.Failed)),
		":cc": &types.AttributeValueMemberM{Value: channels}, ":fl": failureList(r.Failures),
		":rep": str(r.Report), ":err": str(r.Error),
	}
	return s.updatePiece(ctx, jobId, index,
		"SET Parsed = :t, #i = :i, Batches = :b, #r = :r, Failed = :f, ChannelCounts = :cc, Failures = :fl, Report = :rep, #e = :err REMOVE GaveUp",
		map[string]string{"#i": "Index", "#r": "Rows", "#e": "Error"}, values)
}

// BatchDone records that a piece's batch seq has been written and returns the
// piece's record as it now stands.
func (s *Store) BatchDone(ctx context.Context, jobId string, index, seq int) (*PieceRecord, error) {
	return s.updatePiece(ctx, jobId, index, "SET #i = :i ADD Done :d", map[string]string{"#i": "Index"},
		map[string]types.AttributeValue{":i": num(int64(index)), ":d": &types.AttributeValueMemberNS{Value: []string{strconv.Itoa(seq)}}})
}

// PieceAbandoned records that a piece's parse message failed its last delivery
// and went to the dead-letter queue, and returns the piece as it now stands. A
// later successful parse (after a redrive) replaces the record.
func (s *Store) PieceAbandoned(ctx context.Context, jobId string, index int, reason string) (*PieceRecord, error) {
	return s.updatePiece(ctx, jobId, index, "SET #i = :i, GaveUp = :g", map[string]string{"#i": "Index"},
		map[string]types.AttributeValue{":i": num(int64(index)), ":g": str(reason)})
}

// BatchAbandoned records that write batch seq of a piece failed its last delivery
// and went to the dead-letter queue, and returns the piece as it now stands.
func (s *Store) BatchAbandoned(ctx context.Context, jobId string, index, seq, rows int, reason string) (*PieceRecord, error) {
	// The map must exist before a key can be set in it: two idempotent steps.
	if _, err := s.updatePiece(ctx, jobId, index, "SET #i = :i, FailedBatches = if_not_exists(FailedBatches, :m)",
		map[string]string{"#i": "Index"}, map[string]types.AttributeValue{":i": num(int64(index)), ":m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}}); err != nil {
		return nil, err
	}
	return s.updatePiece(ctx, jobId, index, "SET FailedBatches.#s = :b", map[string]string{"#s": strconv.Itoa(seq)},
		map[string]types.AttributeValue{":b": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"Rows": num(int64(rows)), "Reason": str(reason)}}})
}

func (s *Store) updatePiece(ctx context.Context, jobId string, index int, expr string, names map[string]string, values map[string]types.AttributeValue) (*PieceRecord, error) {
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.t.Jobs),
		Key:                       jobKey(jobId, pieceSk(index)),
		UpdateExpression:          aws.String(expr),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	if err != nil {
		return nil, fmt.Errorf("update piece %d of job %s: %w", index, jobId, err)
	}
	var p PieceRecord
	if err := unmarshal(out.Attributes, &p); err != nil {
		return nil, fmt.Errorf("decode piece %d of job %s: %w", index, jobId, err)
	}
	return &p, nil
}

// SettlePiece records that a piece has ended, failed or not, and reports whether
// every piece of the job has.
func (s *Store) SettlePiece(ctx context.Context, jobId string, index int, failed bool) (bool, error) {
	expr := "ADD DonePieces :p DELETE FailedPieces :p"
	if failed {
		expr = "ADD DonePieces :p, FailedPieces :p"
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.t.Jobs),
		Key:                 jobKey(jobId, jobSk),
		UpdateExpression:    aws.String(expr),
		ConditionExpression: aws.String("attribute_exists(JobId)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":p": &types.AttributeValueMemberNS{Value: []string{strconv.Itoa(index)}},
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if err != nil {
		return false, fmt.Errorf("settle piece %d of job %s: %w", index, jobId, err)
	}
	var it jobItem
	if err := unmarshal(out.Attributes, &it); err != nil {
		return false, fmt.Errorf("decode job %s: %w", jobId, err)
	}
	return it.TotalPieces > 0 && len(it.DonePieces) >= it.TotalPieces, nil
}

// Pieces returns the progress records of a job's pieces, in piece order.
func (s *Store) Pieces(ctx context.Context, jobId string) ([]*PieceRecord, error) {
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
	pieces := make([]*PieceRecord, 0, len(items))
	for _, item := range items {
		var p PieceRecord
		if err := unmarshal(item, &p); err != nil {
			return nil, fmt.Errorf("decode piece of job %s: %w", jobId, err)
		}
		pieces = append(pieces, &p)
	}
	sort.Slice(pieces, func(i, j int) bool { return pieces[i].Index < pieces[j].Index })
	return pieces, nil
}

// JobRecord is a job with the ordering key and segment it writes to.
type JobRecord struct {
	*job.Job
	Order string
}

// Job reads a job. While it runs, its counts are summed from its pieces.
func (s *Store) Job(ctx context.Context, id string) (*job.Job, error) {
	r, err := s.JobRecord(ctx, id)
	if err != nil {
		return nil, err
	}
	return r.Job, nil
}

// JobRecord reads a job with its ordering key.
func (s *Store) JobRecord(ctx context.Context, id string) (*JobRecord, error) {
	var it jobItem
	if err := s.getItem(ctx, s.t.Jobs, jobKey(id, jobSk), "job "+id, &it); err != nil {
		return nil, err
	}
	j := it.job()
	if !j.JobStatus.Final() {
		pieces, err := s.Pieces(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, p := range pieces {
			j.TotalProcessed += p.Rows
			j.TotalFailures += p.Failed
		}
	}
	return &JobRecord{Job: j, Order: it.JobOrder}, nil
}

// Jobs lists every job, oldest first.
func (s *Store) Jobs(ctx context.Context) ([]*job.Job, error) {
	items, err := s.scan(ctx, s.t.Jobs)
	if err != nil {
		return nil, err
	}
	var jobs []*job.Job
	var orders []string
	for _, item := range items {
		if sk, ok := item["Sk"].(*types.AttributeValueMemberS); !ok || sk.Value != jobSk {
			continue
		}
		var it jobItem
		if err := unmarshal(item, &it); err != nil {
			return nil, fmt.Errorf("decode job: %w", err)
		}
		jobs = append(jobs, it.job())
		orders = append(orders, it.JobOrder)
	}
	idx := make([]int, len(jobs))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return orders[idx[a]] < orders[idx[b]] })
	sorted := make([]*job.Job, len(jobs))
	for i, k := range idx {
		sorted[i] = jobs[k]
	}
	return sorted, nil
}

func jobKey(id, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"JobId": str(id), "Sk": str(sk)}
}
