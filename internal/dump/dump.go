// Package dump writes the canonical dump of a deployment's tables: segments with
// their members, endpoints, users and jobs with their error reports, sorted and
// in canonical JSON, one record a line. Two runs that imported the same rows give
// the same dump, byte for byte; dates are left out unless asked for, since two
// runs never share them.
package dump

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/segport/segport/internal/s3src"
	"github.com/segport/segport/pkg/endpoint"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// Source is what the dump reads.
type Source interface {
	Segments(ctx context.Context) ([]*segment.Segment, error)
	Members(ctx context.Context, segmentId string, shards int) ([]string, error)
	UserMembers(ctx context.Context, seg *segment.Segment) ([]string, error)
	AllEndpoints(ctx context.Context) ([]*endpoint.Endpoint, error)
	AllUsers(ctx context.Context) (map[string]map[string][]string, error)
	Jobs(ctx context.Context) ([]*job.Job, error)
}

// Reports reads error reports.
type Reports interface {
	Get(ctx context.Context, bucket, key string) ([]byte, error)
}

// Options change the dump.
type Options struct {
	Dates bool // keep creation, completion and modification dates
}

// Write writes the dump to w.
func Write(ctx context.Context, w io.Writer, src Source, reports Reports, opts Options) error {
	bw := bufio.NewWriter(w)
	line := func(kind string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(bw, "%s %s\n", kind, b)
		return err
	}
	segs, err := src.Segments(ctx)
	if err != nil {
		return err
	}
	for _, s := range segs {
		c := *s
		if !opts.Dates {
			c.CreationDate, c.LastModifiedDate = "", ""
		}
		if err := line("segment", c); err != nil {
			return err
		}
		ids, err := src.Members(ctx, s.Id, s.Shards)
		if err != nil {
			return err
		}
		if err := line("members", map[string]any{"Segment": s.Name, "EndpointIds": ids}); err != nil {
			return err
		}
		if err := writeGeneration(ctx, line, src, s); err != nil {
			return err
		}
		if !s.HasUsers {
			continue
		}
		users, err := src.UserMembers(ctx, s)
		if err != nil {
			return err
		}
		if err := line("users", map[string]any{"Segment": s.Name, "UserIds": users}); err != nil {
			return err
		}
	}
	eps, err := src.AllEndpoints(ctx)
	if err != nil {
		return err
	}
	for _, e := range eps {
		b, err := e.MarshalCanonical()
		if err != nil {
			return err
		}
		fmt.Fprintf(bw, "endpoint %s\n", b)
	}
	users, err := src.AllUsers(ctx)
	if err != nil {
		return err
	}
	for _, id := range sortedKeys(users) {
		if err := line("user", map[string]any{"UserId": id, "UserAttributes": users[id]}); err != nil {
			return err
		}
	}
	jobs, err := src.Jobs(ctx)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if err := writeJob(ctx, bw, line, j, reports, opts); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func writeJob(ctx context.Context, w io.Writer, line func(string, any) error, j *job.Job, reports Reports, opts Options) error {
	c := *j
	if !opts.Dates {
		c.CreationDate, c.CompletionDate = "", ""
	}
	if err := line("job", c); err != nil {
		return err
	}
	if j.ErrorReport == "" || reports == nil {
		return nil
	}
	bucket, key, err := s3src.ParseURL(j.ErrorReport)
	if err != nil {
		return err
	}
	body, err := reports.Get(ctx, bucket, key)
	if err != nil {
		return err
	}
	for _, l := range strings.SplitAfter(string(body), "\n") {
		if l == "" {
			continue
		}
		if _, err := fmt.Fprintf(w, "report %s %s", j.Id, l); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// writeGeneration writes the members (and users) of a replaced segment's
// latest generation, where its replace and the appends after it keep their
// members (segment.MemberSet); nothing for a segment never replaced.
func writeGeneration(ctx context.Context, line func(string, any) error, src Source, s *segment.Segment) error {
	if s.LastReplace == 0 {
		return nil
	}
	g := *s
	g.Id = segment.MemberSet(s.Id, s.LastReplace)
	ids, err := src.Members(ctx, g.Id, g.Shards)
	if err != nil {
		return err
	}
	rec := map[string]any{"Segment": s.Name, "Generation": s.LastReplace, "EndpointIds": ids}
	if s.HasUsers {
		users, err := src.UserMembers(ctx, &g)
		if err != nil {
			return err
		}
		rec["UserIds"] = users
	}
	return line("generation", rec)
}
