package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// Retention. When a replace becomes current, the segment keeps the members
// of two generations: the replace's and that of the version it took over
// from (KeptFrom, set by advance). Older generations are pruned: their member
// items are deleted, a bounded number per call, from the oldest generation
// on (Pruned: every generation below it is gone), by the sweeper. A marker item in the Jobs
// table, in the Running index under the partition "prune", lists the
// segments whose pruning has not finished, for the sweeper:
//
//	JobId  S  "<SegmentId>#prune"
//	Sk     S  "prune"
//	Running S "prune", JobOrder S the segment id (removed once done)
//
// Version records are never deleted: a pruned version still shows its job,
// dates, ImportDefinition and count.

const (
	pruneSk   = "prune"
	pruneFlag = "prune"
)

// keepFrom adds to in, the update that makes a replace current, the
// retention it sets: the generation of the version it takes over from
// (current) stays kept, older ones are to be pruned. The marker goes first,
// so that no crash leaves a KeptFrom that the sweeper does not know of.
func (s *Store) keepFrom(ctx context.Context, segmentId string, current int, in *dynamodb.UpdateItemInput) error {
	kept, err := s.generationOf(ctx, segmentId, current)
	if err != nil {
		return err
	}
	if kept > 0 {
		if err := s.markPruning(ctx, segmentId, true); err != nil {
			return err
		}
	}
	*in.UpdateExpression += ", KeptFrom = :k"
	in.ExpressionAttributeValues[":k"] = num(int64(kept))
	return nil
}

// generationOf returns the generation of version n (0 for version 0).
func (s *Store) generationOf(ctx context.Context, segmentId string, n int) (int, error) {
	if n == 0 {
		return 0, nil
	}
	rec, found, err := s.versionRecord(ctx, segmentId, n)
	if err != nil || !found {
		return 0, err
	}
	return rec.Base, nil
}

// countOf returns version n's member count (0 for version 0 or one not counted).
func (s *Store) countOf(ctx context.Context, segmentId string, n int) (int, error) {
	if n <= 0 {
		return 0, nil
	}
	rec, found, err := s.versionRecord(ctx, segmentId, n)
	if err != nil || !found || rec.EndpointCount == nil {
		return 0, err
	}
	return *rec.EndpointCount, nil
}

// Prune deletes up to budget member items of the segment's generations that
// are no longer kept, oldest first, and reports whether any remain; once none
// remain it takes the segment out of Pruning's list. It is safe to repeat
// and to run concurrently: a delete of a deleted item changes nothing, and
// the segment's Pruned moves on only by a conditional update.
func (s *Store) Prune(ctx context.Context, segmentId string, budget int) (bool, error) {
	var c struct {
		KeptFrom int `json:"KeptFrom"`
		Pruned   int `json:"Pruned"`
		Shards   int `json:"Shards"`
	}
	err := s.getItem(ctx, s.t.Segments, map[string]types.AttributeValue{"SegmentId": str(segmentId)}, "segment "+segmentId, &c)
	if err != nil {
		return false, err
	}
	for c.Pruned < c.KeptFrom {
		n, err := s.deleteGeneration(ctx, segment.MemberSet(segmentId, c.Pruned), max(c.Shards, 1), budget)
		if err != nil {
			return false, err
		}
		if budget -= n; budget <= 0 {
			return true, nil
		}
		next, err := s.nextGeneration(ctx, segmentId, c.Pruned, c.KeptFrom)
		if err != nil {
			return false, err
		}
		// The segment's EndpointCount counts the member items of the
		// generations kept: the pruned one's count (that of its last
		// version) goes with it, in the update that records the pruning.
		gone, err := s.countOf(ctx, segmentId, next-1)
		if err != nil {
			return false, err
		}
		_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.t.Segments),
			Key:                       map[string]types.AttributeValue{"SegmentId": str(segmentId)},
			UpdateExpression:          aws.String("SET Pruned = :n, EndpointCount = EndpointCount - :c"),
			ConditionExpression:       aws.String("attribute_not_exists(Pruned) OR Pruned = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":n": num(int64(next)), ":p": num(int64(c.Pruned)), ":c": num(int64(gone))},
		})
		if err != nil && !isConditionFailed(err) {
			return false, fmt.Errorf("record the pruning of segment %s: %w", segmentId, err)
		}
		c.Pruned = next
	}
	return false, s.markPruning(ctx, segmentId, false)
}

// nextGeneration returns the first generation after base: the first replace
// numbered after it, or kept if there is none before kept.
func (s *Store) nextGeneration(ctx context.Context, segmentId string, base, kept int) (int, error) {
	bases, err := s.replaces(ctx, segmentId, base+1, kept)
	if err != nil || len(bases) == 0 {
		return kept, err
	}
	return bases[0], nil
}

