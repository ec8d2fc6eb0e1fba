// Package httpapi is segport's query API over HTTP, shaped like Amazon Pinpoint's
// REST API: segments, their endpoints, users' endpoints and import jobs, plus
// POST /v1/jobs/import to start an import. Handler is a plain net/http handler;
// Lambda adapts it to API Gateway HTTP API events, and `segport dev` serves it
// on 127.0.0.1. README.md ("Querying segments") documents the routes.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/pkg/client"
	"github.com/segport/segport/pkg/endpoint"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/segment"
)

// Reader reads what the API serves; *client.Client is one.
type Reader interface {
	ListSegments(ctx context.Context, opts client.PageOptions) (client.Page[*segment.Segment], error)
	GetSegment(ctx context.Context, id string) (*segment.Segment, error)
	VersionMembersPage(ctx context.Context, segmentId string, version int, opts client.PageOptions) (client.Page[*endpoint.Endpoint], error)
	VersionUsersPage(ctx context.Context, segmentId string, version int, opts client.PageOptions) (client.Page[string], error)
	ListSegmentVersions(ctx context.Context, segmentId string, opts client.PageOptions) (client.Page[*segment.Version], error)
	GetSegmentVersion(ctx context.Context, segmentId string, version int) (*segment.Version, error)
	GetEndpoint(ctx context.Context, id string) (*endpoint.Endpoint, error)
	UserEndpointsPage(ctx context.Context, userId string, opts client.PageOptions) (client.Page[*endpoint.Endpoint], error)
	GetImportJob(ctx context.Context, id string) (*job.Job, error)
	ListImportJobs(ctx context.Context, segment string, opts client.PageOptions) (client.Page[*job.Job], error)
}

// Importer starts import jobs; *importer.Trigger is one.
type Importer interface {
	CreateImportJob(ctx context.Context, req importer.Request) (*job.Job, error)
}

// Options configure New.
type Options struct {
	Reader   Reader
	Importer Importer
	// Deleter serves the DELETE routes (deletes.go); nil: there are none.
	Deleter Deleter
	// Bucket is the only bucket POST /v1/jobs/import imports from: the function's
	// role reads no other.
	Bucket string
	// MaxBody bounds a list response's bytes (API Gateway passes at most 6 MB
	// from Lambda): a longer page is read again at half the size. 0 means 5 MiB.
	MaxBody int
	Log     *slog.Logger
}

// Handler serves the API.
type Handler struct {
	opts Options
	mux  *http.ServeMux
	seq  atomic.Uint64 // request ids when the caller gives none
}

// New returns the API's handler.
func New(opts Options) *Handler {
	if opts.MaxBody <= 0 {
		opts.MaxBody = 5 << 20
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	h := &Handler{opts: opts, mux: http.NewServeMux()}
	h.route("GET /v1/segments", h.listSegments)
	h.route("GET /v1/segments/{id}", h.getSegment)
	h.route("GET /v1/segments/{id}/endpoints", h.segmentEndpoints)
	h.route("GET /v1/segments/{id}/users", h.segmentUsers)
	h.route("GET /v1/segments/{id}/versions", h.listVersions)
	h.route("GET /v1/segments/{id}/versions/{version}", h.getVersion)
	h.route("GET /v1/endpoints/{id}", h.getEndpoint)
	h.route("GET /v1/users/{userId}/endpoints", h.userEndpoints)
	h.route("GET /v1/jobs/import", h.listJobs)
	h.route("GET /v1/jobs/import/{id}", h.getJob)
	h.route("POST /v1/jobs/import", h.createJob)
	if opts.Deleter != nil {
		h.routeDeletes()
	}
	return h
}

// RequestIDHeader carries the request id: API Gateway's, or one the handler makes.
// Error bodies repeat it, and the log lines of a failed request carry it.
const RequestIDHeader = "X-Request-Id"

// ServeHTTP answers an unknown route or method with a JSON error too.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.stamp(w, r)
	if _, pattern := h.mux.Handler(r); pattern != "" {
		h.mux.ServeHTTP(w, r)
		return
	}
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		other := r.Clone(r.Context())
		other.Method = m
		if _, pattern := h.mux.Handler(other); pattern != "" {
			h.writeError(w, r, &apiError{http.StatusMethodNotAllowed, codeMethodNotAllowed, r.Method + " is not allowed on " + r.URL.Path})
			return
		}
	}
	h.writeError(w, r, &apiError{http.StatusNotFound, codeNotFound, "no route " + r.URL.Path})
}

