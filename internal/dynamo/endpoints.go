package dynamo

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/segport/segport/internal/merge"
	"github.com/segport/segport/pkg/endpoint"
)

// endpointItem is an Endpoints table item: the endpoint in Pinpoint's shape (without
// User.UserAttributes, which live in the Users table), its attribute stamps and an
// optimistic-locking version.
type endpointItem struct {
	*endpoint.Endpoint
	// Attributes and Metrics are stored as maps, in Pinpoint's shape; these hide
	// the endpoint's sorted lists from the encoder.
	Attributes map[string][]string `json:"Attributes,omitempty"`
	Metrics    map[string]float64  `json:"Metrics,omitempty"`
	// UserId repeats User.UserId at the top level, where the ByUser index can key on it.
	UserId string            `json:"UserId,omitempty"`
	St     string            `json:"St"`
	Sx     map[string]string `json:"Sx,omitempty"`
	Ver    int64             `json:"Ver"`
	// Deleted is the stamp of the endpoint's latest delete (erase.go).
	Deleted string `json:"Deleted,omitempty"`
}

// Versioned is a stored record with the version it was read at (0: not stored yet).
type Versioned[T any] = merge.Versioned[T]

// GetEndpoints reads the endpoints with the given ids, strongly consistent. Ids not
// stored are missing from the map.
func (s *Store) GetEndpoints(ctx context.Context, ids []string) (map[string]Versioned[merge.Endpoint], error) {
	ids = dedupe(ids)
	keys := make([]map[string]types.AttributeValue, len(ids))
	for i, id := range ids {
		keys[i] = map[string]types.AttributeValue{"Id": str(id)}
	}
	items, err := s.batchGet(ctx, s.t.Endpoints, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Versioned[merge.Endpoint], len(items))
	for _, item := range items {
		var it endpointItem
		if err := unmarshal(item, &it); err != nil {
			return nil, fmt.Errorf("decode endpoint item: %w", err)
		}
		e := it.Endpoint
		e.Attributes, e.Metrics = endpoint.CustomOf(it.Attributes), endpoint.CustomOf(it.Metrics)
		rec := &merge.Endpoint{E: e, Stamps: merge.Expand(merge.Names(e), it.St, it.Sx), Deleted: it.Deleted}
		out[e.Id] = Versioned[merge.Endpoint]{Rec: rec, Ver: it.Ver}
	}
	return out, nil
}

// PutEndpoint stores rec if it is still at version ver; ErrConflict if not.
func (s *Store) PutEndpoint(ctx context.Context, rec *merge.Endpoint, ver int64) error {
	e := *rec.E
	it := endpointItem{Endpoint: &e, Attributes: e.Attributes.Map(), Metrics: e.Metrics.Map(), Ver: ver + 1, Deleted: rec.Deleted}
	if e.User != nil {
		e.User = &endpoint.User{UserId: e.User.UserId}
		it.UserId = e.User.UserId
	}
	it.St, it.Sx = merge.Compact(rec.Stamps)
	item, err := marshal(it)
	if err != nil {
		return fmt.Errorf("encode endpoint item: %w", err)
	}
	return s.putVersioned(ctx, s.t.Endpoints, "Id", item, ver)
}

// putVersioned puts item if the stored item's Ver is ver (0: no item yet).
func (s *Store) putVersioned(ctx context.Context, table, key string, item map[string]types.AttributeValue, ver int64) error {
	in := &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}
	if ver == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(#k)")
		in.ExpressionAttributeNames = map[string]string{"#k": key}
	} else {
		in.ConditionExpression = aws.String("Ver = :v")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": num(ver)}
	}
	if _, err := s.db.PutItem(ctx, in); err != nil {
		if isConditionFailed(err) {
			return ErrConflict
		}
		return fmt.Errorf("put %s item: %w", table, err)
	}
	return nil
}

// userItem is a Users table item.
type userItem struct {
	UserId         string              `json:"UserId"`
	UserAttributes map[string][]string `json:"UserAttributes,omitempty"`
	St             string              `json:"St"`
	Sx             map[string]string   `json:"Sx,omitempty"`
	Ver            int64               `json:"Ver"`
	Deleted        string              `json:"Deleted,omitempty"` // the user's latest delete
}

