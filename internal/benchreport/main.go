// Command benchreport runs the decoder benchmarks of pkg/decode side by side in one
// test process, then the peak-heap measurement, then the pipeline benchmark on the
// local stack (pipeline.go), and writes the results as a markdown report. `make
// bench` runs it as
//
//	go run ./internal/benchreport -out docs/performance.md
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

const pkg = "./pkg/decode/"

func main() {
	out := flag.String("out", "docs/performance.md", "the report to write")
	benchtime := flag.String("benchtime", "2s", "-benchtime of each decoder benchmark")
	count := flag.Int("count", 3, "runs of each decoder benchmark; the report takes the median")
	sections := flag.String("sections", "decoders,pipeline", "the report's sections: decoders, pipeline (pipeline.go)")
	endpoints := flag.Int("endpoints", 100000, "endpoints the pipeline benchmark imports")
	flag.Parse()
	if err := run(*out, *benchtime, *count, *sections, *endpoints); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(out, benchtime string, count int, sections string, endpoints int) error {
	var report []byte
	if strings.Contains(sections, "decoders") {
		var err error
		if report, err = decoderReport(benchtime, count); err != nil {
			return err
		}
	}
	if strings.Contains(sections, "pipeline") {
		r, err := runPipeline(context.Background(), endpoints)
		if err != nil {
			return fmt.Errorf("pipeline benchmark: %w", err)
		}
		report = append(report, renderPipeline(r)...)
	}
	if err := os.WriteFile(out, report, 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", out)
	return nil
}

func decoderReport(benchtime string, count int) ([]byte, error) {
	decoders, err := goBench("^(BenchmarkCSVDecode|BenchmarkCSVBaseline|BenchmarkCSVShape|BenchmarkJSONDecode|BenchmarkJSONBaseline)$",
		"-benchtime", benchtime, "-count", strconv.Itoa(count))
	if err != nil {
		return nil, fmt.Errorf("run decoder benchmarks: %w", err)
	}
	heap, err := goBench("^BenchmarkPeakHeap$", "-benchtime", "1x")
	if err != nil {
		return nil, fmt.Errorf("run heap measurement: %w", err)
	}
	return render(decoders, heap, benchtime, count)
}

// results are the parsed output of one `go test -bench` run.
type results struct {
	cpu     string
	metrics map[string]map[string][]float64 // benchmark -> unit -> one value per run
}

// goBench runs the benchmarks matching pattern, echoing go test's output.
func goBench(pattern string, args ...string) (*results, error) {
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	args = append([]string{"test", "-run", "^$", "-bench", pattern, "-benchmem", "-timeout", "30m"}, args...)
	args = append(args, pkg)
	fmt.Fprintln(os.Stderr, "$", goCmd, strings.Join(args, " "))
	var buf bytes.Buffer
	cmd := exec.Command(goCmd, args...)
	cmd.Stdout = io.MultiWriter(os.Stderr, &buf)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, err
	}
	return parse(&buf), nil
}

// parse reads benchmark lines: "BenchmarkX-8  100  123 ns/op  45.6 MB/s  7 ns/row".
func parse(r io.Reader) *results {
	res := &results{metrics: map[string]map[string][]float64{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if cpu, ok := strings.CutPrefix(line, "cpu: "); ok {
			res.cpu = strings.TrimSpace(cpu)
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		if res.metrics[name] == nil {
			res.metrics[name] = map[string][]float64{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				res.metrics[name][f[i+1]] = append(res.metrics[name][f[i+1]], v)
			}
		}
	}
	return res
}

// get returns the median of a metric over the runs.
func (r *results) get(bench, unit string) (float64, error) {
	vs := append([]float64(nil), r.metrics[bench][unit]...)
	if len(vs) == 0 {
		return 0, fmt.Errorf("no %s for %s in the benchmark output", unit, bench)
	}
	sort.Float64s(vs)
	return vs[len(vs)/2], nil
}

var decoderRows = []struct{ bench, what string }{
	{"BenchmarkCSVDecode", "CSV: segport decode + validate"},
	{"BenchmarkCSVBaseline", "CSV: encoding/csv read only (ReuseRecord)"},
	{"BenchmarkCSVShape", "CSV: encoding/csv read + the result's objects, no checks (reference)"},
	{"BenchmarkJSONDecode", "NDJSON: segport decode + validate"},
	{"BenchmarkJSONBaseline", "NDJSON: encoding/json into map[string]any"},
}

func render(dec, heap *results, benchtime string, count int) ([]byte, error) {
	var b bytes.Buffer
	var firstErr error
	get := func(r *results, bench, unit string) float64 {
		v, err := r.get(bench, unit)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return v
	}
	fmt.Fprintf(&b, "# Decoder performance\n\n")
	fmt.Fprintf(&b, "Generated by `make bench` (`go run ./internal/benchreport -out docs/performance.md`) on %s.\n\n", time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "Machine: %d CPUs, %s/%s, %s, %s.\n\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, orUnknown(dec.cpu), runtime.Version())
	fmt.Fprintf(&b, "Input: 20,000 generated endpoints (pkg/decode/internal/gen, seed 1): 22 columns with quoted commas,\n"+
		"quotes and line breaks, a repeated `Attributes.*` column, metrics, user attributes, location and dates;\n"+
		"the NDJSON file holds the same endpoints. Median of %d runs of `-benchtime %s`.\n\n", count, benchtime)

	fmt.Fprintf(&b, "| Benchmark | ns/row | MB/s | allocs/row | B/row |\n| --- | ---: | ---: | ---: | ---: |\n")
	for _, r := range decoderRows {
		fmt.Fprintf(&b, "| %s (`%s`) | %.0f | %.1f | %.2f | %.0f |\n", r.what, r.bench,
			get(dec, r.bench, "ns/row"), get(dec, r.bench, "MB/s"), get(dec, r.bench, "allocs/row"), get(dec, r.bench, "B/row"))
	}
	csvRatio := get(dec, "BenchmarkCSVDecode", "ns/row") / get(dec, "BenchmarkCSVBaseline", "ns/row")
	jsonRatio := get(dec, "BenchmarkJSONDecode", "ns/row") / get(dec, "BenchmarkJSONBaseline", "ns/row")
	fmt.Fprintf(&b, "\n| Ratio (time per row) | Measured | Goal | Met |\n| --- | ---: | ---: | --- |\n")
	fmt.Fprintf(&b, "| CSV / encoding/csv | %.2f× | ≤ 2× | %s |\n", csvRatio, yes(csvRatio <= 2))
	fmt.Fprintf(&b, "| NDJSON / encoding/json | %.2f× | < 1× | %s |\n", jsonRatio, yes(jsonRatio < 1))
	shapeRatio := get(dec, "BenchmarkCSVShape", "ns/row") / get(dec, "BenchmarkCSVBaseline", "ns/row")
	fmt.Fprintf(&b, "\nFor reference, merely making the objects a decoded row becomes (an Endpoint with its Location,\n"+
		"Demographic and User, up to three maps and the value lists), with no value checked, costs %.2f× encoding/csv\n"+
		"(`BenchmarkCSVShape`): that much of the CSV ratio is the shape of endpoint.Endpoint, not decoding.\n", shapeRatio)

	fmt.Fprintf(&b, "\n## Peak heap while decoding a stream\n\n")
	fmt.Fprintf(&b, "The file is generated on the fly through an io.Reader, never held in memory; HeapInuse is sampled every 256 rows.\n\n")
	fmt.Fprintf(&b, "| Format | 100 MB | 1 GB | Goal | Met |\n| --- | ---: | ---: | --- | --- |\n")
	for _, f := range []string{"CSV", "JSON"} {
		small := get(heap, "BenchmarkPeakHeap/"+f+"/100MB", "peak-heap-MiB")
		large := get(heap, "BenchmarkPeakHeap/"+f+"/1GB", "peak-heap-MiB")
		ok := large < 32 && large <= small*1.25+1
		fmt.Fprintf(&b, "| %s | %.1f MiB | %.1f MiB | < 32 MiB, not growing with size | %s |\n", f, small, large, yes(ok))
	}
	fmt.Fprintf(&b, "\nThroughput of the streamed runs: CSV %.0f MB/s, NDJSON %.0f MB/s (1 GB, generator included).\n",
		get(heap, "BenchmarkPeakHeap/CSV/1GB", "MB/s"), get(heap, "BenchmarkPeakHeap/JSON/1GB", "MB/s"))
	fmt.Fprintf(&b, "\nReproduce: `make bench`, or the benchmarks alone:\n\n"+
		"    go test -run '^$' -bench 'CSVDecode|CSVBaseline|CSVShape|JSONDecode|JSONBaseline' -benchmem ./pkg/decode/\n"+
		"    go test -run '^$' -bench PeakHeap -benchtime 1x ./pkg/decode/\n")
	return b.Bytes(), firstErr
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown CPU"
	}
	return s
}