// stamp gives the request an id unless it has one, and the response its id.
func (h *Handler) stamp(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(RequestIDHeader) == "" {
		r.Header.Set(RequestIDHeader, "local-"+strconv.FormatUint(h.seq.Add(1), 10))
	}
	w.Header().Set(RequestIDHeader, r.Header.Get(RequestIDHeader))
}

// handlerFunc returns the response body, written as JSON with status, or an error.
type handlerFunc func(r *http.Request) (status int, body any, err error)

func (h *Handler) route(pattern string, fn handlerFunc) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		status, body, err := fn(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		b, ok := body.(json.RawMessage)
		if !ok {
			if b, err = marshal(body); err != nil {
				h.writeError(w, r, fmt.Errorf("encode response: %w", err))
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(b)
	})
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (h *Handler) listSegments(r *http.Request) (int, any, error) {
	return listPage(h, r, h.opts.Reader.ListSegments)
}

func (h *Handler) getSegment(r *http.Request) (int, any, error) {
	seg, err := h.opts.Reader.GetSegment(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, notFoundAs(err, "segment", r.PathValue("id"))
	}
	return http.StatusOK, seg, nil
}

// segmentEndpoints lists the members of the segment's current version, or of
// the version ?version= names.
func (h *Handler) segmentEndpoints(r *http.Request) (int, any, error) {
	id := r.PathValue("id")
	version, err := versionQuery(r)
	if err != nil {
		return 0, nil, err
	}
	status, body, err := listPage(h, r, func(ctx context.Context, o client.PageOptions) (client.Page[canonical], error) {
		p, err := h.opts.Reader.VersionMembersPage(ctx, id, version, o)
		return canonicalPage(p), err
	})
	return status, body, versionNotFound(err, id, version)
}

// segmentUsers lists the user IDs of the user-ID definitions of the
// segment's current version, or of the version ?version= names.
func (h *Handler) segmentUsers(r *http.Request) (int, any, error) {
	id := r.PathValue("id")
	version, err := versionQuery(r)
	if err != nil {
		return 0, nil, err
	}
	status, body, err := listPage(h, r, func(ctx context.Context, o client.PageOptions) (client.Page[string], error) {
		return h.opts.Reader.VersionUsersPage(ctx, id, version, o)
	})
	return status, body, versionNotFound(err, id, version)
}

// versionQuery returns the version ?version= names, 0 (the current one) when
// it names none.
func versionQuery(r *http.Request) (int, error) {
	v := r.URL.Query().Get("version")
	if v == "" {
		return 0, nil
	}
	return parseVersion(v)
}

// versionNotFound names what was not found: the segment, or the segment or
// its version when one was asked for.
func versionNotFound(err error, id string, version int) error {
	if version > 0 {
		return notFoundAs(err, "segment or version", fmt.Sprintf("%s version %d", id, version))
	}
	return notFoundAs(err, "segment", id)
}

func parseVersion(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, badRequest(fmt.Sprintf("version %q: want a whole number from 1", s))
	}
	return n, nil
}

func (h *Handler) listVersions(r *http.Request) (int, any, error) {
	id := r.PathValue("id")
	status, body, err := listPage(h, r, func(ctx context.Context, o client.PageOptions) (client.Page[*segment.Version], error) {
		return h.opts.Reader.ListSegmentVersions(ctx, id, o)
	})
	return status, body, notFoundAs(err, "segment", id)
}

func (h *Handler) getVersion(r *http.Request) (int, any, error) {
	id := r.PathValue("id")
	n, err := parseVersion(r.PathValue("version"))
	if err != nil {
		return 0, nil, err
	}
	v, err := h.opts.Reader.GetSegmentVersion(r.Context(), id, n)
	if err != nil {
		return 0, nil, notFoundAs(err, "segment or version", fmt.Sprintf("%s version %d", id, n))
	}
	return http.StatusOK, v, nil
}

func (h *Handler) getEndpoint(r *http.Request) (int, any, error) {
	e, err := h.opts.Reader.GetEndpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, notFoundAs(err, "endpoint", r.PathValue("id"))
	}
	return http.StatusOK, canonical{e}, nil
}

