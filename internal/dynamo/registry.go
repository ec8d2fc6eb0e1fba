package dynamo

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Registry table: one item, Key "custom-attributes", holding the string set Names of
// every custom attribute name in use ("Attributes.x", "Metrics.y",
// "User.UserAttributes.z") and a version Ver for optimistic locking.
const registryKey = "custom-attributes"

type registryItem struct {
	Key   string   `json:"Key"`
	Names []string `json:"Names,omitempty" dynamodbav:",stringset,omitempty"`
	Ver   int64    `json:"Ver"`
}

// RegisteredNames returns the registered custom attribute names, sorted.
func (s *Store) RegisteredNames(ctx context.Context) ([]string, error) {
	it, err := s.registry(ctx)
	if err != nil {
		return nil, err
	}
	sort.Strings(it.Names)
	return it.Names, nil
}

func (s *Store) registry(ctx context.Context) (*registryItem, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.t.Registry),
		Key:            map[string]types.AttributeValue{"Key": str(registryKey)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("read attribute registry: %w", err)
	}
	it := &registryItem{Key: registryKey}
	if out.Item != nil {
		if err := unmarshal(out.Item, it); err != nil {
			return nil, fmt.Errorf("decode attribute registry: %w", err)
		}
	}
	return it, nil
}

// Register adds names to the deployment's custom attribute registry if the total
// stays within limit; all or none. It returns the registered names as they stand
// and whether the names are (now) all registered. Concurrent callers are
// serialised by a conditional write on the registry's version.
func (s *Store) Register(ctx context.Context, names []string, limit int) ([]string, bool, error) {
	for attempt := 0; ; attempt++ {
		it, err := s.registry(ctx)
		if err != nil {
			return nil, false, err
		}
		have := make(map[string]bool, len(it.Names))
		for _, n := range it.Names {
			have[n] = true
		}
		var fresh []string
		for _, n := range names {
			if !have[n] {
				have[n] = true
				fresh = append(fresh, n)
			}
		}
		if len(fresh) == 0 {
			return it.Names, true, nil
		}
		if len(it.Names)+len(fresh) > limit {
			return it.Names, false, nil
		}
		err = s.addNames(ctx, fresh, it.Ver)
		if err == nil {
			return append(it.Names, fresh...), true, nil
		}
		if err != ErrConflict || attempt >= maxAttempts {
			return nil, false, err
		}
		if err := backoff(ctx, min(attempt, 4)); err != nil {
			return nil, false, err
		}
	}
}

func (s *Store) addNames(ctx context.Context, names []string, ver int64) error {
	cond := "Ver = :v"
	if ver == 0 {
		cond = "attribute_not_exists(#k)"
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.t.Registry),
		Key:                       map[string]types.AttributeValue{"Key": str(registryKey)},
		UpdateExpression:          aws.String("SET Ver = :nv ADD #names :n"),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  map[string]string{"#names": "Names"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":nv": num(ver + 1), ":n": &types.AttributeValueMemberSS{Value: names}},
	}
	if ver == 0 {
		in.ExpressionAttributeNames["#k"] = "Key"
	} else {
		in.ExpressionAttributeValues[":v"] = num(ver)
	}
	if _, err := s.db.UpdateItem(ctx, in); err != nil {
		if isConditionFailed(err) {
			return ErrConflict
		}
		return fmt.Errorf("register attribute names: %w", err)
	}
	return nil
}
