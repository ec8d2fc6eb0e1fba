package client

import (
	"context"
	"fmt"
	"iter"
	"sync"

	"github.com/segport/segport/pkg/endpoint"
)

// Reads per shard: member ids per Query page, endpoints per BatchGetItem.
const (
	idsPerQuery     = 1000
	idsPerBatch     = 100
	defaultParallel = 8
)

// SegmentMembers streams every endpoint of a segment (by id or name), with its
// user's attributes, in no particular order: its members, and for a segment with
// users every endpoint of its users. It reads the segment's membership shards in
// parallel, then its users' endpoints, a page at a time, so memory does not grow
// with the segment.
// Each member comes once; members added while it runs may or may not come. An
// error ends the sequence; so does breaking out of the loop, which stops the reads.
//
//	for e, err := range c.SegmentMembers(ctx, "spring customers") {
//		if err != nil {
//			return err
//		}
//		send(e)
//	}
func (c *Client) SegmentMembers(ctx context.Context, segmentId string) iter.Seq2[*endpoint.Endpoint, error] {
	return c.VersionMembers(ctx, segmentId, 0)
}

// VersionMembers streams the endpoints of version n of a segment (its current
// version for 0), as SegmentMembers does.
func (c *Client) VersionMembers(ctx context.Context, segmentId string, n int) iter.Seq2[*endpoint.Endpoint, error] {
	return func(yield func(*endpoint.Endpoint, error) bool) {
		seg, version, err := c.segmentAt(ctx, segmentId, n)
		if err != nil {
			yield(nil, err)
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		for b := range c.streamShards(ctx, seg.Id, version, max(seg.Shards, 1)) {
			if b.err != nil {
				yield(nil, b.err)
				return
			}
			for _, e := range b.eps {
				if !yield(e, nil) {
					return
				}
			}
		}
		for token := ""; seg.HasUsers; {
			ids, next, err := c.store.ReachedPage(ctx, seg, version, idsPerBatch, token)
			var eps []*endpoint.Endpoint
			if err == nil {
				eps, err = c.store.Endpoints(ctx, ids)
			}
			if err != nil {
				yield(nil, fmt.Errorf("read the users' endpoints of segment %s: %w", seg.Id, err))
				return
			}
			for _, e := range eps {
				if !yield(e, nil) {
					return
				}
			}
			if next == "" {
				return
			}
			token = next
		}
	}
}

// SegmentUsers streams the user IDs of a segment's user-ID definitions.
func (c *Client) SegmentUsers(ctx context.Context, segmentId string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		opts := PageOptions{Size: MaxPageSize}
		for {
			p, err := c.SegmentUsersPage(ctx, segmentId, opts)
			if err != nil {
				yield("", err)
				return
			}
			for _, u := range p.Items {
				if !yield(u, nil) {
					return
				}
			}
			if p.NextToken == "" {
				return
			}
			opts.Token = p.NextToken
		}
	}
}

// batch is a slice of one shard's endpoints, or the error that ended its reads.
type batch struct {
	eps []*endpoint.Endpoint
	err error
}

// streamShards reads the shards with a bounded number of workers and sends what
// they read until every shard is done or ctx ends. The channel closes when the
// workers have stopped.
func (c *Client) streamShards(ctx context.Context, segmentId string, version, shards int) <-chan batch {
	out := make(chan batch)
	work := make(chan int)
	workers := c.Parallel
	if workers <= 0 {
		workers = defaultParallel
	}
	var wg sync.WaitGroup
	for range min(workers, shards) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := c.readShard(ctx, segmentId, version, i, out); err != nil {
					select {
					case out <- batch{err: fmt.Errorf("read members of segment %s: %w", segmentId, err)}:
					case <-ctx.Done():
					}
					return
				}
			}
		}()
	}
	go func() {
		defer close(out)
		defer wg.Wait()
		defer close(work)
		for i := range shards {
			select {
			case work <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// readShard pages through shard i and sends its endpoints in batches.
func (c *Client) readShard(ctx context.Context, segmentId string, version, i int, out chan<- batch) error {
	after := ""
	for {
		ids, next, err := c.store.ShardMembers(ctx, segmentId, version, i, after, idsPerQuery)
		if err != nil {
			return err
		}
		for len(ids) > 0 {
			n := min(idsPerBatch, len(ids))
			eps, err := c.store.Endpoints(ctx, ids[:n])
			if err != nil {
				return err
			}
			ids = ids[n:]
			select {
			case out <- batch{eps: eps}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if next == "" {
			return nil
		}
		after = next
	}
}
