package dynamo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/segport/segport/pkg/segment"
)

// A segment of users (user-ID definitions) keeps its users in the Members table
// too, in partitions of their own, spread like its endpoints:
//
//	Shard      S  "<SegmentId>#user#<nn>", nn = FNV-1a(UserId) mod shards
//	EndpointId S  sort key: in a user partition, the UserId
//	UserId     S  the same, by its name
//	V          N  the lowest segment version that added the user: it is a
//	              member of versions V and later (absent: of every version)
//
// and its Segments item has HasUsers = true. The endpoints a user reaches are
// not stored with the segment: they are read through the Endpoints table's
// ByUser index, so that endpoints imported later for the user are reached too.

// UserShardKey returns the Members partition key of userId in segmentId.
func UserShardKey(segmentId, userId string, shards int) string {
	return userShardName(segmentId, shardIndex(userId, shards))
}

func userShardName(segmentId string, i int) string { return fmt.Sprintf("%s#user#%02d", segmentId, i) }

// AddUserMembers records the users as members of version (0: of every
// version) of the segment (a member set: segment.MemberSet) and marks the
// segment as having users. A user member
// keeps the lowest version that added it, whatever the order of the calls, so
// repeating a call changes nothing.
func (s *Store) AddUserMembers(ctx context.Context, segmentId string, shards, version int, userIds []string) error {
	if len(userIds) == 0 {
		return nil
	}
	if shards < 1 {
		shards = s.shards
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.t.Segments),
		Key:                       map[string]types.AttributeValue{"SegmentId": str(segment.SetSegment(segmentId))},
		UpdateExpression:          aws.String("SET HasUsers = :t"),
		ConditionExpression:       aws.String("attribute_exists(SegmentId)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("mark segment %s as having users: %w", segmentId, err)
	}
	userIds = dedupe(userIds)
	err = eachPut(userIds, func(id string) error {
		in := &dynamodb.PutItemInput{
			TableName: aws.String(s.t.Members),
			Item: map[string]types.AttributeValue{
				"Shard": str(UserShardKey(segmentId, id, shards)), "EndpointId": str(id), "UserId": str(id),
			},
		}
		if version > 0 {
			in.Item["V"] = num(int64(version))
			in.ConditionExpression = aws.String("attribute_not_exists(EndpointId) OR V > :v")
			in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": num(int64(version))}
		}
		_, err := s.db.PutItem(ctx, in)
		if isConditionFailed(err) { // a member of this version or an earlier one already
			err = nil
		}
		return err
	})
	if err == nil {
		err = s.unprune(ctx, segmentId, func(id string) string { return UserShardKey(segmentId, id, shards) },
			func(string) *dynamodb.DeleteItemInput { return &dynamodb.DeleteItemInput{} }, userIds)
	}
	if err != nil {
		return fmt.Errorf("add users of segment %s: %w", segmentId, err)
	}
	return nil
}

// UserShardMembers returns up to limit user ids of a version of a segment
// (every user member for AllVersions) in its user shard i, in order after the
// id after ("" from the start), and the id to continue after ("" when the
// shard has no more).
func (s *Store) UserShardMembers(ctx context.Context, segmentId string, version, i int, after string, limit int) ([]string, string, error) {
	shard := userShardName(segmentId, i)
	var start map[string]types.AttributeValue
	if after != "" {
		start = map[string]types.AttributeValue{"Shard": str(shard), "EndpointId": str(after)}
	}
	ids, last, err := s.shardPage(ctx, shard, version, start, limit)
	if err != nil || last == nil {
		return ids, "", err
	}
	v, _ := last["EndpointId"].(*types.AttributeValueMemberS)
	if v == nil {
		return ids, "", nil
	}
	return ids, v.Value, nil
}

// UserMembers returns the ids of every user member of the segment (of all its
// versions and of the imports running), sorted.
func (s *Store) UserMembers(ctx context.Context, seg *segment.Segment) ([]string, error) {
	return s.VersionUserMembers(ctx, seg, AllVersions)
}

// VersionUserMembers returns the ids of the users of a version of the segment
// (every user member for AllVersions), sorted.
func (s *Store) VersionUserMembers(ctx context.Context, seg *segment.Segment, version int) ([]string, error) {
	if !seg.HasUsers {
		return nil, nil
	}
	var all []string
	for i := range max(seg.Shards, 1) {
		after := ""
		for {
			ids, next, err := s.UserShardMembers(ctx, seg.Id, version, i, after, 1000)
			if err != nil {
				return nil, err
			}
			all = append(all, ids...)
			if next == "" {
				break
			}
			after = next
		}
	}
	sort.Strings(all)
	return all, nil
}

