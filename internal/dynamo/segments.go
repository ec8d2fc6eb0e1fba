package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// segmentItem is a Segments table item.
type segmentItem struct {
	SegmentId        string                   `json:"SegmentId"`
	Name             string                   `json:"Name"`
	SegmentType      string                   `json:"SegmentType"`
	Version          int                      `json:"Version"`
	CreationDate     string                   `json:"CreationDate"`
	LastModifiedDate string                   `json:"LastModifiedDate,omitempty"`
	ImportDefinition segment.ImportDefinition `json:"ImportDefinition"`
	EndpointCount    int                      `json:"EndpointCount"`
	Shards           int                      `json:"Shards"`
	HasUsers         bool                     `json:"HasUsers,omitempty"`
	LastReplace      int                      `json:"LastReplace,omitempty"`
	Erased           bool                     `json:"Erased,omitempty"` // erase.go
}

func (it *segmentItem) segment() *segment.Segment {
	return &segment.Segment{
		Id: it.SegmentId, Name: it.Name, SegmentType: it.SegmentType, Version: it.Version,
		CreationDate: it.CreationDate, LastModifiedDate: it.LastModifiedDate,
		ImportDefinition: it.ImportDefinition, EndpointCount: it.EndpointCount, Shards: it.Shards, HasUsers: it.HasUsers,
		LastReplace: it.LastReplace,
		Erased:      it.Erased,
	}
}

// EnsureSegment creates the segment's item unless it exists, and returns its
// shard count: the deployment's MembershipShards when the segment was created.
func (s *Store) EnsureSegment(ctx context.Context, id, name, created string) (int, error) {
	in := &dynamodb.UpdateItemInput{
		TableName: aws.String(s.t.Segments),
		Key:       map[string]types.AttributeValue{"SegmentId": str(id)},
		UpdateExpression: aws.String("SET #n = if_not_exists(#n, :n), CreationDate = if_not_exists(CreationDate, :c), " +
			"SegmentType = :t, Shards = if_not_exists(Shards, :sh), Version = if_not_exists(Version, :zero), " +
			"EndpointCount = if_not_exists(EndpointCount, :zero), ImportDefinition = if_not_exists(ImportDefinition, :def), " +
			"Pending = if_not_exists(Pending, :empty), Reserved = if_not_exists(Reserved, :empty), Bases = if_not_exists(Bases, :empty), " +
			"Versions = if_not_exists(Versions, :zero), Ended = if_not_exists(Ended, :zero), EndedMembers = if_not_exists(EndedMembers, :zero), " +
			"Epoch = if_not_exists(Epoch, :zero)"),
		ExpressionAttributeNames: map[string]string{"#n": "Name"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":n": str(name), ":c": str(created), ":t": str("IMPORT"), ":sh": num(int64(s.shards)), ":zero": num(0),
			":empty": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
			":def": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				"Size": num(0), "ChannelCounts": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
			}},
		},
		ReturnValues: types.ReturnValueAllNew,
	}
	if name == "" {
		in.ConditionExpression = aws.String("attribute_exists(SegmentId)")
	}
	out, err := s.db.UpdateItem(ctx, in)
	if isConditionFailed(err) {
		return 0, fmt.Errorf("segment %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("create segment %s: %w", id, err)
	}
	var it segmentItem
	if err := unmarshal(out.Attributes, &it); err != nil {
		return 0, fmt.Errorf("decode segment %s: %w", id, err)
	}
	return it.Shards, nil
}

// contribution is what a job has added to its segment. The one applied is kept
// on the job's item (Applied). While it is being applied, the segment's Pending
// map holds the job's entry: first a lock (a token and a lease), then the
// contribution whose change was added. Pending holds only the jobs being added
// right now, so the segment's item does not grow with its imports.
type contribution struct {
	Size     int            `json:"Size"`
	Channels map[string]int `json:"Channels"`
	New      int            `json:"New"`
	V        int            `json:"V"`        // 1 for the first applied, then one more for each change
	Progress int64          `json:"Progress"` // the job's progress it was computed at
}

func (c contribution) same(o contribution) bool {
	return c.Size == o.Size && c.New == o.New && fmt.Sprint(c.Channels) == fmt.Sprint(o.Channels)
}

