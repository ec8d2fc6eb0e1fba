package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/segport/segport/internal/decode"
	"github.com/segport/segport/internal/memstore"
	"github.com/segport/segport/internal/merge"
	"github.com/segport/segport/pkg/endpoint"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// refRow is a valid row of the sequential parse, stamped as the parser stamps it.
type refRow struct {
	line  int
	stamp string
	e     *endpoint.Endpoint
}

// refFile is what a sequential parse of a whole file finds.
type refFile struct {
	valid   []refRow
	bad     []int // lines of the bad rows
	fileErr string
}

// parseWhole parses a file in one piece, in order, as the reference.
func parseWhole(f file) refFile {
	format := decode.CSV
	if f.json {
		format = decode.JSON
	}
	var rf refFile
	dec := decode.New(format, bytes.NewReader(f.body), decode.Options{File: f.key, Limits: endpoint.DefaultLimits(), RowLimit: 64 << 10})
	order := job.Order(f.created, f.jobId)
	for {
		row, err := dec.Decode()
		var rowErr *decode.RowError
		switch {
		case err == io.EOF:
			return rf
		case errors.As(err, &rowErr):
			rf.bad = append(rf.bad, row.Line)
		case err != nil:
			rf.fileErr = err.Error()
			return rf
		case row.Endpoint == nil: // a user-ID definition: the simulator's files have none
		default:
			eff := f.created
			if t, ok := endpoint.ParseDate(row.Endpoint.EffectiveDate); ok && row.Endpoint.EffectiveDate != "" {
				eff = t
			}
			rf.valid = append(rf.valid, refRow{line: row.Line, stamp: job.Stamp(eff, order, 0, row.Line), e: row.Endpoint})
		}
	}
}

// check returns the invariants the finished schedule breaks.
func check(w *world, sc scenario) []string {
	var fails []string
	failf := func(format string, args ...any) { fails = append(fails, fmt.Sprintf(format, args...)) }
	ctx := context.Background()
	refs := make([]refFile, len(sc.files))
	exact := true // no rows were lost: the tables must be the sequential ones
	lostAny := false
	processed := map[string]int{} // by segment
	for i, f := range sc.files {
		refs[i] = parseWhole(f)
		if refs[i].fileErr != "" {
			exact = false
		}
		h := w.db.Job(f.jobId)
		if h == nil && w.unplanned[f.key] {
			exact = false
			continue
		}
		if h == nil {
			failf("every job ends: job %s (%s) does not exist", f.jobId, f.key)
			exact = false
			continue
		}
		j := h.Job
		if !j.JobStatus.Final() {
			failf("every job ends: job of %s is %s, %d pieces, progress %d: %s", f.key, j.JobStatus, h.Launch.TotalPieces, h.Progress, pieceStates(w, f.jobId))
		}
		if !f.isDelete() {
			processed[job.SegmentId(f.segment)] += j.TotalProcessed
		}
		pieces, err := w.db.Pieces(ctx, f.jobId)
		if err != nil {
			failf("read the pieces of %s: %v", f.key, err)
			continue
		}
		lost := checkAccounting(failf, f, refs[i], j, pieces)
		if h.Launch.TotalPieces == 0 && len(refs[i].valid)+len(refs[i].bad) > 0 {
			lost = true // failed before it was planned
		}
		if lost {
			exact, lostAny = false, true
		}
		if j.JobStatus.Final() && !lost && refs[i].fileErr == "" {
			if j.TotalProcessed != len(refs[i].valid) || j.TotalFailures != len(refs[i].bad) {
				failf("exact counts: %s: TotalProcessed %d, TotalFailures %d; a sequential parse finds %d valid rows, %d bad",
					f.key, j.TotalProcessed, j.TotalFailures, len(refs[i].valid), len(refs[i].bad))
			}
			want := job.Completed
			if len(refs[i].valid) == 0 {
				want = job.Failed
			}
			if j.JobStatus != want {
				failf("exact counts: %s ended %s, want %s", f.key, j.JobStatus, want)
			}
		}
	}
	if lostAny && !w.lossy {
		failf("nothing lost: rows were lost or pieces given up although every fault injected was transient: %s", lostDetail(w, sc))
	}
	checkSegments(failf, w, sc, processed)
	if exact {
		checkTables(failf, w, sc, refs)
	}
	checkItems(failf, w)
	checkMessages(failf, w)
	return fails
}

