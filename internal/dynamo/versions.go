package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// Segment versions. Every job into a segment reserves a version number when it
// starts (ReserveVersion) and records how its version ended when it ends
// (EndVersion). The records live in the Jobs table, in a partition of their
// own per segment, one item per version:
//
//	JobId  S  "<SegmentId>#versions"
//	Sk     S  "version#<nnnnnnnnnn>"
//	Version, Job, JobStatus, CreationDate, CompletionDate, ImportDefinition,
//	Added (members the version added first), EndpointCount (its members, once
//	counted), Progress (the job's progress its end was computed at)
//
// The segment's item keeps the counters that order them: Versions (the last
// number reserved), Reserved (job id -> number, for the jobs still running:
// it does not grow with history), Ended (every version up to it has ended),
// EndedMembers (the members of version Ended), Version (the current one: the
// latest COMPLETED up to Ended) and Epoch (moved on whenever Ended is moved
// back, so that an advance computed before does not land after). Each member item keeps V, the version of
// the batch that made it a member first, so the members of version N are
// those with V <= N (and those written before versions, without V).

func versionsKey(segmentId string) string { return segmentId + "#versions" }

func versionSk(n int) string { return fmt.Sprintf("version#%010d", n) }

// versionItem is a version's item.
type versionItem struct {
	Version          int                      `json:"Version"`
	Job              string                   `json:"Job"`
	JobStatus        string                   `json:"JobStatus"`
	CreationDate     string                   `json:"CreationDate"`
	CompletionDate   string                   `json:"CompletionDate,omitempty"`
	ImportDefinition segment.ImportDefinition `json:"ImportDefinition"`
	Added            int                      `json:"Added"`
	EndpointCount    *int                     `json:"EndpointCount,omitempty"`
	Latest           int                      `json:"Latest"`        // the segment's current version once this one was counted
	CountedStatus    string                   `json:"CountedStatus"` // the JobStatus it was counted with
	CountedAdded     int                      `json:"CountedAdded"`  // the Added it was counted with
	Progress         int64                    `json:"Progress"`
	Base             int                      `json:"Base"` // its generation: its own number for a replace
}

// replace reports whether the version's import replaced the segment.
func (it *versionItem) replace() bool { return it.Base > 0 && it.Base == it.Version }

// miscounted reports whether the version was counted with another end than
// the one it has now.
func (it *versionItem) miscounted() bool {
	return it.EndpointCount != nil && (it.CountedStatus != it.JobStatus || it.CountedAdded != it.Added)
}

func (it *versionItem) ended() bool {
	return it.JobStatus == string(job.Completed) || it.JobStatus == string(job.Failed)
}

func (it *versionItem) version(seg *segment.Segment) *segment.Version {
	v := &segment.Version{SegmentId: seg.Id, Name: seg.Name, Version: it.Version, JobId: it.Job, JobStatus: it.JobStatus,
		CreationDate: it.CreationDate, CompletionDate: it.CompletionDate, ImportDefinition: it.ImportDefinition,
		EndpointCount: it.EndpointCount, Current: it.Version == seg.Version, Replace: it.replace(), Base: it.Base}
	if v.ImportDefinition.ChannelCounts == nil {
		v.ImportDefinition.ChannelCounts = map[string]int{}
	}
	return v
}

