package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/segport/segport/internal/dynamo"
	"github.com/segport/segport/pkg/job"
)

// The wait of segport import: one deadline for every phase, from the first
// upload to the job's end.
const (
	baseWait = 5 * time.Minute
	// waitBytesPerMinute: a minute more per 50 MiB to import, about 0.85 MB/s, what
	// the local stack sustains on two cores; AWS is faster.
	waitBytesPerMinute = 50 << 20
)

// startLimit bounds the wait for the trigger to create a job (it takes
// seconds): a trigger that does not run is reported without waiting out the
// whole deadline of a large file.
var startLimit = 2 * time.Minute

// defaultWait is --wait's default for files of that many bytes.
func defaultWait(bytes int64) time.Duration {
	return baseWait + time.Duration(bytes/waitBytesPerMinute)*time.Minute
}

// importBytes adds up the sizes of what an import reads: local files and
// folders, and the objects under s3:// prefixes it can list.
func importBytes(ctx context.Context, t *target, paths []string) int64 {
	var n int64
	for _, p := range paths {
		if p == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(p, "s3://"); ok {
			bucket, prefix, _ := strings.Cut(rest, "/")
			objs, err := t.app.Objects.List(ctx, bucket, prefix)
			if err == nil {
				for _, o := range objs {
					n += o.Size
				}
			}
			continue
		}
		files, _, _ := collectFiles(p)
		for _, f := range files {
			if st, err := os.Stat(f); err == nil {
				n += st.Size()
			}
		}
	}
	return n
}

// started is a job segport import started, and what it imports.
type started struct {
	id string
	// source is the S3 URL the job reads; uploaded tells whether this
	// command put it there (else it is the user's own).
	source   string
	uploaded bool
}