// GetUsers reads users by id, strongly consistent.
func (s *Store) GetUsers(ctx context.Context, ids []string) (map[string]Versioned[merge.User], error) {
	ids = dedupe(ids)
	keys := make([]map[string]types.AttributeValue, len(ids))
	for i, id := range ids {
		keys[i] = map[string]types.AttributeValue{"UserId": str(id)}
	}
	items, err := s.batchGet(ctx, s.t.Users, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Versioned[merge.User], len(items))
	for _, item := range items {
		var it userItem
		if err := unmarshal(item, &it); err != nil {
			return nil, fmt.Errorf("decode user item: %w", err)
		}
		if it.UserAttributes == nil {
			it.UserAttributes = map[string][]string{}
		}
		u := &merge.User{UserId: it.UserId, Attrs: it.UserAttributes,
			Stamps: merge.Expand(merge.SortedKeys(it.UserAttributes), it.St, it.Sx), Deleted: it.Deleted}
		out[it.UserId] = Versioned[merge.User]{Rec: u, Ver: it.Ver}
	}
	return out, nil
}

// PutUser stores u if it is still at version ver; ErrConflict if not.
func (s *Store) PutUser(ctx context.Context, u *merge.User, ver int64) error {
	it := userItem{UserId: u.UserId, UserAttributes: u.Attrs, Ver: ver + 1, Deleted: u.Deleted}
	it.St, it.Sx = merge.Compact(u.Stamps)
	item, err := marshal(it)
	if err != nil {
		return fmt.Errorf("encode user item: %w", err)
	}
	return s.putVersioned(ctx, s.t.Users, "UserId", item, ver)
}

// Endpoint returns an endpoint as other services see it: with its user's attributes.
func (s *Store) Endpoint(ctx context.Context, id string) (*endpoint.Endpoint, error) {
	if !endpoint.ValidId(id) {
		return nil, fmt.Errorf("endpoint %.64q: %w", id, ErrNotFound) // no import stores such an id
	}
	eps, err := s.Endpoints(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if len(eps) == 0 {
		return nil, fmt.Errorf("endpoint %s: %w", id, ErrNotFound)
	}
	return eps[0], nil
}

// Endpoints returns the endpoints with the given ids, in the order given, with their
// users' attributes; ids not stored are skipped.
func (s *Store) Endpoints(ctx context.Context, ids []string) ([]*endpoint.Endpoint, error) {
	recs, err := s.GetEndpoints(ctx, ids)
	if err != nil {
		return nil, err
	}
	var userIds []string
	for _, r := range recs {
		if u := r.Rec.E.User; u != nil && u.UserId != "" {
			userIds = append(userIds, u.UserId)
		}
	}
	users, err := s.GetUsers(ctx, dedupe(userIds))
	if err != nil {
		return nil, err
	}
	out := make([]*endpoint.Endpoint, 0, len(ids))
	for _, id := range ids {
		r, ok := recs[id]
		if !ok || !r.Rec.Exists() { // none, or a tombstone
			continue
		}
		e := r.Rec.E
		if e.User != nil {
			if u, ok := users[e.User.UserId]; ok && len(u.Rec.Attrs) > 0 {
				e.User.UserAttributes = endpoint.CustomOf(u.Rec.Attrs)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// AllEndpoints returns every endpoint with its user's attributes, sorted by Id.
func (s *Store) AllEndpoints(ctx context.Context) ([]*endpoint.Endpoint, error) {
	items, err := s.scan(ctx, s.t.Endpoints)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(items))
	for _, item := range items {
		if v, ok := item["Id"].(*types.AttributeValueMemberS); ok {
			ids = append(ids, v.Value)
		}
	}
	sort.Strings(ids)
	var out []*endpoint.Endpoint
	for len(ids) > 0 {
		n := min(100, len(ids))
		eps, err := s.Endpoints(ctx, ids[:n])
		if err != nil {
			return nil, err
		}
		out = append(out, eps...)
		ids = ids[n:]
	}
	return out, nil
}

// AllUsers returns every user's attributes, by UserId.
func (s *Store) AllUsers(ctx context.Context) (map[string]map[string][]string, error) {
	items, err := s.scan(ctx, s.t.Users)
	if err != nil {
		return nil, err
	}
	users := make(map[string]map[string][]string, len(items))
	for _, item := range items {
		var it userItem
		if err := unmarshal(item, &it); err != nil {
			return nil, fmt.Errorf("decode user item: %w", err)
		}
		if it.Deleted != "" && len(it.UserAttributes) == 0 {
			continue // a tombstone
		}
		users[it.UserId] = it.UserAttributes
	}
	return users, nil
}

// UserEndpointIds returns up to limit ids of the endpoints whose User.UserId is
// userId, from the ByUser index (which lags writes slightly), and the token of the
// next page ("" after the last).
func (s *Store) UserEndpointIds(ctx context.Context, userId string, limit int, token string) ([]string, string, error) {
	if userId == "" || len(userId) > maxKeyBytes {
		return nil, "", nil // the index cannot hold such a user
	}
	items, next, err := s.indexPage(ctx, s.t.Endpoints, EndpointsByUserIndex, "UserId", userId,
		[]string{"Id", "UserId"}, true, limit, token)
	return stringsOf(items, "Id"), next, err
}
