package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/segport/segport/internal/decode"
	"github.com/segport/segport/internal/plan"
	"github.com/segport/segport/pkg/endpoint"
)

// planCmd prints the pieces a file would be split into.
func planCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fset := flag.NewFlagSet("plan", flag.ContinueOnError)
	pieceSize := fset.String("piece-size", "67108864", "`N`, target bytes per piece (suffixes K, M, G)")
	format := fset.String("format", "", "the files' format, `csv|json` (default: from the extension, else sniffed)")
	files, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usageErr("plan: name one file")
	}
	size, err := parseSize(*pieceSize)
	if err != nil {
		return usageErr("plan: --piece-size: %v", err)
	}
	_, fm, closer, err := openDecoder(ctx, files[0], *format, endpoint.DefaultLimits())
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	closer.Close()
	f, err := openFile(files[0])
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	open := func(ctx context.Context, start, end int64) (io.ReadCloser, error) {
		return io.NopCloser(ctxReader{ctx, io.NewSectionReader(f, start, end-start)}), nil
	}
	pieces, err := plan.Split(ctx, st.Size(), open, plan.Options{PieceSize: size, Quotes: fm == decode.CSV})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s, %d bytes, %d pieces of about %d bytes\n", files[0], fm, st.Size(), len(pieces), size)
	fmt.Fprintf(stdout, "%6s %14s %14s %10s %10s\n", "piece", "start", "end", "line", "~rows")
	for i, p := range pieces {
		rows := p.Lines
		if i == 0 && fm == decode.CSV && rows > 0 {
			rows-- // the header
		}
		fmt.Fprintf(stdout, "%6d %14d %14d %10d %10d\n", i, p.Start, p.End, p.Line, rows)
	}
	return nil
}

// parseSize reads a byte count with an optional K, M or G suffix (powers of 1024).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult, s = 1<<10, s[:n-1]
		case 'm', 'M':
			mult, s = 1<<20, s[:n-1]
		case 'g', 'G':
			mult, s = 1<<30, s[:n-1]
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%q is not a positive size", s)
	}
	return v * mult, nil
}
