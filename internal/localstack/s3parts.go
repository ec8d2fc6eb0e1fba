package localstack

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/johannesboyne/gofakes3"
)

// minPartSize is S3's smallest part of a multipart upload, but the last.
const minPartSize = 5 << 20

// partsFront brings gofakes3 1.2.0's multipart uploads to S3's behaviour in
// the two places segport depends on: it serves UploadPartCopy (gofakes3 takes
// it for an UploadPart without a body and answers MissingContentLength), and
// it refuses to complete an upload with a part under 5 MiB other than the
// last (EntityTooSmall), which gofakes3 accepts and S3 does not.
type partsFront struct {
	backend gofakes3.Backend
	next    http.Handler

	mu    sync.Mutex
	sizes map[string]map[int]int64 // upload id → part number → size
}

func newPartsFront(backend gofakes3.Backend, next http.Handler) *partsFront {
	return &partsFront{backend: backend, next: next, sizes: map[string]map[int]int64{}}
}

func (f *partsFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	uploadID := q.Get("uploadId")
	switch {
	case uploadID == "":
		f.next.ServeHTTP(w, r)
	case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "":
		f.copyPart(w, r, uploadID)
	case r.Method == http.MethodPut:
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		f.next.ServeHTTP(rec, r)
		if rec.status/100 == 2 {
			f.partDone(uploadID, q.Get("partNumber"), r.ContentLength)
		}
	case r.Method == http.MethodPost:
		f.complete(w, r, uploadID)
	default: // abort, list parts
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		f.next.ServeHTTP(rec, r)
		if r.Method == http.MethodDelete && rec.status/100 == 2 {
			f.forget(uploadID)
		}
	}
}

func (f *partsFront) partDone(uploadID, partNumber string, size int64) {
	n, err := strconv.Atoi(partNumber)
	if err != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sizes[uploadID] == nil {
		f.sizes[uploadID] = map[int]int64{}
	}
	f.sizes[uploadID][n] = size
}

func (f *partsFront) forget(uploadID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sizes, uploadID)
}

// copyPart serves UploadPartCopy as gofakes3's UploadPart of the source's bytes.
func (f *partsFront) copyPart(w http.ResponseWriter, r *http.Request, uploadID string) {
	bucket, key, err := parseCopySource(r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		writeS3Error(w, err)
		return
	}
	head, err := f.backend.HeadObject(bucket, key)
	if err != nil {
		writeS3Error(w, err)
		return
	}
	first, last, err := parseCopyRange(r.Header.Get("X-Amz-Copy-Source-Range"), head.Size)
	if err != nil {
		writeS3Error(w, err)
		return
	}
	obj, err := f.backend.GetObject(bucket, key, &gofakes3.ObjectRangeRequest{Start: first, End: last})
	if err != nil {
		writeS3Error(w, err)
		return
	}
	defer obj.Contents.Close()
	size := last - first + 1
	in := r.Clone(r.Context())
	for h := range in.Header {
		if strings.HasPrefix(h, "X-Amz-Copy-Source") {
			in.Header.Del(h)
		}
	}
	in.Body, in.ContentLength = obj.Contents, size
	in.Header.Set("Content-Length", strconv.FormatInt(size, 10))
	rec := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	f.next.ServeHTTP(rec, in)
	if rec.status/100 != 2 {
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
		w.Write(rec.body.Bytes())
		return
	}
	f.partDone(uploadID, r.URL.Query().Get("partNumber"), size)
	type copyPartResult struct {
		XMLName      xml.Name `xml:"CopyPartResult"`
		LastModified string
		ETag         string
	}
	writeXML(w, http.StatusOK, copyPartResult{
		LastModified: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), ETag: rec.header.Get("ETag"),
	})
}

// complete refuses an upload whose parts but the last are not all 5 MiB or
// more, then lets gofakes3 assemble it.
func (f *partsFront) complete(w http.ResponseWriter, r *http.Request, uploadID string) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeS3Error(w, gofakes3.ErrorMessage(gofakes3.ErrIncompleteBody, err.Error()))
		return
	}
	var req struct {
		Parts []struct{ PartNumber int } `xml:"Part"`
	}
	if err := xml.Unmarshal(body, &req); err == nil && len(req.Parts) > 1 {
		f.mu.Lock()
		sizes := f.sizes[uploadID]
		for _, p := range req.Parts[:len(req.Parts)-1] {
			if size, ok := sizes[p.PartNumber]; ok && size < minPartSize {
				f.mu.Unlock()
				writeS3Error(w, gofakes3.ErrorMessagef("EntityTooSmall",
					"part %d is %d bytes; every part but the last must be at least %d", p.PartNumber, size, minPartSize))
				return
			}
		}
		f.mu.Unlock()
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	f.next.ServeHTTP(rec, r)
	if rec.status/100 == 2 {
		f.forget(uploadID)
	}
}

// parseCopySource reads x-amz-copy-source: URL-encoded [/]bucket/key.
func parseCopySource(v string) (bucket, key string, err error) {
	s, err := url.PathUnescape(v)
	if err != nil {
		return "", "", gofakes3.ErrorMessagef(gofakes3.ErrInvalidArgument, "copy source %q: %v", v, err)
	}
	s, version, _ := strings.Cut(s, "?versionId=")
	if version != "" {
		return "", "", gofakes3.ErrorMessage(gofakes3.ErrNotImplemented, "copying a version of an object")
	}
	bucket, key, _ = strings.Cut(strings.TrimPrefix(s, "/"), "/")
	if bucket == "" || key == "" {
		return "", "", gofakes3.ErrorMessagef(gofakes3.ErrInvalidArgument, "copy source %q names no object", v)
	}
	return bucket, key, nil
}

// parseCopyRange reads x-amz-copy-source-range (bytes=first-last, both
// required); no range means the whole object.
func parseCopyRange(v string, size int64) (first, last int64, err error) {
	if v == "" {
		if size == 0 {
			return 0, 0, gofakes3.ErrorMessage(gofakes3.ErrInvalidRange, "the copy source is empty")
		}
		return 0, size - 1, nil
	}
	a, b, ok := strings.Cut(strings.TrimPrefix(v, "bytes="), "-")
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if !strings.HasPrefix(v, "bytes=") || !ok || err1 != nil || err2 != nil || first < 0 || last < first {
		return 0, 0, gofakes3.ErrorMessagef(gofakes3.ErrInvalidArgument, "copy source range %q is not bytes=first-last", v)
	}
	if last >= size {
		return 0, 0, gofakes3.ErrorMessagef(gofakes3.ErrInvalidRange, "copy source range %q is outside the object's %d bytes", v, size)
	}
	return first, last, nil
}

// bufferedResponse keeps a response from the inner handler.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) WriteHeader(status int)      { b.status = status }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }

func writeS3Error(w http.ResponseWriter, err error) {
	resp, ok := err.(*gofakes3.ErrorResponse)
	if !ok {
		code := gofakes3.ErrInternal
		if c, isCode := err.(interface{ ErrorCode() gofakes3.ErrorCode }); isCode {
			code = c.ErrorCode()
		}
		resp = &gofakes3.ErrorResponse{Code: code, Message: err.Error()}
	}
	status := resp.Code.Status()
	if resp.Code == "EntityTooSmall" {
		status = http.StatusBadRequest
	}
	writeXML(w, status, resp)
}

func writeXML(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, fmt.Sprintf("encode response: %v", err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	w.Write(b)
}