// UserMembersPage returns up to limit user ids of a version of a segment
// (every user member for AllVersions), shard after shard, and the token of the
// next page ("" after the last).
func (s *Store) UserMembersPage(ctx context.Context, seg *segment.Segment, version, limit int, token string) ([]string, string, error) {
	tok, err := decodeToken(token, "Shard", "EndpointId")
	if err != nil {
		return nil, "", err
	}
	shards, first, after := max(seg.Shards, 1), 0, ""
	if tok != nil {
		if first, err = userShardIndex(seg.Id, tok["Shard"], shards); err != nil {
			return nil, "", err
		}
		after = tok["EndpointId"]
	}
	var ids []string
	for i := first; i < shards && seg.HasUsers; i++ {
		for {
			page, next, err := s.UserShardMembers(ctx, seg.Id, version, i, after, limit-len(ids))
			if err != nil {
				return nil, "", err
			}
			ids, after = append(ids, page...), next
			if len(ids) >= limit && (next != "" || i < shards-1) {
				return ids, encodeToken(map[string]types.AttributeValue{"Shard": str(userShardName(seg.Id, i)), "EndpointId": str(ids[len(ids)-1])}), nil
			}
			if next == "" {
				break
			}
		}
		after = ""
	}
	return ids, "", nil
}

func userShardIndex(segmentId, shard string, shards int) (int, error) {
	n, ok := strings.CutPrefix(shard, segmentId+"#user#")
	i, err := strconv.Atoi(n)
	if !ok || err != nil || i < 0 || i >= shards {
		return 0, ErrBadToken
	}
	return i, nil
}

// notMembers returns those of ids that are not endpoint members of a version
// of the segment (of any version for AllVersions).
func (s *Store) notMembers(ctx context.Context, seg *segment.Segment, version int, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]map[string]types.AttributeValue, len(ids))
	for i, id := range ids {
		keys[i] = map[string]types.AttributeValue{"Shard": str(ShardKey(seg.Id, id, max(seg.Shards, 1))), "EndpointId": str(id)}
	}
	items, err := s.batchGet(ctx, s.t.Members, keys)
	if err != nil {
		return nil, fmt.Errorf("read members of segment %s: %w", seg.Id, err)
	}
	member := make(map[string]bool, len(items))
	for _, it := range items {
		if !inVersion(it, version) {
			continue
		}
		if id, ok := it["EndpointId"].(*types.AttributeValueMemberS); ok {
			member[id.Value] = true
		}
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !member[id] {
			out = append(out, id)
		}
	}
	return out, nil
}

// reachedToken is where a listing of the endpoints a segment reaches through
// its users goes on: in user shard Shard, with user UserId's endpoints from
// the ByUser page token Index, or after UserId when Index is "".
type reachedToken struct {
	Shard  string `json:"Shard"`
	UserId string `json:"UserId"`
	Index  string `json:"Index,omitempty"`
}

// ReachedPage returns up to limit ids of the endpoints a version of the
// segment (every member for AllVersions) reaches through its users and does
// not hold itself, user after user, and the token of the next page ("" after
// the last). A page may hold fewer than limit.
func (s *Store) ReachedPage(ctx context.Context, seg *segment.Segment, version, limit int, token string) ([]string, string, error) {
	var tok reachedToken
	shards, first := max(seg.Shards, 1), 0
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || json.Unmarshal(b, &tok) != nil || (tok.UserId == "" && tok.Index != "") {
			return nil, "", ErrBadToken
		}
		if first, err = userShardIndex(seg.Id, tok.Shard, shards); err != nil {
			return nil, "", err
		}
	}
	next := func(t reachedToken) string {
		b, _ := json.Marshal(t)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	var ids []string
	user, index := tok.UserId, tok.Index
	for i := first; i < shards && seg.HasUsers; i++ {
		if i != first {
			user, index = "", ""
		}
		if index != "" { // finish the user the last page stopped in
			page, more, err := s.userReached(ctx, seg, version, user, limit-len(ids), index)
			if err != nil {
				return nil, "", err
			}
			if ids = append(ids, page...); more != "" {
				return ids, next(reachedToken{Shard: userShardName(seg.Id, i), UserId: user, Index: more}), nil
			}
		}
		for {
			users, after, err := s.UserShardMembers(ctx, seg.Id, version, i, user, 100)
			if err != nil {
				return nil, "", err
			}
			for _, u := range users {
				if len(ids) >= limit {
					return ids, next(reachedToken{Shard: userShardName(seg.Id, i), UserId: user}), nil
				}
				page, more, err := s.userReached(ctx, seg, version, u, limit-len(ids), "")
				if err != nil {
					return nil, "", err
				}
				ids, user = append(ids, page...), u
				if more != "" {
					return ids, next(reachedToken{Shard: userShardName(seg.Id, i), UserId: u, Index: more}), nil
				}
			}
			if after == "" {
				break
			}
			// Go on after the last user read, not the last kept: a version's
			// filter may have kept none of a page.
			user = after
		}
	}
	return ids, "", nil
}

