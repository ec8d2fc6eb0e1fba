package dynamo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// Paged reads for the services that query segments (pkg/client). A page token is
// the key of the last item read, as base64url JSON. Every key attribute is a string,
// and a token is checked against the listing it continues (its segment, its user),
// so a token from one listing cannot page through another.

// The secondary indexes the paged reads query.
const (
	// EndpointsByUserIndex is the Endpoints table's index on the top-level UserId.
	EndpointsByUserIndex = "ByUser"
	// JobsBySegmentIndex is the Jobs table's index on (SegmentId, JobOrder).
	JobsBySegmentIndex = "BySegment"
	// JobsByOrderIndex is the Jobs table's index on (Kind, JobOrder): every
	// job, keys only (job items change often; their keys never do).
	JobsByOrderIndex = "ByOrder"
	// SegmentsByNameIndex is the Segments table's index on Name, keys only.
	SegmentsByNameIndex = "ByName"
	// RunningIndex is the Jobs table's sparse index on (Running, JobOrder).
	RunningIndex = "Running"
)

// maxKeyBytes is DynamoDB's limit on a partition key value: a longer one, in a
// key or a page token, is refused by DynamoDB with a ValidationException, so it
// is the caller's mistake, found before the request.
const maxKeyBytes = 2048

// maxSortKeyBytes is DynamoDB's limit on a sort key value; a token holds sort
// keys, and no key segport writes passes it (a user ID, the longest, is
// checked against it at validation: endpoint.UserIdBytes).
const maxSortKeyBytes = 1024

// ErrBadToken means a page token is malformed or belongs to another listing.
var ErrBadToken = errors.New("invalid page token")

func encodeToken(key map[string]types.AttributeValue) string {
	if len(key) == 0 {
		return ""
	}
	m := make(map[string]string, len(key))
	for k, v := range key {
		if s, ok := v.(*types.AttributeValueMemberS); ok {
			m[k] = s.Value
		}
	}
	b, _ := json.Marshal(m) // a map of strings always encodes
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeToken returns the key in token, which must have exactly the attributes
// names, each non-empty; nil for an empty token.
func decodeToken(token string, names ...string) (map[string]string, error) {
	if token == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, ErrBadToken
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil || len(m) != len(names) {
		return nil, ErrBadToken
	}
	for _, n := range names {
		if m[n] == "" || len(m[n]) > maxSortKeyBytes {
			return nil, ErrBadToken
		}
	}
	return m, nil
}

func keyOf(m map[string]string) map[string]types.AttributeValue {
	if m == nil {
		return nil
	}
	key := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		key[k] = str(v)
	}
	return key
}

// SegmentsPage lists up to limit segments in table order, and the token of the
// next page ("" after the last).
func (s *Store) SegmentsPage(ctx context.Context, limit int, token string) ([]*segment.Segment, string, error) {
	start, err := decodeToken(token, "SegmentId")
	if err != nil {
		return nil, "", err
	}
	out, err := s.db.Scan(ctx, &dynamodb.ScanInput{
		TableName:         aws.String(s.t.Segments),
		Limit:             aws.Int32(int32(limit)),
		ExclusiveStartKey: keyOf(start),
		ConsistentRead:    aws.Bool(true),
		// Everything but the internal Jobs set, which can near 400 KB.
		ProjectionExpression:     aws.String("SegmentId, #n, SegmentType, #v, CreationDate, LastModifiedDate, ImportDefinition, EndpointCount, Shards, HasUsers, Erased, LastReplace"),
		ExpressionAttributeNames: map[string]string{"#n": "Name", "#v": "Version"},
	})
	if err != nil {
		return nil, "", fmt.Errorf("scan %s: %w", s.t.Segments, err)
	}
	segs := make([]*segment.Segment, 0, len(out.Items))
	for _, item := range out.Items {
		var it segmentItem
		if err := unmarshal(item, &it); err != nil {
			return nil, "", fmt.Errorf("decode segment: %w", err)
		}
		seg := it.segment()
		if err := s.netOfErased(ctx, seg); err != nil {
			return nil, "", err
		}
		segs = append(segs, seg)
	}
	return segs, encodeToken(out.LastEvaluatedKey), nil
}

func shardName(segmentId string, i int) string { return fmt.Sprintf("%s#%02d", segmentId, i) }

// ShardMembers returns up to limit member ids of shard i of a segment, in
// EndpointId order after the id after ("" from the start), and the id to continue
// after ("" when the shard has no more).
func (s *Store) ShardMembers(ctx context.Context, segmentId string, version, i int, after string, limit int) ([]string, string, error) {
	var start map[string]types.AttributeValue
	if after != "" {
		start = map[string]types.AttributeValue{"Shard": str(shardName(segmentId, i)), "EndpointId": str(after)}
	}
	ids, last, err := s.shardPage(ctx, shardName(segmentId, i), version, start, limit)
	if err != nil || last == nil {
		return ids, "", err
	}
	v, _ := last["EndpointId"].(*types.AttributeValueMemberS)
	if v == nil {
		return ids, "", nil
	}
	return ids, v.Value, nil
}

func (s *Store) shardPage(ctx context.Context, shard string, version int, start map[string]types.AttributeValue, limit int) ([]string, map[string]types.AttributeValue, error) {
	out, err := s.db.Query(ctx, versionFilter(&dynamodb.QueryInput{
		TableName:                 aws.String(s.t.Members),
		KeyConditionExpression:    aws.String("#sh = :s"),
		ExpressionAttributeNames:  map[string]string{"#sh": "Shard"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": str(shard)},
		ExclusiveStartKey:         start,
		Limit:                     aws.Int32(int32(limit)),
		ConsistentRead:            aws.Bool(true),
	}, version))
	if err != nil {
		return nil, nil, fmt.Errorf("query shard %s: %w", shard, err)
	}
	return stringsOf(out.Items, "EndpointId"), out.LastEvaluatedKey, nil
}

// stringsOf returns the string attribute name of each item.
func stringsOf(items []map[string]types.AttributeValue, name string) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		if v, ok := it[name].(*types.AttributeValueMemberS); ok {
			out = append(out, v.Value)
		}
	}
	return out
}

