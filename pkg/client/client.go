// Package client reads what segport imported, for other services: segments, their
// endpoints in Pinpoint's shape with their users' attributes joined, a user's
// endpoints, and import jobs. Reading needs only read access to the tables (the stack
// outputs EndpointsTableName, UsersTableName, SegmentsTableName, MembersTableName
// and JobsTableName name them); deleting (delete.go) needs write access.
package client

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/segport/segport/internal/dynamo"
	"github.com/segport/segport/pkg/endpoint"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// Tables names the tables the client reads.
type Tables struct {
	Endpoints string
	Users     string
	Segments  string
	Members   string
	Jobs      string
}

// Client reads segport's tables. It is safe for concurrent use.
type Client struct {
	store *dynamo.Store
	// Parallel is how many membership shards SegmentMembers reads at once; 0 means 8.
	Parallel int
	// Now dates deletes (delete.go); nil means time.Now.
	Now func() time.Time
}

// New returns a Client that reads the tables t with clients built from cfg.
func New(cfg aws.Config, t Tables, opts ...func(*dynamodb.Options)) *Client {
	db := dynamodb.NewFromConfig(cfg, opts...)
	return &Client{store: dynamo.New(db, dynamo.Tables{
		Endpoints: t.Endpoints, Users: t.Users, Segments: t.Segments, Members: t.Members, Jobs: t.Jobs,
	}, 1)}
}

// ErrNotFound means the segment, endpoint or job does not exist. Test for it with
// errors.Is.
var ErrNotFound = dynamo.ErrNotFound

// ErrInvalidName means a segment name or id breaks the naming rule
// (segment.CheckName); the error is a *segment.NameError.
var ErrInvalidName = segment.ErrInvalidName

// ErrPruned means a version's members are no longer kept: its generation is
// older than the retention (README, Segment versions). Its record stays.
var ErrPruned = dynamo.ErrPruned

// ErrBadToken means a page token is malformed or was issued for another listing.
var ErrBadToken = dynamo.ErrBadToken

// Page sizes: a PageOptions.Size of 0 means DefaultPageSize; larger than
// MaxPageSize means MaxPageSize.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// PageOptions ask for one page of a listing: Token is the previous page's
// NextToken, "" for the first page.
type PageOptions struct {
	Size  int
	Token string
}

func (o PageOptions) size() int {
	if o.Size <= 0 {
		return DefaultPageSize
	}
	return min(o.Size, MaxPageSize)
}

// Page is one page of a listing. NextToken is "" on the last page; a page may
// hold fewer items than asked for and still not be the last.
type Page[T any] struct {
	Items     []T
	NextToken string
}

// GetEndpoint returns one endpoint with its user's attributes.
func (c *Client) GetEndpoint(ctx context.Context, id string) (*endpoint.Endpoint, error) {
	return c.store.Endpoint(ctx, id)
}

// GetUserEndpoints returns every endpoint whose User.UserId is userId, each with
// the user's attributes. A user with no endpoints has none: that is not an error.
func (c *Client) GetUserEndpoints(ctx context.Context, userId string) ([]*endpoint.Endpoint, error) {
	var all []*endpoint.Endpoint
	opts := PageOptions{Size: MaxPageSize}
	for {
		p, err := c.UserEndpointsPage(ctx, userId, opts)
		if err != nil {
			return nil, err
		}
		all = append(all, p.Items...)
		if p.NextToken == "" {
			return all, nil
		}
		opts.Token = p.NextToken
	}
}

// UserEndpointsPage returns one page of a user's endpoints.
func (c *Client) UserEndpointsPage(ctx context.Context, userId string, opts PageOptions) (Page[*endpoint.Endpoint], error) {
	ids, next, err := c.store.UserEndpointIds(ctx, userId, opts.size(), opts.Token)
	if err != nil {
		return Page[*endpoint.Endpoint]{}, fmt.Errorf("list endpoints of a user: %w", err)
	}
	eps, err := c.store.Endpoints(ctx, ids)
	if err != nil {
		return Page[*endpoint.Endpoint]{}, fmt.Errorf("read endpoints of a user: %w", err)
	}
	// The index lags the table: keep only endpoints that still name the user.
	mine := eps[:0]
	for _, e := range eps {
		if e.User != nil && e.User.UserId == userId {
			mine = append(mine, e)
		}
	}
	return Page[*endpoint.Endpoint]{Items: mine, NextToken: next}, nil
}

