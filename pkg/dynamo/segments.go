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
	"github.com/segport/segport/pkg/segment"
)

// segmentItem is a Segments table item.
type segmentItem struct {
	SegmentId        string                   `json:"SegmentId"`
	Name             string                   `json:"Name"`
	SegmentType      string                   `json:"SegmentType"`
	Version          int                      `json:"Version"`
	CreationDate     string                   `json:"CreationDate"`
	LastModifiedDate string                   `json:"LastModifiedDate,omitempty"`
	ImportDefinition segment.ImportDefinition `json:"ImportDefinition"`
	EndpointCount    int                      `json:"EndpointCount"`
	Shards           int                      `json:"Shards"`
}

func (it *segmentItem) segment() *segment.Segment {
	return &segment.Segment{
		Id: it.SegmentId, Name: it.Name, SegmentType: it.SegmentType, Version: it.Version,
		CreationDate: it.CreationDate, LastModifiedDate: it.LastModifiedDate,
		ImportDefinition: it.ImportDefinition, EndpointCount: it.EndpointCount, Shards: it.Shards,
	}
}

// EnsureSegment creates the segment's item unless it exists.
func (s *Store) EnsureSegment(ctx context.Context, id, name, created string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.t.Segments),
		Key:       map[string]types.AttributeValue{"SegmentId": str(id)},
		UpdateExpression: aws.String("SET #n = if_not_exists(#n, :n), CreationDate = if_not_exists(CreationDate, :c), " +
			"SegmentType = :t, Shards = if_not_exists(Shards, :sh), Version = if_not_exists(Version, :zero), " +
			"EndpointCount = if_not_exists(EndpointCount, :zero), ImportDefinition = if_not_exists(ImportDefinition, :def), " +
			"Contrib = if_not_exists(Contrib, :empty)"),
		ExpressionAttributeNames: map[string]string{"#n": "Name"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":n": str(name), ":c": str(created), ":t": str("IMPORT"), ":sh": num(int64(s.shards)), ":zero": num(0),
			":empty": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
			":def": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				"Size": num(0), "ChannelCounts": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
			}},
		},
	})
	if err != nil {
		return fmt.Errorf("create segment %s: %w", id, err)
	}
	return nil
}

// contribution is what a job has added to a segment, kept in the segment's
// Contrib map under the job's id.
type contribution struct {
	Size     int            `json:"Size"`
	Channels map[string]int `json:"Channels"`
	V        int            `json:"V"` // changes with every update, for the condition
}

// SetContribution makes a job's contribution to its segment what im says: the change
// from the job's previous contribution (none at first) is added, under the
// condition that the previous contribution is still the stored one. Repeating it
// changes nothing; a job finished again after a dead-letter redrive corrects its
// numbers. The job's Format and S3Url become the segment's if it is the latest job.
func (s *Store) SetContribution(ctx context.Context, segmentId string, im job.Contribution) error {
	next := contribution{Size: im.Written.Rows, Channels: im.Written.Channels}
	if next.Channels == nil {
		next.Channels = map[string]int{}
	}
	for attempt := 0; ; attempt++ {
		prev, found, err := s.contribution(ctx, segmentId, im.JobId)
		if err != nil {
			return err
		}
		if found && prev.Size == next.Size && fmt.Sprint(prev.Channels) == fmt.Sprint(next.Channels) {
			break
		}
		next.V = prev.V + 1
		err = s.addContribution(ctx, segmentId, im, prev, found, next)
		if err == nil {
			break
		}
		if err != ErrConflict || attempt >= maxAttempts {
			return err
		}
		if err := backoff(ctx, min(attempt, 4)); err != nil {
			return err
		}
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.t.Segments),
		Key:                      map[string]types.AttributeValue{"SegmentId": str(segmentId)},
		UpdateExpression:         aws.String("SET ImportDefinition.#f = :f, ImportDefinition.S3Url = :u, LastJob = :o"),
		ConditionExpression:      aws.String("attribute_exists(SegmentId) AND (attribute_not_exists(LastJob) OR LastJob <= :o)"),
		ExpressionAttributeNames: map[string]string{"#f": "Format"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":f": str(im.Format), ":u": str(im.S3Url), ":o": str(im.JobOrder),
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("set import definition of segment %s: %w", segmentId, err)
	}
	return nil
}

