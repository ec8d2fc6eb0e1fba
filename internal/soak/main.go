// Command soak imports a generated workload with the segport CLI twice, clean
// and under --chaos, and compares the two `segport dump`s. It prints the time
// of each run, the faults injected and retries seen, and whether the dumps are
// equal; it exits 1 if they are not. `make soak` runs it.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/segport/segport/internal/chaos"
	"github.com/segport/segport/internal/corpus"
)

func main() {
	bin := flag.String("segport", "bin/segport", "the segport binary")
	rows := flag.Int("rows", 100_000, "rows in all")
	spec := flag.String("chaos", "duplicate=0.3,reorder=1,crash=0.05,throttle=0.1,unprocessed=0.2", "the chaos SPEC (a seed is added per file unless it has one)")
	seed := flag.Uint64("seed", uint64(time.Now().UnixNano()), "seeds the workload and the chaos")
	dir := flag.String("dir", "", "work folder (default: a new temporary one)")
	flag.Parse()
	if err := run(*bin, *rows, *spec, *seed, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func run(bin string, rows int, spec string, seed uint64, dir string) error {
	if _, err := chaos.ParseSpec(spec); err != nil {
		return err
	}
	temporary := dir == ""
	if temporary {
		var err error
		if dir, err = os.MkdirTemp("", "segport-soak-"); err != nil {
			return err
		}
	}
	files, err := writeFiles(filepath.Join(dir, "files"), corpus.Generate(seed, rows))
	if err != nil {
		return err
	}
	fmt.Printf("soak: %d rows in %d files (seed %d), work folder %s\n", rows, len(files), seed, dir)
	clean, err := importAll(bin, filepath.Join(dir, "clean"), files, "", seed)
	if err != nil {
		return fmt.Errorf("clean run: %w", err)
	}
	fmt.Printf("clean run: %s\n", clean.took.Round(time.Second))
	chaotic, err := importAll(bin, filepath.Join(dir, "chaos"), files, spec, seed)
	if err != nil {
		return fmt.Errorf("chaos run: %w", err)
	}
	st := chaotic.stats
	fmt.Printf("chaos run (%s): %s\n  injected %d faults: %v\n", spec, chaotic.took.Round(time.Second), st.Injected(), st)
	fmt.Printf("  retries seen: %d DynamoDB calls retried by the SDK, %d SQS messages redelivered, %d duplicates delivered, %d batch items and %d keys retried as unprocessed\n",
		st.SDKRetries, st.Redelivered, st.Duplicated, st.UnprocessedItems, st.UnprocessedKeys)
	a, b := normalize(clean.dump), normalize(chaotic.dump)
	for name, d := range map[string][]byte{"clean": a, "chaos": b} {
		if err := os.WriteFile(filepath.Join(dir, name+".dump"), d, 0o644); err != nil {
			return err
		}
	}
	if !bytes.Equal(a, b) {
		fmt.Printf("dumps: DIFFERENT (%d and %d bytes); diff %s %s\n", len(a), len(b), filepath.Join(dir, "clean.dump"), filepath.Join(dir, "chaos.dump"))
		return errors.New("the run under chaos differs from the clean run")
	}
	fmt.Printf("dumps: equal (%d bytes, %d lines)\n", len(a), bytes.Count(a, []byte("\n")))
	if temporary {
		// Kept only when the dumps differ: the two stacks' data pass 100 MB.
		return os.RemoveAll(dir)
	}
	return nil
}

type file struct{ segment, path string }

// writeFiles writes the workload, keeping each file's segment.
func writeFiles(dir string, gen []corpus.File) ([]file, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var out []file
	for _, f := range gen {
		parts := strings.Split(f.Key, "/") // imports/<segment>/<name>
		p := filepath.Join(dir, parts[len(parts)-1])
		if err := os.WriteFile(p, f.Body, 0o644); err != nil {
			return nil, err
		}
		out = append(out, file{segment: parts[1], path: p})
	}
	return out, nil
}

type result struct {
	took  time.Duration
	stats chaos.Stats
	dump  []byte
}

// importAll imports the files one `segport import` at a time, so that the
// jobs are ordered alike in both runs, then dumps the tables.
func importAll(bin, data string, files []file, spec string, seed uint64) (*result, error) {
	var res result
	start := time.Now()
	for i, f := range files {
		args := []string{"import", "--data", data, "--json", "--segment", f.segment}
		if spec != "" {
			s := spec
			if !strings.Contains(s, "seed=") {
				s += fmt.Sprintf(",seed=%d", seed+uint64(i))
			}
			args = append(args, "--chaos", s)
		}
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, append(args, f.path)...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("%s: %w\n%s%s", strings.Join(cmd.Args, " "), err, stdout.Bytes(), stderr.Bytes())
		}
		if err := checkJob(stdout.Bytes()); err != nil {
			return nil, fmt.Errorf("%s: %w", f.path, err)
		}
		if err := addStats(&res.stats, stderr.Bytes()); err != nil {
			return nil, err
		}
	}
	res.took = time.Since(start)
	out, err := exec.Command(bin, "dump", "--data", data).Output()
	if err != nil {
		return nil, fmt.Errorf("dump: %w", err)
	}
	res.dump = out
	return &res, nil
}

func checkJob(out []byte) error {
	var j struct {
		JobStatus    string
		FailedPieces int
	}
	if err := json.Unmarshal(out, &j); err != nil {
		return fmt.Errorf("import output: %w", err)
	}
	if j.JobStatus != "COMPLETED" || j.FailedPieces > 0 {
		return fmt.Errorf("job %s with %d failed pieces", j.JobStatus, j.FailedPieces)
	}
	return nil
}

// addStats adds the counts `segport import --json --chaos` reports on stderr.
func addStats(sum *chaos.Stats, stderr []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(stderr))
	for sc.Scan() {
		var rep struct {
			Chaos string
			Stats chaos.Stats
		}
		if !bytes.HasPrefix(sc.Bytes(), []byte(`{"Chaos"`)) {
			continue
		}
		if err := json.Unmarshal(sc.Bytes(), &rep); err != nil {
			return fmt.Errorf("chaos report: %w", err)
		}
		*sum = sum.Add(rep.Stats)
	}
	return sc.Err()
}

var jobLine = regexp.MustCompile(`(?m)^job \{"Id":"([0-9a-f]+)"`)

// normalize replaces the CLI's random job ids by their order in the dump
// (jobs are dumped in creation order), the one thing two runs cannot share.
func normalize(dump []byte) []byte {
	out := string(dump)
	for i, m := range jobLine.FindAllStringSubmatch(out, -1) {
		out = strings.ReplaceAll(out, m[1], fmt.Sprintf("job%d", i+1))
	}
	return []byte(out)
}
