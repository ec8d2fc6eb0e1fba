package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	"github.com/segport/segport/internal/merge"
	"github.com/segport/segport/internal/metrics"
	"github.com/segport/segport/pkg/job"
)

// Writer applies write batches: it merges each row into its endpoint and user by
// attribute stamps, adds the endpoints to the segment, and records the batch on
// its piece. Applying a batch twice, or batches in any order, changes nothing more.
type Writer struct {
	Store    EndpointStore
	Jobs     JobBook
	Finisher *Finisher
	// Concurrency bounds the conditional puts in flight; 0 means 8.
	Concurrency int
	Log         *slog.Logger
	Metrics     Metrics
	// MaxReceive is the write queue's maxReceiveCount: on a message's last
	// delivery a failure abandons its batch, and its piece counts as failed.
	MaxReceive int
}

// HandleSQS is the Lambda entry point for the write queue.
func (w *Writer) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, rec := range ev.Records {
		var b job.WriteBatch
		err := json.Unmarshal([]byte(rec.Body), &b)
		if err == nil {
			err = w.Batch(ctx, &b)
		} else {
			err = fmt.Errorf("decode write batch: %w", err)
		}
		record(w.Metrics, metrics.Record{Handler: "Writer", Job: b.JobId, Piece: &b.Piece, Batch: &b.Seq,
			Rows: len(b.Rows), Batches: 1, Err: err, Message: rec.Attributes})
		if err != nil {
			logger(w.Log).Error("batch not written; it will be retried", "message", rec.MessageId, "job", b.JobId, "piece", b.Piece, "batch", b.Seq, "err", err)
			if lastDelivery(rec.Attributes, w.MaxReceive) && b.JobId != "" {
				w.abandon(ctx, &b, err)
			}
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	return resp, nil
}

// abandon records a batch whose message goes to the dead-letter queue, so that its
// piece and job end instead of waiting for it.
func (w *Writer) abandon(ctx context.Context, b *job.WriteBatch, cause error) {
	lost := job.LostBatch{Tally: b.Tally(), Line: b.FirstLine(), Reason: fmt.Sprintf("piece %d, write batch %d %s", b.Piece, b.Seq, abandonReason(w.MaxReceive, cause))}
	var err error
	if lost.New, err = countAdded(ctx, w.Store, b); err != nil {
		logger(w.Log).Error("abandoned batch not recorded", "job", b.JobId, "piece", b.Piece, "batch", b.Seq, "err", err)
		return
	}
	p, err := w.Jobs.BatchLost(ctx, b.JobId, b.Piece, b.Seq, lost)
	if err == nil {
		err = w.Finisher.PieceProgress(ctx, b.JobId, p)
	}
	if err != nil {
		logger(w.Log).Error("abandoned batch not recorded", "job", b.JobId, "piece", b.Piece, "batch", b.Seq, "err", err)
	}
}

// countAdded counts the members an abandoned batch added before it failed.
func countAdded(ctx context.Context, m MemberCounter, b *job.WriteBatch) (int, error) {
	if b.SegmentId == "" || len(b.Rows) == 0 {
		return 0, nil
	}
	ids := make([]string, 0, len(b.Rows))
	for _, r := range b.Rows {
		if r.Endpoint != nil {
			ids = append(ids, r.Endpoint.Id)
		}
	}
	return m.CountAdded(ctx, b.MemberSet(), b.Shards, b.Name(), ids)
}

// Batch applies one write batch.
func (w *Writer) Batch(ctx context.Context, b *job.WriteBatch) error {
	if b.Delete {
		return w.deleteBatch(ctx, b)
	}
	byId := map[string][]job.WriteRow{}
	byUser := map[string][]job.WriteRow{}
	for _, r := range b.Rows {
		if r.Endpoint == nil {
			continue
		}
		byId[r.Endpoint.Id] = append(byId[r.Endpoint.Id], r)
		if u := r.Endpoint.User; u != nil && u.UserId != "" && len(u.UserAttributes) > 0 {
			byUser[u.UserId] = append(byUser[u.UserId], r)
		}
	}
	tally := b.Tally()
	// Members first: a delete the endpoints' read below does not see comes
	// after them, and erases them (orderAgainstDeletes). Members go to the
	// batch's generation (MemberSet); into one no longer kept (a late
	// duplicate of a job long ended) they are undone, and the batch records
	// nothing: its first delivery's tally stands.
	pruned := false
	if b.SegmentId != "" {
		n, err := w.Store.AddMembers(ctx, b.MemberSet(), b.Shards, b.Version, b.Name(), keys(byId), rowStamps(byId))
		switch {
		case errors.Is(err, job.ErrPruned):
			pruned = true
		case err != nil:
			return fmt.Errorf("add members of batch %d of piece %d of job %s: %w", b.Seq, b.Piece, b.JobId, err)
		}
		tally.New = n
	}
	// Users before endpoints: a reader that finds a member and its endpoint
	// finds the endpoint's user attributes too (the endpoint is put whole).
	if err := w.users(ctx, byUser); err != nil {
		return fmt.Errorf("write users of batch %d of piece %d of job %s: %w", b.Seq, b.Piece, b.JobId, err)
	}
	deleted, err := w.endpoints(ctx, byId)
	if err != nil {
		return fmt.Errorf("write batch %d of piece %d of job %s: %w", b.Seq, b.Piece, b.JobId, err)
	}
	if err := w.orderAgainstDeletes(ctx, b, byId, deleted); err != nil {
		return fmt.Errorf("order batch %d of piece %d of job %s against deletes: %w", b.Seq, b.Piece, b.JobId, err)
	}
	if pruned {
		return nil
	}
	if b.SegmentId != "" {
		userIds, err := w.liveUserIds(ctx, b.Rows) // user-ID definitions
		if err == nil {
			err = w.Store.AddUserMembers(ctx, b.MemberSet(), b.Shards, b.Version, userIds)
		}
		if errors.Is(err, job.ErrPruned) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("add users of batch %d of piece %d of job %s: %w", b.Seq, b.Piece, b.JobId, err)
		}
	}
	p, err := w.Jobs.BatchDone(ctx, b.JobId, b.Piece, b.Seq, tally)
	if err != nil {
		return err
	}
	return w.Finisher.PieceProgress(ctx, b.JobId, p)
}

