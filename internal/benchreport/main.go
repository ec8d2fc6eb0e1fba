// Command benchreport runs the decoder benchmarks of internal/decode side by side in one
// test process, then the peak-heap measurement, then the whole `segport validate`
// process against plain readers (process.go), then the pipeline benchmark on the
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
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

const pkg = "./internal/decode/"

func main() {
	out := flag.String("out", "docs/performance.md", "the report to write")
	benchtime := flag.String("benchtime", "1s", "-benchtime of each decoder benchmark")
	count := flag.Int("count", 7, "rounds of the decoder benchmarks; the report takes the median")
	ratioRuns := flag.Int("ratio-runs", 21, "runs of the ratio benchmarks (20 rounds each); the report takes the median")
	sections := flag.String("sections", "decoders,process,pipeline", "the report's sections: decoders, process (process.go), pipeline (pipeline.go); a section not named stays as the report has it")
	processRuns := flag.Int("process-runs", 11, "runs of each whole-process comparison; the report takes the medians")
	endpoints := flag.Int("endpoints", 100000, "endpoints the pipeline benchmark imports")
	flag.Parse()
	if err := run(*out, *benchtime, *count, *ratioRuns, *processRuns, *sections, *endpoints); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(out, benchtime string, count, ratioRuns, processRuns int, sections string, endpoints int) error {
	// The report's sections, in order; one not asked for keeps its old text.
	old, _ := os.ReadFile(out)
	decoders, process, pipeline := splitReport(old)
	if strings.Contains(sections, "decoders") {
		var err error
		if decoders, err = decoderReport(benchtime, count, ratioRuns); err != nil {
			return err
		}
	}
	if strings.Contains(sections, "process") {
		res, big, err := runProcesses(processRuns)
		if err != nil {
			return fmt.Errorf("whole-process benchmark: %w", err)
		}
		process = renderProcesses(res, big, processRuns)
	}
	if strings.Contains(sections, "pipeline") {
		r, err := runPipeline(context.Background(), endpoints)
		if err != nil {
			return fmt.Errorf("pipeline benchmark: %w", err)
		}
		pipeline = renderPipeline(r)
	}
	report := bytes.Join([][]byte{bytes.TrimRight(decoders, "\n"), bytes.Trim(process, "\n"), bytes.Trim(pipeline, "\n")}, []byte("\n\n"))
	report = append(bytes.TrimLeft(report, "\n"), '\n')
	if err := os.WriteFile(out, report, 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", out)
	return nil
}

// splitReport cuts a report into its sections: decoders, processes, pipeline.
func splitReport(r []byte) (decoders, process, pipeline []byte) {
	if i := bytes.Index(r, []byte(pipelineHeading)); i >= 0 {
		r, pipeline = r[:i], r[i:]
	}
	if i := bytes.Index(r, []byte(processHeading)); i >= 0 {
		r, process = r[:i], r[i:]
	}
	return r, process, pipeline
}

func decoderReport(benchtime string, count, ratioRuns int) ([]byte, error) {
	bin, err := buildTests()
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(filepath.Dir(bin))
	// Rounds, not -count: each round runs every benchmark once, one after the
	// other, so that a ratio compares runs made close in time on a shared machine.
	decoders := &results{metrics: map[string]map[string][]float64{}}
	for range count {
		if err := runBench(bin, decoders, "^(BenchmarkCSVDecode|BenchmarkCSVDecodeKeep|BenchmarkCSVBaseline|BenchmarkJSONDecode|BenchmarkJSONDecodeKeep|BenchmarkJSONBaseline)$",
			"-test.benchtime", benchtime); err != nil {
			return nil, fmt.Errorf("run decoder benchmarks: %w", err)
		}
	}
	ratios := &results{metrics: map[string]map[string][]float64{}}
	for range ratioRuns {
		if err := runBench(bin, ratios, "^(BenchmarkCSVRatio|BenchmarkJSONRatio)$", "-test.benchtime", "20x"); err != nil {
			return nil, fmt.Errorf("run ratio benchmarks: %w", err)
		}
	}
	heap := &results{metrics: map[string]map[string][]float64{}}
	if err := runBench(bin, heap, "^BenchmarkPeakHeap$", "-test.benchtime", "1x"); err != nil {
		return nil, fmt.Errorf("run heap measurement: %w", err)
	}
	return render(decoders, ratios, heap, benchtime, count, ratioRuns)
}

// buildTests compiles internal/decode's tests into a temporary directory.
func buildTests() (string, error) {
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	dir, err := os.MkdirTemp("", "benchreport")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "decode.test")
	cmd := exec.Command(goCmd, "test", "-c", "-o", bin, pkg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("build the decoder benchmarks: %w", err)
	}
	return bin, nil
}

// results are the parsed output of one `go test -bench` run.
type results struct {
	cpu     string
	metrics map[string]map[string][]float64 // benchmark -> unit -> one value per run
}

// runBench runs the benchmarks matching pattern with the test binary bin, echoing
// its output, and adds their figures to res.
func runBench(bin string, res *results, pattern string, args ...string) error {
	args = append([]string{"-test.run", "^$", "-test.bench", pattern, "-test.benchmem", "-test.timeout", "30m"}, args...)
	fmt.Fprintln(os.Stderr, "$", filepath.Base(bin), strings.Join(args, " "))
	var buf bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Dir = pkg // where the tests find their testdata
	cmd.Stdout = io.MultiWriter(os.Stderr, &buf)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return err
	}
	parse(&buf, res)
	return nil
}

