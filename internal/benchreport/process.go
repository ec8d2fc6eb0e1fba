package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"
)

// processHeading starts the report's section on whole processes.
const processHeading = "# Validating a file, as a user runs it"

// bigBytes sizes the large file validated once for its peak memory.
var bigBytes = flag.Int64("process-big", 1<<30, "bytes of the wide CSV file `segport validate` reads once for its peak memory; 0 skips it")

// bigRun is the one validation of a large file, and the baseline's read of it.
type bigRun struct {
	bytes, rows   int64
	segport, base procRun
	load          string
}

// processCase is one file validated by segport and read by the baseline.
type processCase struct {
	name     string // the table's row
	shape    string // genfile -shape
	format   string // genfile -format, baseline -format, segport --format
	rows     int
	baseline string // what the baseline does
	goal     float64
	file     string
	bytes    int64
}

// procRun is one process's measure.
type procRun struct {
	wall, cpu time.Duration
	rssKiB    int64
}

// processSide is one command over the runs of a case.
type processSide struct {
	runs []procRun
}

func (s *processSide) median(f func(procRun) float64) float64 {
	vs := make([]float64, len(s.runs))
	for i, r := range s.runs {
		vs[i] = f(r)
	}
	return median(vs)
}

func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	vs = append([]float64(nil), vs...)
	sort.Float64s(vs)
	return vs[len(vs)/2]
}

// processResult is a case's measures: segport on every core, segport on one
// (GOMAXPROCS=1) and the baseline, run in turn, pair by pair.
type processResult struct {
	c                     processCase
	segport, one, base    processSide
	wallRatio, cpuRatio   []float64 // segport / baseline, per pair
	oneWall, oneCPU       []float64 // one core / baseline, per pair
	loadBefore, loadAfter string
}

// runProcesses builds segport and the baseline, generates the files and runs
// each case's commands runs times, alternating which goes first.
func runProcesses(runs int) ([]*processResult, *bigRun, error) {
	dir, err := os.MkdirTemp("", "benchprocess")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	segport, baseline := filepath.Join(dir, "segport"), filepath.Join(dir, "baseline")
	for _, args := range [][]string{
		{"build", "-o", segport, "./cmd/segport"},
		{"build", "-o", baseline, "./internal/benchreport/baseline"},
	} {
		if err := goRun(goCmd, args...); err != nil {
			return nil, nil, err
		}
	}
	cases := []processCase{
		{name: "CSV, narrow rows (10 columns, no Id)", shape: "narrow", format: "csv", rows: 300000, baseline: "encoding/csv", goal: 1},
		{name: "CSV, wide rows (22 columns, no Id)", shape: "wide", format: "csv", rows: 300000, baseline: "encoding/csv", goal: 1},
		{name: "NDJSON, wide rows", shape: "wide", format: "json", rows: 100000, baseline: "encoding/json into a map", goal: 0.5},
	}
	var out []*processResult
	for _, c := range cases {
		c.file = filepath.Join(dir, c.shape+"."+c.format)
		if err := goRun(goCmd, "run", "./internal/decode/internal/gen/genfile", "-shape", c.shape, "-format", c.format,
			"-rows", fmt.Sprint(c.rows), "-out", c.file); err != nil {
			return nil, nil, err
		}
		st, err := os.Stat(c.file)
		if err != nil {
			return nil, nil, err
		}
		c.bytes = st.Size()
		r := &processResult{c: c, loadBefore: loadAverage()}
		seg := []string{segport, "validate", "--format", c.format, c.file}
		base := []string{baseline, "-format", c.format, c.file}
		for i := range runs {
			order := []int{0, 1, 2}
			if i%2 == 1 {
				order = []int{2, 1, 0}
			}
			var got [3]procRun
			for _, k := range order {
				var err error
				switch k {
				case 0:
					got[0], err = timeProcess(seg, nil)
				case 1:
					got[1], err = timeProcess(seg, []string{"GOMAXPROCS=1"})
				case 2:
					got[2], err = timeProcess(base, nil)
				}
				if err != nil {
					return nil, nil, err
				}
			}
			r.segport.runs = append(r.segport.runs, got[0])
			r.one.runs = append(r.one.runs, got[1])
			r.base.runs = append(r.base.runs, got[2])
			r.wallRatio = append(r.wallRatio, got[0].wall.Seconds()/got[2].wall.Seconds())
			r.cpuRatio = append(r.cpuRatio, got[0].cpu.Seconds()/got[2].cpu.Seconds())
			r.oneWall = append(r.oneWall, got[1].wall.Seconds()/got[2].wall.Seconds())
			r.oneCPU = append(r.oneCPU, got[1].cpu.Seconds()/got[2].cpu.Seconds())
		}
		r.loadAfter = loadAverage()
		fmt.Fprintf(os.Stderr, "%s: wall %.2f×, CPU %.2f× (medians of %d pairs)\n", c.name, median(r.wallRatio), median(r.cpuRatio), runs)
		out = append(out, r)
	}
	if *bigBytes <= 0 {
		return out, nil, nil
	}
	big := &bigRun{}
	file := filepath.Join(dir, "big.csv")
	if err := goRun(goCmd, "run", "./internal/decode/internal/gen/genfile", "-size", fmt.Sprint(*bigBytes), "-out", file); err != nil {
		return nil, nil, err
	}
	st, err := os.Stat(file)
	if err != nil {
		return nil, nil, err
	}
	big.bytes = st.Size()
	big.load = loadAverage()
	if big.segport, err = timeProcess([]string{segport, "validate", "--format", "csv", file}, nil); err != nil {
		return nil, nil, err
	}
	if big.base, err = timeProcess([]string{baseline, "-format", "csv", file}, nil); err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(os.Stderr, "%d bytes: peak RSS %d KiB\n", big.bytes, big.segport.rssKiB)
	return out, big, nil
}

