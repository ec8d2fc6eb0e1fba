package stats

import (
	"context"
	"math"
	"sync"
	"time"
)

// Counter accumulates the figures of one unit of work (one SQS message, one S3
// event record) and the job they belong to. It is safe for concurrent use: the
// handlers make requests from several goroutines.
type Counter struct {
	mu  sync.Mutex
	s   Stats
	job string
}

// NewCounter returns a Counter of the job's work ("" until Attribute names it).
func NewCounter(job string) *Counter { return &Counter{job: job} }

type counterKey struct{}

// NewContext returns ctx carrying c: the requests made with it are counted in c.
func NewContext(ctx context.Context, c *Counter) context.Context {
	return context.WithValue(ctx, counterKey{}, c)
}

// FromContext returns the Counter of ctx, or nil.
func FromContext(ctx context.Context) *Counter {
	c, _ := ctx.Value(counterKey{}).(*Counter)
	return c
}

// Detach returns ctx without its Counter: for the request that stores the
// counts, which counts itself.
func Detach(ctx context.Context) context.Context {
	return context.WithValue(ctx, counterKey{}, (*Counter)(nil))
}

// Attribute names the job whose work ctx's Counter counts, for a handler that
// learns it as it goes (the trigger). Without a Counter it does nothing.
func Attribute(ctx context.Context, job string) {
	if c := FromContext(ctx); c != nil {
		c.mu.Lock()
		c.job = job
		c.mu.Unlock()
	}
}

// Job is the job the counts belong to.
func (c *Counter) Job() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.job
}

// Stats returns a copy of the counts so far.
func (c *Counter) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s.Clone()
}

// Add adds o to the counts.
func (c *Counter) Add(o Stats) {
	c.mu.Lock()
	c.s.Add(o)
	c.mu.Unlock()
}

// Request counts one request that got an answer; billed is its SQS billing
// weight (64 KiB chunks), ignored for other services.
func (c *Counter) Request(service, operation string, billed int64) {
	o := Stats{Requests: map[string]int64{service + "." + operation: 1}}
	switch service {
	case "SQS":
		o.SQSRequests, o.SQSBilledRequests = 1, max(billed, 1)
	case "S3":
		switch s3Class(operation) {
		case s3Get:
			o.S3GetRequests = 1
		case s3Put:
			o.S3PutRequests = 1
		}
	}
	c.Add(o)
}

// Units counts DynamoDB capacity units; computed says they were computed from
// item sizes rather than reported by DynamoDB.
func (c *Counter) Units(write, read float64, computed bool) {
	o := Stats{DynamoDBWriteUnits: write, DynamoDBReadUnits: read}
	if computed {
		o.DynamoDBComputedUnits = write + read
	}
	c.Add(o)
}

// Invocation counts a Lambda invocation (with invocations = 1) or a share of
// one's duration, at memoryMB.
func (c *Counter) Invocation(invocations int64, d time.Duration, memoryMB int) {
	ms := float64(d) / float64(time.Millisecond)
	c.Add(Stats{LambdaInvocations: invocations, LambdaMilliseconds: ms, LambdaGBSeconds: ms / 1000 * float64(memoryMB) / 1024})
}

type s3Kind int

const (
	s3Free s3Kind = iota // DELETE and abort requests are free
	s3Get
	s3Put
)

// s3Class is the request class S3 bills an operation in.
func s3Class(op string) s3Kind {
	switch op {
	case "PutObject", "CopyObject", "ListObjects", "ListObjectsV2", "ListObjectVersions", "ListBuckets",
		"CreateMultipartUpload", "UploadPart", "UploadPartCopy", "CompleteMultipartUpload",
		"ListMultipartUploads", "ListParts", "PostObject":
		return s3Put
	case "DeleteObject", "DeleteObjects", "AbortMultipartUpload":
		return s3Free
	}
	return s3Get
}

// SQSChunk is the payload size SQS bills as one request.
const SQSChunk = 64 << 10

// SQSBilled is the number of requests SQS bills for one request carrying
// payload bytes: one per 64 KiB chunk, at least one.
func SQSBilled(payload int) int64 {
	return max(1, int64((payload+SQSChunk-1)/SQSChunk))
}

// WriteUnits is what DynamoDB charges to write an item of size bytes: one unit
// per KB started.
func WriteUnits(size int) float64 {
	return max(1, math.Ceil(float64(size)/1024))
}

// ReadUnits is what DynamoDB charges to read size bytes: one unit per 4 KB
// started for a strongly consistent read, half that for an eventually
// consistent one.
func ReadUnits(size int, consistent bool) float64 {
	u := max(1, math.Ceil(float64(size)/4096))
	if !consistent {
		u /= 2
	}
	return u
}
