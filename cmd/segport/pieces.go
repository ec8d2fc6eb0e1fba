package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/segport/segport/internal/decode"
	"github.com/segport/segport/internal/plan"
)

// rowWork decodes the rows of dec, a whole file or one piece of it: it prints to
// out and errOut and counts into t. A returned error stops the file, as a
// FileError does.
type rowWork func(dec decode.Decoder, out, errOut io.Writer, t *tally) error

// tally counts the rows of a file or of a piece.
type tally struct {
	rows, valid, invalid int
	failures             []rowFailure
}

func (t *tally) add(u *tally) {
	t.rows += u.rows
	t.valid += u.valid
	t.invalid += u.invalid
	t.failures = append(t.failures, u.failures...)
}

// Parallel decoding of one local file. A file of at least parallelMin bytes is
// split by the trigger's planner (plan.Split) and its pieces are decoded on
// every core; what they print is written in file order, so the output is the
// same as one sequential pass's. Tests lower both to split small files.
var (
	parallelMin   int64 = 8 << 20 // smaller files decode in one pass
	parallelPiece int64           // bytes per piece; 0 picks from the file's size
)

// lessGC lets the heap grow to four times what is live (GOGC=300, not 100)
// within 48 MiB, unless GOGC or GOMEMLIMIT says otherwise, and returns the
// function that restores the settings. A decoder's live heap is a few MiB
// whatever the file, and at Go's default much of its time goes to collecting
// garbage often: this takes about a quarter less CPU on narrow rows, and the
// process's peak stays under 64 MiB (docs/performance.md). For callers whose
// live heap stays small: not one that gathers every failure (validate --json).
func lessGC() func() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	gc := debug.SetGCPercent(300)
	limit := debug.SetMemoryLimit(48 << 20)
	return func() {
		debug.SetGCPercent(gc)
		debug.SetMemoryLimit(limit)
	}
}

// decodeFile decodes the file at path with work, printing to out and errOut;
// opts gives the limits and whether Ids are needed.
func decodeFile(ctx context.Context, path, format string, opts decode.Options, work rowWork, out, errOut io.Writer) (decode.Format, tally, error) {
	var t tally
	in, err := openInput(ctx, path, format)
	if err != nil {
		return "", t, err
	}
	defer in.f.Close()
	opts.File = path
	opts.ReuseEndpoint = true // every rowWork is done with a row before it asks for the next
	if pieces, header := planPieces(ctx, in, opts); pieces != nil {
		return in.format, t, decodePieces(ctx, in, pieces, header, opts, work, out, errOut, &t)
	}
	return in.format, t, work(decode.New(in.format, in.br, opts), out, errOut, &t)
}

// planPieces splits a large regular file into pieces and reads a CSV file's
// header, or returns nil: the file is decoded in one pass, which also reports
// a header's problems.
func planPieces(ctx context.Context, in *input, opts decode.Options) ([]plan.Piece, []string) {
	workers := runtime.GOMAXPROCS(0)
	st, err := in.f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() < parallelMin || workers < 2 && parallelPiece == 0 {
		return nil, nil
	}
	size := parallelPiece
	if size <= 0 {
		// Some pieces per core, to even out their costs; 4 MiB at most, so the
		// output waiting to be written stays small.
		size = min(max(st.Size()/int64(8*workers), 1<<20), 4<<20)
	}
	open := func(ctx context.Context, start, end int64) (io.ReadCloser, error) {
		return io.NopCloser(ctxReader{ctx, io.NewSectionReader(in.f, start, end-start)}), nil
	}
	pieces, err := plan.Split(ctx, st.Size(), open, plan.Options{PieceSize: size, Quotes: in.format == decode.CSV, Concurrency: workers})
	if err != nil || len(pieces) < 2 {
		return nil, nil
	}
	if in.format != decode.CSV {
		return pieces, nil
	}
	r, _ := open(ctx, 0, pieces[0].End)
	dec := decode.NewCSV(r, opts)
	if _, err := dec.Decode(); err != nil && !decode.IsRowError(err) || dec.Header() == nil {
		return nil, nil
	}
	return pieces, dec.Header()
}

// pieceResult is what one piece printed and counted.
type pieceResult struct {
	out, errOut bytes.Buffer
	t           tally
	err         error
}

// decodePieces decodes the pieces of a file concurrently and writes their
// output in order. At most one piece more than there are cores is decoded or
// waiting to be written, which bounds memory. A piece that stops the file (a
// FileError) is its last: later pieces are cancelled and print nothing.
func decodePieces(ctx context.Context, in *input, pieces []plan.Piece, header []string, opts decode.Options, work rowWork, out, errOut io.Writer, t *tally) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	done := make([]chan *pieceResult, len(pieces))
	for i := range done {
		done[i] = make(chan *pieceResult, 1)
	}
	window := make(chan struct{}, runtime.GOMAXPROCS(0)+1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i, p := range pieces {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			o := opts
			o.Line, o.Offset = p.Line, p.Start
			if i > 0 {
				o.Header = header
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := &pieceResult{}
				src := ctxReader{ctx, io.NewSectionReader(in.f, p.Start, p.End-p.Start)}
				r.err = work(decode.New(in.format, src, o), &r.out, &r.errOut, &r.t)
				done[i] <- r
			}()
		}
	}()
	for i := range pieces {
		var r *pieceResult
		select {
		case r = <-done[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		out.Write(r.out.Bytes())
		errOut.Write(r.errOut.Bytes())
		t.add(&r.t)
		<-window
		if r.err != nil {
			return r.err
		}
	}
	return nil
}
