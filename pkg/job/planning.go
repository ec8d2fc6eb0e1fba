package job

// Planning splits a job's objects into pieces in parallel. The trigger knows
// only the objects' sizes: it cuts each object into chunks of the piece size,
// groups the chunks into ranges and sends one plan message per range. Each
// plan message scans its range and records one Frame per chunk; once every
// range is scanned, the frames of each object, combined in order, give its
// pieces (internal/plan), and the job starts.

// Range is one plan message's share of the planning: whole chunks of one
// object, [Start, End), chunks of Chunk bytes counted from the object's start.
type Range struct {
	Index int    `json:"Index"` // the range's number in the job, from 0, in file order
	Key   string `json:"Key"`   // the object's key
	File  int    `json:"File"`  // the object's number in the job, from 0
	Size  int64  `json:"Size"`  // the object's size
	Start int64  `json:"Start"` // first byte: a multiple of Chunk
	End   int64  `json:"End"`   // one past the last byte: a multiple of Chunk, or Size
	Chunk int64  `json:"Chunk"` // the chunk (and target piece) size
}

// First reports whether the range holds the object's first byte.
func (r Range) First() bool { return r.Start == 0 }

// Frame is what a scan learned of one chunk: for each state a CSV reader may
// be in at the chunk's start (package csvframe's states, in order), the state
// at its end (To), the offset in the chunk of the first newline that then ends
// a record, -1 if none (First), and the newlines up to and including it
// (Before); and the chunk's newlines.
type Frame struct {
	To       []int   `json:"To"`
	First    []int64 `json:"First"`
	Before   []int   `json:"Before"`
	Newlines int     `json:"Newlines"`
}

// RangeResult is what the scan of a range found.
type RangeResult struct {
	Frames []Frame `json:"Frames,omitempty"` // one per chunk, in order
	// Header is a CSV object's header, found by the range that holds its
	// first byte.
	Header []string `json:"Header,omitempty"`
	// Whole says the object is read as one piece (a compressed export).
	Whole bool `json:"Whole,omitempty"`
	// Reason is a file-level problem that fails the job before any row is
	// read (compression, encoding, an unknown column, a vanished object).
	Reason string `json:"Reason,omitempty"`
}

// RangeState is a range as recorded: its plan, and its result once scanned.
type RangeState struct {
	Index   int
	Plan    Range
	Scanned bool
	Result  RangeResult
	Tries   int // re-sends by the sweeper since the range last made progress
}

// Ranges cuts an object of size bytes into ranges of at most perRange chunks
// of chunk bytes, numbered from first. An empty object has none.
func Ranges(key string, file int, size, chunk int64, perRange int, first int) []Range {
	if size <= 0 || chunk <= 0 {
		return nil
	}
	perRange = max(perRange, 1)
	span := chunk * int64(perRange)
	var rs []Range
	for start := int64(0); start < size; start += span {
		rs = append(rs, Range{Index: first + len(rs), Key: key, File: file, Size: size, Start: start, End: min(size, start+span), Chunk: chunk})
	}
	return rs
}
