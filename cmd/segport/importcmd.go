package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/segport/segport/internal/decode"
	"github.com/segport/segport/internal/dynamo"
	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

func importCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("import", flag.ContinueOnError)
	segName := fset.String("segment", "", "segment `NAME` to import into (default: the file or folder name)")
	format := fset.String("format", "", "the files' format, `csv|json` (default: from each file's extension, else sniffed)")
	export := fset.String("pinpoint-export", "", "the Pinpoint export to migrate, `PATH`: a local file or folder, or s3://bucket/prefix")
	sf := addStackFlags(fset)
	chaosSpec := addChaosFlag(fset)
	paths, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 && *export == "" {
		return usageErr("import: name a file, a folder or an s3:// URL")
	}
	if err := setChaos(sf, *chaosSpec); err != nil {
		return err
	}
	if *format != "" {
		f, err := decode.ParseFormat(*format)
		if err != nil {
			return usageErr("import: %v", err)
		}
		*format = string(f)
	}
	// Missing files and bad segment names are found before the stack starts.
	for _, p := range append([]string{*export}, paths...) {
		if p == "" {
			continue
		}
		if _, err := segmentFor(p, *segName, p == *export); err != nil {
			return err
		}
		if !strings.HasPrefix(p, "s3://") {
			if _, _, err := collectFiles(p); err != nil {
				return err
			}
		}
	}
	t, err := openTarget(ctx, sf, nil)
	if err != nil {
		return err
	}
	defer t.Close()
	var ids []string
	if *export != "" {
		id, err := startExportImport(ctx, t, *export, *segName)
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	for _, p := range paths {
		started, err := startImport(ctx, t, p, *segName, *format)
		if err != nil {
			return err
		}
		ids = append(ids, started...)
	}
	jobs, err := waitJobs(ctx, t.app.Store, ids, stdout)
	if err != nil {
		return err
	}
	if err := addStats(ctx, t, true, jobs...); err != nil {
		return err
	}
	if err := reportChaos(ctx, stderr, sf, t); err != nil {
		return err
	}
	failed := false
	for _, j := range jobs {
		printJob(stdout, j, sf.json)
		failed = failed || j.JobStatus == job.Failed
	}
	if failed {
		return &exitError{code: 1, err: errSilent}
	}
	return nil
}

// startImport starts the jobs for one argument and returns their ids.
func startImport(ctx context.Context, t *target, p, segName, format string) ([]string, error) {
	segName, err := segmentFor(p, segName, false)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(p, "s3://") {
		j, err := t.invoke(ctx, importer.Request{S3Url: p, Format: format, SegmentName: segName, JobId: newJobId()})
		if err != nil {
			return nil, err
		}
		return []string{j.Id}, nil
	}
	files, root, err := collectFiles(p)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		key := importer.ImportsPrefix + segName + "/" + filepath.ToSlash(rel)
		id := newJobId()
		meta := map[string]string{importer.MetaJobId: id}
		if format != "" {
			meta[importer.MetaFormat] = format
		}
		if err := upload(ctx, t, f, key, meta); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// segmentFor returns the segment an import argument goes into: --segment, else
// the name of the file (without its extension) or folder, or the last folder of
// an s3:// prefix. The name is checked by the rule every surface applies
// (segment.CheckName): a name with "/" would otherwise import into its first
// folder, and ".." would leave imports/.
func segmentFor(p, segName string, export bool) (string, error) {
	if segName == "" {
		switch {
		case strings.HasPrefix(p, "s3://") || export:
			segName = path.Base(strings.TrimSuffix(filepath.ToSlash(p), "/"))
		default:
			segName = strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		}
	}
	if err := segment.CheckName(segName); err != nil {
		return "", &exitError{code: codeError, err: err}
	}
	return segName, nil
}

func upload(ctx context.Context, t *target, file, key string, meta map[string]string) error {
	f, err := openFile(file)
	if err != nil {
		return err
	}
	defer f.Close()
	return t.app.Objects.Put(ctx, t.app.Config.Bucket, key, f, "application/octet-stream", meta)
}

// collectFiles lists a file, or the files of a folder and its subfolders, with
// the folder their keys are relative to.
func collectFiles(p string) ([]string, string, error) {
	st, err := os.Stat(p)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, "", fmt.Errorf("%s: %w", p, err)
	}
	if !st.IsDir() {
		return []string{p}, filepath.Dir(p), nil
	}
	var files []string
	err = filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".") {
			files = append(files, f)
		}
		return nil
	})
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("%s holds no files", p)
	}
	return files, p, err
}

func newJobId() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// waitJobs polls the jobs until they have all ended, drawing a progress line when
// out is a terminal.
func waitJobs(ctx context.Context, store *dynamo.Store, ids []string, out io.Writer) ([]*job.Job, error) {
	tty := isTerminal(out)
	start := time.Now()
	for {
		jobs := make([]*job.Job, 0, len(ids))
		done := 0
		for _, id := range ids {
			j, err := store.Job(ctx, id)
			if errors.Is(err, dynamo.ErrNotFound) {
				if time.Since(start) > 2*time.Minute {
					return nil, fmt.Errorf("job %s was never started: is the trigger running? (see the log in the data folder)", id)
				}
				continue
			}
			if err != nil {
				return nil, err
			}
			jobs = append(jobs, j)
			if j.JobStatus.Final() {
				done++
			}
		}
		if tty {
			drawProgress(raw(out), jobs, len(ids), time.Since(start))
		}
		if done == len(ids) {
			if tty {
				fmt.Fprint(raw(out), "\r\033[K")
			}
			return jobs, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func drawProgress(out io.Writer, jobs []*job.Job, total int, elapsed time.Duration) {
	fmt.Fprint(out, "\r\033[K"+progressLine(jobs, total, elapsed))
}

// progressLine says how far the jobs are: endpoints written against the rows
// expected (those of the pieces read so far, scaled to all pieces), pieces
// read and settled, the rate and the time left at that rate.
func progressLine(jobs []*job.Job, total int, elapsed time.Duration) string {
	pieces, parsed, settled, written, expected := 0, 0, 0, 0, 0
	for _, j := range jobs {
		pieces += j.TotalPieces
		settled += j.CompletedPieces + j.FailedPieces
		written += j.TotalProcessed
		expected += j.ExpectedRows()
		if j.Progress != nil {
			parsed += j.Progress.PiecesParsed
		} else if j.JobStatus.Final() {
			parsed += j.TotalPieces
		}
	}
	const width = 30
	fill := 0
	if expected > 0 {
		fill = min(width, width*written/expected)
	}
	line := fmt.Sprintf("[%s%s] %d/%d endpoints written", strings.Repeat("#", fill), strings.Repeat(".", width-fill), written, expected)
	if parsed < pieces {
		line += " (so far)"
	}
	line += fmt.Sprintf(", %d/%d pieces read, %d settled", parsed, pieces, settled)
	if total > 1 {
		line += fmt.Sprintf(", %d/%d jobs", len(jobs), total)
	}
	if s := elapsed.Seconds(); written > 0 && s > 0 {
		rate := float64(written) / s
		line += fmt.Sprintf(", %.0f/s", rate)
		if left := expected - written; left > 0 && parsed == pieces {
			line += ", ETA " + (time.Duration(float64(left)/rate) * time.Second).Round(time.Second).String()
		}
	}
	return line
}
