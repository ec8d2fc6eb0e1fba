package s3src

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// partLimits are S3's multipart upload rules.
type partLimits struct {
	min   int64 // the smallest part but the last
	max   int64 // the largest part
	count int   // the most parts
}

var s3Limits = partLimits{min: 5 << 20, max: 5 << 30, count: 10_000}

// source is one input of a concatenation: an object, or inline bytes (the header).
type source struct {
	key    string
	size   int64
	inline []byte
}

// span is bytes [from, to) of source src.
type span struct {
	src      int
	from, to int64
}

// part is one part of the upload: a span copied inside S3, or spans read into
// memory and uploaded.
type part struct {
	copy  bool
	spans []span
	size  int64
}

func (p *part) add(sp span) {
	p.spans = append(p.spans, sp)
	p.size += sp.to - sp.from
}

// planParts cuts the concatenation of srcs into upload parts. A stretch of an
// object long enough to be a part by itself is copied inside S3; everything
// else is gathered into parts of exactly lim.min bytes (the last one shorter),
// so no part read into memory is larger, whatever the total.
func planParts(srcs []source, lim partLimits) []part {
	var parts []part
	var cur part
	for i, s := range srcs {
		for off := int64(0); off < s.size; {
			// fill tops up the gathered bytes to a part before a copy.
			fill := int64(0)
			if cur.size > 0 {
				fill = lim.min - cur.size
			}
			if s.inline == nil && s.size-off-fill >= lim.min {
				if fill > 0 {
					cur.add(span{i, off, off + fill})
					parts, cur = append(parts, cur), part{}
					off += fill
				}
				parts = append(parts, copyParts(i, off, s.size, lim)...)
				break
			}
			n := min(s.size-off, lim.min-cur.size)
			cur.add(span{i, off, off + n})
			off += n
			if cur.size >= lim.min {
				parts, cur = append(parts, cur), part{}
			}
		}
	}
	if cur.size > 0 {
		parts = append(parts, cur)
	}
	return parts
}

// copyParts cuts bytes [from, to) of source src, at least lim.min long, into
// even copy parts of at most lim.max bytes.
func copyParts(src int, from, to int64, lim partLimits) []part {
	n := (to - from + lim.max - 1) / lim.max
	size := (to - from + n - 1) / n
	var parts []part
	for off := from; off < to; off += size {
		p := part{copy: true}
		p.add(span{src, off, min(to, off+size)})
		parts = append(parts, p)
	}
	return parts
}

// Concat writes header followed by the objects at keys, in order, to dstKey.
// It uses no local disk and holds at most partsInFlight 5 MiB parts in
// memory: objects long enough to be parts are copied inside S3
// (UploadPartCopy), shorter ones are gathered into 5 MiB parts. Under 5 MiB
// in all, it is one PutObject. When that would take more parts than S3
// allows, runs of objects are first joined into intermediate objects of up
// to 5 GiB, deleted at the end. A failed upload is aborted.
func (s *Store) Concat(ctx context.Context, bucket, dstKey string, header []byte, keys []string) error {
	if err := s.concat(ctx, bucket, dstKey, header, keys); err != nil {
		return fmt.Errorf("concat into s3://%s/%s: %w", bucket, dstKey, err)
	}
	return nil
}

func (s *Store) concat(ctx context.Context, bucket, dstKey string, header []byte, keys []string) (err error) {
	lim := s.partLimits()
	srcs := make([]source, 1+len(keys))
	srcs[0] = source{size: int64(len(header)), inline: header}
	err = inParallel(ctx, len(keys), headsInFlight, func(ctx context.Context, _, i int) error {
		o, err := s.Head(ctx, bucket, keys[i])
		if err != nil {
			return err
		}
		srcs[1+i] = source{key: keys[i], size: o.Size}
		return nil
	})
	if err != nil {
		return err
	}
	parts := planParts(srcs, lim)
	if len(parts) > lim.count {
		var joined []string
		defer func() { err = errors.Join(err, s.deleteObjects(ctx, bucket, joined)) }()
		if srcs, joined, err = s.join(ctx, bucket, dstKey, srcs, lim); err != nil {
			return err
		}
		if parts = planParts(srcs, lim); len(parts) > lim.count {
			return fmt.Errorf("%d parts, more than S3's %d", len(parts), lim.count)
		}
	}
	return s.assemble(ctx, bucket, dstKey, srcs, parts)
}