// pending is a job's entry in a segment's Pending map.
type pending struct {
	Token   string       `json:"Token"`
	Lease   string       `json:"Lease"`   // when the lock was taken
	Applied bool         `json:"Applied"` // C's change has been added to the totals
	C       contribution `json:"C"`
}

// contributionLease is how long a lock whose holder added nothing may stand
// before another finisher takes it. The lock only saves work: every step of a
// holder is conditional on its token, so a holder whose lock was taken changes
// nothing, and the lease can be far shorter than a function runs. A holder
// that died (a crash, or an unlock that failed) then delays its job's end by
// seconds, not minutes.
const contributionLease = 20 * time.Second

// SetContribution makes a job's contribution to its segment what im says.
// Under a lock in the segment's Pending map it reads the applied contribution
// from the job's item, adds the change to the segment's totals and marks the
// entry applied in one conditional update, records the contribution on the
// job's item, and removes the entry. Whoever finds an applied entry completes
// its last two steps; a lock whose holder died is taken after its lease. A
// contribution computed at a lower progress than the applied one is stale and
// changes nothing. The job's Format and S3Url become the segment's if it is the
// latest job.
func (s *Store) SetContribution(ctx context.Context, segmentId string, im job.Contribution) error {
	next := contribution{Size: im.Written.Rows, Channels: im.Written.Channels, New: im.Written.New, Progress: im.Progress}
	if next.Channels == nil {
		next.Channels = map[string]int{}
	}
	for attempt := 0; ; attempt++ {
		if attempt == maxAttempts {
			return fmt.Errorf("add job %s to segment %s: %w", im.JobId, segmentId, ErrConflict)
		}
		done, err := s.contributeOnce(ctx, segmentId, im, next)
		if err != nil || done {
			if err != nil {
				return err
			}
			break
		}
		if err := backoff(ctx, min(attempt, 4)); err != nil {
			return err
		}
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.t.Segments),
		Key:                      map[string]types.AttributeValue{"SegmentId": str(segmentId)},
		UpdateExpression:         aws.String("SET ImportDefinition.#f = :f, ImportDefinition.S3Url = :u, LastJob = :o"),
		ConditionExpression:      aws.String("attribute_exists(SegmentId) AND (attribute_not_exists(LastJob) OR LastJob <= :o)"),
		ExpressionAttributeNames: map[string]string{"#f": "Format"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":f": str(im.Format), ":u": str(im.S3Url), ":o": str(im.JobOrder),
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("set import definition of segment %s: %w", segmentId, err)
	}
	return nil
}

// contributeOnce tries once; false means go again (another finisher holds the
// lock, or it had left work that is now done).
func (s *Store) contributeOnce(ctx context.Context, segmentId string, im job.Contribution, next contribution) (bool, error) {
	p, found, err := s.pendingContribution(ctx, segmentId, im.JobId)
	if err != nil {
		return false, err
	}
	if found {
		if p.Applied {
			return false, s.settleContribution(ctx, segmentId, im.JobId, p)
		}
		if at, _ := time.Parse(time.RFC3339Nano, p.Lease); s.clockNow().Sub(at) > contributionLease {
			return false, s.removeLock(ctx, segmentId, im.JobId, p.Token)
		}
		return false, nil
	}
	token := strconv.FormatUint(rand.Uint64(), 36)
	if ok, err := s.lockContribution(ctx, segmentId, im.JobId, token); err != nil || !ok {
		return false, err
	}
	applied, err := s.appliedContribution(ctx, im.JobId)
	if err != nil {
		return false, err
	}
	if applied.V > 0 && (applied.same(next) || applied.Progress > next.Progress) {
		return true, s.removeLock(ctx, segmentId, im.JobId, token) // nothing to add, or stale
	}
	next.V = applied.V + 1
	p = pending{Token: token, Applied: true, C: next}
	if ok, err := s.applyContribution(ctx, segmentId, im, applied, p); err != nil || !ok {
		return false, err // the lock was taken from us: go again
	}
	return true, s.settleContribution(ctx, segmentId, im.JobId, p)
}

