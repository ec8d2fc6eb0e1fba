package localstack

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func putObject(ctx context.Context, t *testing.T, c *s3.Client, key, body string) {
	t.Helper()
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("segport"), Key: aws.String(key), Body: strings.NewReader(body)})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func getObject(ctx context.Context, t *testing.T, c *s3.Client, key, rng string) string {
	t.Helper()
	in := &s3.GetObjectInput{Bucket: aws.String("segport"), Key: aws.String(key)}
	if rng != "" {
		in.Range = aws.String(rng)
	}
	out, err := c.GetObject(ctx, in)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return string(b)
}

func TestS3Objects(t *testing.T) {
	t.Parallel()
	s := startStack(t, Options{})
	ctx := testContext(t)
	c := s.S3Client()
	putObject(ctx, t, c, "data/a.csv", "0123456789abcdef")
	putObject(ctx, t, c, "data/b.csv", "x")
	putObject(ctx, t, c, "other/c.csv", "y")

	if got := getObject(ctx, t, c, "data/a.csv", "bytes=5-9"); got != "56789" {
		t.Errorf("ranged get = %q, want 56789", got)
	}
	if got := getObject(ctx, t, c, "data/a.csv", "bytes=12-"); got != "cdef" {
		t.Errorf("open-ended ranged get = %q, want cdef", got)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("segport"), Key: aws.String("data/a.csv")})
	if err != nil {
		t.Fatal(err)
	}
	wantETag := fmt.Sprintf(`"%x"`, md5.Sum([]byte("0123456789abcdef")))
	if aws.ToInt64(head.ContentLength) != 16 || aws.ToString(head.ETag) != wantETag {
		t.Errorf("head = %d %s, want 16 %s", aws.ToInt64(head.ContentLength), aws.ToString(head.ETag), wantETag)
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("segport"), Prefix: aws.String("data/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != 2 || aws.ToString(list.Contents[0].Key) != "data/a.csv" {
		t.Errorf("list data/ = %d objects", len(list.Contents))
	}
	// A client built from AWSConfig alone reaches the emulator too.
	plain := s3.NewFromConfig(s.AWSConfig(), func(o *s3.Options) { o.UsePathStyle = true })
	if got := getObject(ctx, t, plain, "other/c.csv", ""); got != "y" {
		t.Errorf("AWSConfig client read %q", got)
	}
}

// eventSink collects S3 events; failFirst makes the first delivery fail.
type eventSink struct {
	ch        chan events.S3Event
	calls     atomic.Int32
	failFirst bool
}

func (e *eventSink) handle(_ context.Context, ev events.S3Event) error {
	if e.calls.Add(1) == 1 && e.failFirst {
		return errors.New("first delivery fails")
	}
	e.ch <- ev
	return nil
}

func (e *eventSink) next(t *testing.T) events.S3EventRecord {
	t.Helper()
	select {
	case ev := <-e.ch:
		if len(ev.Records) != 1 {
			t.Fatalf("event has %d records", len(ev.Records))
		}
		return ev.Records[0]
	case <-time.After(10 * time.Second):
		t.Fatal("no S3 event")
	}
	return events.S3EventRecord{}
}