// ReserveVersion reserves the next version number of the segment for a job,
// or returns the one reserved for it already, with its generation (Bases:
// the version's own number for a replace, which becomes the segment's
// LastReplace, else LastReplace as it is), and records the version as
// PROCESSING. Both maps are updated by the one conditional update, so a
// version's generation never depends on what ran between two calls.
func (s *Store) ReserveVersion(ctx context.Context, segmentId, jobId, created string, replace bool) (int, int, error) {
	expr := "SET Versions = if_not_exists(Versions, :zero) + :one, #r.#j = if_not_exists(Versions, :zero) + :one, "
	if replace {
		expr += "#b.#j = if_not_exists(Versions, :zero) + :one, #lr = if_not_exists(Versions, :zero) + :one"
	} else {
		expr += "#b.#j = if_not_exists(#lr, :zero)"
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(s.t.Segments),
		Key:              map[string]types.AttributeValue{"SegmentId": str(segmentId)},
		UpdateExpression: aws.String(expr),
		// Not while the segment is being deleted (segdelete.go): the job's
		// message comes back once it is gone, and creates it anew.
		ConditionExpression:      aws.String("attribute_exists(SegmentId) AND attribute_not_exists(#r.#j) AND attribute_not_exists(Deleting)"),
		ExpressionAttributeNames: map[string]string{"#r": "Reserved", "#b": "Bases", "#lr": "LastReplace", "#j": jobId},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":zero": num(0), ":one": num(1),
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	var c versionCounters
	switch {
	case isConditionFailed(err):
		if err = s.counters(ctx, segmentId, &c); err != nil {
			return 0, 0, err
		}
	case err != nil:
		return 0, 0, fmt.Errorf("reserve a version of segment %s: %w", segmentId, err)
	default:
		if err := unmarshal(out.Attributes, &c); err != nil {
			return 0, 0, fmt.Errorf("decode segment %s: %w", segmentId, err)
		}
	}
	n, base := c.Reserved[jobId], c.Bases[jobId]
	if n == 0 {
		return 0, 0, fmt.Errorf("reserve a version of segment %s: job %s has none, and its version has ended", segmentId, jobId)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.t.Jobs),
		Key:       jobKey(versionsKey(segmentId), versionSk(n)),
		UpdateExpression: aws.String("SET #v = :n, Job = :j, CreationDate = if_not_exists(CreationDate, :c), " +
			"JobStatus = if_not_exists(JobStatus, :s), Progress = if_not_exists(Progress, :zero), #base = :b"),
		ExpressionAttributeNames: map[string]string{"#v": "Version", "#base": "Base"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":n": num(int64(n)), ":j": str(jobId), ":c": str(created), ":s": str(string(job.Processing)), ":zero": num(0),
			":b": num(int64(base)),
		},
	})
	if err != nil {
		return 0, 0, fmt.Errorf("record version %d of segment %s: %w", n, segmentId, err)
	}
	return n, base, nil
}

// versionCounters are the segment item's version fields.
type versionCounters struct {
	Version      int            `json:"Version"`
	Versions     int            `json:"Versions"`
	Ended        int            `json:"Ended"`
	EndedMembers int            `json:"EndedMembers"`
	Epoch        int            `json:"Epoch"`
	Reserved     map[string]int `json:"Reserved"`
	Bases        map[string]int `json:"Bases"` // job id -> the generation of its reserved version
	LastReplace  int            `json:"LastReplace"`
	KeptFrom     int            `json:"KeptFrom"` // the oldest generation whose members are kept
}

func (s *Store) counters(ctx context.Context, segmentId string, it *versionCounters) error {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(s.t.Segments),
		Key:                      map[string]types.AttributeValue{"SegmentId": str(segmentId)},
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#v, Versions, Ended, EndedMembers, Epoch, Reserved, Bases, LastReplace, KeptFrom"),
		ExpressionAttributeNames: map[string]string{"#v": "Version"},
	})
	if err != nil {
		return fmt.Errorf("read segment %s: %w", segmentId, err)
	}
	if out.Item == nil {
		return fmt.Errorf("segment %s: %w", segmentId, ErrNotFound)
	}
	if err := unmarshal(out.Item, it); err != nil {
		return fmt.Errorf("decode segment %s: %w", segmentId, err)
	}
	return nil
}

// EndVersion records how a job's version ended, ends its reservation, and
// moves the segment's current version on over the versions that have ended.
func (s *Store) EndVersion(ctx context.Context, segmentId string, v job.VersionEnd) error {
	if err := s.recordEnd(ctx, segmentId, v); err != nil {
		return err
	}
	rec, _, err := s.versionRecord(ctx, segmentId, v.Version)
	if err != nil {
		return err
	}
	if err := s.rewind(ctx, segmentId, v.Version, rec != nil && rec.miscounted()); err != nil {
		return err
	}
	return s.advance(ctx, segmentId)
}