// pendingContribution reads the job's entry in the segment's Pending map.
func (s *Store) pendingContribution(ctx context.Context, segmentId, jobId string) (pending, bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(s.t.Segments),
		Key:                      map[string]types.AttributeValue{"SegmentId": str(segmentId)},
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#p.#j"),
		ExpressionAttributeNames: map[string]string{"#p": "Pending", "#j": jobId},
	})
	if err != nil {
		return pending{}, false, fmt.Errorf("read segment %s: %w", segmentId, err)
	}
	var it struct {
		Pending map[string]pending `json:"Pending"`
	}
	if err := unmarshal(out.Item, &it); err != nil {
		return pending{}, false, fmt.Errorf("decode segment %s: %w", segmentId, err)
	}
	p, ok := it.Pending[jobId]
	return p, ok, nil
}

// lockContribution puts the job's lock in Pending unless it has an entry.
func (s *Store) lockContribution(ctx context.Context, segmentId, jobId, token string) (bool, error) {
	av, err := attributeValue(pending{Token: token, Lease: s.now()})
	if err != nil {
		return false, err
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.t.Segments),
		Key:                       map[string]types.AttributeValue{"SegmentId": str(segmentId)},
		UpdateExpression:          aws.String("SET #p.#j = :l"),
		ConditionExpression:       aws.String("attribute_exists(SegmentId) AND attribute_not_exists(#p.#j)"),
		ExpressionAttributeNames:  map[string]string{"#p": "Pending", "#j": jobId},
		ExpressionAttributeValues: map[string]types.AttributeValue{":l": av},
	})
	if isConditionFailed(err) {
		// Taken by another, or by this call's own earlier attempt whose answer
		// was lost (the SDK retries a request that failed in transit).
		p, found, err := s.pendingContribution(ctx, segmentId, jobId)
		return err == nil && found && p.Token == token && !p.Applied, err
	}
	if err != nil {
		return false, fmt.Errorf("lock segment %s for job %s: %w", segmentId, jobId, err)
	}
	return true, nil
}

// removePending removes the job's entry if it still bears token.
func (s *Store) removePending(ctx context.Context, segmentId, jobId, token string) error {
	return s.removeEntry(ctx, segmentId, jobId, token, false)
}

// removeLock removes the job's entry if it is still the lock of token, not
// applied: its holder may have applied it since it was read, and an applied
// entry must be recorded on the job before it goes, else the next finisher
// would read no applied contribution and add it again.
func (s *Store) removeLock(ctx context.Context, segmentId, jobId, token string) error {
	return s.removeEntry(ctx, segmentId, jobId, token, true)
}

func (s *Store) removeEntry(ctx context.Context, segmentId, jobId, token string, onlyUnapplied bool) error {
	cond := "#p.#j.#t = :t"
	names := map[string]string{"#p": "Pending", "#j": jobId, "#t": "Token"}
	values := map[string]types.AttributeValue{":t": str(token)}
	if onlyUnapplied {
		cond += " AND #p.#j.#a = :false"
		names["#a"] = "Applied"
		values[":false"] = &types.AttributeValueMemberBOOL{Value: false}
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.t.Segments),
		Key:                       map[string]types.AttributeValue{"SegmentId": str(segmentId)},
		UpdateExpression:          aws.String("REMOVE #p.#j"),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("unlock segment %s for job %s: %w", segmentId, jobId, err)
	}
	return nil
}

// appliedContribution reads the contribution recorded on the job's item.
func (s *Store) appliedContribution(ctx context.Context, jobId string) (contribution, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:            aws.String(s.t.Jobs),
		Key:                  jobKey(jobId, jobSk),
		ConsistentRead:       aws.Bool(true),
		ProjectionExpression: aws.String("Applied"),
	})
	if err != nil {
		return contribution{}, fmt.Errorf("read job %s: %w", jobId, err)
	}
	var it struct {
		Applied contribution `json:"Applied"`
	}
	if err := unmarshal(out.Item, &it); err != nil {
		return contribution{}, fmt.Errorf("decode job %s: %w", jobId, err)
	}
	return it.Applied, nil
}

