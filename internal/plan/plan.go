// Package plan splits an endpoint file into byte-range pieces that can be parsed in
// parallel. NDJSON splits at newlines. CSV splits only at true record boundaries,
// where the decoder's sequential parse ends a record: a parallel scan reads
// each chunk from every state of the parser at once (package csvframe) and
// the chunks' results, combined in order, give for each cut the first newline
// that ends a record. Every piece knows the line its first byte is on, so row errors carry
// true file line numbers.
package plan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/segport/segport/internal/csvframe"
	"github.com/segport/segport/pkg/job"
)

// RangeFunc opens bytes [start, end) of the file.
type RangeFunc func(ctx context.Context, start, end int64) (io.ReadCloser, error)

// Piece is one byte range of the file.
type Piece struct {
	Start int64 // first byte; a record starts here
	End   int64 // one past the last byte
	Line  int   // the line number of the first byte
	Lines int   // newlines in the piece: an estimate of its rows
}

// Options tune a plan.
type Options struct {
	PieceSize   int64 // target bytes per piece
	Quotes      bool  // CSV: newlines inside double quotes are not boundaries
	Concurrency int   // ranged reads in flight during the scan; 0 means 4
}

// Split plans a file of size bytes into pieces of about opts.PieceSize. It reads
// the whole file once, opts.Concurrency chunks at a time: Scan, then Combine.
func Split(ctx context.Context, size int64, open RangeFunc, opts Options) ([]Piece, error) {
	if opts.PieceSize <= 0 {
		return nil, errors.New("plan: piece size must be positive")
	}
	frames, err := Scan(ctx, size, open, 0, size, opts)
	if err != nil {
		return nil, err
	}
	return Combine(size, opts.PieceSize, frames), nil
}

// Scan reads the chunks of opts.PieceSize bytes that make up bytes [start,
// end) of a file of size bytes (start a multiple of the chunk size, end one
// too or size) and returns their frames, in order. A planner may scan a file
// in parts, in parallel, and combine the parts' frames in order.
func Scan(ctx context.Context, size int64, open RangeFunc, start, end int64, opts Options) ([]job.Frame, error) {
	chunk := opts.PieceSize
	if chunk <= 0 {
		return nil, errors.New("plan: piece size must be positive")
	}
	if start%chunk != 0 || end < start || end > size || end != size && end%chunk != 0 {
		return nil, fmt.Errorf("plan: bytes %d-%d are not whole chunks of %d bytes of a %d-byte file", start, end, chunk, size)
	}
	n := int((end - start + chunk - 1) / chunk)
	conc := opts.Concurrency
	if conc <= 0 {
		conc = 4
	}
	frames := make([]job.Frame, n)
	errs := make([]error, n)
	bom := fileBOM(ctx, size, open)
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for c := 0; c < n; c++ {
		from := start + int64(c)*chunk
		to := min(end, from+chunk)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			st, err := scanChunk(ctx, open, from, to, opts.Quotes, bom)
			frames[c], errs[c] = frameOf(&st), err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return frames, nil
}

// frameOf is the stored form of a chunk's transition.
func frameOf(t *csvframe.Transition) job.Frame {
	f := job.Frame{To: make([]int, csvframe.NumStates), First: make([]int64, csvframe.NumStates),
		Before: make([]int, csvframe.NumStates), Newlines: t.Newlines}
	for s := range csvframe.NumStates {
		f.To[s], f.First[s], f.Before[s] = int(t.To[s]), t.First[s], t.Before[s]
	}
	return f
}

// Combine gives the pieces of a file of size bytes from the frames of all its
// chunks of chunk bytes, in order. It walks the chunks carrying the reader's
// state (the state of a sequential parse at each chunk's start) and the line
// count, and cuts a piece at the first record boundary at or after each
// chunk's start. An empty file is one empty piece.
func Combine(size, chunk int64, frames []job.Frame) []Piece {
	pieces := []Piece{{Start: 0, Line: 1}}
	state := int(csvframe.FieldStart)
	line := 1
	for c, f := range frames {
		if c > 0 {
			if off := f.First[state]; off >= 0 {
				cut := int64(c)*chunk + off + 1
				last := &pieces[len(pieces)-1]
				if cut > last.Start && cut < size {
					pieces = append(pieces, Piece{Start: cut, Line: line + f.Before[state]})
				}
			}
		}
		state = f.To[state]
		line += f.Newlines
	}
	for i := range pieces {
		if i+1 < len(pieces) {
			pieces[i].End = pieces[i+1].Start
			pieces[i].Lines = pieces[i+1].Line - pieces[i].Line
		} else {
			pieces[i].End = size
			pieces[i].Lines = line - pieces[i].Line
		}
	}
	return pieces
}

// scanChunk reads [start, end) and finds, for each state a CSV reader may be
// in at its start, the first newline that ends a record; without quotes, the
// first newline. bom says whether the file starts with a byte order mark, which
// the decoder strips before it reads the first record; it matters only to the
// chunks that hold some of its bytes.
func scanChunk(ctx context.Context, open RangeFunc, start, end int64, quotes bool, bom bomFunc) (csvframe.Transition, error) {
	st := csvframe.NewTransition()
	rc, err := open(ctx, start, end)
	if err != nil {
		return st, err
	}
	defer rc.Close()
	buf := make([]byte, 256*1024)
	var off int64
	for {
		n, rerr := io.ReadFull(rc, buf)
		b := buf[:n]
		if quotes && off == 0 && start < int64(len(utf8BOM)) {
			has, err := bom(b, start, end)
			if err != nil {
				return st, err
			}
			if skip := min(len(b), len(utf8BOM)-int(start)); has {
				st.Skip(skip)
				b = b[skip:]
			}
		}
		off += int64(n)
		if quotes {
			st.Add(b)
		} else {
			lines(&st, b)
		}
		switch rerr {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			if off != end-start {
				return st, fmt.Errorf("scan bytes %d-%d: got %d bytes", start, end-1, off)
			}
			return st, nil
		default:
			return st, fmt.Errorf("scan bytes %d-%d: %w", start, end-1, rerr)
		}
	}
}

// lines is Transition.Add for NDJSON, where every newline ends a record.
func lines(st *csvframe.Transition, b []byte) {
	if st.First[0] < 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			for s := range st.First {
				st.First[s], st.Before[s] = st.N()+int64(i), st.Newlines+1
			}
		}
	}
	st.Skip(len(b))
	st.Newlines += bytes.Count(b, []byte{'\n'})
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// bomFunc reports whether the file starts with a byte order mark, for the
// chunk [start, end) whose first bytes are head.
type bomFunc func(head []byte, start, end int64) (bool, error)

// fileBOM returns the bomFunc of a file: the first chunk looks at its own
// bytes; a chunk that starts inside the first three bytes (pieces of fewer
// than three bytes) reads them.
func fileBOM(ctx context.Context, size int64, open RangeFunc) bomFunc {
	return func(head []byte, start, end int64) (bool, error) {
		if start == 0 && len(head) >= len(utf8BOM) {
			return bytes.HasPrefix(head, utf8BOM), nil
		}
		rc, err := open(ctx, 0, min(size, int64(len(utf8BOM))))
		if err != nil {
			return false, err
		}
		defer rc.Close()
		first, err := io.ReadAll(rc)
		if err != nil {
			return false, fmt.Errorf("read the start of the file: %w", err)
		}
		return bytes.Equal(first, utf8BOM), nil
	}
}