// busy reports whether the machine's 1-minute load exceeded its CPUs during a case.
func busy(res []*processResult) bool {
	for _, r := range res {
		for _, l := range []string{r.loadBefore, r.loadAfter} {
			var v float64
			if _, err := fmt.Sscan(l, &v); err == nil && v > float64(runtime.NumCPU()) {
				return true
			}
		}
	}
	return false
}

func goRun(goCmd string, args ...string) error {
	cmd := exec.Command(goCmd, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// timeProcess runs a command to its end and measures its wall and CPU time
// and its peak resident memory.
func timeProcess(args, env []string) (procRun, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return procRun{}, fmt.Errorf("%s: %w\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	ps := cmd.ProcessState
	r := procRun{wall: wall, cpu: ps.UserTime() + ps.SystemTime()}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		r.rssKiB = ru.Maxrss
	}
	return r, nil
}

// renderProcesses is the report's section on whole processes.
func renderProcesses(res []*processResult, big *bigRun, runs int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "\n%s\n\n", processHeading)
	fmt.Fprintf(&b, "The whole `segport validate --format F FILE` process against a small program that reads the same file the\n"+
		"plain way (`internal/benchreport/baseline`: encoding/csv with ReuseRecord, or encoding/json into a\n"+
		"`map[string]any` per line), as a user runs them. %d runs of each, in turn, the order alternating; segport\n"+
		"runs on every core (a file of 8 MiB or more is split by the trigger's planner, `cmd/segport/pieces.go`) and\n"+
		"again on one (`GOMAXPROCS=1`, one pass). Ratios are the medians of the runs' ratios; times the medians of the\n"+
		"runs. CPU is the process's user and system time. Files from `internal/decode/internal/gen` (seed 1).\n"+
		"Machine: %d CPUs, %s, shared with other work: the figures move with its load (1-minute load averages below).\n\n",
		runs, runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(&b, "| File | Rows | MB | segport wall | baseline wall | Wall ratio | segport CPU | baseline CPU | CPU ratio | One core: wall, CPU ratio | segport peak RSS | Load before, after |\n")
	fmt.Fprintf(&b, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
	wall := func(r procRun) float64 { return r.wall.Seconds() }
	cpu := func(r procRun) float64 { return r.cpu.Seconds() }
	rss := func(r procRun) float64 { return float64(r.rssKiB) / 1024 }
	for _, r := range res {
		fmt.Fprintf(&b, "| %s against %s | %s | %.1f | %.3f s | %.3f s | %.2f× | %.3f s | %.3f s | %.2f× | %.2f×, %.2f× | %.0f MiB | %s; %s |\n",
			r.c.name, r.c.baseline, commas(r.c.rows), float64(r.c.bytes)/1e6,
			r.segport.median(wall), r.base.median(wall), median(r.wallRatio),
			r.segport.median(cpu), r.base.median(cpu), median(r.cpuRatio), median(r.oneWall), median(r.oneCPU),
			r.segport.median(rss), r.loadBefore, r.loadAfter)
	}
	if busy(res) {
		fmt.Fprintf(&b, "\nThe load averages exceeded the %d CPUs: a process then gets about its share of the cores, however many\n"+
			"threads it runs, so the wall ratios say little about decoding on every core; the CPU ratios are the steadier figures.\n",
			runtime.NumCPU())
	}
	fmt.Fprintf(&b, "\n| Goal (issue 20) | Measured | Goal | Met |\n| --- | ---: | ---: | --- |\n")
	for _, r := range res {
		if r.c.format == "csv" {
			w, c := median(r.wallRatio), median(r.cpuRatio)
			fmt.Fprintf(&b, "| %s: wall / %s | %.2f× | ≤ 1× | %s |\n", r.c.name, r.c.baseline, w, yes(w <= 1))
			fmt.Fprintf(&b, "| %s: CPU / %s | %.2f× | ≤ 2× | %s |\n", r.c.name, r.c.baseline, c, yes(c <= 2))
		} else {
			w, c := median(r.wallRatio), median(r.cpuRatio)
			fmt.Fprintf(&b, "| %s: wall / %s | %.2f× | < 0.5× | %s |\n", r.c.name, r.c.baseline, w, yes(w < 0.5))
			fmt.Fprintf(&b, "| %s: CPU / %s | %.2f× | < 0.5× | %s |\n", r.c.name, r.c.baseline, c, yes(c < 0.5))
		}
	}
	fmt.Fprintf(&b, "\nPeak RSS is the whole process's (`getrusage` ru_maxrss), runtime and buffers included. The pieces in\n"+
		"flight are bounded (one more than the cores, 4 MiB at most each), so it does not grow with the file.\n")
	if big != nil {
		mib := float64(big.segport.rssKiB) / 1024
		fmt.Fprintf(&b, "\n| A large file, validated once (1-minute load %s) | Bytes | segport wall, CPU | baseline wall, CPU | CPU ratio | segport peak RSS | Goal | Met |\n"+
			"| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |\n", big.load)
		fmt.Fprintf(&b, "| Wide CSV rows, every core | %s | %.1f s, %.1f s | %.1f s, %.1f s | %.2f× | %.1f MiB | < 64 MiB | %s |\n",
			commas(int(big.bytes)), big.segport.wall.Seconds(), big.segport.cpu.Seconds(), big.base.wall.Seconds(), big.base.cpu.Seconds(),
			big.segport.cpu.Seconds()/big.base.cpu.Seconds(), mib, yes(mib < 64))
	}
	fmt.Fprintf(&b, "\nReproduce: `go run ./internal/benchreport -sections process -out docs/performance.md` (this section alone;\n"+
		"`-process-runs N` sets the runs, `-process-big 0` skips the large file), or by hand:\n\n"+
		"    go run ./internal/decode/internal/gen/genfile -shape narrow -rows 300000 -out narrow.csv\n"+
		"    go build -o bin/baseline ./internal/benchreport/baseline && go build -o bin/segport ./cmd/segport\n"+
		"    time bin/segport validate --format csv narrow.csv; time bin/baseline -format csv narrow.csv\n")
	return b.Bytes()
}
