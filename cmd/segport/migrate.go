package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/internal/pinpointexport"
	"github.com/segport/segport/pkg/endpoint"
)

// exportStaging is where `import --pinpoint-export` copies a local export before
// importing it as one job: outside imports/, so that no S3 event starts a job per
// object. The copies may be deleted once the job has ended.
const exportStaging = "pinpoint-exports/"

// startExportImport starts one job importing a Pinpoint export: an s3:// prefix
// as it is, or a local file or folder (gzip or not) copied under exportStaging.
func startExportImport(ctx context.Context, t *target, p, segName string, defineSegment bool) (started, error) {
	if defineSegment {
		var err error
		if segName, err = segmentFor(p, segName, true); err != nil {
			return started{}, err
		}
	}
	id := newJobId()
	url := p
	uploaded := false
	if !strings.HasPrefix(p, "s3://") {
		files, root, err := collectFiles(p)
		if err != nil {
			return started{}, err
		}
		prefix := exportStaging + id + "/"
		for _, f := range files {
			rel, _ := filepath.Rel(root, f)
			if err := upload(ctx, t, f, prefix+filepath.ToSlash(rel), nil); err != nil {
				return started{}, err
			}
		}
		url, uploaded = "s3://"+t.app.Config.Bucket+"/"+prefix, true
	}
	req := importer.Request{S3Url: url, Format: string(pinpointexport.Format), SegmentName: segName, JobId: id}
	if !defineSegment {
		req.SegmentName, req.DefineSegment = "", &defineSegment
	}
	j, err := t.invoke(ctx, req)
	if err != nil {
		return started{}, err
	}
	return started{id: j.Id, source: url, uploaded: uploaded}, nil
}

// migrateCheckCmd is `segport migrate-check [--json] PATH...`: a dry run of
// importing a Pinpoint export from local files or folders.
func migrateCheckCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("migrate-check", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	limitsOf := countryFlag(fs)
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	limits, err := limitsOf()
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return usageErr("migrate-check: name the export: a file or a folder")
	}
	var c pinpointexport.Check
	for _, p := range paths {
		files, _, err := collectFiles(p)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		sort.Strings(files)
		for _, f := range files {
			err := checkFile(ctx, &c, f, limits)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				return &exitError{code: 2, err: err}
			}
		}
	}
	if *asJSON {
		b, _ := json.Marshal(&c)
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		printCheck(stdout, &c, limits)
	}
	switch {
	case len(c.FileErrors) > 0:
		return &exitError{code: 2, err: errSilent}
	case c.Failed > 0:
		return &exitError{code: 1, err: errSilent}
	}
	return nil
}

func checkFile(ctx context.Context, c *pinpointexport.Check, file string, limits endpoint.Limits) error {
	f, err := openFile(file)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := c.Read(file, ctxReader{ctx, f}, limits); err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	return nil
}

func printCheck(w io.Writer, c *pinpointexport.Check, limits endpoint.Limits) {
	fmt.Fprintf(w, "Pinpoint export: %d files (%d gzip-compressed), %d rows\n", c.Files, c.Gzipped, c.Rows)
	fmt.Fprintf(w, "  endpoints:  %d would import (%d distinct Ids), %d without an address\n", c.Endpoints, c.DistinctEndpoints, c.WithoutAddress)
	fmt.Fprintf(w, "  users:      %d\n", c.Users)
	fmt.Fprintf(w, "  channels:   %s\n", counts(c.Channels))
	fmt.Fprintf(w, "  status:     %s\n", counts(c.EndpointStatus))
	fmt.Fprintf(w, "  opt-out:    %s\n", counts(c.OptOut))
	fmt.Fprintf(w, "  custom attribute names: %d %s\n", len(c.CustomAttributes), strings.Join(c.CustomAttributes, " "))
	if n := len(c.CustomAttributes); n > limits.CustomAttributeNames {
		fmt.Fprintf(w, "  note: %d custom attribute names, the default limit of a deployment is %d: raise MaxCustomAttributeNames first\n", n, limits.CustomAttributeNames)
	}
	section := func(title string, m map[string]int) {
		if len(m) == 0 {
			return
		}
		fmt.Fprintln(w, title)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			fmt.Fprintf(w, "  %s: %s\n", k, rows(m[k]))
		}
	}
	section("converted:", c.Converted)
	section("kept (export-only):", c.Kept)
	section("ignored (export-only fields):", c.Ignored)
	if c.Failed > 0 {
		fmt.Fprintf(w, "failed: %s\n", rows(c.Failed))
		for _, f := range c.Failures {
			field := ""
			if f.Field != "" {
				field = f.Field + ": "
			}
			fmt.Fprintf(w, "  %s:%d: %s%s\n", f.File, f.Line, field, f.Message)
		}
		if c.Failed > len(c.Failures) {
			fmt.Fprintf(w, "  ... and %d more\n", c.Failed-len(c.Failures))
		}
	}
	for _, fe := range c.FileErrors {
		fmt.Fprintf(w, "file error: %s\n", fe.Message)
	}
}

func rows(n int) string {
	if n == 1 {
		return "1 row"
	}
	return fmt.Sprintf("%d rows", n)
}

// counts formats a map of counts as "A 3, B 1", a missing value as "(not given)".
func counts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		name := k
		if name == "" {
			name = "(not given)"
		}
		parts = append(parts, fmt.Sprintf("%s %d", name, m[k]))
	}
	return strings.Join(parts, ", ")
}