// parse reads benchmark lines ("BenchmarkX-8  100  123 ns/op  45.6 MB/s  7 ns/row")
// into res.
func parse(r io.Reader, res *results) {
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
	{"BenchmarkCSVDecode", "CSV: segport decode + validate (ReuseEndpoint, as the parser decodes)"},
	{"BenchmarkCSVDecodeKeep", "CSV: segport decode + validate, a new Endpoint per row"},
	{"BenchmarkCSVBaseline", "CSV: encoding/csv read only (ReuseRecord)"},
	{"BenchmarkJSONDecode", "NDJSON: segport decode + validate (ReuseEndpoint)"},
	{"BenchmarkJSONDecodeKeep", "NDJSON: segport decode + validate, a new Endpoint per row"},
	{"BenchmarkJSONBaseline", "NDJSON: encoding/json into map[string]any"},
}

func render(dec, ratios, heap *results, benchtime string, count, ratioRuns int) ([]byte, error) {
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
	fmt.Fprintf(&b, "Input: 20,000 generated endpoints (internal/decode/internal/gen, seed 1): 22 columns with quoted commas,\n"+
		"quotes and line breaks, a repeated `Attributes.*` column, metrics, user attributes, location and dates;\n"+
		"the NDJSON file holds the same endpoints. %d rounds, each running every benchmark once for `-benchtime %s`;\n"+
		"the table gives the median of the rounds (absolute figures drift with this shared machine's load).\n\n", count, benchtime)

	fmt.Fprintf(&b, "| Benchmark | ns/row | MB/s | allocs/row | B/row |\n| --- | ---: | ---: | ---: | ---: |\n")
	for _, r := range decoderRows {
		fmt.Fprintf(&b, "| %s (`%s`) | %.0f | %.1f | %.2f | %.0f |\n", r.what, r.bench,
			get(dec, r.bench, "ns/row"), get(dec, r.bench, "MB/s"), get(dec, r.bench, "allocs/row"), get(dec, r.bench, "B/row"))
	}
	csvRatio := get(ratios, "BenchmarkCSVRatio", "segport/encoding-csv")
	runs := append([]float64(nil), ratios.metrics["BenchmarkCSVRatio"]["segport/encoding-csv"]...)
	sort.Float64s(runs)
	lo, hi := 0.0, 0.0
	if len(runs) > 0 {
		lo, hi = runs[0], runs[len(runs)-1]
	}
	csvKeep := get(ratios, "BenchmarkCSVRatio", "keep/encoding-csv")
	csvBatch := get(ratios, "BenchmarkCSVRatio", "batch/encoding-csv")
	jsonRatio := get(ratios, "BenchmarkJSONRatio", "segport/encoding-json")
	jsonKeep := get(ratios, "BenchmarkJSONRatio", "keep/encoding-json")
	fmt.Fprintf(&b, "\nThe ratios come from `BenchmarkCSVRatio` and `BenchmarkJSONRatio`, which time segport's pass over\n"+
		"the file and the baseline's in turn, a file each, so that both meet the same conditions on this shared\n"+
		"machine; each is the median of %d runs of 20 rounds (the runs' CSV ratios ranged from %.2f to %.2f). Both\n"+
		"sides reuse their result's memory, as the parser does: encoding/csv its record (ReuseRecord), segport its\n"+
		"Endpoint (ReuseEndpoint; strings are never reused). The \"new Endpoint per row\" rows are for callers that keep\n"+
		"every endpoint.\n\n", ratioRuns, lo, hi)
	fmt.Fprintf(&b, "| Ratio (time per row) | Measured | Goal | Met |\n| --- | ---: | ---: | --- |\n")
	fmt.Fprintf(&b, "| CSV / encoding/csv | %.3f× | ≤ 2× | %s |\n", csvRatio, yes(csvRatio <= 2))
	fmt.Fprintf(&b, "| CSV, a new Endpoint per row / encoding/csv | %.2f× | (reference) | |\n", csvKeep)
	fmt.Fprintf(&b, "| CSV decode + validate + the batch's JSON (the parser's work a row) / encoding/csv | %.2f× | ≤ 2× (DESIGN.md) | %s |\n",
		csvBatch, yes(csvBatch <= 2))
	fmt.Fprintf(&b, "| NDJSON / encoding/json | %.2f× | < 1× | %s |\n", jsonRatio, yes(jsonRatio < 1))
	fmt.Fprintf(&b, "| NDJSON, a new Endpoint per row / encoding/json | %.2f× | (reference) | |\n", jsonKeep)

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
		"    go test -run '^$' -bench 'CSVRatio|JSONRatio' -benchtime 20x ./internal/decode/\n"+
		"    go test -run '^$' -bench 'CSVDecode|CSVBaseline|JSONDecode|JSONBaseline' -benchmem ./internal/decode/\n"+
		"    go test -run '^$' -bench PeakHeap -benchtime 1x ./internal/decode/\n")
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