// endpoints merges rows into their endpoints, retrying an endpoint whose
// conditional put lost a race with another writer. It returns each
// endpoint's Deleted stamp as it left it (absent: never deleted).
func (w *Writer) endpoints(ctx context.Context, byId map[string][]job.WriteRow) (map[string]string, error) {
	var mu sync.Mutex
	deleted := map[string]string{}
	pending := keys(byId)
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == 10 {
			return nil, fmt.Errorf("%d endpoints still contended after %d attempts", len(pending), attempt)
		}
		recs, err := w.Store.GetEndpoints(ctx, pending)
		if err != nil {
			return nil, err
		}
		pending, err = w.each(ctx, pending, func(ctx context.Context, id string) error {
			v, ok := recs[id]
			if !ok {
				v = merge.Versioned[merge.Endpoint]{Rec: merge.NewEndpoint(id)}
			}
			if v.Rec.Deleted != "" {
				mu.Lock()
				deleted[id] = v.Rec.Deleted
				mu.Unlock()
			}
			changed := false
			for _, r := range byId[id] {
				changed = v.Rec.Apply(r.Endpoint, r.Stamp) || changed
			}
			if !changed {
				return nil
			}
			return w.Store.PutEndpoint(ctx, v.Rec, v.Ver)
		})
		if err != nil {
			return nil, err
		}
	}
	return deleted, nil
}

// users merges rows' User.UserAttributes into their users.
func (w *Writer) users(ctx context.Context, byUser map[string][]job.WriteRow) error {
	pending := keys(byUser)
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == 10 {
			return fmt.Errorf("%d users still contended after %d attempts", len(pending), attempt)
		}
		recs, err := w.Store.GetUsers(ctx, pending)
		if err != nil {
			return err
		}
		pending, err = w.each(ctx, pending, func(ctx context.Context, id string) error {
			v, ok := recs[id]
			if !ok {
				v = merge.Versioned[merge.User]{Rec: merge.NewUser(id)}
			}
			changed := false
			for _, r := range byUser[id] {
				changed = v.Rec.Apply(r.Endpoint.User.UserAttributes, r.Stamp) || changed
			}
			if !changed {
				return nil
			}
			return w.Store.PutUser(ctx, v.Rec, v.Ver)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// each runs fn for every id, a bounded number at a time, and returns the ids whose
// write conflicted.
func (w *Writer) each(ctx context.Context, ids []string, fn func(context.Context, string) error) ([]string, error) {
	n := w.Concurrency
	if n <= 0 {
		n = 8
	}
	var (
		mu        sync.Mutex
		conflicts []string
		errs      []error
		wg        sync.WaitGroup
		sem       = make(chan struct{}, n)
	)
	for _, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func(id string) {
			defer wg.Done()
			defer func() { <-sem }()
			err := fn(ctx, id)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, job.ErrConflict):
				conflicts = append(conflicts, id)
			case err != nil:
				errs = append(errs, err)
			}
		}(id)
	}
	wg.Wait()
	sort.Strings(conflicts)
	return conflicts, errors.Join(errs...)
}

func keys[V any](m map[string]V) []string {
	return merge.SortedKeys(m)
}