// ListSegments returns one page of segments, in no particular order. A segment
// with users is resolved as GetSegment resolves it.
func (c *Client) ListSegments(ctx context.Context, opts PageOptions) (Page[*segment.Segment], error) {
	segs, next, err := c.store.SegmentsPage(ctx, opts.size(), opts.Token)
	if err != nil {
		return Page[*segment.Segment]{}, fmt.Errorf("list segments: %w", err)
	}
	for _, s := range segs {
		if err := c.store.Resolve(ctx, s); err != nil {
			return Page[*segment.Segment]{}, fmt.Errorf("count the users of segment %s: %w", s.Id, err)
		}
	}
	return Page[*segment.Segment]{Items: segs, NextToken: next}, nil
}

// GetSegment returns a segment by id, or by name (segment.Resolve: a segment's
// id is derived from its name, and no name has the form of an id, so a
// reference names one segment at most). An invalid name is an error wrapping
// ErrInvalidName. A segment with users (user-ID definitions) has its
// UserCount, and its EndpointCount counts the endpoints its users reach: both
// are counted as it is read, at a cost that grows with its users.
func (c *Client) GetSegment(ctx context.Context, id string) (*segment.Segment, error) {
	seg, err := c.segment(ctx, id)
	if err == nil {
		if err = c.store.Resolve(ctx, seg); err != nil {
			err = fmt.Errorf("count the users of segment %s: %w", seg.Id, err)
		}
	}
	return seg, err
}

// segment is GetSegment without resolving its users.
func (c *Client) segment(ctx context.Context, id string) (*segment.Segment, error) {
	return c.store.SegmentByName(ctx, id)
}

// usersPhase starts the tokens of the pages that list the endpoints a segment
// reaches through its users, after its own members: "~" is in no other token.
const usersPhase = "users~"

// SegmentMembersPage returns one page of the endpoints of a segment's current
// version, with their users' attributes. Pages go through the membership
// shards one after the other, then, for a segment with users, through the
// endpoints of its users that are not members themselves.
func (c *Client) SegmentMembersPage(ctx context.Context, segmentId string, opts PageOptions) (Page[*endpoint.Endpoint], error) {
	return c.VersionMembersPage(ctx, segmentId, 0, opts)
}

// VersionMembersPage returns one page of the endpoints of version n of a
// segment (its current version for 0). A version's members are those that it
// or an earlier version added: a version still running shows those written so
// far. A segment with users reaches the endpoints of the version's users too.
func (c *Client) VersionMembersPage(ctx context.Context, segmentId string, n int, opts PageOptions) (Page[*endpoint.Endpoint], error) {
	seg, version, err := c.segmentAt(ctx, segmentId, n)
	if err != nil {
		return Page[*endpoint.Endpoint]{}, err
	}
	var ids []string
	next := ""
	if tok, ok := strings.CutPrefix(opts.Token, usersPhase); ok {
		ids, next, err = c.store.ReachedPage(ctx, seg, version, opts.size(), tok)
		if next != "" {
			next = usersPhase + next
		}
	} else {
		ids, next, err = c.store.MembersPage(ctx, seg.Id, max(seg.Shards, 1), version, opts.size(), opts.Token)
		if err == nil && next == "" && seg.HasUsers {
			next = usersPhase
		}
	}
	if err != nil {
		return Page[*endpoint.Endpoint]{}, fmt.Errorf("list members of segment %s: %w", seg.Id, err)
	}
	eps, err := c.store.Endpoints(ctx, ids)
	if err != nil {
		return Page[*endpoint.Endpoint]{}, fmt.Errorf("read members of segment %s: %w", seg.Id, err)
	}
	return Page[*endpoint.Endpoint]{Items: eps, NextToken: next}, nil
}

