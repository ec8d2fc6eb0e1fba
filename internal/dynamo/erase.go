package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/segport/segport/internal/merge"
	"github.com/segport/segport/pkg/segment"
)

// Deletes. A delete carries a stamp (job.Stamp) and is ordered among rows by
// it (internal/merge): the endpoint's or user's item becomes a tombstone, its
// Id or UserId with Deleted (the stamp) and Ver, no attribute, no address, no
// user; a row stamped before the delete changes nothing, a later one sets the
// endpoint again. Its memberships go too, ordered by each member's S (the
// greatest stamp of the rows that made it a member): a member made by a row
// after the delete stays.
//
// Counts stay exact without transactions: an erased member leaves a member
// tombstone in a partition of its own, which cancels the add it undoes, per
// generation (segment.MemberSet: "<SegmentId>" or "<SegmentId>#r<base>"):
//
//	Shard      S  "<MemberSet>#erased#<nn>", nn as the member's shard
//	EndpointId S  "<EndpointId>#<AddedBy>": the add it cancels
//	V          N  that add's version (absent: every version)
//
// and the segment's item gets Erased = true. A segment's EndpointCount and a
// version's are the members added, as before, less the member tombstones of
// those versions (V <= N) in the version's generation, counted when read: one Query per shard, as many
// items as were erased, and nothing for a segment that never lost a member.

// A delete erases an endpoint from every generation of a segment that is
// kept (keptSets), so that every readable version loses it; pruning a
// generation deletes its tombstones with its members (deleteGeneration).

func erasedShardName(set string, i int) string {
	return fmt.Sprintf("%s#erased#%02d", set, i)
}

// memberRecord is what erasing reads of a member item.
type memberRecord struct {
	AddedBy string `json:"AddedBy"`
	V       *int   `json:"V,omitempty"`
	S       string `json:"S,omitempty"`
}

// EraseMember removes endpoint id from a member set's members (a segment's
// generation, segment.MemberSet) if the rows that made it a member are all
// stamped before stamp, and leaves the tombstone that cancels its count.
// Repeating it changes nothing.
func (s *Store) EraseMember(ctx context.Context, set string, shards int, id, stamp string) error {
	return s.eraseMember(ctx, set, shards, id, stamp, func() error { return s.markErased(ctx, segment.SetSegment(set)) })
}

// eraseMember is EraseMember with mark, which sets the segment's Erased flag
// before the first tombstone.
func (s *Store) eraseMember(ctx context.Context, segmentId string, shards int, id, stamp string, mark func() error) error {
	if shards < 1 {
		shards = s.shards
	}
	key := map[string]types.AttributeValue{"Shard": str(ShardKey(segmentId, id, shards)), "EndpointId": str(id)}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		var m memberRecord
		err := s.getItem(ctx, s.t.Members, key, "member "+id+" of segment "+segmentId, &m)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		tomb := map[string]types.AttributeValue{
			"Shard":      str(erasedShardName(segmentId, shardIndex(id, shards))),
			"EndpointId": str(id + "#" + m.AddedBy),
		}
		if m.S >= stamp { // made a member after the delete
			// A tombstone of its add can be one a crashed erase left.
			if _, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.t.Members), Key: tomb}); err != nil {
				return fmt.Errorf("remove a stale tombstone of segment %s: %w", segmentId, err)
			}
			return nil
		}
		if err := mark(); err != nil {
			return err
		}
		if m.V != nil {
			tomb["V"] = num(int64(*m.V))
		}
		if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.t.Members), Item: tomb}); err != nil {
			return fmt.Errorf("put a member tombstone of segment %s: %w", segmentId, err)
		}
		_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:                 aws.String(s.t.Members),
			Key:                       key,
			ConditionExpression:       aws.String("AddedBy = :b AND (attribute_not_exists(S) OR S < :d)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":b": str(m.AddedBy), ":d": str(stamp)},
		})
		if err == nil {
			return nil
		}
		if !isConditionFailed(err) {
			return fmt.Errorf("erase a member of segment %s: %w", segmentId, err)
		}
		// A later row made it a member meanwhile: read again.
	}
	return fmt.Errorf("erase a member of segment %s: %w", segmentId, ErrConflict)
}