// userReached returns up to limit of a user's endpoints from the ByUser page
// token index on, less the segment's own members, and the token to go on.
func (s *Store) userReached(ctx context.Context, seg *segment.Segment, version int, user string, limit int, index string) ([]string, string, error) {
	ids, more, err := s.UserEndpointIds(ctx, user, max(limit, 1), index)
	if err != nil {
		return nil, "", err
	}
	ids, err = s.notMembers(ctx, seg, version, ids)
	return ids, more, err
}

// Reached returns every endpoint id a version of the segment (every member
// for AllVersions) reaches, its own members and its users' endpoints, sorted
// and distinct.
func (s *Store) Reached(ctx context.Context, seg *segment.Segment, version int) ([]string, error) {
	ids, err := s.VersionMembers(ctx, seg.Id, seg.Shards, version)
	if err != nil || !seg.HasUsers {
		return ids, err
	}
	token := ""
	for {
		page, next, err := s.ReachedPage(ctx, seg, version, 1000, token)
		if err != nil {
			return nil, err
		}
		ids = append(ids, page...)
		if next == "" {
			break
		}
		token = next
	}
	sort.Strings(ids)
	return dedupe(ids), nil
}

// Resolve completes a segment as it is read. A segment that was replaced
// counts its current version's members (its item's EndpointCount counts the
// member items of every generation kept). A segment with users: UserCount, and
// EndpointCount counting the endpoints its users reach beyond its own members.
// As the segment's EndpointCount counts the members of all its versions, so
// do these. Its cost grows with its users and their endpoints; a segment
// without users costs nothing.
func (s *Store) Resolve(ctx context.Context, seg *segment.Segment) error {
	if seg.LastReplace > 0 && seg.Version > 0 {
		return s.resolveReplaced(ctx, seg)
	}
	if !seg.HasUsers {
		return nil
	}
	at := *seg // the latest generation's users, of all its versions
	at.Id = segment.MemberSet(seg.Id, seg.LastReplace)
	users, extra, err := s.countUsers(ctx, &at, AllVersions)
	if err != nil {
		return err
	}
	seg.UserCount, seg.EndpointCount = users, seg.EndpointCount+extra
	return nil
}

// ResolveVersion completes a version of a segment with users as Resolve
// completes a segment: its UserCount, and its EndpointCount (once counted)
// counting the endpoints its users reach beyond the version's own members.
func (s *Store) ResolveVersion(ctx context.Context, seg *segment.Segment, v *segment.Version) error {
	if !seg.HasUsers || v.Pruned {
		return nil
	}
	at := *seg
	at.Id = segment.MemberSet(seg.Id, v.Base)
	users, extra, err := s.countUsers(ctx, &at, v.Version)
	if err != nil {
		return err
	}
	v.UserCount = users
	if v.EndpointCount != nil {
		n := *v.EndpointCount + extra
		v.EndpointCount = &n
	}
	return nil
}

// countUsers counts the users of a version of a segment (every user member
// for AllVersions) and the endpoints they reach that are not the version's
// own members.
func (s *Store) countUsers(ctx context.Context, seg *segment.Segment, version int) (users, extra int, err error) {
	for i := range max(seg.Shards, 1) {
		after := ""
		for {
			ids, next, err := s.UserShardMembers(ctx, seg.Id, version, i, after, 1000)
			if err != nil {
				return 0, 0, err
			}
			users += len(ids)
			for _, u := range ids {
				index := ""
				for {
					page, more, err := s.userReached(ctx, seg, version, u, 1000, index)
					if err != nil {
						return 0, 0, err
					}
					extra += len(page)
					if more == "" {
						break
					}
					index = more
				}
			}
			if next == "" {
				break
			}
			after = next
		}
	}
	return users, extra, nil
}
