// Package s3src is segport's S3 adapter: ranged reads of the objects it imports,
// listings of import folders, and the error reports it writes.
package s3src

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/segport/segport/pkg/job"
)

// Object describes one stored object.
type Object = job.Object

// Store reads and writes objects.
type Store struct {
	c      *s3.Client
	limits partLimits // S3's unless a test sets them
}

// New returns a Store using c.
func New(c *s3.Client) *Store { return &Store{c: c} }

// ErrNotFound means the object does not exist (any more).
var ErrNotFound = job.ErrNotFound

func classify(err error) error {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return err
}

// Head returns an object's size, ETag and metadata.
func (s *Store) Head(ctx context.Context, bucket, key string) (*Object, error) {
	out, err := s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("head s3://%s/%s: %w", bucket, key, classify(err))
	}
	return &Object{Bucket: bucket, Key: key, Size: aws.ToInt64(out.ContentLength),
		ETag: strings.Trim(aws.ToString(out.ETag), `"`), Metadata: out.Metadata}, nil
}

// Range streams bytes [start, end) of an object.
func (s *Store) Range(ctx context.Context, bucket, key string, start, end int64) (io.ReadCloser, error) {
	if end <= start {
		return io.NopCloser(strings.NewReader("")), nil
	}
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key),
		Range: aws.String(fmt.Sprintf("bytes=%d-%d", start, end-1)),
	})
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s bytes %d-%d: %w", bucket, key, start, end-1, classify(err))
	}
	return out.Body, nil
}

// List returns every object under prefix, folder markers left out, in key order.
func (s *Store) List(ctx context.Context, bucket, prefix string) ([]*Object, error) {
	var objs []*Object
	p := s3.NewListObjectsV2Paginator(s.c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, o := range out.Contents {
			key := aws.ToString(o.Key)
			if strings.HasSuffix(key, "/") {
				continue
			}
			objs = append(objs, &Object{Bucket: bucket, Key: key, Size: aws.ToInt64(o.Size), ETag: strings.Trim(aws.ToString(o.ETag), `"`)})
		}
	}
	return objs, nil
}

// PutFile uploads the file at path.
func (s *Store) PutFile(ctx context.Context, bucket, key, path, contentType string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return s.Put(ctx, bucket, key, f, contentType, nil)
}

// Put uploads body, which must be seekable or small.
func (s *Store) Put(ctx context.Context, bucket, key string, body io.Reader, contentType string, meta map[string]string) error {
	_, err := s.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: body,
		ContentType: aws.String(contentType), Metadata: meta,
	})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// Get returns a whole (small) object.
func (s *Store) Get(ctx context.Context, bucket, key string) ([]byte, error) {
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, classify(err))
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// ParseURL splits s3://bucket/prefix (job.ParseS3URL).
func ParseURL(u string) (bucket, prefix string, err error) { return job.ParseS3URL(u) }