// erasedAddsOf returns those of ids whose add by batch a delete erased, for
// a segment that has lost members (Erased, set before any member tombstone
// is written): one read for a segment that never did.
func (s *Store) erasedAddsOf(ctx context.Context, segmentId string, shards int, batch string, ids []string) ([]string, error) {
	var seg struct {
		Erased bool `json:"Erased"`
	}
	id := segment.SetSegment(segmentId)
	err := s.getItem(ctx, s.t.Segments, map[string]types.AttributeValue{"SegmentId": str(id)}, "segment "+id, &seg)
	if err != nil || !seg.Erased {
		return nil, err
	}
	return s.erasedAdds(ctx, segmentId, shards, batch, ids)
}

// erasedAdds returns those of ids whose add by batch a delete erased: their
// member tombstones exist.
func (s *Store) erasedAdds(ctx context.Context, segmentId string, shards int, batch string, ids []string) ([]string, error) {
	if shards < 1 {
		shards = s.shards
	}
	keys := make([]map[string]types.AttributeValue, len(ids))
	for i, id := range ids {
		keys[i] = map[string]types.AttributeValue{
			"Shard": str(erasedShardName(segmentId, shardIndex(id, shards))), "EndpointId": str(id + "#" + batch),
		}
	}
	items, err := s.batchGet(ctx, s.t.Members, keys)
	if err != nil {
		return nil, fmt.Errorf("read member tombstones of segment %s: %w", segmentId, err)
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		if v, ok := it["EndpointId"].(*types.AttributeValueMemberS); ok {
			out = append(out, strings.TrimSuffix(v.Value, "#"+batch))
		}
	}
	return out, nil
}

// markErased sets the segment's Erased flag, which makes reads count its
// member tombstones.
func (s *Store) markErased(ctx context.Context, segmentId string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.t.Segments),
		Key:                       map[string]types.AttributeValue{"SegmentId": str(segmentId)},
		UpdateExpression:          aws.String("SET Erased = :t"),
		ConditionExpression:       aws.String("attribute_exists(SegmentId)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("mark segment %s as erased from: %w", segmentId, err)
	}
	return nil
}

// erasedCount counts the member tombstones of a version of the segment (of
// every version for AllVersions).
func (s *Store) erasedCount(ctx context.Context, segmentId string, shards, version int) (int, error) {
	return s.countItems(ctx, segmentId+"#erased", shards, version)
}

// netOfErased takes the erased members out of a segment's EndpointCount,
// which counts the adds of every generation kept: the tombstones of every
// generation kept.
func (s *Store) netOfErased(ctx context.Context, seg *segment.Segment) error {
	if !seg.Erased {
		return nil
	}
	sets, err := s.keptSets(ctx, seg.Id, seg.LastReplace)
	if err != nil {
		return err
	}
	for _, set := range sets {
		n, err := s.erasedCount(ctx, set, seg.Shards, AllVersions)
		if err != nil {
			return err
		}
		seg.EndpointCount -= n
	}
	return nil
}

// versionNetOfErased takes the erased members out of a version's count: the
// tombstones of its generation (base) up to it. A pruned version keeps the
// count it had.
func (s *Store) versionNetOfErased(ctx context.Context, seg *segment.Segment, base int, v *segment.Version) error {
	if !seg.Erased || v.EndpointCount == nil || v.Pruned {
		return nil
	}
	n, err := s.erasedCount(ctx, segment.MemberSet(seg.Id, base), seg.Shards, v.Version)
	c := *v.EndpointCount - n
	v.EndpointCount = &c
	return err
}

// segmentRef is what erasing needs of each segment, and Set, the member set
// of one of its kept generations (segmentRefs lists one per generation).
type segmentRef struct {
	SegmentId   string `json:"SegmentId"`
	Shards      int    `json:"Shards"`
	HasUsers    bool   `json:"HasUsers,omitempty"`
	Erased      bool   `json:"Erased,omitempty"`
	LastReplace int    `json:"LastReplace,omitempty"`
	Set         string `json:"-"`
}

