// Package dynamo is segport's DynamoDB adapter: the item layouts of its tables, the
// conditional and idempotent writes the import relies on, and the retries.
// README.md documents the tables for the services that query them.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/segport/segport/pkg/job"
)

// Tables names segport's tables.
type Tables struct {
	Endpoints string
	Users     string
	Segments  string
	Members   string
	Jobs      string
	Registry  string
}

// Store reads and writes segport's tables.
type Store struct {
	db     *dynamodb.Client
	t      Tables
	shards int
	clock  func() time.Time
}

// SetClock makes the store date what it records (when a job last progressed)
// by now instead of the system clock.
func (s *Store) SetClock(now func() time.Time) { s.clock = now }

func (s *Store) now() string { return s.clockNow().Format(time.RFC3339Nano) }

func (s *Store) clockNow() time.Time {
	if s.clock != nil {
		return s.clock().UTC()
	}
	return time.Now().UTC()
}

// New returns a Store. shards is how many partitions a segment's membership is
// spread over.
func New(db *dynamodb.Client, t Tables, shards int) *Store {
	if shards < 1 {
		shards = 1
	}
	return &Store{db: db, t: t, shards: shards}
}

// ErrConflict means a conditional write lost a race; read again and retry.
var ErrConflict = job.ErrConflict

// ErrNotFound means the item does not exist.
var ErrNotFound = job.ErrNotFound

func isConditionFailed(err error) bool {
	var cf *types.ConditionalCheckFailedException
	return errors.As(err, &cf)
}

var (
	encOpts = func(o *attributevalue.EncoderOptions) { o.TagKey = "json" }
	decOpts = func(o *attributevalue.DecoderOptions) { o.TagKey = "json" }
)

func marshal(v any) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMapWithOptions(v, encOpts)
}

func attributeValue(v any) (types.AttributeValue, error) {
	return attributevalue.MarshalWithOptions(v, encOpts)
}

func unmarshal(item map[string]types.AttributeValue, v any) error {
	return attributevalue.UnmarshalMapWithOptions(item, v, decOpts)
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: fmt.Sprint(n)}
}

// backoff sleeps before retry attempt n (from 0): exponential with full jitter.
func backoff(ctx context.Context, n int) error {
	d := time.Duration(min(1<<n, 64)) * 25 * time.Millisecond
	select {
	case <-time.After(rand.N(d) + time.Millisecond):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

const maxAttempts = 12

// batchWrite writes items with BatchWriteItem, 25 at a time, retrying
// UnprocessedItems with backoff and jitter.
func (s *Store) batchWrite(ctx context.Context, table string, reqs []types.WriteRequest) error {
	for len(reqs) > 0 {
		n := min(25, len(reqs))
		pending := map[string][]types.WriteRequest{table: reqs[:n]}
		reqs = reqs[n:]
		for attempt := 0; len(pending[table]) > 0; attempt++ {
			if attempt == maxAttempts {
				return fmt.Errorf("batch write to %s: %d items still unprocessed", table, len(pending[table]))
			}
			if attempt > 0 {
				if err := backoff(ctx, attempt); err != nil {
					return err
				}
			}
			out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				return fmt.Errorf("batch write to %s: %w", table, err)
			}
			pending = out.UnprocessedItems
		}
	}
	return nil
}

// batchGet reads items by key with strongly consistent BatchGetItem, 100 at a
// time, retrying UnprocessedKeys.
func (s *Store) batchGet(ctx context.Context, table string, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	var items []map[string]types.AttributeValue
	for len(keys) > 0 {
		n := min(100, len(keys))
		pending := map[string]types.KeysAndAttributes{table: {Keys: keys[:n], ConsistentRead: aws.Bool(true)}}
		keys = keys[n:]
		for attempt := 0; len(pending[table].Keys) > 0; attempt++ {
			if attempt == maxAttempts {
				return nil, fmt.Errorf("batch get from %s: keys still unprocessed", table)
			}
			if attempt > 0 {
				if err := backoff(ctx, attempt); err != nil {
					return nil, err
				}
			}
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return nil, fmt.Errorf("batch get from %s: %w", table, err)
			}
			items = append(items, out.Responses[table]...)
			pending = out.UnprocessedKeys
		}
	}
	return items, nil
}

// getItem reads one item, strongly consistent, into v; what names it in errors.
func (s *Store) getItem(ctx context.Context, table string, key map[string]types.AttributeValue, what string, v any) error {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return fmt.Errorf("get %s: %w", what, err)
	}
	if out.Item == nil {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	if err := unmarshal(out.Item, v); err != nil {
		return fmt.Errorf("decode %s: %w", what, err)
	}
	return nil
}

// query returns every item of a Query, following pages.
func (s *Store) query(ctx context.Context, in *dynamodb.QueryInput) ([]map[string]types.AttributeValue, error) {
	var items []map[string]types.AttributeValue
	p := dynamodb.NewQueryPaginator(s.db, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", aws.ToString(in.TableName), err)
		}
		items = append(items, out.Items...)
	}
	return items, nil
}

// scan returns every item of a table.
func (s *Store) scan(ctx context.Context, table string) ([]map[string]types.AttributeValue, error) {
	var items []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", table, err)
		}
		items = append(items, out.Items...)
	}
	return items, nil
}
