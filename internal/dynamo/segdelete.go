package dynamo

import (
	"context"
	"fmt"
	"math"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// ErrImportsRunning means a segment cannot be deleted while imports into it
// run: it would be deleted under them. Delete it once they have ended.
var ErrImportsRunning = job.ErrImportsRunning

// DeleteSegment deletes a segment's item, its members, member tombstones and
// users in every generation (every partition of it in the Members table), its
// version records and its pruning marker; the endpoints stay. The segment is first marked Deleting, which
// only succeeds while no import into it runs (Reserved is empty) and makes a
// job starting into it meanwhile wait (ReserveVersion refuses, and the job's
// message is delivered again); the item itself goes last, so that a delete
// that died half-way is finished by deleting again. A later import into the
// same name creates the segment anew, from version 1.
func (s *Store) DeleteSegment(ctx context.Context, id string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.t.Segments),
		Key:                       map[string]types.AttributeValue{"SegmentId": str(id)},
		UpdateExpression:          aws.String("SET Deleting = :t"),
		ConditionExpression:       aws.String("attribute_exists(SegmentId) AND (attribute_not_exists(Reserved) OR size(Reserved) = :zero)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}, ":zero": num(0)},
	})
	if isConditionFailed(err) {
		if _, err := s.Segment(ctx, id); err != nil {
			return err
		}
		return fmt.Errorf("segment %s: %w", id, ErrImportsRunning)
	}
	if err != nil {
		return fmt.Errorf("mark segment %s as deleting: %w", id, err)
	}
	var it segmentRef
	if err := s.getItem(ctx, s.t.Segments, map[string]types.AttributeValue{"SegmentId": str(id)}, "segment "+id, &it); err != nil {
		return err
	}
	shards := it.Shards
	if shards < 1 {
		shards = s.shards
	}
	// Every generation: those pruned too, whose pruning may not have ended.
	bases, err := s.replaces(ctx, id, 1, math.MaxInt32)
	if err != nil {
		return err
	}
	for _, base := range append([]int{0}, bases...) {
		set := segment.MemberSet(id, base)
		for i := 0; i < shards; i++ {
			for _, shard := range []string{shardName(set, i), erasedShardName(set, i), userShardName(set, i)} {
				if err := s.deletePartition(ctx, s.t.Members, "Shard", "EndpointId", shard); err != nil {
					return err
				}
			}
		}
	}
	if err := s.deletePartition(ctx, s.t.Jobs, "JobId", "Sk", versionsKey(id)); err != nil {
		return err
	}
	// Its pruning marker, with the BatchWriteItem that deletes versions.
	marker := []types.WriteRequest{{DeleteRequest: &types.DeleteRequest{Key: jobKey(id+"#prune", pruneSk)}}}
	if err := s.batchWrite(ctx, s.t.Jobs, marker); err != nil {
		return fmt.Errorf("delete the pruning marker of segment %s: %w", id, err)
	}
	_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.t.Segments),
		Key:       map[string]types.AttributeValue{"SegmentId": str(id)},
	})
	if err != nil {
		return fmt.Errorf("delete segment %s: %w", id, err)
	}
	return nil
}

// deletePartition deletes every item under one partition key.
func (s *Store) deletePartition(ctx context.Context, table, pk, sk, value string) error {
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("#pk = :v"),
		ExpressionAttributeNames:  map[string]string{"#pk": pk, "#sk": sk},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": str(value)},
		ProjectionExpression:      aws.String("#pk, #sk"),
		ConsistentRead:            aws.Bool(true),
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("read %s of %s: %w", value, table, err)
		}
		reqs := make([]types.WriteRequest, len(out.Items))
		for i, key := range out.Items {
			reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key}}
		}
		if err := s.batchWrite(ctx, table, reqs); err != nil {
			return err
		}
	}
	return nil
}