// keptSets returns the member sets of a segment's generations that are kept
// (segment.MemberSet): generation 0 only for a segment never replaced, else
// KeptFrom's and every replace's after it, up to lastReplace (one still
// importing included).
func (s *Store) keptSets(ctx context.Context, segmentId string, lastReplace int) ([]string, error) {
	if lastReplace == 0 {
		return []string{segmentId}, nil
	}
	var c versionCounters
	if err := s.counters(ctx, segmentId, &c); err != nil {
		return nil, err
	}
	bases, err := s.replaces(ctx, segmentId, c.KeptFrom+1, max(lastReplace, c.LastReplace))
	if err != nil {
		return nil, err
	}
	sets := []string{segment.MemberSet(segmentId, c.KeptFrom)}
	for _, b := range bases {
		sets = append(sets, segment.MemberSet(segmentId, b))
	}
	return sets, nil
}

// replaces returns the versions from..to of a segment that are replaces
// (their own generation's base), in order.
func (s *Store) replaces(ctx context.Context, segmentId string, from, to int) ([]int, error) {
	if from > to {
		return nil, nil
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.t.Jobs),
		KeyConditionExpression:    aws.String("JobId = :k AND Sk BETWEEN :from AND :to"),
		FilterExpression:          aws.String("#base = #v"),
		ProjectionExpression:      aws.String("#v"),
		ExpressionAttributeNames:  map[string]string{"#base": "Base", "#v": "Version"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": str(versionsKey(segmentId)), ":from": str(versionSk(from)), ":to": str(versionSk(to))},
		ConsistentRead:            aws.Bool(true),
	})
	var bases []int
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("find the generations of segment %s: %w", segmentId, err)
		}
		for _, it := range out.Items {
			var v struct {
				Version int `json:"Version"`
			}
			if err := unmarshal(it, &v); err == nil && v.Version > 0 {
				bases = append(bases, v.Version)
			}
		}
	}
	return bases, nil
}

// segmentRefs lists every segment's id and shards, once per kept generation.
func (s *Store) segmentRefs(ctx context.Context) ([]segmentRef, error) {
	var refs []segmentRef
	p := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{
		TableName: aws.String(s.t.Segments), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("SegmentId, Shards, HasUsers, Erased, LastReplace"),
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", s.t.Segments, err)
		}
		for _, item := range out.Items {
			var r segmentRef
			if err := unmarshal(item, &r); err != nil {
				return nil, fmt.Errorf("decode segment: %w", err)
			}
			sets, err := s.keptSets(ctx, r.SegmentId, r.LastReplace)
			if err != nil {
				return nil, err
			}
			for _, set := range sets {
				r.Set = set
				refs = append(refs, r)
			}
		}
	}
	return refs, nil
}

