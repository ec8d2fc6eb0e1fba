// Command genfile writes a generated endpoint file, for benchmarks that run
// whole processes on a file (internal/benchreport):
//
//	go run ./internal/decode/internal/gen/genfile -shape narrow -rows 300000 -out narrow.csv
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/segport/segport/internal/decode/internal/gen"
)

func main() {
	shape := flag.String("shape", "wide", "`wide` (22 columns, CSV or NDJSON) or narrow (10 columns, CSV)")
	format := flag.String("format", "csv", "`csv` or json")
	rows := flag.Int("rows", 300000, "rows to write")
	seed := flag.Uint64("seed", 1, "the generator's seed")
	size := flag.Int64("size", 0, "wide rows only: instead of -rows, stream about this many bytes (1073741824 for a 1 GB file)")
	out := flag.String("out", "", "the file to write")
	flag.Parse()
	var err error
	if *size > 0 {
		err = stream(*format, *seed, *size, *out)
	} else {
		err = write(*shape, *format, *rows, *seed, *out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "genfile:", err)
		os.Exit(1)
	}
}

func write(shape, format string, rows int, seed uint64, out string) error {
	var body []byte
	switch {
	case shape == "narrow" && format == "csv":
		body = gen.Narrow(seed, rows)
	case shape == "wide" && format == "csv":
		body = gen.Rows(gen.CSV, seed, rows)
	case shape == "wide" && format == "json":
		body = gen.Rows(gen.JSON, seed, rows)
	default:
		return fmt.Errorf("no %s rows in %s", shape, format)
	}
	if out == "" {
		return fmt.Errorf("name the file to write with -out")
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	w.Write(body)
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", out, err)
	}
	return f.Close()
}

// stream writes about size bytes of wide rows without holding them in memory.
func stream(format string, seed uint64, size int64, out string) error {
	f := gen.CSV
	if format == "json" {
		f = gen.JSON
	}
	w, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, gen.NewReader(f, seed, size)); err != nil {
		w.Close()
		return fmt.Errorf("write %s: %w", out, err)
	}
	return w.Close()
}
