package dynamo

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/segport/segport/pkg/job"
)

// A job being planned has one item per range under Sk "range#<nnnnnn>": its
// plan, and what its scan found. The settled item's Scanned set holds the
// ranges scanned; the job's item holds TotalRanges.

func rangeSk(i int) string { return fmt.Sprintf("range#%06d", i) }

type rangeItem struct {
	JobId   string          `json:"JobId"`
	Sk      string          `json:"Sk"`
	Index   int             `json:"Index"`
	Plan    job.Range       `json:"Plan"`
	Scanned bool            `json:"Scanned"`
	Result  job.RangeResult `json:"Result"`
	Tries   int             `json:"Tries,omitempty"`
}

func (it *rangeItem) state() *job.RangeState {
	return &job.RangeState{Index: it.Index, Plan: it.Plan, Scanned: it.Scanned, Result: it.Result, Tries: it.Tries}
}

// scannedItem is the settled item's set of scanned ranges.
type scannedItem struct {
	Scanned []int `json:"Scanned,omitempty" dynamodbav:",numberset,omitempty"`
}

// StartPlanning records the ranges, each unless it is recorded already, and
// moves a CREATED job to INITIALIZING with TotalRanges.
func (s *Store) StartPlanning(ctx context.Context, jobId string, ranges []job.Range) error {
	items := make([]map[string]types.AttributeValue, len(ranges))
	for i, r := range ranges {
		item, err := marshal(rangeItem{JobId: jobId, Sk: rangeSk(r.Index), Index: r.Index, Plan: r})
		if err != nil {
			return fmt.Errorf("encode range %d of job %s: %w", r.Index, jobId, err)
		}
		items[i] = item
	}
	if err := s.putAbsent(ctx, s.t.Jobs, items); err != nil {
		return fmt.Errorf("record the ranges of job %s: %w", jobId, err)
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.t.Jobs),
		Key:                 jobKey(jobId, jobSk),
		UpdateExpression:    aws.String("SET JobStatus = :s, TotalRanges = :n, Progressed = :now"),
		ConditionExpression: aws.String("JobStatus = :c"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":s": str(string(job.Initializing)), ":c": str(string(job.Created)),
			":n": num(int64(len(ranges))), ":now": str(s.now()),
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("start planning job %s: %w", jobId, err)
	}
	return nil
}

// putAbsent puts each item unless an item with its key exists (PutItem with
// attribute_not_exists, a few at a time): records that progress may already
// have changed are never replaced.
func (s *Store) putAbsent(ctx context.Context, table string, items []map[string]types.AttributeValue) error {
	const inflight = 16
	errs := make([]error, len(items))
	sem := make(chan struct{}, inflight)
	var wg sync.WaitGroup
	for i, item := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
				TableName:           aws.String(table),
				Item:                item,
				ConditionExpression: aws.String("attribute_not_exists(Sk)"),
			})
			if err != nil && !isConditionFailed(err) {
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// RangeScanned records what the scan of a range found, marks the job as
// progressing and reports whether every range of a job still being planned
// has been scanned.
func (s *Store) RangeScanned(ctx context.Context, jobId string, index int, r job.RangeResult) (bool, error) {
	res, err := attributeValue(r)
	if err != nil {
		return false, err
	}
	if _, err := s.updateRange(ctx, jobId, index, "SET Scanned = :t, #res = :r REMOVE Tries", map[string]string{"#res": "Result"},
		map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}, ":r": res}); err != nil {
		return false, err
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(s.t.Jobs),
		Key:              jobKey(jobId, settledSk),
		UpdateExpression: aws.String("ADD Scanned :i"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":i": &types.AttributeValueMemberNS{Value: []string{strconv.Itoa(index)}},
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if err != nil {
		return false, fmt.Errorf("count range %d of job %s as scanned: %w", index, jobId, err)
	}
	var set scannedItem
	if err := unmarshal(out.Attributes, &set); err != nil {
		return false, fmt.Errorf("decode the scanned ranges of job %s: %w", jobId, err)
	}
	it, err := s.markProgressed(ctx, jobId)
	if err != nil || it == nil {
		return false, err
	}
	return it.JobStatus == job.Initializing && len(set.Scanned) >= it.TotalRanges, nil
}

// markProgressed sets a running job's Progressed and returns its item; nil if
// the job has ended.
func (s *Store) markProgressed(ctx context.Context, jobId string) (*jobItem, error) {
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.t.Jobs),
		Key:                       jobKey(jobId, jobSk),
		UpdateExpression:          aws.String("SET Progressed = :now"),
		ConditionExpression:       aws.String("attribute_exists(Running)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": str(s.now())},
		ReturnValues:              types.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mark job %s as progressing: %w", jobId, err)
	}
	var it jobItem
	if err := unmarshal(out.Attributes, &it); err != nil {
		return nil, fmt.Errorf("decode job %s: %w", jobId, err)
	}
	return &it, nil
}

