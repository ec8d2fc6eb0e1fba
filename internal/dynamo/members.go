package dynamo

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Members table: one item per (segment, endpoint). The partition key spreads a
// segment over Shards partitions so that a large import does not put one hot
// partition over DynamoDB's 1,000 write units per second.
//
//	Shard      S  "<SegmentId>#<nn>", nn = FNV-1a(EndpointId) mod shards, two digits or more
//	EndpointId S  sort key
//	AddedBy    S  the write batch that made it a member first
//	V          N  that batch's segment version: the member is in versions V and later
//	S          S  the greatest stamp of the rows that made it a member (erase.go)

// ShardKey returns the Members partition key of endpointId in segmentId.
func ShardKey(segmentId, endpointId string, shards int) string {
	return shardName(segmentId, shardIndex(endpointId, shards))
}

// shardIndex is the membership shard of an id: FNV-1a-32(id) mod shards.
func shardIndex(id string, shards int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(shards))
}

// AddMembers records the endpoints as members of the segment, spread over its
// shards, and returns how many of them this batch made members first. Each
// member item keeps the batch that inserted it (AddedBy), so a batch delivered
// again counts the same members again, and no other batch counts them: the
// count is the same on every delivery, and summed over batches it is the
// segment's number of members. A member keeps the version of that batch (V,
// when version > 0): it belongs to that version and every later one. It keeps
// too the greatest stamp of the rows that named it (S, from stamps), which
// orders it against deletes (erase.go). set is the member set of the batch's
// generation (segment.MemberSet): a batch of a generation no longer kept is
// undone and returns job.ErrPruned (unprune); member tombstones are per set.
func (s *Store) AddMembers(ctx context.Context, set string, shards, version int, batch string, ids []string, stamps map[string]string) (int, error) {
	if shards < 1 {
		shards = s.shards
	}
	var (
		added   atomic.Int64
		mu      sync.Mutex
		created []string // this batch's, possibly to undo
		others  []string // another batch's
	)
	err := eachPut(dedupe(ids), func(id string) error {
		ours, err := s.addMember(ctx, ShardKey(set, id, shards), id, version, batch, stamps[id])
		switch {
		case ours:
			added.Add(1)
			mu.Lock()
			created = append(created, id)
			mu.Unlock()
		case err == nil:
			mu.Lock()
			others = append(others, id)
			mu.Unlock()
		}
		return err
	})
	if err == nil && len(others) > 0 {
		// Another batch's now; but this batch's own add may have been erased
		// before another made it a member again (erase.go): it still counts,
		// so that the batch's count is the same on every delivery.
		var erased []string
		if erased, err = s.erasedAddsOf(ctx, set, shards, batch, others); err == nil {
			added.Add(int64(len(erased)))
		}
	}
	if err == nil {
		err = s.unprune(ctx, set, func(id string) string { return ShardKey(set, id, shards) },
			func(string) *dynamodb.DeleteItemInput {
				return &dynamodb.DeleteItemInput{ConditionExpression: aws.String("AddedBy = :b"),
					ExpressionAttributeValues: map[string]types.AttributeValue{":b": str(batch)}}
			}, created)
	}
	if err != nil {
		return 0, fmt.Errorf("add members of %s: %w", set, err)
	}
	return int(added.Load()), nil
}

// addMember adds one member item and reports whether batch made it a member
// first. With a stamp, the item's S becomes the greater of its own and stamp.
func (s *Store) addMember(ctx context.Context, shard, id string, version int, batch, stamp string) (bool, error) {
	expr := "SET AddedBy = if_not_exists(AddedBy, :b)"
	values := map[string]types.AttributeValue{":b": str(batch)}
	cond := "attribute_not_exists(EndpointId) OR AddedBy = :b"
	if version > 0 {
		expr += ", V = if_not_exists(V, :v)"
		values[":v"] = num(int64(version))
	}
	if stamp != "" {
		expr += ", S = :s"
		values[":s"] = str(stamp)
		cond = "attribute_not_exists(EndpointId) OR attribute_not_exists(S) OR S < :s"
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.t.Members),
		Key:                       map[string]types.AttributeValue{"Shard": str(shard), "EndpointId": str(id)},
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllOld,
	})
	switch {
	case err == nil:
		by, ok := out.Attributes["AddedBy"].(*types.AttributeValueMemberS)
		return !ok || by.Value == batch, nil
	case !isConditionFailed(err):
		return false, err
	case stamp == "": // a member already, added by another batch
		return false, nil
	}
	// S is as great as stamp already: a delivery again, or a later row's.
	var m struct {
		AddedBy string `json:"AddedBy"`
	}
	err = s.getItem(ctx, s.t.Members, map[string]types.AttributeValue{"Shard": str(shard), "EndpointId": str(id)}, "member "+id, &m)
	return err == nil && m.AddedBy == batch, err
}

// eachPut runs put for every id, memberPuts at a time, and returns the first
// error.
func eachPut(ids []string, put func(id string) error) error {
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, memberPuts)
		errs = make(chan error, len(ids))
	)
	for _, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := put(id); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// CountAdded returns how many of ids batch made members of the segment first:
