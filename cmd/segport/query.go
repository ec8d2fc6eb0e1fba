package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/segport/segport/internal/dump"
	"github.com/segport/segport/internal/dynamo"
	"github.com/segport/segport/pkg/endpoint"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

func queryCmd(ctx context.Context, noun string, args []string, stdout io.Writer) error {
	fset := flag.NewFlagSet(noun, flag.ContinueOnError)
	version := 0
	if noun == "segments" {
		fset.IntVar(&version, "version", 0, "segments get and members: version `N` of the segment (default: its current version)")
	}
	sf := addStackFlags(fset)
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 && pos[0] == "delete" && noun != "jobs" && version == 0 {
		return deleteCmd(ctx, noun, pos[1:], sf, stdout)
	}
	if noun == "users" {
		return usageErr("usage: segport users delete USER_ID...")
	}
	if len(pos) == 0 {
		return usageErr("%s: say list, get, members, users or versions", noun)
	}
	if version < 0 || (version > 0 && pos[0] != "get" && pos[0] != "members" && pos[0] != "users") {
		return usageErr("--version N: a version from 1, for segments get, members or users")
	}
	verb, rest := pos[0], pos[1:]
	want := 1
	if verb == "list" {
		want = 0
	}
	if len(rest) != want || (noun == "endpoints" && verb != "get") || (noun == "jobs" && (verb == "members" || verb == "users" || verb == "versions")) {
		return usageErr("usage: segport %s %s", noun, map[int]string{0: verb, 1: verb + " NAME|ID"}[want])
	}
	if noun == "segments" && verb != "list" {
		// The rule every surface resolves names by, checked before a stack starts.
		if _, err := segment.Resolve(rest[0]); err != nil {
			return &exitError{code: codeError, err: err}
		}
	}
	t, err := openTarget(ctx, sf, nil)
	if err != nil {
		return err
	}
	defer t.Close()
	st := t.app.Store
	switch noun + " " + verb {
	case "jobs list":
		jobs, err := st.Jobs(ctx)
		if err != nil {
			return err
		}
		printList(stdout, jobs, sf.json, func(j *job.Job) {
			j.CreationDate, j.CompletionDate = isoDate(j.CreationDate), isoDate(j.CompletionDate)
		}, func(j *job.Job) {
			fmt.Fprintf(stdout, "%s  %-10s  %5d processed  %5d failed  %s -> %s\n", j.Id, j.JobStatus, j.TotalProcessed, j.TotalFailures, j.Definition.S3Url, j.Definition.SegmentName)
		})
	case "jobs get":
		j, err := st.Job(ctx, rest[0])
		if err != nil {
			return err
		}
		if err := addStats(ctx, t, false, j); err != nil {
			return err
		}
		printJob(stdout, j, sf.json)
	case "segments list":
		segs, err := st.Segments(ctx)
		if err != nil {
			return err
		}
		for _, s := range segs {
			if err := st.Resolve(ctx, s); err != nil {
				return err
			}
		}
		printList(stdout, segs, sf.json, func(s *segment.Segment) {
			s.CreationDate, s.LastModifiedDate = isoDate(s.CreationDate), isoDate(s.LastModifiedDate)
		}, func(s *segment.Segment) { printSegment(stdout, s, false) })
	case "segments get":
		s, err := st.SegmentByName(ctx, rest[0])
		if err != nil {
			return err
		}
		if version == 0 {
			if err := st.Resolve(ctx, s); err != nil {
				return err
			}
			printSegment(stdout, s, sf.json)
			return nil
		}
		v, err := st.SegmentVersion(ctx, s, version)
		if err == nil {
			err = st.ResolveVersion(ctx, s, v)
		}
		if err != nil {
			return err
		}
		printVersion(stdout, v, sf.json)
	case "segments versions":
		s, err := st.SegmentByName(ctx, rest[0])
		if err != nil {
			return err
		}
		vs, err := st.Versions(ctx, s)
		if err != nil {
			return err
		}
		for _, v := range vs {
			printVersion(stdout, v, sf.json)
		}
	case "segments users":
		s, version, err := segmentAt(ctx, st, rest[0], version)
		if err != nil {
			return err
		}
		users, err := st.VersionUserMembers(ctx, s, version)
		if err != nil {
			return err
		}
		for _, u := range users {
			if sf.json {
				printJSON(stdout, u)
			} else {
				fmt.Fprintln(stdout, u)
			}
		}
	case "segments members":
		s, version, err := segmentAt(ctx, st, rest[0], version)
		if err != nil {
			return err
		}
		return printMembers(ctx, t, s, version, stdout)
	case "endpoints get":
		e, err := st.Endpoint(ctx, rest[0])
		if err != nil {
			return err
		}
		b, err := e.MarshalCanonical()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", b)
	default:
		return usageErr("unknown command: segport %s %s", noun, verb)
	}
	return nil
}

// printMembers prints the endpoints of a version of the segment as canonical
// JSON lines, by Id: its members, and the endpoints of its users.
func printMembers(ctx context.Context, t *target, s *segment.Segment, version int, stdout io.Writer) error {
	ids, err := t.app.Store.Reached(ctx, s, version)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	for len(ids) > 0 {
		n := min(100, len(ids))
		eps, err := t.app.Store.Endpoints(ctx, ids[:n])
		if err != nil {
			return err
		}
		for _, e := range eps {
			b, err := e.MarshalCanonical()
			if err != nil {
				return err
			}
			out.Write(b)
			out.WriteByte('\n')
		}
		ids = ids[n:]
	}
	return nil
}

func dumpCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fset := flag.NewFlagSet("dump", flag.ContinueOnError)
	dates := fset.Bool("dates", false, "keep creation, completion and modification dates")
	sf := addStackFlags(fset)
	if _, err := parseFlags(fset, args); err != nil {
		return err
	}
	t, err := openTarget(ctx, sf, nil)
	if err != nil {
		return err
	}
	defer t.Close()
	return dump.Write(ctx, stdout, t.app.Store, t.app.Objects, dump.Options{Dates: *dates})
}

// printList prints what a list command found: with --json one array, []
// when it is empty (never null, never nothing), else a line each. dated
// shows each item's dates as Pinpoint does.
func printList[T any](w io.Writer, items []T, asJSON bool, dated, line func(T)) {
	for _, it := range items {
		dated(it)
	}
	if !asJSON {
		for _, it := range items {
			line(it)
		}
		return
	}
	if items == nil {
		items = []T{}
	}
	printJSON(w, items)
}

func printJSON(w io.Writer, v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintf(w, "%s\n", b)
}

// isoDate shows a stored date as Pinpoint does, ISO 8601 in UTC with
// milliseconds; anything else is shown as it is.
func isoDate(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return endpoint.FormatDate(t)
}

func printJob(w io.Writer, j *job.Job, asJSON bool) {
	j.CreationDate, j.CompletionDate = isoDate(j.CreationDate), isoDate(j.CompletionDate)
	if asJSON {
		printJSON(w, j)
		return
	}
	fmt.Fprintf(w, "Job %s: %s\n", j.Id, j.JobStatus)
	fmt.Fprintf(w, "  source:    %s (%s)\n", j.Definition.S3Url, j.Definition.Format)
	if d := j.Definition; d.DefineSegment != nil && !*d.DefineSegment {
		fmt.Fprintf(w, "  segment:   none (DefineSegment false: endpoints only)\n")
	} else {
		fmt.Fprintf(w, "  segment:   %s (%s)\n", d.SegmentName, d.SegmentId)
		fmt.Fprintf(w, "  mode:      %s\n", d.Mode())
	}
	for _, k := range j.Definition.Skipped {
		fmt.Fprintf(w, "  skipped:   %s (not %s)\n", k, j.Definition.Format)
	}
	fmt.Fprintf(w, "  pieces:    %d total, %d completed, %d failed\n", j.TotalPieces, j.CompletedPieces, j.FailedPieces)
	fmt.Fprintf(w, "  endpoints: %d imported, %d failed\n", j.TotalProcessed, j.TotalFailures)
	fmt.Fprintf(w, "  created:   %s\n", j.CreationDate)
	if j.CompletionDate != "" {
		fmt.Fprintf(w, "  completed: %s\n", j.CompletionDate)
	}
	if j.ErrorReport != "" {
		fmt.Fprintf(w, "  errors:    %s\n", j.ErrorReport)
	}
	for _, f := range j.Failures {
		fmt.Fprintf(w, "  failure:   %s\n", f)
	}
	if more := j.TotalFailures - len(j.Failures); more > 0 && len(j.Failures) > 0 {
		fmt.Fprintf(w, "  ... and %d more failures in the error report\n", more)
	}
	if j.Stats != nil {
		printStats(w, j.Stats)
	}
}

func printSegment(w io.Writer, s *segment.Segment, asJSON bool) {
	s.CreationDate, s.LastModifiedDate = isoDate(s.CreationDate), isoDate(s.LastModifiedDate)
	if asJSON {
		printJSON(w, s)
		return
	}
	chans := make([]string, 0, len(s.ImportDefinition.ChannelCounts))
	for ch, n := range s.ImportDefinition.ChannelCounts {
		chans = append(chans, fmt.Sprintf("%s=%d", ch, n))
	}
	sort.Strings(chans)
	users := ""
	if s.UserCount > 0 {
		users = fmt.Sprintf(" (%d users)", s.UserCount)
	}
	fmt.Fprintf(w, "Segment %s (%s), version %d: %d endpoints%s; imported %d definitions [%s], latest %s from %s\n",
		s.Name, s.Id, s.Version, s.EndpointCount, users, s.ImportDefinition.Size, strings.Join(chans, " "),
		s.ImportDefinition.Format, s.ImportDefinition.S3Url)
}

func printVersion(w io.Writer, v *segment.Version, asJSON bool) {
	v.CreationDate, v.CompletionDate = isoDate(v.CreationDate), isoDate(v.CompletionDate)
	if asJSON {
		printJSON(w, v)
		return
	}
	count := "members not counted yet"
	if v.EndpointCount != nil {
		count = fmt.Sprintf("%d endpoints", *v.EndpointCount)
	}
	if v.UserCount > 0 {
		count += fmt.Sprintf(" (%d users)", v.UserCount)
	}
	current := ""
	if v.Current {
		current = " (current)"
	}
	if v.Replace {
		current += " replace"
	} else {
		current += " append"
	}
	if v.Pruned {
		count = "members no longer kept"
	}
	chans := make([]string, 0, len(v.ImportDefinition.ChannelCounts))
	for ch, n := range v.ImportDefinition.ChannelCounts {
		chans = append(chans, fmt.Sprintf("%s=%d", ch, n))
	}
	sort.Strings(chans)
	fmt.Fprintf(w, "Segment %s version %d%s: %s, job %s created %s; %s; imported %d definitions [%s] %s from %s\n",
		v.Name, v.Version, current, v.JobStatus, v.JobId, v.CreationDate, count, v.ImportDefinition.Size,
		strings.Join(chans, " "), v.ImportDefinition.Format, v.ImportDefinition.S3Url)
}

// segmentAt finds a segment by name and the version to read: version, which
// must exist, or the current one when version is 0.
func segmentAt(ctx context.Context, st *dynamo.Store, name string, version int) (*segment.Segment, int, error) {
	s, err := st.SegmentByName(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	return st.AtVersion(ctx, s, version)
}
