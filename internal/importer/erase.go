package importer

import (
	"context"
	"fmt"

	"github.com/segport/segport/pkg/endpoint"
	"github.com/segport/segport/pkg/job"
)

// Eraser deletes endpoints and memberships, ordered among rows by stamps
// (internal/merge's Erase): what a row stamped after a delete set stays.
type Eraser interface {
	// EraseMember removes endpoint id from the members of a segment's
	// generation (set: segment.MemberSet) if every row that made it a member
	// is stamped before stamp, and leaves the tombstone that takes it out of
	// the generation's counts. Repeating it changes nothing.
	EraseMember(ctx context.Context, set string, shards int, id, stamp string) error
	// EraseEndpoints deletes endpoints, each at its stamp (id -> stamp):
	// each item becomes a tombstone (even one not stored yet) and every
	// membership made before its stamp goes, in every generation kept. It returns how many held
	// anything. Repeating it changes nothing.
	EraseEndpoints(ctx context.Context, stamps map[string]string) (int, error)
	// EraseUsers deletes users, each at its stamp (user id -> stamp): the
	// user's item becomes a tombstone, every endpoint of the user is deleted
	// at that stamp, and the user leaves every segment of users.
	EraseUsers(ctx context.Context, stamps map[string]string) (int, error)
}

// rowStamps gives each endpoint of a batch the greatest stamp of its rows.
func rowStamps(byId map[string][]job.WriteRow) map[string]string {
	stamps := make(map[string]string, len(byId))
	for id, rows := range byId {
		for _, r := range rows {
			stamps[id] = max(stamps[id], r.Stamp)
		}
	}
	return stamps
}

// orderAgainstDeletes undoes what a batch did that a delete stamped after its
// rows has taken away: the writer adds members before it reads the endpoints,
// so a delete it does not see in that read comes after the members, and
// erases them itself. deleted is each endpoint's Deleted as the batch left it.
func (w *Writer) orderAgainstDeletes(ctx context.Context, b *job.WriteBatch, byId map[string][]job.WriteRow, deleted map[string]string) error {
	byUser, err := w.userDeletes(ctx, byId)
	if err != nil {
		return err
	}
	if len(byUser) > 0 {
		if _, err := w.Store.EraseEndpoints(ctx, byUser); err != nil {
			return fmt.Errorf("delete endpoints of deleted users: %w", err)
		}
	}
	if b.SegmentId == "" {
		return nil
	}
	stamps := rowStamps(byId)
	for _, id := range keys(byId) {
		if d := deleted[id]; d != "" && d > stamps[id] {
			if err := w.Store.EraseMember(ctx, b.MemberSet(), b.Shards, id, d); err != nil {
				return err
			}
		}
	}
	return nil
}

// userDeletes finds the endpoints a user's delete reaches through this
// batch's rows, with the delete's stamp: those whose User.UserId, as stored
// now, is a deleted user's and was set before the user's delete. In stamp
// order the endpoint was the user's when the user was deleted, and the
// delete, had it found the endpoint through the index, would have deleted it.
func (w *Writer) userDeletes(ctx context.Context, byId map[string][]job.WriteRow) (map[string]string, error) {
	var userIds []string
	for _, rows := range byId {
		for _, r := range rows {
			if u := r.Endpoint.User; u != nil && u.UserId != "" {
				userIds = append(userIds, u.UserId)
			}
		}
	}
	if len(userIds) == 0 {
		return nil, nil
	}
	users, err := w.Store.GetUsers(ctx, userIds)
	if err != nil {
		return nil, err
	}
	var candidates []string
	for _, id := range keys(byId) {
		for _, r := range byId[id] {
			if u := r.Endpoint.User; u != nil && u.UserId != "" {
				if d := users[u.UserId].Rec; d != nil && d.Deleted > r.Stamp {
					candidates = append(candidates, id)
					break
				}
			}
		}
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	recs, err := w.Store.GetEndpoints(ctx, candidates)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, id := range candidates {
		rec := recs[id].Rec
		if rec == nil || rec.UserId() == "" {
			continue
		}
		if d := users[rec.UserId()].Rec; d != nil && rec.Stamps[userIdAttr] < d.Deleted {
			out[id] = d.Deleted
		}
	}
	return out, nil
}

// userIdAttr is User.UserId's name among an endpoint's stamps.
var userIdAttr = endpoint.Attr{Kind: endpoint.KindUserId}.Name()

// liveUserIds leaves out of a batch's user-ID rows those stamped before their
// user's delete.
func (w *Writer) liveUserIds(ctx context.Context, rows []job.WriteRow) ([]string, error) {
	var ids []string
	for _, r := range rows {
		if r.Endpoint == nil && r.UserId != "" {
			ids = append(ids, r.UserId)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	users, err := w.Store.GetUsers(ctx, ids)
	if err != nil {
		return nil, err
	}
	live := ids[:0]
	for _, r := range rows {
		if r.Endpoint == nil && r.UserId != "" {
			if u := users[r.UserId].Rec; u == nil || u.Deleted < r.Stamp {
				live = append(live, r.UserId)
			}
		}
	}
	return live, nil
}

// deleteRowMessage is the failure of a delete file's row that sets more than
// an Id, or an Id derived from an address.
const deleteRowMessage = "a delete file names endpoints by Id or users by User.UserId, and nothing else"

// deleteRowExtra names the first attribute of a delete file's endpoint row
// other than its Id (a row without Id has an address and a channel), or ""
// for a row of an Id alone.
func deleteRowExtra(e *endpoint.Endpoint) string {
	extra := ""
	e.Each(func(a endpoint.Attr) {
		if a.Kind != endpoint.KindId && extra == "" {
			extra = a.Name()
		}
	})
	return extra
}

// deleteBatch applies a batch of a delete job: each row's endpoint or user is
// deleted at the row's stamp, so that the file is ordered among imports as
// an import's rows are. Its tally counts the rows applied, as an import's.
func (w *Writer) deleteBatch(ctx context.Context, b *job.WriteBatch) error {
	endpoints, users := map[string]string{}, map[string]string{}
	for _, r := range b.Rows {
		if r.Endpoint != nil {
			endpoints[r.Endpoint.Id] = max(endpoints[r.Endpoint.Id], r.Stamp)
		} else if r.UserId != "" {
			users[r.UserId] = max(users[r.UserId], r.Stamp)
		}
	}
	if len(users) > 0 {
		if _, err := w.Store.EraseUsers(ctx, users); err != nil {
			return fmt.Errorf("delete users of batch %d of piece %d of job %s: %w", b.Seq, b.Piece, b.JobId, err)
		}
	}
	if len(endpoints) > 0 {
		if _, err := w.Store.EraseEndpoints(ctx, endpoints); err != nil {
			return fmt.Errorf("delete endpoints of batch %d of piece %d of job %s: %w", b.Seq, b.Piece, b.JobId, err)
		}
	}
	p, err := w.Jobs.BatchDone(ctx, b.JobId, b.Piece, b.Seq, b.Tally())
	if err != nil {
		return err
	}
	return w.Finisher.PieceProgress(ctx, b.JobId, p)
}