// RangeTried counts one more re-send of a range and marks the job as
// progressing.
func (s *Store) RangeTried(ctx context.Context, jobId string, index int) (int, error) {
	r, err := s.updateRange(ctx, jobId, index, "ADD Tries :one", nil, map[string]types.AttributeValue{":one": num(1)})
	if err != nil {
		return 0, err
	}
	if _, err := s.markProgressed(ctx, jobId); err != nil {
		return 0, err
	}
	return r.Tries, nil
}

// ReopenPlanning moves a job that failed before it started back to
// INITIALIZING (condition: FAILED, no pieces, Progress unchanged) and removes
// the range's Tries.
func (s *Store) ReopenPlanning(ctx context.Context, jobId string, progress int64, index int) (bool, error) {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.t.Jobs),
		Key:       jobKey(jobId, jobSk),
		UpdateExpression: aws.String("SET JobStatus = :i, Running = :run, Failures = :none, Progressed = :now " +
			"REMOVE CompletionDate, ErrorReport ADD Progress :one"),
		ConditionExpression: aws.String("JobStatus = :f AND TotalPieces = :zero AND Progress = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":i": str(string(job.Initializing)), ":f": str(string(job.Failed)), ":run": str(runningFlag),
			":none": failureList(nil), ":now": str(s.now()), ":one": num(1), ":zero": num(0), ":p": num(progress),
		},
	})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reopen the planning of job %s: %w", jobId, err)
	}
	if _, err := s.updateRange(ctx, jobId, index, "REMOVE Tries", nil, nil); err != nil {
		return false, err
	}
	return true, nil
}

func (s *Store) updateRange(ctx context.Context, jobId string, index int, expr string, names map[string]string, values map[string]types.AttributeValue) (*job.RangeState, error) {
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.t.Jobs),
		Key:                       jobKey(jobId, rangeSk(index)),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("attribute_exists(JobId)"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		return nil, fmt.Errorf("range %d of job %s: %w", index, jobId, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("update range %d of job %s: %w", index, jobId, err)
	}
	var it rangeItem
	if err := unmarshal(out.Attributes, &it); err != nil {
		return nil, fmt.Errorf("decode range %d of job %s: %w", index, jobId, err)
	}
	return it.state(), nil
}

// Ranges returns the states of a job's ranges, in range order.
func (s *Store) Ranges(ctx context.Context, jobId string) ([]*job.RangeState, error) {
	items, err := s.query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(s.t.Jobs),
		KeyConditionExpression: aws.String("JobId = :j AND begins_with(Sk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":j": str(jobId), ":p": str("range#"),
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	ranges := make([]*job.RangeState, 0, len(items))
	for _, item := range items {
		var it rangeItem
		if err := unmarshal(item, &it); err != nil {
			return nil, fmt.Errorf("decode range of job %s: %w", jobId, err)
		}
		ranges = append(ranges, it.state())
	}
	sort.Slice(ranges, func(i, j int) bool { return ranges[i].Index < ranges[j].Index })
	return ranges, nil
}