// checkAccounting checks that a job's counts are those of its pieces and that
// every row of a parsed piece is written, lost or bad. It reports whether
// rows were lost or pieces given up.
func checkAccounting(failf func(string, ...any), f file, rf refFile, j *job.Job, pieces []*job.PieceState) (lost bool) {
	written, failures := 0, 0
	for k, p := range pieces {
		written += p.Written().Rows
		if !p.Parsed && p.GaveUp != "" {
			lost = true
		}
		if len(p.Unwritten()) > 0 {
			lost = true
		}
		for _, seq := range p.Unwritten() {
			failures += p.Lost[seq].Rows
		}
		if !p.Parsed {
			continue
		}
		failures += p.Result.Failed
		if p.Result.Error != "" {
			lost = true
			continue
		}
		end := 1 << 62
		if k+1 < len(pieces) {
			end = pieces[k+1].Plan.Line
		}
		inPiece := 0
		for _, r := range rf.valid {
			if r.line >= p.Plan.Line && r.line < end {
				inPiece++
			}
		}
		for _, l := range rf.bad {
			if l >= p.Plan.Line && l < end {
				inPiece++
			}
		}
		if p.Result.Rows+p.Result.Failed != inPiece {
			failf("every row accounted for: %s piece %d (line %d) parsed %d valid + %d bad rows; the file has %d rows there",
				f.key, p.Index, p.Plan.Line, p.Result.Rows, p.Result.Failed, inPiece)
		}
		batched := 0
		for seq := 0; seq < p.Result.Batches; seq++ {
			if t, ok := p.Done[seq]; ok {
				batched += t.Rows
			} else if l, ok := p.Lost[seq]; ok {
				batched += l.Rows
			}
		}
		if j.JobStatus.Final() && batched != p.Result.Rows {
			failf("every row accounted for: %s piece %d: its batches hold %d rows written or lost, it parsed %d valid rows",
				f.key, p.Index, batched, p.Result.Rows)
		}
	}
	if !j.JobStatus.Final() {
		return lost
	}
	if j.TotalProcessed != written {
		failf("exact accounting: %s: TotalProcessed %d, its pieces wrote %d rows", f.key, j.TotalProcessed, written)
	}
	if j.TotalFailures != failures {
		failf("exact accounting: %s: TotalFailures %d, its pieces count %d bad or lost rows", f.key, j.TotalFailures, failures)
	}
	return lost
}

func checkSegments(failf func(string, ...any), w *world, sc scenario, processed map[string]int) {
	for _, segId := range slices.Sorted(maps.Keys(processed)) {
		seg := w.db.Segment(segId)
		if seg == nil && processed[segId] == 0 {
			continue // its jobs failed before they were planned
		}
		if seg == nil {
			failf("segment %s does not exist", segId)
			continue
		}
		sum := 0
		for _, n := range seg.ImportDefinition.ChannelCounts {
			sum += n
		}
		if sum != seg.ImportDefinition.Size {
			failf("segment: ChannelCounts %v add up to %d, Size is %d", seg.ImportDefinition.ChannelCounts, sum, seg.ImportDefinition.Size)
		}
		if seg.ImportDefinition.Size != processed[segId] {
			failf("segment: Size %d, its jobs' TotalProcessed add up to %d", seg.ImportDefinition.Size, processed[segId])
		}
		if n := len(w.db.MemberIds(segId)); seg.EndpointCount != n {
			failf("segment: EndpointCount %d, %d member items%s", seg.EndpointCount, n, describeVersions(w, segId))
		}
		checkVersions(failf, w, sc, segId, seg)
	}
}

