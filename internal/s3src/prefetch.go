package s3src

import (
	"context"
	"fmt"
	"io"
)

// Prefetch streams bytes [start, end) of an object through several ranged GETs in
// flight, each of window bytes, delivered in order. One S3 stream is slower than a
// decoder; a few in parallel keep it busy. Memory stays under (inflight+1) windows.
func (s *Store) Prefetch(ctx context.Context, bucket, key string, start, end, window int64, inflight int) io.ReadCloser {
	if window <= 0 {
		window = 8 << 20
	}
	if inflight <= 0 {
		inflight = 3
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &prefetcher{cancel: cancel, windows: make(chan chan result, inflight)}
	go func() {
		defer close(p.windows)
		for off := start; off < end; off += window {
			ch := make(chan result, 1)
			select {
			case p.windows <- ch:
			case <-ctx.Done():
				return
			}
			go func(from, to int64) {
				ch <- s.fetch(ctx, bucket, key, from, to)
			}(off, min(end, off+window))
		}
	}()
	return p
}

type result struct {
	data []byte
	err  error
}

func (s *Store) fetch(ctx context.Context, bucket, key string, from, to int64) result {
	rc, err := s.Range(ctx, bucket, key, from, to)
	if err != nil {
		return result{err: err}
	}
	defer rc.Close()
	buf := make([]byte, to-from)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return result{err: fmt.Errorf("read s3://%s/%s bytes %d-%d: %w", bucket, key, from, to-1, err)}
	}
	return result{data: buf}
}

type prefetcher struct {
	cancel  context.CancelFunc
	windows chan chan result
	cur     []byte
	err     error
}

func (p *prefetcher) Read(b []byte) (int, error) {
	for len(p.cur) == 0 {
		if p.err != nil {
			return 0, p.err
		}
		ch, ok := <-p.windows
		if !ok {
			return 0, io.EOF
		}
		r := <-ch
		p.cur, p.err = r.data, r.err
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}

func (p *prefetcher) Close() error {
	p.cancel()
	go func() { // let the fetches in flight finish and be dropped
		for ch := range p.windows {
			<-ch
		}
	}()
	return nil
}