// recordEnd records how version v ended and ends its reservation.
func (s *Store) recordEnd(ctx context.Context, segmentId string, v job.VersionEnd) error {
	def, err := attributeValue(segment.ImportDefinition{Size: v.Written.Rows, ChannelCounts: channelsOrEmpty(v.Written.Channels), Format: v.Format, S3Url: v.S3Url})
	if err != nil {
		return err
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.t.Jobs),
		Key:       jobKey(versionsKey(segmentId), versionSk(v.Version)),
		UpdateExpression: aws.String("SET #v = :n, Job = :j, JobStatus = :s, CompletionDate = :now, ImportDefinition = :d, " +
			"Added = :new, Progress = :p, CreationDate = if_not_exists(CreationDate, :now), #base = if_not_exists(#base, :b)"),
		ConditionExpression:      aws.String("attribute_not_exists(Progress) OR Progress <= :p"),
		ExpressionAttributeNames: map[string]string{"#v": "Version", "#base": "Base"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":n": num(int64(v.Version)), ":j": str(v.JobId), ":s": str(string(v.Status)), ":now": str(v.Now), ":d": def,
			":new": num(int64(v.Written.New)), ":p": num(v.Progress), ":b": num(int64(v.Base)),
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("end version %d of segment %s: %w", v.Version, segmentId, err)
	}
	return s.unreserve(ctx, segmentId, v.JobId, v.Version)
}

// rewind moves Epoch on, so that an advance that read version n's old end
// does not land, and, if back (n was counted with another end: a late batch,
// a redrive), moves Ended back to before n if it had passed it, so that n's
// count and the current version are computed again from there: rare, and as
// costly as the versions ended since n.
func (s *Store) rewind(ctx context.Context, segmentId string, n int, back bool) error {
	members, latest := 0, 0
	var err error
	if !back {
		err = &types.ConditionalCheckFailedException{}
	} else if n > 1 {
		prev, found, err := s.versionRecord(ctx, segmentId, n-1)
		if err != nil {
			return err
		}
		if found && prev.EndpointCount != nil {
			members, latest = *prev.EndpointCount, prev.Latest
		} // else not counted yet: Ended is before n, and only Epoch moves

	}
	if back {
		_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                aws.String(s.t.Segments),
			Key:                      map[string]types.AttributeValue{"SegmentId": str(segmentId)},
			UpdateExpression:         aws.String("SET Ended = :p, EndedMembers = :m, #v = :l, Epoch = if_not_exists(Epoch, :zero) + :one"),
			ConditionExpression:      aws.String("Ended >= :n"),
			ExpressionAttributeNames: map[string]string{"#v": "Version"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":p": num(int64(n - 1)), ":m": num(int64(members)), ":l": num(int64(latest)), ":n": num(int64(n)),
				":zero": num(0), ":one": num(1),
			},
		})
	}
	if isConditionFailed(err) {
		// Ended is before n, but an advance may have read n's old end:
		// moving Epoch on makes it read again.
		_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.t.Segments),
			Key:                       map[string]types.AttributeValue{"SegmentId": str(segmentId)},
			UpdateExpression:          aws.String("SET Epoch = if_not_exists(Epoch, :zero) + :one"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":zero": num(0), ":one": num(1)},
		})
	}
	if err != nil {
		return fmt.Errorf("move segment %s back to version %d: %w", segmentId, n-1, err)
	}
	return nil
}

func channelsOrEmpty(m map[string]int) map[string]int {
	if m == nil {
		return map[string]int{}
	}
	return m
}

// AbandonVersion ends the version a job reserved, if it holds one, as FAILED
// (the job failed before it started), and moves the segment on.
func (s *Store) AbandonVersion(ctx context.Context, segmentId, jobId, now string) error {
	var c versionCounters
	err := s.counters(ctx, segmentId, &c)
	if errors.Is(err, ErrNotFound) {
		return nil // a job that failed before it started may leave no segment
	}
	if err != nil {
		return err
	}
	if n := c.Reserved[jobId]; n > 0 {
		if err := s.recordEnd(ctx, segmentId, job.VersionEnd{JobId: jobId, Version: n, Base: c.Bases[jobId], Status: job.Failed, Now: now, Progress: 1 << 62}); err != nil {
			return err
		}
	}
	// Even without a reservation: an earlier call may have ended it and
	// died before it moved the segment on.
	return s.advance(ctx, segmentId)
}