// checkVersions checks a segment's versions: one per job that started,
// numbered from 1 without gaps, each ended as its job did with its job's
// counts, each counting exactly the members it reads, and the current version
// the latest COMPLETED one.
func checkVersions(failf func(string, ...any), w *world, sc scenario, segId string, seg *segment.Segment) {
	vs := w.db.Versions(segId)
	byJob := map[string]*job.Head{}
	for _, f := range sc.files {
		if h := w.db.Job(f.jobId); h != nil && job.SegmentId(f.segment) == segId {
			byJob[f.jobId] = h
		}
	}
	current := 0
	for i, v := range vs {
		if v.Version != i+1 {
			failf("versions: version %d where %d was due: %v", v.Version, i+1, vs)
			return
		}
		h := byJob[v.JobId]
		switch {
		case h == nil:
			failf("versions: version %d names job %s, not one of the segment's", v.Version, v.JobId)
			continue
		case h.Launch.Version != v.Version && v.JobStatus == string(job.Failed):
			continue // reserved by a job that failed before it started, or by a launch that raced another
		case h.Launch.Version != v.Version:
			failf("versions: version %d names job %s, whose launch names version %d", v.Version, v.JobId, h.Launch.Version)
		case v.JobStatus != string(h.Job.JobStatus):
			failf("versions: version %d is %s, its job %s", v.Version, v.JobStatus, h.Job.JobStatus)
		case v.ImportDefinition.Size != h.Job.TotalProcessed:
			failf("versions: version %d has Size %d, its job processed %d", v.Version, v.ImportDefinition.Size, h.Job.TotalProcessed)
		}
		if v.EndpointCount == nil {
			failf("versions: version %d is not counted", v.Version)
		} else if n := len(w.db.VersionMemberIds(segment.MemberSet(segId, v.Base), v.Version)); *v.EndpointCount != n && !v.Pruned {
			failf("versions: version %d counts %d members, %d member items of its generation %d are of it or earlier versions", v.Version, *v.EndpointCount, n, v.Base)
		}
		if v.JobStatus == string(job.Completed) {
			current = v.Version
		}
	}
	for id, h := range byJob {
		if h.Launch.Version > 0 && (h.Launch.Version > len(vs) || vs[h.Launch.Version-1].JobId != id) {
			failf("versions: job %s started with version %d, which is not its", id, h.Launch.Version)
		}
	}
	checkBases(failf, vs, byJob, sc)
	if seg.Version != current {
		var desc []string
		for _, v := range vs {
			desc = append(desc, fmt.Sprintf("%d %s job %s (launch version %d, %s)", v.Version, v.JobStatus, v.JobId, byJob[v.JobId].Launch.Version, byJob[v.JobId].Job.JobStatus))
		}
		failf("versions: the segment's current version is %d, the latest COMPLETED is %d: %s", seg.Version, current, strings.Join(desc, "; "))
	}
}

