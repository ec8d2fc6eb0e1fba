package job

import (
	"errors"
	"fmt"
	"sort"
)

// The store errors every adapter returns, so that the handlers can tell them
// apart without knowing which service answered.
var (
	// ErrNotFound means the item or object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a conditional write lost a race: read again and retry.
	ErrConflict = errors.New("conditional write conflict")
	// ErrPruned means a segment generation's members are no longer kept: a
	// write into it is undone, a read of it refused.
	ErrPruned = errors.New("the version's members are no longer kept (retention: see README, Segment versions)")
	// ErrImportsRunning means a segment cannot be deleted while imports into
	// it run.
	ErrImportsRunning = errors.New("imports into the segment are running; delete it once they have ended")
)

// Object is a stored object (an S3 object, for the adapters).
type Object struct {
	Bucket   string
	Key      string
	Size     int64
	ETag     string
	Metadata map[string]string
}

// Tally counts the rows of one write batch, in all and per channel. A row
// without a ChannelType (an update by Id) counts under NoChannel, so that a
// tally's channels always add up to its rows.
type Tally struct {
	Rows     int            `json:"Rows"`
	Channels map[string]int `json:"Channels,omitempty"`
	// New counts the endpoints the batch made members of its segment first
	// (known once it is written).
	New int `json:"New,omitempty"`
}

// NoChannel is the ChannelCounts key of rows that name no ChannelType.
const NoChannel = "UNSPECIFIED"

// Count adds one row of channel ch.
func (t *Tally) Count(ch string) {
	if ch == "" {
		ch = NoChannel
	}
	if t.Channels == nil {
		t.Channels = map[string]int{}
	}
	t.Rows++
	t.Channels[ch]++
}

// Add adds o to t.
func (t *Tally) Add(o Tally) {
	t.Rows += o.Rows
	t.New += o.New
	for ch, n := range o.Channels {
		if t.Channels == nil {
			t.Channels = map[string]int{}
		}
		t.Channels[ch] += n
	}
}

// LostBatch is a write batch abandoned after its last delivery: its rows were
// not (all) applied.
type LostBatch struct {
	Tally
	Line   int    `json:"Line"`   // the line of its first row
	Reason string `json:"Reason"` // why it was abandoned
}

// PieceState is everything recorded of one piece: where it is, what parsing it
// found, which of its write batches were written or lost, and whether it was
// given up. The rules that say when a piece, and so a job, has ended live here
// and nowhere else.
type PieceState struct {
	Index  int               `json:"Index"`
	Plan   Piece             `json:"Plan"`
	Parsed bool              `json:"Parsed"`
	Result PieceResult       `json:"Result"`
	Done   map[int]Tally     `json:"Done,omitempty"`
	Lost   map[int]LostBatch `json:"Lost,omitempty"`
	// GaveUp is why the piece's parse was abandoned (its message went to the
	// dead-letter queue, or the sweeper stopped re-sending it). A later parse
	// that succeeds clears it.
	GaveUp string `json:"GaveUp,omitempty"`
	// Tries counts the sweeper's re-sends of the piece.
	Tries int `json:"Tries,omitempty"`
}

// Unwritten returns the lost batches that no later delivery wrote.
func (p *PieceState) Unwritten() []int {
	var seqs []int
	for seq := range p.Lost {
		if _, ok := p.Done[seq]; !ok {
			seqs = append(seqs, seq)
		}
	}
	sort.Ints(seqs)
	return seqs
}

// Settled reports whether the piece has ended: parsed with every batch written
// or lost, or given up before it was parsed.
func (p *PieceState) Settled() bool {
	if !p.Parsed {
		return p.GaveUp != ""
	}
	for seq := range p.Result.Batches {
		_, done := p.Done[seq]
		_, lost := p.Lost[seq]
		if !done && !lost {
			return false
		}
	}
	return true
}

// Failed reports whether a settled piece ended without all its rows: unreadable
// to its end, given up, or with batches lost.
func (p *PieceState) Failed() bool {
	return p.Result.Error != "" || (!p.Parsed && p.GaveUp != "") || len(p.Unwritten()) > 0
}

// Written returns the rows of the piece's batches that were written.
func (p *PieceState) Written() Tally {
	var t Tally
	for _, d := range p.Done {
		t.Add(d)
	}
	return t
}

// Summary is a job's outcome, computed from its pieces' states alone, so that
// whoever computes it, as often as it likes, gets the same answer.
type Summary struct {
	Status    Status
	Written   Tally    // rows applied: TotalProcessed, the segment's Size and ChannelCounts; New: members added
	Failures  int      // rows not applied: bad rows and rows of lost batches
	Messages  []string // the first MaxFailures failure lines, piece by piece
	Reports   []string // the report parts of the pieces, in piece order
	Completed int      // pieces settled with all their rows
	FailedN   int      // pieces settled without all their rows
	Settled   bool     // every piece has settled
}

// Summarize adds up the states of a job's pieces (in any order) of a job of
// total pieces. A job that applied no row fails; one that applied any completes.
func Summarize(pieces []*PieceState, total int) Summary {
	ps := append([]*PieceState(nil), pieces...)
	sort.Slice(ps, func(i, k int) bool { return ps[i].Index < ps[k].Index })
	s := Summary{Settled: len(ps) >= total}
	add := func(msg string) {
		if len(s.Messages) < MaxFailures {
			s.Messages = append(s.Messages, msg)
		}
	}
	for _, p := range ps {
		s.Written.Add(p.Written())
		if p.Parsed {
			s.Failures += p.Result.Failed
			for _, f := range p.Result.Failures {
				add(f)
			}
			if p.Result.Report != "" {
				s.Reports = append(s.Reports, p.Result.Report)
			}
			if p.Result.Error != "" {
				add(p.Result.Error)
			}
		} else if p.GaveUp != "" {
			add(p.GaveUp)
		}
		for _, seq := range p.Unwritten() {
			lb := p.Lost[seq]
			s.Failures += lb.Rows
			s.Written.New += lb.New // members it added before it was abandoned
			add(Failure(p.Plan.Key, lb.Line, "", lb.Message()))
		}
		switch {
		case !p.Settled():
			s.Settled = false
		case p.Failed():
			s.FailedN++
		default:
			s.Completed++
		}
	}
	s.Status = Completed
	if s.Written.Rows == 0 {
		s.Status = Failed
		if len(s.Messages) == 0 && s.Settled {
			add("the import applied no endpoint: its files hold no rows")
		}
	}
	return s
}

// Message says what was lost with the batch and why, for the failures and the
// error report alike.
func (lb LostBatch) Message() string {
	return fmt.Sprintf("%d rows from this line on were not imported: %s", lb.Rows, lb.Reason)
}