// unreserve removes a job's reservation of version n.
func (s *Store) unreserve(ctx context.Context, segmentId, jobId string, n int) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.t.Segments),
		Key:                       map[string]types.AttributeValue{"SegmentId": str(segmentId)},
		UpdateExpression:          aws.String("REMOVE #r.#j, #b.#j"),
		ConditionExpression:       aws.String("#r.#j = :n"),
		ExpressionAttributeNames:  map[string]string{"#r": "Reserved", "#b": "Bases", "#j": jobId},
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": num(int64(n))},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("end the reservation of version %d of segment %s: %w", n, segmentId, err)
	}
	return nil
}

// advance moves Ended (and the current Version) on over every version that
// has ended, one conditional update each: racing callers each move it at most
// once per version, and the one that ends last moves it over the others.
func (s *Store) advance(ctx context.Context, segmentId string) error {
	for attempt := 0; attempt < 1000; attempt++ {
		var c versionCounters
		if err := s.counters(ctx, segmentId, &c); err != nil {
			return err
		}
		n := c.Ended + 1
		if n > c.Versions {
			return nil
		}
		rec, found, err := s.versionRecord(ctx, segmentId, n)
		if err != nil {
			return err
		}
		if !found || !rec.ended() {
			abandoned, err := s.abandonVersion(ctx, segmentId, n, rec, &c)
			if err != nil || !abandoned {
				return err
			}
			continue
		}
		members, latest := countVersion(c.EndedMembers, c.Version, rec)
		if rec.EndpointCount == nil || *rec.EndpointCount != members || rec.Latest != latest || rec.miscounted() {
			_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName:        aws.String(s.t.Jobs),
				Key:              jobKey(versionsKey(segmentId), versionSk(n)),
				UpdateExpression: aws.String("SET EndpointCount = :m, Latest = :l, CountedStatus = :s, CountedAdded = :a"),
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":m": num(int64(members)), ":l": num(int64(latest)), ":s": str(rec.JobStatus), ":a": num(int64(rec.Added)),
				},
			})
			if err != nil {
				return fmt.Errorf("count version %d of segment %s: %w", n, segmentId, err)
			}
		}
		in := &dynamodb.UpdateItemInput{
			TableName:                aws.String(s.t.Segments),
			Key:                      map[string]types.AttributeValue{"SegmentId": str(segmentId)},
			UpdateExpression:         aws.String("SET Ended = :n, EndedMembers = :m, #v = :l"),
			ConditionExpression:      aws.String("Ended = :e AND Epoch = :x"),
			ExpressionAttributeNames: map[string]string{"#v": "Version"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":n": num(int64(n)), ":m": num(int64(members)), ":l": num(int64(latest)), ":e": num(int64(c.Ended)), ":x": num(int64(c.Epoch)),
			},
		}
		if rec.replace() && latest == n {
			if err := s.keepFrom(ctx, segmentId, c.Version, in); err != nil {
				return err
			}
		}
		_, err = s.db.UpdateItem(ctx, in)
		if isConditionFailed(err) {
			// Another moved it on, or moved Epoch: read again, after a pause
			// that spreads racing advancers.
			if err := backoff(ctx, min(attempt, 4)); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("move segment %s on to version %d: %w", segmentId, n, err)
		}
	}
	return fmt.Errorf("move segment %s on: %w", segmentId, ErrConflict)
}

// countVersion returns the member count and the current version once an
// ended version is counted, after a version counted with members and current
// latest: a replace starts its generation's count over, an append adds the
// members it added first; a COMPLETED version becomes current.
func countVersion(members, latest int, rec *versionItem) (int, int) {
	if rec.replace() {
		members = 0
	}
	if rec.JobStatus == string(job.Completed) {
		latest = rec.Version
	}
	return members + rec.Added, latest
}