// checkTables compares the tables with applying every valid row once, in
// stamp order, to fresh records.
func checkTables(failf func(string, ...any), w *world, sc scenario, refs []refFile) {
	var rows []refRow
	deleted := map[string]string{} // endpoint id -> its latest delete
	for i, rf := range refs {
		for _, r := range rf.valid {
			if sc.files[i].isDelete() {
				deleted[r.e.Id] = max(deleted[r.e.Id], r.stamp)
				r.e = nil // a delete
			}
			rows = append(rows, r)
		}
	}
	// A member is made by a row of its segment after the endpoint's latest delete.
	members := map[string]map[string]bool{}
	for i, rf := range refs {
		seg := job.SegmentId(sc.files[i].segment)
		if sc.files[i].isDelete() {
			continue
		}
		if members[seg] == nil {
			members[seg] = map[string]bool{}
		}
		for _, r := range rf.valid {
			if r.stamp > deleted[r.e.Id] {
				members[seg][r.e.Id] = true
			}
		}
	}
	sort.SliceStable(rows, func(i, k int) bool { return rows[i].stamp < rows[k].stamp })
	eps := map[string]*merge.Endpoint{}
	users := map[string]*merge.User{}
	for _, r := range rows {
		if r.e == nil {
			for id, d := range deleted {
				if d == r.stamp {
					if eps[id] == nil {
						eps[id] = merge.NewEndpoint(id)
					}
					eps[id].Erase(d)
				}
			}
			continue
		}
		rec := eps[r.e.Id]
		if rec == nil {
			rec = merge.NewEndpoint(r.e.Id)
			eps[r.e.Id] = rec
		}
		rec.Apply(r.e, r.stamp)
		if u := r.e.User; u != nil && u.UserId != "" && len(u.UserAttributes) > 0 {
			ur := users[u.UserId]
			if ur == nil {
				ur = merge.NewUser(u.UserId)
				users[u.UserId] = ur
			}
			ur.Apply(u.UserAttributes, r.stamp)
		}
	}
	// The reference records pass through a store of their own, so that both
	// sides have the stored form.
	ref := memstore.NewDB(&memstore.Env{}, 1)
	ctx := context.Background()
	for _, id := range slices.Sorted(maps.Keys(eps)) {
		if len(eps[id].Stamps) == 0 && eps[id].Deleted == "" {
			continue // a row of nothing but an Id changes nothing: no item
		}
		if err := ref.PutEndpoint(ctx, eps[id], 0); err != nil {
			failf("tables: the reference endpoint %s cannot be stored: %v", id, err)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(users)) {
		if err := ref.PutUser(ctx, users[id], 0); err != nil {
			failf("tables: the reference user %s cannot be stored: %v", id, err)
		}
	}
	if got, want := w.db.EndpointIds(), ref.EndpointIds(); !slices.Equal(got, want) {
		failf("tables: endpoints %v, want %v", got, want)
	}
	for _, id := range ref.EndpointIds() {
		if got, want := canonicalEndpoint(w.db.Endpoint(id)), canonicalEndpoint(ref.Endpoint(id)); got != want {
			failf("tables: endpoint %s is\n  %s\nwant\n  %s", id, got, want)
		}
	}
	if got, want := w.db.UserIds(), ref.UserIds(); !slices.Equal(got, want) {
		failf("tables: users %v, want %v", got, want)
	}
	for _, id := range ref.UserIds() {
		if got, want := canonicalUser(w.db.User(id)), canonicalUser(ref.User(id)); got != want {
			failf("tables: user %s is\n  %s\nwant\n  %s", id, got, want)
		}
	}
	for _, seg := range slices.Sorted(maps.Keys(members)) {
		if w.db.Segment(seg).LastReplace > 0 {
			checkVersionMembers(failf, w, sc, refs, seg, deleted)
			continue
		}
		want := slices.Sorted(maps.Keys(members[seg]))
		if got := w.db.MemberIds(seg); !slices.Equal(got, want) {
			failf("tables: members of segment %s are %v, want %v", seg, got, want)
		}
	}
}

func canonicalEndpoint(rec *merge.Endpoint) string {
	if rec == nil {
		return "<none>"
	}
	e, _ := rec.E.MarshalCanonical()
	s, _ := json.Marshal(rec.Stamps)
	return string(e) + " " + string(s) + " deleted " + rec.Deleted
}

func canonicalUser(u *merge.User) string {
	if u == nil {
		return "<none>"
	}
	a, _ := json.Marshal(u.Attrs)
	s, _ := json.Marshal(u.Stamps)
	return string(a) + " " + string(s)
}

func checkItems(failf func(string, ...any), w *world) {
	for _, t := range w.db.Tables() {
		items := w.db.Items(t)
		for _, k := range slices.Sorted(maps.Keys(items)) {
			if len(items[k]) <= memstore.MaxItemBytes/2 {
				continue // its JSON is longer than its size
			}
			n, err := memstore.ItemSize(items[k])
			if err != nil || n > memstore.MaxItemBytes {
				failf("items: %s item %q is %d bytes (%v)", t, k, n, err)
			}
		}
	}
}

// checkMessages checks that every message sent was deleted, moved to a
// dead-letter queue or lost with a restart, and that every message of a
// dead-letter queue is recorded on its job.
func checkMessages(failf func(string, ...any), w *world) {
	for _, q := range []*memstore.Queue{w.parseQ, w.writeQ} {
		s := q.Stats()
		if s.Sent != s.Deleted+s.Dead+s.Dropped+q.Len() || q.Len() != 0 {
			failf("messages: %+v, %d left", s, q.Len())
		}
	}
	ctx := context.Background()
	for _, b := range w.parseDLQ.Bodies() {
		var m job.ParseMessage
		if json.Unmarshal(b, &m) != nil {
			failf("messages: undecodable parse message in the dead-letter queue")
			continue
		}
		if m.Range != nil {
			checkDeadRange(failf, w, &m)
			continue
		}
		if p := piece(ctx, w, m.JobId, m.Piece.Index); p == nil || (!p.Parsed && p.GaveUp == "") {
			failf("messages: a parse message of piece %d is in the dead-letter queue, and the piece is neither parsed nor given up", m.Piece.Index)
		}
	}
	for _, b := range w.writeDLQ.Bodies() {
		var m job.WriteBatch
		if json.Unmarshal(b, &m) != nil {
			failf("messages: undecodable write batch in the dead-letter queue")
			continue
		}
		p := piece(ctx, w, m.JobId, m.Piece)
		if p == nil {
			failf("messages: write batch %d of piece %d is in the dead-letter queue, its piece is not recorded", m.Seq, m.Piece)
			continue
		}
		_, done := p.Done[m.Seq]
		_, lost := p.Lost[m.Seq]
		if !done && !lost && (p.Parsed || p.GaveUp == "") {
			// (A batch of a piece given up unparsed is reported with the piece.)
			failf("messages: write batch %d of piece %d is in the dead-letter queue, neither written nor recorded lost: %s",
				m.Seq, m.Piece, pieceStates(w, m.JobId))
		}
	}
}

func piece(ctx context.Context, w *world, jobId string, index int) *job.PieceState {
	ps, err := w.db.Pieces(ctx, jobId)
	if err != nil || index >= len(ps) {
		return nil
	}
	return ps[index]
}

// lostDetail says which pieces were given up and which batches lost, and why.
func lostDetail(w *world, sc scenario) string {
	var out []string
	for _, f := range sc.files {
		pieces, _ := w.db.Pieces(context.Background(), f.jobId)
		for _, p := range pieces {
			if !p.Parsed && p.GaveUp != "" {
				out = append(out, fmt.Sprintf("%s piece %d given up (tries %d): %s", f.key, p.Index, p.Tries, p.GaveUp))
			}
			for _, seq := range p.Unwritten() {
				out = append(out, fmt.Sprintf("%s piece %d batch %d lost (tries %d): %s", f.key, p.Index, seq, p.Tries, p.Lost[seq].Reason))
			}
		}
	}
	return strings.Join(out, "; ")
}

// pieceStates describes a job's pieces briefly.
func pieceStates(w *world, jobId string) string {
	pieces, _ := w.db.Pieces(context.Background(), jobId)
	var out []string
	for _, p := range pieces {
		out = append(out, fmt.Sprintf("piece %d: parsed %v batches %d done %v lost %v gaveUp %q tries %d settled %v",
			p.Index, p.Parsed, p.Result.Batches, slices.Sorted(maps.Keys(p.Done)), slices.Sorted(maps.Keys(p.Lost)), p.GaveUp, p.Tries, p.Settled()))
	}
	return strings.Join(out, "; ")
}

// checkDeadRange checks a plan message of the dead-letter queue: its range
// was scanned after all, or its job failed because it was not.
func checkDeadRange(failf func(string, ...any), w *world, m *job.ParseMessage) {
	ctx := context.Background()
	ranges, err := w.db.Ranges(ctx, m.JobId)
	if err != nil {
		failf("messages: ranges of job %s: %v", m.JobId, err)
		return
	}
	for _, r := range ranges {
		if r.Index == m.Range.Index && r.Scanned {
			return
		}
	}
	h, err := w.db.Head(ctx, m.JobId)
	if err != nil || h.Job.JobStatus != job.Failed || len(h.Job.Failures) == 0 || !strings.Contains(h.Job.Failures[0], "could not be planned") {
		failf("messages: a plan message of range %d is in the dead-letter queue, its range is not scanned, and its job did not fail for it: %+v, %v", m.Range.Index, h, err)
	}
}