// for a batch abandoned part-written, whose count no BatchDone recorded.
func (s *Store) CountAdded(ctx context.Context, segmentId string, shards int, batch string, ids []string) (int, error) {
	if shards < 1 {
		shards = s.shards
	}
	ids = dedupe(ids)
	keys := make([]map[string]types.AttributeValue, len(ids))
	for i, id := range ids {
		keys[i] = map[string]types.AttributeValue{"Shard": str(ShardKey(segmentId, id, shards)), "EndpointId": str(id)}
	}
	items, err := s.batchGet(ctx, s.t.Members, keys)
	if err != nil {
		return 0, fmt.Errorf("read members of segment %s: %w", segmentId, err)
	}
	ours := map[string]bool{}
	for _, it := range items {
		if v, ok := it["AddedBy"].(*types.AttributeValueMemberS); ok && v.Value == batch {
			ours[it["EndpointId"].(*types.AttributeValueMemberS).Value] = true
		}
	}
	// Adds of the batch that a delete erased since count too (erase.go).
	erased, err := s.erasedAdds(ctx, segmentId, shards, batch, ids)
	if err != nil {
		return 0, err
	}
	for _, id := range erased {
		ours[id] = true
	}
	return len(ours), nil
}

// memberPuts bounds the conditional puts AddMembers keeps in flight.
const memberPuts = 8

// Members returns the ids of every member item of the segment, sorted:
// the members of its versions so far and of those being imported.
func (s *Store) Members(ctx context.Context, segmentId string, shards int) ([]string, error) {
	return s.VersionMembers(ctx, segmentId, shards, AllVersions)
}

// AllVersions, as a version, reads every member item: those of every version
// so far and of the imports running.
const AllVersions = -1

// versionFilter restricts a Query of member items to the members of version
// (every item for AllVersions): those a version up to it added first, and
// those recorded before versions were.
func versionFilter(in *dynamodb.QueryInput, version int) *dynamodb.QueryInput {
	if version < 0 {
		return in
	}
	in.FilterExpression = aws.String("attribute_not_exists(V) OR V <= :v")
	if in.ExpressionAttributeValues == nil {
		in.ExpressionAttributeValues = map[string]types.AttributeValue{}
	}
	in.ExpressionAttributeValues[":v"] = num(int64(version))
	return in
}

// inVersion reports whether a member item belongs to version (to every
// version for AllVersions), as versionFilter filters a Query.
func inVersion(item map[string]types.AttributeValue, version int) bool {
	if version < 0 {
		return true
	}
	v, ok := item["V"].(*types.AttributeValueMemberN)
	if !ok {
		return true
	}
	n, err := strconv.Atoi(v.Value)
	return err == nil && n <= version
}

// VersionMembers returns the ids of the members of a version of the segment
// (of every member item for AllVersions), sorted.
func (s *Store) VersionMembers(ctx context.Context, segmentId string, shards, version int) ([]string, error) {
	var (
		mu  sync.Mutex
		ids []string
	)
	err := s.eachShard(ctx, segmentId, shards, func(shard string) error {
		items, err := s.query(ctx, versionFilter(&dynamodb.QueryInput{
			TableName:                 aws.String(s.t.Members),
			KeyConditionExpression:    aws.String("#sh = :s"),
			ExpressionAttributeNames:  map[string]string{"#sh": "Shard"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":s": str(shard)},
			ProjectionExpression:      aws.String("EndpointId"),
			ConsistentRead:            aws.Bool(true),
		}, version))
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, it := range items {
			if v, ok := it["EndpointId"].(*types.AttributeValueMemberS); ok {
				ids = append(ids, v.Value)
			}
		}
		return nil
	})
	sort.Strings(ids)
	return ids, err
}

// CountMembers counts the segment's endpoints exactly (Query with Select COUNT).
func (s *Store) CountMembers(ctx context.Context, segmentId string, shards int) (int, error) {
	return s.countItems(ctx, segmentId, shards, AllVersions)
}

// countItems counts exactly (Query with Select COUNT) the items in the shards
// of set, a segment's members or its member tombstones ("#erased"), with a
// version up to version (every one for AllVersions).
func (s *Store) countItems(ctx context.Context, set string, shards, version int) (int, error) {
	var (
		mu    sync.Mutex
		total int
	)
	err := s.eachShard(ctx, set, shards, func(shard string) error {
		p := dynamodb.NewQueryPaginator(s.db, versionFilter(&dynamodb.QueryInput{
			TableName:                 aws.String(s.t.Members),
			KeyConditionExpression:    aws.String("#sh = :s"),
			ExpressionAttributeNames:  map[string]string{"#sh": "Shard"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":s": str(shard)},
			Select:                    types.SelectCount,
			ConsistentRead:            aws.Bool(true),
		}, version))
		n := 0
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("count shard %s: %w", shard, err)
			}
			n += int(out.Count)
		}
		mu.Lock()
		total += n
		mu.Unlock()
		return nil
	})
	return total, err
}

// eachShard runs fn for every shard of a segment, a few at a time.
func (s *Store) eachShard(ctx context.Context, segmentId string, shards int, fn func(shard string) error) error {
	if shards < 1 {
		shards = s.shards
	}
	sem := make(chan struct{}, 8)
	errs := make(chan error, shards)
	var wg sync.WaitGroup
	for i := 0; i < shards; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(shard string) {
			defer wg.Done()
			defer func() { <-sem }()
			errs <- fn(shard)
		}(fmt.Sprintf("%s#%02d", segmentId, i))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