// waitJobs polls the jobs until they have all ended, drawing a progress line
// when out is a terminal. At the deadline (or at startLimit for a job that
// was never created) it gives up with a waitTimeout.
func waitJobs(ctx context.Context, t *target, jobs []started, start, deadline time.Time, out io.Writer) ([]*job.Job, error) {
	tty := isTerminal(out)
	for {
		seen := make([]*job.Job, 0, len(jobs))
		done, missing := 0, 0
		for _, s := range jobs {
			j, err := t.app.Store.Job(ctx, s.id)
			if errors.Is(err, dynamo.ErrNotFound) {
				missing++
				continue
			}
			if err != nil {
				return nil, err
			}
			seen = append(seen, j)
			if j.JobStatus.Final() {
				done++
			}
		}
		if tty {
			drawProgress(raw(out), seen, len(jobs), time.Since(start))
		}
		if done == len(jobs) {
			if tty {
				fmt.Fprint(raw(out), "\r\033[K")
			}
			return seen, nil
		}
		now := time.Now()
		reason := ""
		switch limit := min(startLimit, deadline.Sub(start)); {
		case now.After(deadline):
			reason = fmt.Sprintf("gave up waiting at the --wait deadline, %s after the first upload", deadline.Sub(start).Round(time.Second))
		case missing > 0 && now.Sub(start) > limit:
			reason = fmt.Sprintf("gave up waiting: no job was created within %s", limit.Round(time.Second))
		}
		if reason != "" {
			if tty {
				fmt.Fprint(raw(out), "\r\033[K")
			}
			return nil, &exitError{code: codeError, err: errors.New(timeoutMessage(ctx, t, jobs, seen, reason))}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// timeoutMessage says, for every job that has not ended, the phase it is in,
// what became of what was uploaded for it and where to look.
func timeoutMessage(ctx context.Context, t *target, jobs []started, seen []*job.Job, reason string) string {
	byID := map[string]*job.Job{}
	for _, j := range seen {
		byID[j.Id] = j
	}
	var b strings.Builder
	b.WriteString(reason)
	for _, s := range jobs {
		j := byID[s.id]
		if j != nil && j.JobStatus.Final() {
			continue
		}
		fmt.Fprintf(&b, "\n  job %s: %s", s.id, phase(j))
		fmt.Fprintf(&b, "\n    %s", objectFate(s, j))
		fmt.Fprintf(&b, "\n    look at: %s", strings.Join(t.whereToLook(s.id, j), "; "))
	}
	if depths := queueDepths(ctx, t); depths != "" {
		fmt.Fprintf(&b, "\n  queues: %s", depths)
	}
	return b.String()
}

// uploadTimeout says what became of an import whose deadline passed while
// it uploaded or started p.
func uploadTimeout(p string, wait time.Duration, before []started) error {
	msg := fmt.Sprintf("gave up at the --wait deadline (%s) while uploading or starting %s: an upload cut short leaves no object in S3, so nothing of it is imported (a larger --wait lets it finish)", wait, p)
	if len(before) > 0 {
		ids := make([]string, len(before))
		for i, s := range before {
			ids[i] = s.id
		}
		msg += fmt.Sprintf("; the %d jobs started before it go on: %s", len(before), strings.Join(ids, ", "))
	}
	return errors.New(msg)
}

// phase says where a job stands, in Pinpoint's statuses.
func phase(j *job.Job) string {
	if j == nil {
		return "never started: no job was created for it (the trigger did not run, or failed)"
	}
	switch j.JobStatus {
	case job.Created, job.PreparingForInitialization, job.Initializing:
		return fmt.Sprintf("%s: the parser is still planning its pieces (the file's ranges are scanned for record boundaries)", j.JobStatus)
	}
	parsed := 0
	if j.Progress != nil {
		parsed = j.Progress.PiecesParsed
	}
	return fmt.Sprintf("%s: %d of %d pieces read, %d completed and %d failed; %d endpoints written, %d rows failed",
		j.JobStatus, parsed, j.TotalPieces, j.CompletedPieces, j.FailedPieces, j.TotalProcessed, j.TotalFailures)
}

// objectFate says what became of the job's source.
func objectFate(s started, j *job.Job) string {
	switch {
	case !s.uploaded:
		return s.source + " is yours: segport import uploaded nothing for it and left it as it is"
	case j == nil:
		return s.source + " stays in the bucket with no job: when the trigger runs again (segport doctor checks it), import the file again, or delete the object: aws s3 rm '" + s.source + "'"
	default:
		return s.source + " stays in the bucket: the job goes on without segport import, so follow it with jobs get, or delete the object (aws s3 rm '" + s.source + "') once the job has ended"
	}
}

// whereToLook lists the logs and commands that tell more about a job in that phase.
func (t *target) whereToLook(id string, j *job.Job) []string {
	var fns []string
	switch {
	case j == nil:
		fns = []string{"Trigger"}
	case j.JobStatus == job.Created || j.JobStatus == job.PreparingForInitialization || j.JobStatus == job.Initializing:
		fns = []string{"Trigger", "Parser"}
	default:
		fns = []string{"Parser", "Writer"}
	}
	var out []string
	if d := t.deployment; d != nil {
		for _, fn := range fns {
			out = append(out, "the "+strings.ToLower(fn)+"'s log group "+d.outputs[fn+"LogGroupName"])
		}
		if j != nil {
			out = append(out, "segport jobs get "+id+" --aws --stack "+d.stack)
		}
		if j == nil {
			out = append(out, "segport doctor --aws --stack "+d.stack)
		}
		return out
	}
	switch {
	case t.rt != nil && t.rt.Attached:
		out = append(out, "the output of the segport dev process that runs the stack in "+t.dataDir)
	default:
		out = append(out, "the log "+filepath.Join(t.dataDir, "segport.log"))
	}
	if j != nil {
		out = append(out, "segport jobs get "+id+" --data "+t.dataDir)
	} else {
		out = append(out, "segport doctor --data "+t.dataDir)
	}
	return out
}

// queueDepths reads how many messages wait in the dead-letter queues and the
// trigger's failure queue: "parse DLQ 0, write DLQ 2, trigger failures 0".
func queueDepths(ctx context.Context, t *target) string {
	var parts []string
	for _, q := range t.queues {
		if !q.deadLetter {
			continue
		}
		n, _, err := depth(ctx, t.sqs, q.url)
		if err != nil {
			parts = append(parts, fmt.Sprintf("%s unknown (%v)", q.name, err))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %d", q.name, n))
	}
	return strings.Join(parts, ", ")
}

// depth is a queue's visible and in-flight message counts.
func depth(ctx context.Context, c *sqs.Client, url string) (visible, inFlight int, err error) {
	out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		return 0, 0, err
	}
	visible, _ = strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	inFlight, _ = strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return visible, inFlight, nil
}

// namedQueue is one of the stack's queues, as messages name it.
type namedQueue struct {
	name       string // "parse queue", "parse DLQ", ...
	url        string
	deadLetter bool // a dead-letter queue or the trigger's failure destination
}

// stackQueues names the stack's queues from their URLs by logical id
// (ParseQueue, ParseDLQ, WriteQueue, WriteDLQ, TriggerFailures).
func stackQueues(url func(logicalID string) string) []namedQueue {
	return []namedQueue{
		{"parse queue", url("ParseQueue"), false},
		{"write queue", url("WriteQueue"), false},
		{"parse DLQ", url("ParseDLQ"), true},
		{"write DLQ", url("WriteDLQ"), true},
		{"trigger failures", url("TriggerFailures"), true},
	}
}
