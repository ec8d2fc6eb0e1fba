// Package plan splits an endpoint file into byte-range pieces that can be parsed in
// parallel. NDJSON splits at newlines. CSV splits only at true record boundaries:
// a parallel quote-parity scan finds, for each cut, the first newline outside
// quotes. Every piece knows the line its first byte is on, so row errors carry
// true file line numbers.
package plan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
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

// chunkStats is what the scan learns of one chunk, for each parity of the quotes
// before the chunk: the first newline that is then outside quotes.
type chunkStats struct {
	quotes   int64    // double quotes in the chunk
	newlines int      // newlines in the chunk
	first    [2]int64 // offset in the chunk of the first boundary newline, by entry parity; -1 none
	before   [2]int   // newlines up to and including that newline
}

// Split plans a file of size bytes into pieces of about opts.PieceSize. It reads
// the whole file once, opts.Concurrency chunks at a time.
func Split(ctx context.Context, size int64, open RangeFunc, opts Options) ([]Piece, error) {
	if opts.PieceSize <= 0 {
		return nil, errors.New("plan: piece size must be positive")
	}
	if size == 0 {
		return []Piece{{Start: 0, End: 0, Line: 1}}, nil
	}
	n := int((size + opts.PieceSize - 1) / opts.PieceSize)
	stats, err := scanAll(ctx, size, n, open, opts)
	if err != nil {
		return nil, err
	}
	return combine(size, opts.PieceSize, stats), nil
}

// combine walks the chunks in order, carrying the quote parity and line count,
// and cuts a piece at the first boundary at or after each chunk's start.
func combine(size, pieceSize int64, stats []chunkStats) []Piece {
	pieces := []Piece{{Start: 0, Line: 1}}
	var quotes int64
	line := 1
	for c, st := range stats {
		if c > 0 {
			p := quotes % 2
			if off := st.first[p]; off >= 0 {
				cut := int64(c)*pieceSize + off + 1
				last := &pieces[len(pieces)-1]
				if cut > last.Start && cut < size {
					pieces = append(pieces, Piece{Start: cut, Line: line + st.before[p]})
				}
			}
		}
		quotes += st.quotes
		line += st.newlines
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

// scanAll scans the n chunks with bounded concurrency.
func scanAll(ctx context.Context, size int64, n int, open RangeFunc, opts Options) ([]chunkStats, error) {
	conc := opts.Concurrency
	if conc <= 0 {
		conc = 4
	}
	stats := make([]chunkStats, n)
	errs := make([]error, n)
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for c := 0; c < n; c++ {
		start := int64(c) * opts.PieceSize
		end := min(size, start+opts.PieceSize)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			stats[c], errs[c] = scanChunk(ctx, open, start, end, opts.Quotes)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return stats, nil
}

// scanChunk counts quotes and newlines in [start, end) and finds the first
// newline that is outside quotes for either entry parity.
func scanChunk(ctx context.Context, open RangeFunc, start, end int64, quotes bool) (chunkStats, error) {
	st := chunkStats{first: [2]int64{-1, -1}}
	rc, err := open(ctx, start, end)
	if err != nil {
		return st, err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 256*1024)
	var off int64
	for {
		buf, rerr := br.ReadSlice('\n')
		if quotes {
			st.quotes += int64(bytes.Count(buf, []byte{'"'}))
		}
		off += int64(len(buf))
		if len(buf) > 0 && buf[len(buf)-1] == '\n' {
			st.newlines++
			p := st.quotes % 2 // the local parity at this newline
			if st.first[p] < 0 {
				st.first[p], st.before[p] = off-1, st.newlines
			}
		}
		switch {
		case rerr == nil || rerr == bufio.ErrBufferFull:
		case rerr == io.EOF:
			if off != end-start {
				return st, fmt.Errorf("scan bytes %d-%d: got %d bytes", start, end-1, off)
			}
			return st, nil
		default:
			return st, fmt.Errorf("scan bytes %d-%d: %w", start, end-1, rerr)
		}
	}
}
