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
	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

func importCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("import", flag.ContinueOnError)
	segName := fset.String("segment", "", "segment `NAME` to import into (default: the file or folder name)")
	format := fset.String("format", "", "the files' format, `csv|json` (default: from each file's extension, else sniffed)")
	export := fset.String("pinpoint-export", "", "the Pinpoint export to migrate, `PATH`: a local file or folder, or s3://bucket/prefix")
	wait := fset.Duration("wait", 0, "give up waiting for the jobs after `DURATION`, from the first upload to the jobs' end (default 5m plus 1m per 50 MiB to import)")
	defineSegment := fset.Bool("define-segment", true, "import into a segment; --define-segment=false upserts the endpoints without creating or changing a segment (CreateImportJob's DefineSegment)")
	replace := fset.Bool("replace", false, "make each job's segment version exactly its endpoints, rather than the previous version plus them (CreateImportJob's Replace; a dropped file's segport-mode: replace metadata)")
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
	if !*defineSegment && *segName != "" {
		return usageErr("import: --segment names the segment of an import; --define-segment=false imports without one")
	}
	if err := checkReplace(*replace, *defineSegment, *export, paths); err != nil {
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
		if *defineSegment {
			if _, err := segmentFor(p, *segName, p == *export); err != nil {
				return err
			}
		}
		if !strings.HasPrefix(p, "s3://") {
			if _, _, err := collectFiles(p); err != nil {
				return err
			}
		}
	}
	if *wait < 0 {
		return usageErr("import: --wait %v is negative", *wait)
	}
	t, err := openTarget(ctx, sf, nil)
	if err != nil {
		return err
	}
	defer t.Close()
	if *wait == 0 {
		*wait = defaultWait(importBytes(ctx, t, append([]string{*export}, paths...)))
	}
	start := time.Now()
	deadline := start.Add(*wait)
	// The uploads and the trigger's invocations are under the deadline too.
	uctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var all []started
	starting := func(p string, s []started, err error) error {
		if err != nil && ctx.Err() == nil && errors.Is(uctx.Err(), context.DeadlineExceeded) {
			return &exitError{code: codeError, err: uploadTimeout(p, *wait, all)}
		}
		all = append(all, s...)
		return err
	}
	if *export != "" {
		s, err := startExportImport(uctx, t, *export, *segName, *defineSegment)
		if err := starting(*export, []started{s}, err); err != nil {
			return err
		}
	}
	for _, p := range paths {
		s, err := startImport(uctx, t, p, *segName, *format, importMode{define: *defineSegment, replace: *replace}, stderr)
		if err := starting(p, s, err); err != nil {
			return err
		}
	}
	jobs, err := waitJobs(ctx, t, all, start, deadline, stdout)
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

// updateStaging is where `segport import --define-segment=false` copies local
// files: outside imports/, whose objects start segment imports.
const updateStaging = "endpoint-updates/"

// startImport starts the jobs for one argument: for an s3:// prefix one job
// (a CreateImportJob request); for local files one job per file, uploaded
// under imports/<segment>/, or with defineSegment false copied under
// updateStaging and imported by a request without a segment.
func startImport(ctx context.Context, t *target, p, segName, format string, mode importMode, stderr io.Writer) ([]started, error) {
	defineSegment := mode.define
	req := importer.Request{Format: format, Replace: mode.replace}
	if !defineSegment {
		req.DefineSegment = &defineSegment
	} else {
		var err error
		if segName, err = segmentFor(p, segName, false); err != nil {
			return nil, err
		}
	}
	if strings.HasPrefix(p, "s3://") {
		req.S3Url, req.SegmentName, req.JobId = p, segName, newJobId()
		j, err := t.invoke(ctx, req)
		if err != nil {
			return nil, err
		}
		return []started{{id: j.Id, source: p}}, nil
	}
	files, root, err := collectFiles(p)
	if err != nil {
		return nil, err
	}
	if files = skipOtherFormat(files, format, stderr); len(files) == 0 {
		return nil, &exitError{code: 2, err: fmt.Errorf("%s: nothing to import: no file is %s", p, format)}
	}
	var out []started
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		id := newJobId()
		if !defineSegment {
			key := updateStaging + id + "/" + filepath.ToSlash(rel)
			if err := upload(ctx, t, f, key, nil); err != nil {
				return nil, err
			}
			req.S3Url, req.JobId = "s3://"+t.app.Config.Bucket+"/"+key, id
			if _, err := t.invoke(ctx, req); err != nil {
				return nil, err
			}
			out = append(out, started{id: id, source: req.S3Url, uploaded: true})
			continue
		}
		key := importer.ImportsPrefix + segName + "/" + filepath.ToSlash(rel)
		meta := map[string]string{importer.MetaJobId: id}
		if format != "" {
			meta[importer.MetaFormat] = format
		}
		if mode.replace {
			meta[importer.MetaMode] = "replace"
		}
		if err := upload(ctx, t, f, key, meta); err != nil {
			return nil, err
		}
		out = append(out, started{id: id, source: "s3://" + t.app.Config.Bucket + "/" + key, uploaded: true})
	}
	return out, nil
}

// importMode is how startImport imports: into a segment (define), and
// replacing its version (replace) rather than appending.
type importMode struct{ define, replace bool }

// checkReplace refuses --replace where it cannot mean one replacing job per
// argument: without a segment, with a Pinpoint export, and with a local folder
// of several files, whose jobs would each replace the one before.
func checkReplace(replace, defineSegment bool, export string, paths []string) error {
	if !replace {
		return nil
	}
	if !defineSegment {
		return usageErr("import: --replace replaces a segment's version; --define-segment=false imports without one")
	}
	if export != "" {
		return usageErr("import: --replace does not go with --pinpoint-export")
	}
	for _, p := range paths {
		if strings.HasPrefix(p, "s3://") {
			continue
		}
		if files, _, err := collectFiles(p); err == nil && len(files) > 1 {
			return usageErr("import: --replace: %s holds %d files, and each would be a job replacing the one before: give one file, or an s3:// prefix (one job for all of it)", p, len(files))
		}
	}
	return nil
}

// skipOtherFormat leaves out the files whose extension names the other format
// than the one asked for, as a request's Format skips a folder's objects of
// the other format, and says so on stderr. A file whose name tells no format
// is kept: it is read in the format asked for.
func skipOtherFormat(files []string, format string, stderr io.Writer) []string {
	if format == "" {
		return files
	}
	kept := files[:0:0]
	for _, f := range files {
		if fm, ok := decode.FormatOf(f); ok && string(fm) != format {
			fmt.Fprintf(stderr, "segport: skipped %s: %s, not %s\n", f, fm, format)
			continue
		}
		kept = append(kept, f)
	}
	return kept
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