// userEndpoints answers 404 for a user without endpoints, as Pinpoint does.
func (h *Handler) userEndpoints(r *http.Request) (int, any, error) {
	userId := r.PathValue("userId")
	empty := false
	status, body, err := listPage(h, r, func(ctx context.Context, o client.PageOptions) (client.Page[canonical], error) {
		p, err := h.opts.Reader.UserEndpointsPage(ctx, userId, o)
		empty = o.Token == "" && len(p.Items) == 0 && p.NextToken == ""
		return canonicalPage(p), err
	})
	if err == nil && empty {
		return 0, nil, notFoundAs(client.ErrNotFound, "user", userId)
	}
	return status, body, err
}

func (h *Handler) listJobs(r *http.Request) (int, any, error) {
	seg := r.URL.Query().Get("segment-id")
	status, body, err := listPage(h, r, func(ctx context.Context, o client.PageOptions) (client.Page[importJob], error) {
		p, err := h.opts.Reader.ListImportJobs(ctx, seg, o)
		out := client.Page[importJob]{NextToken: p.NextToken, Items: make([]importJob, len(p.Items))}
		for i, j := range p.Items {
			out.Items[i] = importJob{Job: j, Type: "IMPORT"}
		}
		return out, err
	})
	return status, body, notFoundAs(err, "segment", seg)
}

func (h *Handler) getJob(r *http.Request) (int, any, error) {
	j, err := h.opts.Reader.GetImportJob(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, notFoundAs(err, "import job", r.PathValue("id"))
	}
	return http.StatusOK, importJob{Job: j, Type: "IMPORT"}, nil
}

// importJob is Pinpoint's ImportJobResponse.
type importJob struct {
	*job.Job
	Type string `json:"Type"`
}

// canonical is an endpoint in its canonical JSON, Pinpoint's EndpointResponse shape.
type canonical struct{ *endpoint.Endpoint }

func (c canonical) MarshalJSON() ([]byte, error) { return c.MarshalCanonical() }

func canonicalPage(p client.Page[*endpoint.Endpoint]) client.Page[canonical] {
	out := client.Page[canonical]{NextToken: p.NextToken, Items: make([]canonical, len(p.Items))}
	for i, e := range p.Items {
		out.Items[i] = canonical{e}
	}
	return out
}

// listResponse is Pinpoint's list shape (SegmentsResponse, EndpointsResponse,
// ImportJobsResponse).
type listResponse[T any] struct {
	Item      []T    `json:"Item"`
	NextToken string `json:"NextToken,omitempty"`
}

// listPage reads the page the request asks for (page-size, token) and encodes
// it, reading it again at half the size while it is over MaxBody.
func listPage[T any](h *Handler, r *http.Request, read func(context.Context, client.PageOptions) (client.Page[T], error)) (int, any, error) {
	opts, err := pageOptions(r)
	if err != nil {
		return 0, nil, err
	}
	for {
		p, err := read(r.Context(), opts)
		if err != nil {
			return 0, nil, err
		}
		if p.Items == nil {
			p.Items = []T{}
		}
		b, err := marshal(listResponse[T]{Item: p.Items, NextToken: p.NextToken})
		if err != nil {
			return 0, nil, fmt.Errorf("encode page: %w", err)
		}
		if len(b) <= h.opts.MaxBody || len(p.Items) <= 1 {
			return http.StatusOK, json.RawMessage(b), nil
		}
		opts.Size = len(p.Items) / 2
	}
}

func pageOptions(r *http.Request) (client.PageOptions, error) {
	q := r.URL.Query()
	opts := client.PageOptions{Token: q.Get("token")}
	if s := q.Get("page-size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > client.MaxPageSize {
			return opts, badRequest(fmt.Sprintf("page-size %q: want a whole number from 1 to %d", s, client.MaxPageSize))
		}
		opts.Size = n
	}
	return opts, nil
}

// notFoundAs turns ErrNotFound into a 404 naming what was missing.
func notFoundAs(err error, kind, id string) error {
	if errors.Is(err, client.ErrNotFound) {
		return &apiError{http.StatusNotFound, codeNotFound, fmt.Sprintf("%s %s not found", kind, segment.QuoteShort(id))}
	}
	return err
}