// eraseFrom removes each endpoint from every segment, in every generation
// kept, it was made a member of before its delete's stamp.
// A segment already Erased is not marked again.
func (s *Store) eraseFrom(ctx context.Context, refs []segmentRef, ids []string, stamps map[string]string) error {
	marks := make([]func() error, len(refs))
	for i, r := range refs {
		marks[i] = func() error { return nil }
		if !r.Erased {
			marks[i] = sync.OnceValue(func() error { return s.markErased(ctx, r.SegmentId) })
		}
	}
	return eachPut(ids, func(id string) error {
		for i, r := range refs {
			if err := s.eraseMember(ctx, r.Set, r.Shards, id, stamps[id], marks[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// EraseEndpoints deletes endpoints, each at its stamp (id -> stamp): each item
// becomes a tombstone (what rows after the stamp set stays), written even for
// an endpoint not stored yet, so that its older rows still on the way do not
// create it; then its memberships go. It returns how many held anything before.
func (s *Store) EraseEndpoints(ctx context.Context, stamps map[string]string) (int, error) {
	ids := sortedIds(stamps)
	refs, err := s.segmentRefs(ctx)
	if err != nil {
		return 0, err
	}
	existed := 0
	for len(ids) > 0 {
		n := min(100, len(ids))
		e, err := s.tombstoneEndpoints(ctx, ids[:n], stamps)
		if err != nil {
			return 0, err
		}
		existed += e
		if err := s.eraseFrom(ctx, refs, ids[:n], stamps); err != nil {
			return 0, err
		}
		ids = ids[n:]
	}
	return existed, nil
}

// tombstoneEndpoints applies the delete to up to 100 endpoint items.
func (s *Store) tombstoneEndpoints(ctx context.Context, ids []string, stamps map[string]string) (int, error) {
	var mu sync.Mutex
	existed := 0
	pending := ids
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == maxAttempts {
			return 0, fmt.Errorf("delete endpoints: %d still contended: %w", len(pending), ErrConflict)
		}
		recs, err := s.GetEndpoints(ctx, pending)
		if err != nil {
			return 0, err
		}
		var conflicts []string
		err = eachPut(pending, func(id string) error {
			v, ok := recs[id]
			if !ok {
				v = Versioned[merge.Endpoint]{Rec: merge.NewEndpoint(id)}
			}
			had := v.Rec.Exists()
			if !v.Rec.Erase(stamps[id]) {
				return nil
			}
			err := s.PutEndpoint(ctx, v.Rec, v.Ver)
			mu.Lock()
			defer mu.Unlock()
			if errors.Is(err, ErrConflict) {
				conflicts = append(conflicts, id)
				return nil
			}
			if err == nil && had {
				existed++
			}
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("delete endpoints: %w", err)
		}
		pending = conflicts
	}
	return existed, nil
}

// EraseUsers deletes users, each at its stamp (user id -> stamp): each user's
// item becomes a tombstone, every endpoint of the user is deleted at the
// user's stamp (EraseEndpoints) and the user leaves every segment of users. It
// returns how many users held anything before (attributes or endpoints).
func (s *Store) EraseUsers(ctx context.Context, stamps map[string]string) (int, error) {
	userIds := sortedIds(stamps)
	existed := 0
	endpoints := map[string]string{}
	for _, u := range userIds {
		had, err := s.tombstoneUser(ctx, u, stamps[u])
		if err != nil {
			return 0, err
		}
		n := 0
		for token := ""; ; {
			page, next, err := s.UserEndpointIds(ctx, u, 1000, token)
			if err != nil {
				return 0, err
			}
			for _, id := range page {
				endpoints[id] = max(endpoints[id], stamps[u])
			}
			n += len(page)
			if token = next; token == "" {
				break
			}
		}
		if had || n > 0 {
			existed++
		}
	}
	if len(endpoints) > 0 {
		if _, err := s.EraseEndpoints(ctx, endpoints); err != nil {
			return 0, fmt.Errorf("delete the endpoints of users: %w", err)
		}
	}
	return existed, s.eraseUserMembers(ctx, userIds)
}

func sortedIds(m map[string]string) []string { return merge.SortedKeys(m) }

// tombstoneUser applies the delete to a user's item and reports whether the
// user held attributes.
func (s *Store) tombstoneUser(ctx context.Context, id, stamp string) (bool, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		recs, err := s.GetUsers(ctx, []string{id})
		if err != nil {
			return false, err
		}
		v, ok := recs[id]
		if !ok {
			v = Versioned[merge.User]{Rec: merge.NewUser(id)}
		}
		had := v.Rec.Exists()
		if !v.Rec.Erase(stamp) {
			return had, nil
		}
		err = s.PutUser(ctx, v.Rec, v.Ver)
		if !errors.Is(err, ErrConflict) {
			return had, err
		}
	}
	return false, fmt.Errorf("delete user: %w", ErrConflict)
}

// eraseUserMembers removes users from every segment of users, in every
// generation kept.
func (s *Store) eraseUserMembers(ctx context.Context, userIds []string) error {
	refs, err := s.segmentRefs(ctx)
	if err != nil {
		return err
	}
	var reqs []types.WriteRequest
	for _, r := range refs {
		if !r.HasUsers {
			continue
		}
		for _, u := range userIds {
			reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: map[string]types.AttributeValue{
				"Shard": str(UserShardKey(r.Set, u, r.Shards)), "EndpointId": str(u),
			}}})
		}
	}
	return s.batchWrite(ctx, s.t.Members, reqs)
}
