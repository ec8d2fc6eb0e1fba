package memstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/pkg/job"
)

var _ importer.Objects = (*Objects)(nil)

// Objects is an in-memory S3: objects by bucket and key, ranged reads, and
// job.ErrNotFound for an object that is not there.
type Objects struct {
	env *Env

	mu   sync.Mutex
	objs map[string]*object // bucket + "/" + key
}

type object struct {
	body []byte
	meta map[string]string
	etag int
}

// NewObjects returns an empty store.
func NewObjects(env *Env) *Objects { return &Objects{env: env, objs: map[string]*object{}} }

func (s *Objects) do(ctx context.Context, name, bucket string, write bool, fn func() error) error {
	return s.env.call(ctx, Op{Service: "s3", Name: name, Table: bucket, Write: write}, func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		return fn()
	})
}

func (s *Objects) find(bucket, key string) (*object, error) {
	o, ok := s.objs[bucket+"/"+key]
	if !ok {
		return nil, fmt.Errorf("s3://%s/%s: NoSuchKey: %w", bucket, key, job.ErrNotFound)
	}
	return o, nil
}

// Head returns an object's size, ETag and metadata.
func (s *Objects) Head(ctx context.Context, bucket, key string) (*job.Object, error) {
	var out *job.Object
	err := s.do(ctx, "HeadObject", bucket, false, func() error {
		o, err := s.find(bucket, key)
		if err != nil {
			return err
		}
		out = &job.Object{Bucket: bucket, Key: key, Size: int64(len(o.body)), ETag: fmt.Sprintf("etag%d", o.etag), Metadata: maps.Clone(o.meta)}
		return nil
	})
	return out, err
}

// Range reads bytes [start, end) of an object, clipped to its size.
func (s *Objects) Range(ctx context.Context, bucket, key string, start, end int64) (io.ReadCloser, error) {
	if end <= start {
		return io.NopCloser(strings.NewReader("")), nil
	}
	// Ranged reads bypass Faults: the trigger's planner (internal/plan) reads
	// ranges from several goroutines at once, in an order nothing fixes, and
	// a simulator can only fault requests whose order it controls.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3 GetObject %s: %w", bucket, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var b []byte
	err := func() error {
		o, err := s.find(bucket, key)
		if err != nil {
			return err
		}
		size := int64(len(o.body))
		if start >= size {
			return fmt.Errorf("get s3://%s/%s bytes %d-%d: InvalidRange", bucket, key, start, end-1)
		}
		b = o.body[start:min(end, size)]
		return nil
	}()
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// Prefetch reads bytes [start, end) in ranged reads of window bytes, one at a
// time as the reader asks (no read-ahead: nothing runs on its own); errors
// come out of Read.
func (s *Objects) Prefetch(ctx context.Context, bucket, key string, start, end, window int64, inflight int) io.ReadCloser {
	return &prefetcher{ctx: ctx, s: s, bucket: bucket, key: key, at: start, end: end, window: max(window, 1)}
}

type prefetcher struct {
	ctx             context.Context
	s               *Objects
	bucket, key     string
	at, end, window int64
	cur             io.ReadCloser
	err             error
}

func (p *prefetcher) Read(b []byte) (int, error) {
	for {
		if p.err != nil {
			return 0, p.err
		}
		if p.cur != nil {
			n, err := p.cur.Read(b)
			if err == io.EOF {
				p.cur = nil
				if n > 0 {
					return n, nil
				}
				continue
			}
			return n, err
		}
		if p.at >= p.end {
			return 0, io.EOF
		}
		to := min(p.at+p.window, p.end)
		p.cur, p.err = p.s.Range(p.ctx, p.bucket, p.key, p.at, to)
		p.at = to
	}
}

func (p *prefetcher) Close() error { return nil }

// List returns the objects under prefix, in key order.
func (s *Objects) List(ctx context.Context, bucket, prefix string) ([]*job.Object, error) {
	var out []*job.Object
	err := s.do(ctx, "ListObjectsV2", bucket, false, func() error {
		for k, o := range s.objs {
			b, key, _ := strings.Cut(k, "/")
			if b == bucket && strings.HasPrefix(key, prefix) && !strings.HasSuffix(key, "/") {
				out = append(out, &job.Object{Bucket: bucket, Key: key, Size: int64(len(o.body)), ETag: fmt.Sprintf("etag%d", o.etag)})
			}
		}
		return nil
	})
	sort.Slice(out, func(i, k int) bool { return out[i].Key < out[k].Key })
	return out, err
}

// PutFile uploads the file at path.
func (s *Objects) PutFile(ctx context.Context, bucket, key, path, contentType string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return s.Put(ctx, bucket, key, bytes.NewReader(b), contentType, nil)
}

// Put stores body under key.
func (s *Objects) Put(ctx context.Context, bucket, key string, body io.Reader, contentType string, meta map[string]string) error {
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
	}
	return s.do(ctx, "PutObject", bucket, true, func() error {
		s.put(bucket, key, b, meta)
		return nil
	})
}

func (s *Objects) put(bucket, key string, b []byte, meta map[string]string) {
	prev := 0
	if o, ok := s.objs[bucket+"/"+key]; ok {
		prev = o.etag
	}
	s.objs[bucket+"/"+key] = &object{body: b, meta: maps.Clone(meta), etag: prev + 1}
}

// Concat writes header and the objects at keys, in order, to dstKey: the
// parts are read (GetObject each), then the whole is put.
func (s *Objects) Concat(ctx context.Context, bucket, dstKey string, header []byte, keys []string) error {
	buf := append([]byte(nil), header...)
	for _, k := range keys {
		err := s.do(ctx, "GetObject", bucket, false, func() error {
			o, err := s.find(bucket, k)
			if err == nil {
				buf = append(buf, o.body...)
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("concat into s3://%s/%s: %w", bucket, dstKey, err)
		}
	}
	return s.Put(ctx, bucket, dstKey, bytes.NewReader(buf), "text/csv; charset=utf-8", nil)
}

// Get returns a whole object, for checks.
func (s *Objects) Get(bucket, key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objs[bucket+"/"+key]
	if !ok {
		return nil, false
	}
	return o.body, true
}

// Load stores an object without passing through Faults, as a test's upload.
func (s *Objects) Load(bucket, key string, body []byte, meta map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(bucket, key, append([]byte(nil), body...), meta)
}