// join replaces runs of consecutive objects of srcs (after the header) with
// intermediate objects of at most lim.max bytes each, and returns their keys
// too. An object alone in its run stays as it is.
func (s *Store) join(ctx context.Context, bucket, dstKey string, srcs []source, lim partLimits) ([]source, []string, error) {
	out := srcs[:1:1]
	var keys []string
	var run []source
	var size int64
	flush := func() error {
		if len(run) == 1 {
			out = append(out, run[0])
		} else if len(run) > 1 {
			key := fmt.Sprintf("%s.join/%06d", dstKey, len(keys))
			if err := s.assemble(ctx, bucket, key, run, planParts(run, lim)); err != nil {
				return err
			}
			keys = append(keys, key)
			out = append(out, source{key: key, size: size})
		}
		run, size = nil, 0
		return nil
	}
	for _, src := range srcs[1:] {
		if len(run) > 0 && size+src.size > lim.max {
			if err := flush(); err != nil {
				return nil, keys, err
			}
		}
		if src.size > 0 {
			run, size = append(run, src), size+src.size
		}
	}
	if err := flush(); err != nil {
		return nil, keys, err
	}
	return out, keys, nil
}

// assemble writes the parts planned from srcs to dstKey.
func (s *Store) assemble(ctx context.Context, bucket, dstKey string, srcs []source, parts []part) error {
	if len(parts) == 0 {
		return s.Put(ctx, bucket, dstKey, bytes.NewReader(nil), reportType, nil)
	}
	if len(parts) == 1 && !parts[0].copy {
		buf, err := s.gather(ctx, bucket, srcs, parts[0], nil)
		if err != nil {
			return err
		}
		return s.Put(ctx, bucket, dstKey, bytes.NewReader(buf), reportType, nil)
	}
	return s.multipart(ctx, bucket, dstKey, srcs, parts)
}

// deleteObjects deletes keys, a thousand a request. Like abort, it runs even
// when ctx has ended.
func (s *Store) deleteObjects(ctx context.Context, bucket string, keys []string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	for batch := range slices.Chunk(keys, 1000) {
		ids := make([]types.ObjectIdentifier, len(batch))
		for i, k := range batch {
			ids[i] = types.ObjectIdentifier{Key: aws.String(k)}
		}
		out, err := s.c.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err == nil && len(out.Errors) > 0 {
			e := out.Errors[0]
			err = fmt.Errorf("%d failed, %s first: %s", len(out.Errors), aws.ToString(e.Key), aws.ToString(e.Code))
		}
		if err != nil {
			return fmt.Errorf("delete %d objects: %w", len(batch), err)
		}
	}
	return nil
}

const reportType = "text/csv; charset=utf-8"

func (s *Store) partLimits() partLimits {
	if s.limits != (partLimits{}) {
		return s.limits
	}
	return s3Limits
}

// multipart uploads parts as one multipart upload, aborted if any step fails.
func (s *Store) multipart(ctx context.Context, bucket, dstKey string, srcs []source, parts []part) (err error) {
	up, err := s.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(dstKey), ContentType: aws.String(reportType),
	})
	if err != nil {
		return fmt.Errorf("create multipart upload: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.abort(ctx, bucket, dstKey, up.UploadId))
		}
	}()
	done, err := s.putParts(ctx, bucket, dstKey, up.UploadId, srcs, parts)
	if err != nil {
		return err
	}
	_, err = s.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(dstKey), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	})
	if err != nil {
		return fmt.Errorf("complete multipart upload: %w", err)
	}
	return nil
}

// headsInFlight is how many sizes of parts are asked for at once.
const headsInFlight = 16

// partsInFlight is how many parts are uploaded or copied at once: a large
// report is mostly copies, each as long as S3 takes to copy up to 5 GiB, and
// the finisher has one Lambda timeout; a gathered part holds 5 MiB of memory.
const partsInFlight = 4

