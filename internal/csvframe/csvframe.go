// Package csvframe finds where CSV records end, as RFC 4180 and encoding/csv
// read them: a double quote opens a quoted field only at the start of a field,
// and a newline ends the record unless it lies inside a quoted field. A quote
// anywhere else (a bare quote in an unquoted field, or text after a closing
// quote) makes the record bad, and the record then ends at the end of its line,
// where encoding/csv ends it: one stray quote fails one record, not the rest of
// the file.
//
// The decoder frames records with it and the planner finds piece boundaries
// with it, so that a piece always starts where the sequential parse starts a
// record. The state after a byte depends only on the state before it and the
// byte, so a chunk of a file can be read on its own from every state at once
// and the chunks' results combined in order (see Transition).
package csvframe

import "bytes"

// State is where a reader stands between two bytes of a CSV file.
type State uint8

// The states. A record starts in FieldStart.
const (
	FieldStart    State = iota // at the start of a field: of a record, or after a comma
	Unquoted                   // in an unquoted field
	Quoted                     // in a quoted field, where a newline is data
	QuoteInQuoted              // after a quote in a quoted field: it closes the field unless a second doubles it
	Bad                        // after a misplaced quote: the record ends at the end of the line
	NumStates     = 5
)

// Next returns the state after byte c: the definition that Line follows, one
// byte at a time.
func (s State) Next(c byte) State {
	switch s {
	case Quoted:
		if c == '"' {
			return QuoteInQuoted
		}
		return Quoted
	case Bad:
		if c == '\n' {
			return FieldStart
		}
		return Bad
	}
	switch c {
	case ',', '\n':
		return FieldStart
	case '"':
		switch s {
		case FieldStart:
			return Quoted
		case QuoteInQuoted:
			return Quoted // a doubled quote
		}
		return Bad // a bare quote in an unquoted field
	}
	if s == QuoteInQuoted {
		return Bad // text after a closing quote
	}
	return Unquoted
}

// After returns the state after b, read from state s. After a newline that
// ends a record the state is FieldStart; after one inside a quoted field,
// Quoted.
//
// It steps from quote to quote with bytes.IndexByte, as most fields hold none:
// outside quotes a comma or a newline matters only just before a quote, and
// in a bad record only the newline that ends it.
func (s State) After(b []byte) State {
	i := 0
	for i < len(b) {
		switch s {
		case Quoted:
			j := bytes.IndexByte(b[i:], '"')
			if j < 0 {
				return Quoted
			}
			i += j + 1
			s = QuoteInQuoted
		case QuoteInQuoted:
			s = s.Next(b[i])
			i++
		case Bad:
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				return Bad
			}
			i += j + 1
			s = FieldStart
		default: // FieldStart, Unquoted
			j := bytes.IndexByte(b[i:], '"')
			if j < 0 {
				return s.Next(b[len(b)-1]) // FieldStart after a comma or a newline, else Unquoted
			}
			if j > 0 {
				s = s.Next(b[i+j-1])
			}
			s = s.Next('"')
			i += j + 1
		}
	}
	return s
}

// OpenAfter reports whether a quoted field is open after line, read from the
// start of a record: whether the record goes on past the line. line ends with
// its newline, or the file ends with it. Most lines are settled by counting
// their quotes, which is quicker than reading them: read from the start of a
// record, every quote of a line opens, doubles or closes a quoted field until
// one is misplaced, after which the line opens none, so a field open at the
// end has had an odd number of quotes; an even number means none is open.
func OpenAfter(line []byte) bool {
	if bytes.Count(line, quote)%2 == 0 {
		return false
	}
	return FieldStart.After(line) == Quoted
}

var quote = []byte{'"'}

// Transition is what a chunk of a file does to each state it may be read from.
// Reading a chunk from every state at once costs little more than reading it
// from one: the readings meet (a newline outside quotes leaves them all in
// FieldStart, and a bad record outside quotes ends at its line's end), and
// each distinct state is read once.
type Transition struct {
	To       [NumStates]State // the state after the chunk, by the state before it
	First    [NumStates]int64 // the offset in the chunk of the first newline that ends a record, by the state before it; -1 when none
	Before   [NumStates]int   // newlines in the chunk up to and including that one
	Newlines int              // newlines in the chunk
	n        int64            // bytes read
	met      bool             // every state before the chunk leads to the same state now, and will from here on
	found    int              // states whose First is known
}

// NewTransition returns the transition of an empty chunk.
func NewTransition() Transition {
	t := Transition{}
	for s := range t.To {
		t.To[s] = State(s)
		t.First[s] = -1
	}
	return t
}

// N returns the bytes of the chunk read so far.
func (t *Transition) N() int64 { return t.n }

// Skip counts n bytes of the chunk that are no part of any record (a byte
// order mark the decoder strips).
func (t *Transition) Skip(n int) { t.n += int64(n) }

// Add reads b, the next bytes of the chunk. Until every state before the chunk
// leads to the same state and the first record-ending newline is known for
// each, it reads b a line at a time; then a block at a time.
func (t *Transition) Add(b []byte) {
	for len(b) > 0 {
		if t.met && t.found == NumStates {
			to := t.To[0].After(b)
			t.To = [NumStates]State{to, to, to, to, to}
			t.n += int64(len(b))
			t.Newlines += bytes.Count(b, newline)
			return
		}
		n := bytes.IndexByte(b, '\n') + 1
		if n == 0 {
			n = len(b)
		}
		t.addLine(b[:n])
		b = b[n:]
	}
}

var newline = []byte{'\n'}

// addLine is Add for b that holds no newline unless as its last byte.
func (t *Transition) addLine(b []byte) {
	if t.met {
		to := t.To[0].After(b)
		t.To = [NumStates]State{to, to, to, to, to}
	} else {
		var next [NumStates]State
		var done [NumStates]bool
		t.met = true
		for s, from := range t.To {
			if !done[from] {
				next[from], done[from] = from.After(b), true
			}
			t.To[s] = next[from]
			t.met = t.met && t.To[s] == t.To[0]
		}
	}
	t.n += int64(len(b))
	if b[len(b)-1] != '\n' {
		return
	}
	t.Newlines++
	for s, to := range t.To {
		if to != Quoted && t.First[s] < 0 {
			t.First[s], t.Before[s] = t.n-1, t.Newlines
			t.found++
		}
	}
}