// applyContribution adds p.C - prev to the segment's totals and marks the
// job's entry applied, if the entry is still the lock of p.Token.
func (s *Store) applyContribution(ctx context.Context, segmentId string, im job.Contribution, prev contribution, p pending) (bool, error) {
	next := p.C
	pAV, err := attributeValue(p)
	if err != nil {
		return false, err
	}
	names := map[string]string{"#sz": "Size", "#j": im.JobId, "#p": "Pending", "#t": "Token", "#a": "Applied"}
	values := map[string]types.AttributeValue{
		":d": num(int64(next.Size - prev.Size)), ":n": num(int64(next.New - prev.New)),
		":now": str(im.Now), ":p": pAV, ":tok": str(p.Token), ":false": &types.AttributeValueMemberBOOL{Value: false},
	}
	expr := "SET ImportDefinition.#sz = ImportDefinition.#sz + :d, EndpointCount = EndpointCount + :n, LastModifiedDate = :now, #p.#j = :p"
	chans := map[string]int{}
	for ch, n := range next.Channels {
		chans[ch] += n
	}
	for ch, n := range prev.Channels {
		chans[ch] -= n
	}
	for i, ch := range sortedChannels(chans) {
		k := strconv.Itoa(i)
		names["#c"+k] = ch
		values[":c"+k] = num(int64(chans[ch]))
		values[":zero"] = num(0)
		expr += fmt.Sprintf(", ImportDefinition.ChannelCounts.#c%s = if_not_exists(ImportDefinition.ChannelCounts.#c%s, :zero) + :c%s", k, k, k)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(s.t.Segments),
		Key:              map[string]types.AttributeValue{"SegmentId": str(segmentId)},
		UpdateExpression: aws.String(expr),
		// Applied = false too: an SDK retry of an update that was applied
		// must not add the change twice.
		ConditionExpression:       aws.String("#p.#j.#t = :tok AND #p.#j.#a = :false"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("add job %s to segment %s: %w", im.JobId, segmentId, err)
	}
	return true, nil
}

// settleContribution records an applied entry's contribution on the job's item,
// then removes the entry.
func (s *Store) settleContribution(ctx context.Context, segmentId, jobId string, p pending) error {
	av, err := attributeValue(p.C)
	if err != nil {
		return err
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.t.Jobs),
		Key:                       jobKey(jobId, jobSk),
		UpdateExpression:          aws.String("SET Applied = :c"),
		ConditionExpression:       aws.String("attribute_exists(JobId) AND (attribute_not_exists(Applied) OR Applied.V < :v)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": av, ":v": num(int64(p.C.V))},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("record the contribution of job %s: %w", jobId, err)
	}
	return s.removePending(ctx, segmentId, jobId, p.Token)
}

// Segment reads one segment by id.
func (s *Store) Segment(ctx context.Context, id string) (*segment.Segment, error) {
	var it segmentItem
	key := map[string]types.AttributeValue{"SegmentId": str(id)}
	if err := s.getItem(ctx, s.t.Segments, key, "segment "+id, &it); err != nil {
		return nil, err
	}
	seg := it.segment()
	return seg, s.netOfErased(ctx, seg)
}

// Segments lists every segment, by name.
func (s *Store) Segments(ctx context.Context) ([]*segment.Segment, error) {
	items, err := s.scan(ctx, s.t.Segments)
	if err != nil {
		return nil, err
	}
	segs := make([]*segment.Segment, 0, len(items))
	for _, item := range items {
		var it segmentItem
		if err := unmarshal(item, &it); err != nil {
			return nil, fmt.Errorf("decode segment: %w", err)
		}
		seg := it.segment()
		if err := s.netOfErased(ctx, seg); err != nil {
			return nil, err
		}
		segs = append(segs, seg)
	}
	sort.Slice(segs, func(i, j int) bool {
		return segs[i].Name < segs[j].Name || (segs[i].Name == segs[j].Name && segs[i].Id < segs[j].Id)
	})
	return segs, nil
}

// SegmentByName finds the segment a reference names, by segment.Resolve: an
// id, or a name whose id is derived from it. The CLI and pkg/client (so the
// HTTP API) resolve names through it alike. An invalid name is a
// *segment.NameError; a segment that does not exist, ErrNotFound.
func (s *Store) SegmentByName(ctx context.Context, ref string) (*segment.Segment, error) {
	id, err := segment.Resolve(ref)
	if err != nil {
		return nil, err
	}
	sg, err := s.Segment(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("segment %q: %w", ref, ErrNotFound)
	}
	return sg, err
}

func sortedChannels(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