// abandonVersion ends version n as FAILED if its job ended without it: a job
// that reserved it and then failed before it started. It reports whether it
// did; a version whose job runs is left to its job.
func (s *Store) abandonVersion(ctx context.Context, segmentId string, n int, rec *versionItem, c *versionCounters) (bool, error) {
	jobId, base := "", 0
	if rec != nil {
		jobId, base = rec.Job, rec.Base
	}
	for j, v := range c.Reserved {
		if v == n {
			jobId, base = j, c.Bases[j]
		}
	}
	if jobId == "" {
		return false, nil
	}
	h, err := s.Head(ctx, jobId)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, err
	}
	if h != nil && (!h.Job.JobStatus.Final() || h.Launch.Version == n) {
		return false, nil
	}
	created := ""
	if h != nil {
		created = h.Job.CompletionDate
	}
	err = s.recordEnd(ctx, segmentId, job.VersionEnd{JobId: jobId, Version: n, Base: base, Status: job.Failed, Now: created, Progress: 1 << 62})
	return err == nil, err
}

// versionRecord reads version n's item; found is false if there is none.
func (s *Store) versionRecord(ctx context.Context, segmentId string, n int) (*versionItem, bool, error) {
	var it versionItem
	err := s.getItem(ctx, s.t.Jobs, jobKey(versionsKey(segmentId), versionSk(n)), "version "+strconv.Itoa(n)+" of segment "+segmentId, &it)
	if errors.Is(err, ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return &it, true, nil
}

// SegmentVersion returns version n of a segment, its users not counted
// (ResolveVersion counts them).
func (s *Store) SegmentVersion(ctx context.Context, seg *segment.Segment, n int) (*segment.Version, error) {
	rec, found, err := s.versionRecord(ctx, seg.Id, n)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("version %d of segment %s: %w", n, seg.Id, ErrNotFound)
	}
	kept, err := s.keptFrom(ctx, seg)
	if err != nil {
		return nil, err
	}
	v := rec.version(seg)
	v.Pruned = rec.Base < kept
	return v, s.versionNetOfErased(ctx, seg, rec.Base, v)
}

// VersionsPage returns up to limit versions of a segment, oldest first, and
// the token of the next page ("" after the last). For a segment with users,
// each version's users are counted (ResolveVersion).
func (s *Store) VersionsPage(ctx context.Context, seg *segment.Segment, limit int, token string) ([]*segment.Version, string, error) {
	start, err := decodeToken(token, "JobId", "Sk")
	if err != nil {
		return nil, "", err
	}
	if start != nil && start["JobId"] != versionsKey(seg.Id) {
		return nil, "", ErrBadToken
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.t.Jobs),
		KeyConditionExpression:    aws.String("JobId = :k"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": str(versionsKey(seg.Id))},
		ExclusiveStartKey:         keyOf(start),
		Limit:                     aws.Int32(int32(limit)),
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, "", fmt.Errorf("query the versions of segment %s: %w", seg.Id, err)
	}
	kept, err := s.keptFrom(ctx, seg)
	if err != nil {
		return nil, "", err
	}
	vs := make([]*segment.Version, 0, len(out.Items))
	for _, item := range out.Items {
		var it versionItem
		if err := unmarshal(item, &it); err != nil {
			return nil, "", fmt.Errorf("decode a version of segment %s: %w", seg.Id, err)
		}
		v := it.version(seg)
		v.Pruned = it.Base < kept
		if err := s.versionNetOfErased(ctx, seg, it.Base, v); err != nil {
			return nil, "", err
		}
		if err := s.ResolveVersion(ctx, seg, v); err != nil {
			return nil, "", fmt.Errorf("count the users of version %d of segment %s: %w", v.Version, seg.Id, err)
		}
		vs = append(vs, v)
	}
	return vs, encodeToken(out.LastEvaluatedKey), nil
}

// Versions returns every version of a segment, oldest first.
func (s *Store) Versions(ctx context.Context, seg *segment.Segment) ([]*segment.Version, error) {
	var all []*segment.Version
	token := ""
	for {
		vs, next, err := s.VersionsPage(ctx, seg, 1000, token)
		if err != nil {
			return nil, err
		}
		all = append(all, vs...)
		if next == "" {
			return all, nil
		}
		token = next
	}
}