// deleteGeneration deletes up to budget member items of a member set (its
// endpoint, member tombstone and user partitions) and returns how many it
// deleted: fewer than budget once the set is empty.
func (s *Store) deleteGeneration(ctx context.Context, set string, shards, budget int) (int, error) {
	deleted := 0
	for i := 0; i < shards && deleted < budget; i++ {
		for _, shard := range []string{shardName(set, i), erasedShardName(set, i), userShardName(set, i)} {
			for deleted < budget {
				out, err := s.db.Query(ctx, &dynamodb.QueryInput{
					TableName:                 aws.String(s.t.Members),
					KeyConditionExpression:    aws.String("#sh = :s"),
					ExpressionAttributeNames:  map[string]string{"#sh": "Shard"},
					ExpressionAttributeValues: map[string]types.AttributeValue{":s": str(shard)},
					ProjectionExpression:      aws.String("#sh, EndpointId"),
					Limit:                     aws.Int32(int32(min(budget-deleted, 1000))),
					ConsistentRead:            aws.Bool(true),
				})
				if err != nil {
					return deleted, fmt.Errorf("query shard %s: %w", shard, err)
				}
				if len(out.Items) == 0 {
					break
				}
				reqs := make([]types.WriteRequest, len(out.Items))
				for j, key := range out.Items {
					reqs[j] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key}}
				}
				if err := s.batchWrite(ctx, s.t.Members, reqs); err != nil {
					return deleted, fmt.Errorf("prune shard %s: %w", shard, err)
				}
				deleted += len(out.Items)
			}
		}
	}
	return deleted, nil
}

// markPruning puts or clears the segment's entry in the Running index's
// "prune" partition.
func (s *Store) markPruning(ctx context.Context, segmentId string, on bool) error {
	in := &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.t.Jobs),
		Key:                      jobKey(segmentId+"#prune", pruneSk),
		UpdateExpression:         aws.String("REMOVE Running"),
		ConditionExpression:      aws.String("attribute_exists(Running)"),
		ExpressionAttributeNames: nil,
	}
	if on {
		in.UpdateExpression = aws.String("SET Running = :f, JobOrder = :o")
		in.ConditionExpression = aws.String("attribute_not_exists(Running)")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":f": str(pruneFlag), ":o": str(segmentId)}
	}
	_, err := s.db.UpdateItem(ctx, in)
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("mark the pruning of segment %s: %w", segmentId, err)
	}
	return nil
}

// Pruning returns the segments whose pruning has not finished.
func (s *Store) Pruning(ctx context.Context) ([]string, error) {
	items, err := s.query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.t.Jobs),
		IndexName:                 aws.String(RunningIndex),
		KeyConditionExpression:    aws.String("Running = :f"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":f": str(pruneFlag)},
	})
	if err != nil {
		return nil, fmt.Errorf("query the segments being pruned: %w", err)
	}
	return stringsOf(items, "JobOrder"), nil
}

// unprune deletes the member items a write batch created in a generation
// that is no longer kept (a late duplicate of a batch of a job long ended,
// written while or after its generation was pruned) and then returns
// job.ErrPruned, so that the batch records no tally: its first delivery's
// stands. Reading KeptFrom after the puts closes the race with Prune:
// advance sets KeptFrom before any pruning starts, so a put that Prune's
// Query of its shard did not see is followed by a read that sees KeptFrom
// past its generation.
func (s *Store) unprune(ctx context.Context, set string, shard func(id string) string, cond func(id string) *dynamodb.DeleteItemInput, created []string) error {
	segmentId, base := segment.ParseSet(set)
	if len(created) == 0 {
		return nil
	}
	var c struct {
		KeptFrom int `json:"KeptFrom"`
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:            aws.String(s.t.Segments),
		Key:                  map[string]types.AttributeValue{"SegmentId": str(segmentId)},
		ConsistentRead:       aws.Bool(true),
		ProjectionExpression: aws.String("KeptFrom"),
	})
	if err != nil {
		return fmt.Errorf("read segment %s: %w", segmentId, err)
	}
	if err := unmarshal(out.Item, &c); err != nil {
		return fmt.Errorf("decode segment %s: %w", segmentId, err)
	}
	if base >= c.KeptFrom {
		return nil
	}
	err = eachPut(created, func(id string) error {
		in := cond(id)
		in.TableName = aws.String(s.t.Members)
		in.Key = map[string]types.AttributeValue{"Shard": str(shard(id)), "EndpointId": str(id)}
		_, err := s.db.DeleteItem(ctx, in)
		if isConditionFailed(err) {
			err = nil
		}
		return err
	})
	if err != nil {
		return err
	}
	return fmt.Errorf("generation %d of segment %s: %w", base, segmentId, job.ErrPruned)
}