func (s *Store) contribution(ctx context.Context, segmentId, jobId string) (contribution, bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(s.t.Segments),
		Key:                      map[string]types.AttributeValue{"SegmentId": str(segmentId)},
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("Contrib.#j"),
		ExpressionAttributeNames: map[string]string{"#j": jobId},
	})
	if err != nil {
		return contribution{}, false, fmt.Errorf("read segment %s: %w", segmentId, err)
	}
	var it struct {
		Contrib map[string]contribution `json:"Contrib"`
	}
	if err := unmarshal(out.Item, &it); err != nil {
		return contribution{}, false, fmt.Errorf("decode segment %s: %w", segmentId, err)
	}
	c, ok := it.Contrib[jobId]
	return c, ok, nil
}

func (s *Store) addContribution(ctx context.Context, segmentId string, im job.Contribution, prev contribution, found bool, next contribution) error {
	nextAV, err := marshal(next)
	if err != nil {
		return err
	}
	names := map[string]string{"#sz": "Size", "#j": im.JobId}
	values := map[string]types.AttributeValue{
		":d": num(int64(next.Size - prev.Size)), ":now": str(im.Now), ":next": &types.AttributeValueMemberM{Value: nextAV},
	}
	expr := "SET ImportDefinition.#sz = ImportDefinition.#sz + :d, LastModifiedDate = :now, Contrib.#j = :next"
	cond := "attribute_exists(SegmentId) AND attribute_not_exists(Contrib.#j)"
	if found {
		values[":pv"] = num(int64(prev.V))
		cond = "attribute_exists(SegmentId) AND Contrib.#j.V = :pv"
	} else {
		expr += ", Version = Version + :one"
		values[":one"] = num(1)
	}
	chans := map[string]int{}
	for ch, n := range next.Channels {
		chans[ch] += n
	}
	for ch, n := range prev.Channels {
		chans[ch] -= n
	}
	for i, ch := range sortedChannels(chans) {
		k := strconv.Itoa(i)
		names["#c"+k] = ch
		values[":c"+k] = num(int64(chans[ch]))
		values[":zero"] = num(0)
		expr += fmt.Sprintf(", ImportDefinition.ChannelCounts.#c%s = if_not_exists(ImportDefinition.ChannelCounts.#c%s, :zero) + :c%s", k, k, k)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.t.Segments),
		Key:                       map[string]types.AttributeValue{"SegmentId": str(segmentId)},
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	if isConditionFailed(err) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("add job %s to segment %s: %w", im.JobId, segmentId, err)
	}
	return nil
}

// SetEndpointCount stores a member count taken at countedAt, unless a later count
// is already stored.
func (s *Store) SetEndpointCount(ctx context.Context, segmentId string, count int, countedAt string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.t.Segments),
		Key:                 map[string]types.AttributeValue{"SegmentId": str(segmentId)},
		UpdateExpression:    aws.String("SET EndpointCount = :c, CountedAt = :t"),
		ConditionExpression: aws.String("attribute_exists(SegmentId) AND (attribute_not_exists(CountedAt) OR CountedAt <= :t)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":c": num(int64(count)), ":t": str(countedAt),
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("set endpoint count of segment %s: %w", segmentId, err)
	}
	return nil
}

// Segment reads one segment by id.
func (s *Store) Segment(ctx context.Context, id string) (*segment.Segment, error) {
	var it segmentItem
	key := map[string]types.AttributeValue{"SegmentId": str(id)}
	if err := s.getItem(ctx, s.t.Segments, key, "segment "+id, &it); err != nil {
		return nil, err
	}
	return it.segment(), nil
}

// Segments lists every segment, by name.
func (s *Store) Segments(ctx context.Context) ([]*segment.Segment, error) {
	items, err := s.scan(ctx, s.t.Segments)
	if err != nil {
		return nil, err
	}
	segs := make([]*segment.Segment, 0, len(items))
	for _, item := range items {
		var it segmentItem
		if err := unmarshal(item, &it); err != nil {
			return nil, fmt.Errorf("decode segment: %w", err)
		}
		segs = append(segs, it.segment())
	}
	sort.Slice(segs, func(i, j int) bool {
		return segs[i].Name < segs[j].Name || (segs[i].Name == segs[j].Name && segs[i].Id < segs[j].Id)
	})
	return segs, nil
}

// SegmentByName finds a segment by name, or by id.
func (s *Store) SegmentByName(ctx context.Context, name string) (*segment.Segment, error) {
	segs, err := s.Segments(ctx)
	if err != nil {
		return nil, err
	}
	for _, sg := range segs {
		if sg.Name == name || sg.Id == name {
			return sg, nil
		}
	}
	return nil, fmt.Errorf("segment %q: %w", name, ErrNotFound)
}

func sortedChannels(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