// MembersPage returns up to limit member ids of a version of a segment (every
// member item for AllVersions) spread over shards
// partitions, shard after shard and in EndpointId order within a shard, and the
// token of the next page ("" after the last). Members added while a listing pages
// appear in it or not; none appears twice.
func (s *Store) MembersPage(ctx context.Context, segmentId string, shards, version, limit int, token string) ([]string, string, error) {
	tok, err := decodeToken(token, "Shard", "EndpointId")
	if err != nil {
		return nil, "", err
	}
	first := 0
	if tok != nil {
		n, ok := strings.CutPrefix(tok["Shard"], segmentId+"#")
		if first, err = strconv.Atoi(n); !ok || err != nil || first < 0 || first >= shards || shardName(segmentId, first) != tok["Shard"] {
			return nil, "", ErrBadToken // "1" or "+01" would name no shard: DynamoDB refuses the key
		}
	}
	var ids []string
	for i := first; i < shards; i++ {
		var start map[string]types.AttributeValue
		if i == first {
			start = keyOf(tok)
		}
		for {
			page, last, err := s.shardPage(ctx, shardName(segmentId, i), version, start, limit-len(ids))
			if err != nil {
				return nil, "", err
			}
			ids = append(ids, page...)
			if last == nil {
				break
			}
			if len(ids) >= limit {
				return ids, encodeToken(last), nil
			}
			start = last
		}
		if len(ids) >= limit && i < shards-1 {
			// The page ends with shard i: the next one goes on after its last id.
			return ids, encodeToken(map[string]types.AttributeValue{
				"Shard": str(shardName(segmentId, i)), "EndpointId": str(ids[len(ids)-1]),
			}), nil
		}
	}
	return ids, "", nil
}

// JobsPage lists up to limit import jobs and the token of the next page, newest
// first: with a segmentId, that segment's jobs (the BySegment index); without,
// every job (the ByOrder index). Indexes lag writes slightly. Running jobs carry
// their live counts.
func (s *Store) JobsPage(ctx context.Context, segmentId string, limit int, token string) ([]*job.Job, string, error) {
	var (
		items []map[string]types.AttributeValue
		next  string
		err   error
	)
	if segmentId != "" {
		items, next, err = s.indexPage(ctx, s.t.Jobs, JobsBySegmentIndex, "SegmentId", segmentId,
			[]string{"JobId", "Sk", "SegmentId", "JobOrder"}, false, limit, token)
	} else {
		items, next, err = s.indexPage(ctx, s.t.Jobs, JobsByOrderIndex, "Kind", jobKind,
			[]string{"JobId", "Sk", "Kind", "JobOrder"}, false, limit, token)
		if err == nil {
			items, err = s.jobsOf(ctx, items)
		}
	}
	if err != nil {
		return nil, "", err
	}
	jobs := make([]*job.Job, 0, len(items))
	for _, item := range items {
		var it jobItem
		if err := unmarshal(item, &it); err != nil {
			return nil, "", fmt.Errorf("decode job: %w", err)
		}
		j := it.job()
		if !j.JobStatus.Final() {
			if j, err = s.Job(ctx, it.JobId); err != nil {
				return nil, "", err
			}
		}
		jobs = append(jobs, j)
	}
	return jobs, next, nil
}

// indexPage queries the partition attr = value of a table's index, a page at a
// time. keys are the attributes of the index's page keys: the table's and the
// index's keys. A token must continue a listing of the same partition.
func (s *Store) indexPage(ctx context.Context, table, index, attr, value string, keys []string, forward bool, limit int, token string) ([]map[string]types.AttributeValue, string, error) {
	start, err := decodeToken(token, keys...)
	if err != nil {
		return nil, "", err
	}
	if start != nil && start[attr] != value {
		return nil, "", ErrBadToken
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		IndexName:                 aws.String(index),
		KeyConditionExpression:    aws.String("#k = :v"),
		ExpressionAttributeNames:  map[string]string{"#k": attr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": str(value)},
		ScanIndexForward:          aws.Bool(forward),
		ExclusiveStartKey:         keyOf(start),
		Limit:                     aws.Int32(int32(limit)),
	})
	if err != nil {
		return nil, "", fmt.Errorf("query index %s of %s: %w", index, table, err)
	}
	return out.Items, encodeToken(out.LastEvaluatedKey), nil
}

// jobsOf reads the job items an index of keys names, in its order.
func (s *Store) jobsOf(ctx context.Context, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	want := make([]map[string]types.AttributeValue, len(keys))
	for i, k := range keys {
		want[i] = map[string]types.AttributeValue{"JobId": k["JobId"], "Sk": k["Sk"]}
	}
	items, err := s.batchGet(ctx, s.t.Jobs, want)
	if err != nil {
		return nil, err
	}
	byId := make(map[string]map[string]types.AttributeValue, len(items))
	for _, it := range items {
		if id, ok := it["JobId"].(*types.AttributeValueMemberS); ok {
			byId[id.Value] = it
		}
	}
	out := make([]map[string]types.AttributeValue, 0, len(keys))
	for _, k := range keys {
		if id, ok := k["JobId"].(*types.AttributeValueMemberS); ok && byId[id.Value] != nil {
			out = append(out, byId[id.Value])
		}
	}
	return out, nil
}
