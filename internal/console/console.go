// Package console is segport's web console: the Segments, Import segment, Jobs and
// Endpoints pages of the spec's "Importing a Segment", for people without a
// terminal. The pages are plain HTML, CSS and JavaScript embedded in the binary
// (no build step, no CDN: it works offline) and read the query API
// (internal/httpapi) on the same origin. Handler serves both: the console under
// /console/, its few endpoints the API lacks under /console/api/ (a dry run of
// a file's first rows, uploads from the computer, error report downloads, a
// segment's users), and everything else is passed to the API. Every request is
// checked first: loopback Host only, and no other origin (guard.go).
package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/pkg/client"
	"github.com/segport/segport/pkg/endpoint"
	"github.com/segport/segport/pkg/job"
)

//go:embed static
var static embed.FS

// Reader reads what the console's own endpoints need; *client.Client is one.
type Reader interface {
	SegmentMembersPage(ctx context.Context, segmentId string, opts client.PageOptions) (client.Page[*endpoint.Endpoint], error)
	GetImportJob(ctx context.Context, id string) (*job.Job, error)
}

// Objects stores uploads and reads error reports; *s3src.Store is one.
type Objects interface {
	Head(ctx context.Context, bucket, key string) (*job.Object, error)
	Range(ctx context.Context, bucket, key string, start, end int64) (io.ReadCloser, error)
	List(ctx context.Context, bucket, prefix string) ([]*job.Object, error)
	PutFile(ctx context.Context, bucket, key, path, contentType string) error
}

// Importer starts import jobs as POST /v1/jobs/import does; *importer.Trigger is one.
type Importer interface {
	CreateImportJob(ctx context.Context, req importer.Request) (*job.Job, error)
}

// Options configure New.
type Options struct {
	// API answers every request that is not the console's: the query API.
	API      http.Handler
	Reader   Reader
	Objects  Objects
	Importer Importer
	// Bucket is the stack's bucket: uploads go there, reports come from there.
	Bucket string
	// Limits are the deployment's, for the dry run.
	Limits endpoint.Limits
	// TempDir is where an upload is kept while it is copied to S3; "" for the
	// system's.
	TempDir string
	Log     *slog.Logger
}

// Handler serves the console and, behind it, the query API.
type Handler struct {
	opts Options
	mux  *http.ServeMux
}

// Path is where the console's pages are.
const Path = "/console/"

// New returns the console's handler.
func New(opts Options) *Handler {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	h := &Handler{opts: opts, mux: http.NewServeMux()}
	files, _ := fs.Sub(static, "static")
	pages := http.StripPrefix(Path, http.FileServerFS(files))
	h.mux.HandleFunc("GET "+Path, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, apiPath) {
			h.noRoute(w, r)
			return
		}
		pages.ServeHTTP(w, r)
	})
	h.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Path, http.StatusFound)
	})
	h.mux.HandleFunc("GET /console/api/config", h.config)
	h.mux.HandleFunc("POST /console/api/dry-run", h.dryRun)
	h.mux.HandleFunc("PUT /console/api/uploads/{batch}/{name}", h.upload)
	h.mux.HandleFunc("POST /console/api/uploads/{batch}/start", h.startUpload)
	h.mux.HandleFunc("GET /console/api/jobs/{id}/report", h.report)
	h.mux.HandleFunc("GET /console/api/segments/{id}/users", h.users)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, Path) || opts.API == nil {
			h.noRoute(w, r)
			return
		}
		opts.API.ServeHTTP(w, r)
	})
	return h
}

// apiPath is where the console's own endpoints are.
const apiPath = Path + "api/"

func (h *Handler) noRoute(w http.ResponseWriter, r *http.Request) {
	writeError(w, &consoleError{http.StatusNotFound, "no console endpoint " + r.Method + " " + r.URL.Path})
}

// ServeHTTP refuses what the guard refuses, then serves.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := guard(r); err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.mux.ServeHTTP(w, r)
}

// MaxFiles is how many files one upload takes, as Pinpoint's console allows.
const MaxFiles = 10

// config tells the pages what the server knows and they cannot.
func (h *Handler) config(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"Bucket": h.opts.Bucket, "ImportsPrefix": importer.ImportsPrefix,
		"MaxFiles": MaxFiles, "MaxFileBytes": MaxFileBytes, "DryRunBytes": DryRunBytes,
	})
}

// consoleError is an error the caller may see, in the API's error shape.
type consoleError struct {
	status  int
	message string
}

func (e *consoleError) Error() string { return e.message }

func badRequest(format string, args ...any) error {
	return &consoleError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// codes are the API's error codes (Pinpoint's exception names) by status.
var codes = map[int]string{
	http.StatusBadRequest:            "BadRequestException",
	http.StatusForbidden:             "ForbiddenException",
	http.StatusNotFound:              "NotFoundException",
	http.StatusBadGateway:            "BadGatewayException",
	http.StatusRequestEntityTooLarge: "PayloadTooLargeException",
	http.StatusInternalServerError:   "InternalServerErrorException",
}

// fail writes err: a consoleError as it is, anything else logged and answered
// with a bare 500.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ce *consoleError
	if !errors.As(err, &ce) {
		h.opts.Log.ErrorContext(r.Context(), "console request failed", "method", r.Method, "route", r.Pattern, "err", err)
		err = &consoleError{http.StatusInternalServerError, "internal error"}
	}
	writeError(w, err)
}

// writeError writes a consoleError; anything else is a bare 500 (fail logs it first).
func writeError(w http.ResponseWriter, err error) {
	var ce *consoleError
	if !errors.As(err, &ce) {
		ce = &consoleError{http.StatusInternalServerError, "internal error"}
	}
	w.Header().Set("X-Amzn-ErrorType", codes[ce.status])
	writeJSON(w, ce.status, map[string]string{"Code": codes[ce.status], "Message": ce.message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