// putParts uploads or copies parts, partsInFlight at a time, and returns them
// in order.
func (s *Store) putParts(ctx context.Context, bucket, dstKey string, uploadID *string, srcs []source, parts []part) ([]types.CompletedPart, error) {
	done := make([]types.CompletedPart, len(parts))
	var bufs [partsInFlight][]byte // each grown to one part on first use, then reused
	err := inParallel(ctx, len(parts), partsInFlight, func(ctx context.Context, w, i int) error {
		num := aws.Int32(int32(i + 1))
		var etag *string
		var err error
		if parts[i].copy {
			etag, err = s.copyPart(ctx, bucket, dstKey, uploadID, num, srcs, parts[i].spans[0])
		} else {
			etag, err = s.uploadPart(ctx, bucket, dstKey, uploadID, num, srcs, parts[i], &bufs[w])
		}
		if err != nil {
			return fmt.Errorf("part %d of %d: %w", i+1, len(parts), err)
		}
		done[i] = types.CompletedPart{ETag: etag, PartNumber: num}
		return nil
	})
	return done, err
}

// inParallel calls do for i in [0, n) on up to workers goroutines; w says
// which one. The first error cancels the calls still to come and is returned.
func inParallel(ctx context.Context, n, workers int, do func(ctx context.Context, w, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for w := range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				if err := do(ctx, w, i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// abort gives up an upload so that its parts stop costing storage; it runs
// even when ctx has ended, since that is when a Lambda gives up.
func (s *Store) abort(ctx context.Context, bucket, key string, uploadID *string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := s.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: uploadID,
	})
	if err != nil {
		return fmt.Errorf("abort multipart upload: %w", err)
	}
	return nil
}

func (s *Store) copyPart(ctx context.Context, bucket, dstKey string, uploadID *string, num *int32, srcs []source, sp span) (*string, error) {
	src := srcs[sp.src]
	in := &s3.UploadPartCopyInput{
		Bucket: aws.String(bucket), Key: aws.String(dstKey), UploadId: uploadID, PartNumber: num,
		CopySource: aws.String(copySource(bucket, src.key)),
	}
	if sp.from > 0 || sp.to < src.size {
		in.CopySourceRange = aws.String(fmt.Sprintf("bytes=%d-%d", sp.from, sp.to-1))
	}
	out, err := s.c.UploadPartCopy(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("copy s3://%s/%s bytes %d-%d: %w", bucket, src.key, sp.from, sp.to-1, classify(err))
	}
	return out.CopyPartResult.ETag, nil
}

// copySource is bucket/key URL-encoded, as x-amz-copy-source wants it.
func copySource(bucket, key string) string {
	segs := strings.Split(bucket+"/"+key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/")
}

func (s *Store) uploadPart(ctx context.Context, bucket, dstKey string, uploadID *string, num *int32, srcs []source, p part, scratch *[]byte) (*string, error) {
	buf, err := s.gather(ctx, bucket, srcs, p, *scratch)
	if err != nil {
		return nil, err
	}
	*scratch = buf
	out, err := s.c.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: aws.String(bucket), Key: aws.String(dstKey), UploadId: uploadID, PartNumber: num,
		Body: bytes.NewReader(buf), ContentLength: aws.Int64(int64(len(buf))),
	})
	if err != nil {
		return nil, fmt.Errorf("upload %d bytes: %w", len(buf), err)
	}
	return out.ETag, nil
}

// gather reads the spans of p into buf[:0], which it grows if needed.
func (s *Store) gather(ctx context.Context, bucket string, srcs []source, p part, buf []byte) ([]byte, error) {
	buf = buf[:0]
	for _, sp := range p.spans {
		src := srcs[sp.src]
		if src.inline != nil {
			buf = append(buf, src.inline[sp.from:sp.to]...)
			continue
		}
		rc, err := s.Range(ctx, bucket, src.key, sp.from, sp.to)
		if err != nil {
			return nil, err
		}
		n, k := len(buf), int(sp.to-sp.from)
		buf = slices.Grow(buf, k)[:n+k]
		_, err = io.ReadFull(rc, buf[n:])
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("read s3://%s/%s bytes %d-%d: %w", bucket, src.key, sp.from, sp.to-1, err)
		}
	}
	return buf, nil
}