// SegmentUsersPage returns one page of the user IDs of the user-ID
// definitions of a segment's current version (none for a segment of endpoints
// only).
func (c *Client) SegmentUsersPage(ctx context.Context, segmentId string, opts PageOptions) (Page[string], error) {
	return c.VersionUsersPage(ctx, segmentId, 0, opts)
}

// VersionUsersPage returns one page of the user IDs of version n of a segment
// (its current version for 0): those that it or an earlier version added.
func (c *Client) VersionUsersPage(ctx context.Context, segmentId string, n int, opts PageOptions) (Page[string], error) {
	seg, version, err := c.segmentAt(ctx, segmentId, n)
	if err != nil {
		return Page[string]{}, err
	}
	ids, next, err := c.store.UserMembersPage(ctx, seg, version, opts.size(), opts.Token)
	if err != nil {
		return Page[string]{}, fmt.Errorf("list users of segment %s: %w", seg.Id, err)
	}
	if ids == nil {
		ids = []string{}
	}
	return Page[string]{Items: ids, NextToken: next}, nil
}

// GetImportJob returns an import job; while it runs, its counts are live.
func (c *Client) GetImportJob(ctx context.Context, id string) (*job.Job, error) {
	return c.store.Job(ctx, id)
}

// ListImportJobs returns one page of a segment's import jobs (by id or name),
// newest first, or of every job in no particular order when segment is "".
func (c *Client) ListImportJobs(ctx context.Context, segment string, opts PageOptions) (Page[*job.Job], error) {
	segmentId := ""
	if segment != "" {
		seg, err := c.GetSegment(ctx, segment)
		if err != nil {
			return Page[*job.Job]{}, err
		}
		segmentId = seg.Id
	}
	jobs, next, err := c.store.JobsPage(ctx, segmentId, opts.size(), opts.Token)
	if err != nil {
		return Page[*job.Job]{}, fmt.Errorf("list import jobs: %w", err)
	}
	return Page[*job.Job]{Items: jobs, NextToken: next}, nil
}

// segmentAt finds a segment (its users not counted) and the version n names:
// its current one for 0, else n if the segment has it. The segment returned
// is as the version reads its members (dynamo.Store.AtVersion: its Id names
// the member partitions of the version's generation).
func (c *Client) segmentAt(ctx context.Context, segmentId string, n int) (*segment.Segment, int, error) {
	seg, err := c.segment(ctx, segmentId)
	if err != nil {
		return nil, 0, err
	}
	return c.store.AtVersion(ctx, seg, n)
}

// GetSegmentVersion returns version n of a segment (by id or name): its job,
// dates, status, its own import definition and, once it and every version
// before it have ended, its number of members. A version of a segment with
// users has its UserCount, and its EndpointCount counts the endpoints its
// users reach, as GetSegment counts them.
func (c *Client) GetSegmentVersion(ctx context.Context, segmentId string, n int) (*segment.Version, error) {
	seg, err := c.segment(ctx, segmentId)
	if err != nil {
		return nil, err
	}
	v, err := c.store.SegmentVersion(ctx, seg, n)
	if err == nil {
		if err = c.store.ResolveVersion(ctx, seg, v); err != nil {
			err = fmt.Errorf("count the users of version %d of segment %s: %w", n, seg.Id, err)
		}
	}
	return v, err
}

// ListSegmentVersions returns one page of a segment's versions, oldest first.
func (c *Client) ListSegmentVersions(ctx context.Context, segmentId string, opts PageOptions) (Page[*segment.Version], error) {
	seg, err := c.segment(ctx, segmentId)
	if err != nil {
		return Page[*segment.Version]{}, err
	}
	vs, next, err := c.store.VersionsPage(ctx, seg, opts.size(), opts.Token)
	if err != nil {
		return Page[*segment.Version]{}, fmt.Errorf("list the versions of segment %s: %w", seg.Id, err)
	}
	return Page[*segment.Version]{Items: vs, NextToken: next}, nil
}
