package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/segport/segport/internal/decode"
	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/pkg/job"
)

// UploadsPrefix is where files uploaded from the computer wait in the bucket,
// outside imports/: an object under imports/ starts a job of its own, and an
// upload makes one job per format, as Pinpoint's console does. The files of
// upload B in format F are under uploads/B/F/, and that folder is imported as
// one job (CreateImportJob, as POST /v1/jobs/import starts it), whose S3Url
// names it.
const UploadsPrefix = "uploads/"

// MaxFileBytes bounds one uploaded file (Pinpoint's console takes files of up
// to 1 GB); larger files go to the bucket with the AWS CLI or `segport import`.
const MaxFileBytes = 1 << 30

// batchPattern is an upload's id: 32 lower-case hex digits the page chooses.
var batchPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// upload stores one file of upload {batch}: PUT with the file as the body, at
// uploads/<batch>/<format>/<name>. ?format= names the format, else the name's
// extension, else the file's first bytes.
func (h *Handler) upload(w http.ResponseWriter, r *http.Request) {
	batch, name := r.PathValue("batch"), r.PathValue("name")
	if err := checkUpload(batch, name); err != nil {
		writeError(w, err)
		return
	}
	if r.ContentLength > MaxFileBytes {
		writeError(w, &consoleError{http.StatusRequestEntityTooLarge, fmt.Sprintf("%s: a file from the computer may hold at most 1 GiB; put larger files in the bucket with the AWS CLI or segport import", name)})
		return
	}
	objs, err := h.opts.Objects.List(r.Context(), h.opts.Bucket, UploadsPrefix+batch+"/")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(objs) >= MaxFiles && !slices.ContainsFunc(objs, func(o *job.Object) bool { return strings.HasSuffix(o.Key, "/"+name) }) {
		writeError(w, badRequest("an upload takes at most %d files", MaxFiles))
		return
	}
	// The SDK needs a seekable body to sign over plain HTTP (the local stack):
	// keep the file on disk while it is copied.
	f, err := os.CreateTemp(h.opts.TempDir, "segport-upload-*")
	if err != nil {
		h.fail(w, r, fmt.Errorf("spool upload: %w", err))
		return
	}
	defer os.Remove(f.Name())
	defer f.Close()
	n, err := io.Copy(f, http.MaxBytesReader(nil, r.Body, MaxFileBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, &consoleError{http.StatusRequestEntityTooLarge, fmt.Sprintf("%s: a file from the computer may hold at most 1 GiB", name)})
		return
	case err != nil:
		writeError(w, badRequest("%s: the upload was cut: %v", name, err))
		return
	case n == 0:
		writeError(w, badRequest("%s is empty", name))
		return
	}
	head := make([]byte, 512)
	k, _ := f.ReadAt(head, 0)
	fm, err := formatOf(r.URL.Query().Get("format"), name, head[:k])
	if err != nil {
		writeError(w, err)
		return
	}
	key := UploadsPrefix + batch + "/" + strings.ToLower(string(fm)) + "/" + name
	if err := h.opts.Objects.PutFile(r.Context(), h.opts.Bucket, key, f.Name(), "application/octet-stream"); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"File": name, "Format": fm, "Bytes": n, "S3Url": "s3://" + h.opts.Bucket + "/" + key})
}

func checkUpload(batch, name string) error {
	if !batchPattern.MatchString(batch) {
		return badRequest("upload id %q: want 32 lower-case hex digits", batch)
	}
	switch {
	case name == "" || name == "." || name == "..":
		return badRequest("the file has no name")
	case len(name) > 255:
		return badRequest("file name of %d bytes: at most 255", len(name))
	case strings.ContainsAny(name, `/\`) || strings.ContainsFunc(name, unicode.IsControl):
		return badRequest("file name %q: no slashes or control characters", name)
	}
	return nil
}

// startRequest is the body of POST /console/api/uploads/{batch}/start.
type startRequest struct {
	SegmentName string `json:"SegmentName"`
}

// startUpload starts one import job per format of upload {batch}, into the
// segment the body names, and answers with the jobs. Job ids derive from the
// upload and the format, so starting an upload again names the same jobs.
func (h *Handler) startUpload(w http.ResponseWriter, r *http.Request) {
	batch := r.PathValue("batch")
	if !batchPattern.MatchString(batch) {
		writeError(w, badRequest("upload id %q: want 32 lower-case hex digits", batch))
		return
	}
	var req startRequest
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, badRequest("the body is not {\"SegmentName\": ...}: %v", err))
		return
	}
	if err := checkSegmentName(req.SegmentName); err != nil {
		writeError(w, err)
		return
	}
	prefix := UploadsPrefix + batch + "/"
	objs, err := h.opts.Objects.List(r.Context(), h.opts.Bucket, prefix)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	formats := map[decode.Format]bool{}
	for _, o := range objs {
		f, _, _ := strings.Cut(strings.TrimPrefix(o.Key, prefix), "/")
		if fm, err := decode.ParseFormat(f); err == nil {
			formats[fm] = true
		}
	}
	if len(formats) == 0 {
		writeError(w, badRequest("upload %s holds no files: upload them first", batch))
		return
	}
	var jobs []*job.Job
	for _, fm := range []decode.Format{decode.CSV, decode.JSON} {
		if !formats[fm] {
			continue
		}
		j, err := h.opts.Importer.CreateImportJob(r.Context(), importer.Request{
			S3Url:       "s3://" + h.opts.Bucket + "/" + prefix + strings.ToLower(string(fm)) + "/",
			Format:      string(fm),
			SegmentName: req.SegmentName,
			JobId:       job.NewId("console upload", batch, string(fm)),
		})
		if err != nil {
			h.fail(w, r, fmt.Errorf("start the %s job of upload %s: %w", fm, batch, err))
			return
		}
		jobs = append(jobs, j)
	}
	writeJSON(w, http.StatusCreated, map[string]any{"Jobs": jobs})
}

// checkSegmentName refuses names a drop folder could not have either.
func checkSegmentName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return badRequest("SegmentName is required")
	case name != strings.TrimSpace(name):
		return badRequest("SegmentName %q: no leading or trailing spaces", name)
	case len(name) > 255:
		return badRequest("SegmentName of %d bytes: at most 255", len(name))
	case strings.Contains(name, "/") || strings.ContainsFunc(name, unicode.IsControl):
		return badRequest("SegmentName %q: no slashes or control characters", name)
	}
	return nil
}