func TestS3EventsForImports(t *testing.T) {
	t.Parallel()
	sink := &eventSink{ch: make(chan events.S3Event, 10), failFirst: true}
	s := startStack(t, Options{OnObjectCreated: sink.handle})
	ctx := testContext(t)
	c := s.S3Client()
	key := "imports/my segment/ü file.csv"
	putObject(ctx, t, c, "exports/not-a-trigger.csv", "no event")
	putObject(ctx, t, c, key, "id\n1\n")

	r := sink.next(t)
	if r.S3.Object.URLDecodedKey != key || r.S3.Object.Key != "imports/my+segment/%C3%BC+file.csv" {
		t.Errorf("key = %q, decoded %q", r.S3.Object.Key, r.S3.Object.URLDecodedKey)
	}
	if r.EventName != "ObjectCreated:Put" || r.EventSource != "aws:s3" || r.EventVersion != "2.1" || r.AWSRegion != "us-east-1" {
		t.Errorf("record = %+v", r)
	}
	if r.S3.Bucket.Name != "segport" || r.S3.Bucket.Arn != "arn:aws:s3:::segport" || r.S3.Object.Size != 5 {
		t.Errorf("s3 entity = %+v", r.S3)
	}
	if r.S3.Object.ETag != fmt.Sprintf("%x", md5.Sum([]byte("id\n1\n"))) || len(r.S3.Object.Sequencer) != 16 {
		t.Errorf("object = %+v", r.S3.Object)
	}
	if sink.calls.Load() != 2 {
		t.Errorf("deliveries = %d, want a failed one and its retry", sink.calls.Load())
	}

	_, err := c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String("segport"), Key: aws.String("imports/s/copy.csv"), CopySource: aws.String("segport/exports/not-a-trigger.csv"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := sink.next(t); r.EventName != "ObjectCreated:Copy" || r.S3.Object.Key != "imports/s/copy.csv" {
		t.Errorf("copy event = %s %s", r.EventName, r.S3.Object.Key)
	}
	multipartUpload(ctx, t, c, "imports/s/big.csv")
	if r := sink.next(t); r.EventName != "ObjectCreated:CompleteMultipartUpload" || r.S3.Object.Size != 5<<20+3 {
		t.Errorf("multipart event = %s size %d", r.EventName, r.S3.Object.Size)
	}
	if err := s.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	if len(sink.ch) != 0 {
		t.Errorf("%d unexpected events", len(sink.ch))
	}
}

func multipartUpload(ctx context.Context, t *testing.T, c *s3.Client, key string) {
	t.Helper()
	bucket := aws.String("segport")
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	var parts []s3types.CompletedPart
	for i, body := range []string{strings.Repeat("a", 5<<20), "end"} {
		n := int32(i + 1)
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: bucket, Key: aws.String(key), UploadId: up.UploadId, PartNumber: aws.Int32(n), Body: strings.NewReader(body),
		})
		if err != nil {
			t.Fatalf("upload part %d: %v", n, err)
		}
		parts = append(parts, s3types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: bucket, Key: aws.String(key), UploadId: up.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := getObject(ctx, t, c, key, "bytes=5242878-"); got != "aaend" {
		t.Errorf("multipart tail = %q", got)
	}
}

func TestS3UploadPartCopy(t *testing.T) {
	t.Parallel()
	s := startStack(t, Options{})
	ctx := testContext(t)
	c := s.S3Client()
	bucket := aws.String("segport")
	src := strings.Repeat("0123456789", 600_000) // 6,000,000 bytes
	putObject(ctx, t, c, "parts/a b.csv", src)
	create := func(key string) *string {
		up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		return up.UploadId
	}
	copyPart := func(key string, id *string, n int32, rng string) (*string, error) {
		in := &s3.UploadPartCopyInput{Bucket: bucket, Key: aws.String(key), UploadId: id, PartNumber: aws.Int32(n),
			CopySource: aws.String("segport/parts/a%20b.csv")}
		if rng != "" {
			in.CopySourceRange = aws.String(rng)
		}
		out, err := c.UploadPartCopy(ctx, in)
		if err != nil {
			return nil, err
		}
		return out.CopyPartResult.ETag, nil
	}
	complete := func(key string, id *string, etags ...*string) error {
		var parts []s3types.CompletedPart
		for i, e := range etags {
			parts = append(parts, s3types.CompletedPart{ETag: e, PartNumber: aws.Int32(int32(i + 1))})
		}
		_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bucket, Key: aws.String(key), UploadId: id,
			MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts}})
		return err
	}

	id := create("out/copied.csv")
	whole, err := copyPart("out/copied.csv", id, 1, "")
	if err != nil {
		t.Fatalf("copy whole object: %v", err)
	}
	tail, err := copyPart("out/copied.csv", id, 2, "bytes=5999990-5999999")
	if err != nil {
		t.Fatalf("copy a range: %v", err)
	}
	if err := complete("out/copied.csv", id, whole, tail); err != nil {
		t.Fatal(err)
	}
	if got := getObject(ctx, t, c, "out/copied.csv", ""); got != src+"0123456789" {
		t.Errorf("copied object is %d bytes, want %d", len(got), len(src)+10)
	}

	id = create("out/bad.csv")
	if _, err := copyPart("out/bad.csv", id, 1, "bytes=5-6000000"); !hasCode(err, "InvalidRange") {
		t.Errorf("range past the end: %v, want InvalidRange", err)
	}
	small, err := copyPart("out/bad.csv", id, 1, "bytes=0-9")
	if err != nil {
		t.Fatal(err)
	}
	if err := complete("out/bad.csv", id, small, whole); !hasCode(err, "EntityTooSmall") {
		t.Errorf("10-byte first part: %v, want EntityTooSmall", err)
	}
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: bucket, Key: aws.String("out/bad.csv"), UploadId: id}); err != nil {
		t.Fatal(err)
	}
}

func hasCode(err error, code string) bool {
	var ae interface{ ErrorCode() string }
	return errors.As(err, &ae) && ae.ErrorCode() == code
}
