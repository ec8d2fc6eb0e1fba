package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/segport/segport/internal/dynamo"
	"github.com/segport/segport/pkg/endpoint"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// Deletes change the tables: a client that deletes needs write access to them
// (README "Deleting endpoints, users and segments" lists the actions). A
// delete is ordered among imported rows by its stamp (job.DeleteStamp): rows
// dated before it never bring back what it deleted, rows dated after it do.

// ErrImportsRunning means a segment cannot be deleted while imports into it
// run. Test for it with errors.Is.
var ErrImportsRunning = dynamo.ErrImportsRunning

// ErrInvalidId means an endpoint or user id no import could have stored.
var ErrInvalidId = fmt.Errorf("invalid id")

// DeleteResult says what a delete did.
type DeleteResult struct {
	Requested int    `json:"Requested"` // distinct ids asked for
	Found     int    `json:"Found"`     // of them, those that held anything
	Stamp     string `json:"Stamp"`     // where the delete stands among rows
}

// DeleteEndpoints deletes endpoints: each item becomes a tombstone (its Id
// and the delete's stamp, nothing else) and the endpoint leaves every segment
// and every version of it; its link to its user goes with it.
func (c *Client) DeleteEndpoints(ctx context.Context, ids []string) (*DeleteResult, error) {
	ids, err := distinctIds(ids, endpoint.ValidId)
	if err != nil {
		return nil, err
	}
	stamp := c.deleteStamp()
	n, err := c.store.EraseEndpoints(ctx, stampAll(ids, stamp))
	if err != nil {
		return nil, fmt.Errorf("delete endpoints: %w", err)
	}
	return &DeleteResult{Requested: len(ids), Found: n, Stamp: stamp}, nil
}

// DeleteUsers deletes users: the user's item becomes a tombstone, every
// endpoint of the user is deleted as DeleteEndpoints deletes it, and the
// user leaves every segment of users.
func (c *Client) DeleteUsers(ctx context.Context, userIds []string) (*DeleteResult, error) {
	userIds, err := distinctIds(userIds, validUserId)
	if err != nil {
		return nil, err
	}
	stamp := c.deleteStamp()
	n, err := c.store.EraseUsers(ctx, stampAll(userIds, stamp))
	if err != nil {
		return nil, fmt.Errorf("delete users: %w", err)
	}
	return &DeleteResult{Requested: len(userIds), Found: n, Stamp: stamp}, nil
}

// DeleteSegment deletes a segment, by name or id: its record, versions,
// members and users; the endpoints stay. It returns the segment as it was
// before, and refuses (ErrImportsRunning) while imports into it run.
func (c *Client) DeleteSegment(ctx context.Context, ref string) (*segment.Segment, error) {
	seg, err := c.store.SegmentByName(ctx, ref)
	if err != nil {
		return nil, err
	}
	return seg, c.store.DeleteSegment(ctx, seg.Id)
}

func validUserId(id string) bool { return id != "" && len(id) <= 1024 }

func distinctIds(ids []string, valid func(string) bool) ([]string, error) {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for i, id := range ids {
		if !valid(id) {
			return nil, fmt.Errorf("id %d of %d: %w", i+1, len(ids), ErrInvalidId)
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no id given: %w", ErrInvalidId)
	}
	return out, nil
}

func (c *Client) deleteStamp() string {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	var b [8]byte
	rand.Read(b[:])
	return job.DeleteStamp(now(), "delete-"+hex.EncodeToString(b[:]))
}

func stampAll(ids []string, stamp string) map[string]string {
	m := make(map[string]string, len(ids))
	for _, id := range ids {
		m[id] = stamp
	}
	return m
}
