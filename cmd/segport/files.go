package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/segport/segport/internal/decode"
	"github.com/segport/segport/pkg/endpoint"
)

// parseFlags parses flags wherever they stand among the arguments and returns the
// positional ones. -h or --help is a helpError.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	args = gatherOverrides(args)
	var pos []string
	for {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			return nil, &helpError{fs}
		} else if err != nil {
			return nil, usageErr("%s: %v (see segport %s --help)", fs.Name(), err, fs.Name())
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// fileSummary is what `validate --json` prints for one file.
type fileSummary struct {
	File     string        `json:"File"`
	Format   string        `json:"Format"`
	Rows     int           `json:"Rows"`
	Valid    int           `json:"Valid"`
	Invalid  int           `json:"Invalid"`
	Failures []rowFailure  `json:"Failures"`
	Error    *fileErrorOut `json:"Error,omitempty"`
}

type rowFailure struct {
	Line    int    `json:"Line"`
	Field   string `json:"Field"`
	Message string `json:"Message"`
}

type fileErrorOut struct {
	Line    int    `json:"Line,omitempty"`
	Byte    int64  `json:"Byte,omitempty"`
	Message string `json:"Message"`
}

// openFile opens a file to read, refusing a folder, with messages that name the
// path once: "x.csv: no such file or directory".
func openFile(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: %w", path, pe.Err)
		}
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s is a folder: name a file", path)
	}
	return f, nil
}

// ctxReader ends a read when ctx is done, so that Ctrl-C stops a decoder
// even inside one endless record (validate /dev/zero).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// countryFlag adds --country-codes to fs; the function it returns gives the
// limits (the spec's) with the form asked for.
func countryFlag(fs *flag.FlagSet) func() (endpoint.Limits, error) {
	form := fs.String("country-codes", "alpha-3", "the form Location.Country is shown in, `alpha-3|alpha-2` (the CountryCodes parameter)")
	return func() (endpoint.Limits, error) {
		lim := endpoint.DefaultLimits()
		f, err := endpoint.ParseCountryForm(*form)
		if err != nil {
			return lim, usageErr("--country-codes: %v", err)
		}
		lim.Country = f
		return lim, nil
	}
}

// openDecoder opens a file to decode it whole, in one pass (see openInput).
func openDecoder(ctx context.Context, path, format string, limits endpoint.Limits) (decode.Decoder, decode.Format, io.Closer, error) {
	in, err := openInput(ctx, path, format)
	if err != nil {
		return nil, "", nil, err
	}
	return decode.New(in.format, in.br, decode.Options{File: path, Limits: limits}), in.format, in.f, nil
}

// input is a file opened to decode: its format picked, its start buffered.
type input struct {
	f      *os.File
	br     *bufio.Reader
	format decode.Format
}

// openInput opens a file and picks its format: --format, else the extension,
// else the first bytes.
func openInput(ctx context.Context, path, format string) (*input, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	in := &input{f: f, br: bufio.NewReaderSize(ctxReader{ctx, f}, 64*1024)}
	switch {
	case format != "":
		if in.format, err = decode.ParseFormat(format); err != nil {
			f.Close()
			return nil, usageErr("%v", err)
		}
	default:
		var ok bool
		if in.format, ok = decode.FormatOf(path); !ok {
			head, _ := in.br.Peek(512)
			in.format = decode.Sniff(head)
		}
	}
	return in, nil
}

// eachRow decodes a whole file, calling onRow for valid rows and onErr for row
// errors; a file-level error is returned.
func eachRow(dec decode.Decoder, onRow func(*decode.Row) error, onErr func(*decode.RowError)) error {
	for {
		row, err := dec.Decode()
		var re *decode.RowError
		switch {
		case err == io.EOF:
			return nil
		case errors.As(err, &re):
			onErr(re)
		case err != nil:
			return err
		default:
			if err := onRow(row); err != nil {
				return err
			}
		}
	}
}

func validateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	format := fs.String("format", "", "the files' format, `csv|json` (default: from the extension, else sniffed)")
	asJSON := fs.Bool("json", false, "print one JSON object per file")
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
		return usageErr("validate: name at least one file or folder")
	}
	files, err := expandPaths(paths)
	if err != nil {
		return err
	}
	if !*asJSON {
		defer lessGC()()
	}
	code := 0
	for _, path := range files {
		s, err := validateFile(ctx, path, *format, limits, stdout, *asJSON)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			var ee *exitError
			if errors.As(err, &ee) {
				return err
			}
			s.Error = &fileErrorOut{Message: err.Error()}
			var fe *decode.FileError
			if errors.As(err, &fe) {
				s.Error.Line, s.Error.Byte = fe.Line, max(fe.Byte, 0)
			}
			code = 2
			if !*asJSON {
				fmt.Fprintln(stdout, err)
			}
		} else if s.Invalid > 0 && code == 0 {
			code = 1
		}
		if *asJSON {
			b, _ := json.Marshal(s)
			fmt.Fprintf(stdout, "%s\n", b)
		} else {
			fmt.Fprintf(stdout, "%s: %d rows, %d valid, %d invalid\n", path, s.Rows, s.Valid, s.Invalid)
		}
	}
	if code != 0 {
		return &exitError{code: code, err: errSilent}
	}
	return nil
}

// expandPaths replaces each folder among paths by its files, in name order.
func expandPaths(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		if st, err := os.Stat(p); err != nil || !st.IsDir() {
			files = append(files, p) // validateFile says what is wrong with it
			continue
		}
		found, _, err := collectFiles(p)
		if err != nil {
			return nil, err
		}
		files = append(files, found...)
	}
	return files, nil
}

func validateFile(ctx context.Context, path, format string, limits endpoint.Limits, stdout io.Writer, asJSON bool) (*fileSummary, error) {
	work := func(dec decode.Decoder, out, _ io.Writer, t *tally) error {
		return eachRow(dec, func(*decode.Row) error {
			t.rows++
			t.valid++
			return nil
		}, func(re *decode.RowError) {
			t.rows++
			t.invalid++
			if asJSON {
				t.failures = append(t.failures, rowFailure{Line: re.Line, Field: re.Field, Message: re.Msg})
			} else {
				fmt.Fprintln(out, re)
			}
		})
	}
	// validate prints no Id: the derived ones need not be computed.
	opts := decode.Options{Limits: limits, NoDerivedId: true}
	fm, t, err := decodeFile(ctx, path, format, opts, work, stdout, io.Discard)
	s := &fileSummary{File: path, Format: string(fm), Rows: t.rows, Valid: t.valid, Invalid: t.invalid, Failures: t.failures}
	if s.Failures == nil {
		s.Failures = []rowFailure{}
	}
	return s, err
}

func parseCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("parse", flag.ContinueOnError)
	format := fs.String("format", "", "the files' format, `csv|json` (default: from the extension, else sniffed)")
	limitsOf := countryFlag(fs)
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	limits, err := limitsOf()
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usageErr("parse: name one file")
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	work := func(dec decode.Decoder, out, errOut io.Writer, t *tally) error {
		return eachRow(dec, func(row *decode.Row) error {
			if row.Endpoint == nil { // a user-ID definition: one line per user
				for _, u := range row.UserIds {
					b, _ := (&endpoint.Endpoint{User: &endpoint.User{UserId: u}}).MarshalCanonical()
					out.Write(append(b, '\n'))
				}
				return nil
			}
			b, err := row.Endpoint.MarshalCanonical()
			if err != nil {
				return err
			}
			_, err = out.Write(append(b, '\n'))
			return err
		}, func(re *decode.RowError) {
			t.invalid++
			fmt.Fprintln(errOut, re)
		})
	}
	_, t, err := decodeFile(ctx, files[0], *format, decode.Options{Limits: limits}, work, out, stderr)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		out.Flush()
		return &exitError{code: 2, err: err}
	}
	if t.invalid > 0 {
		return &exitError{code: 1, err: errSilent}
	}
	return nil
}
