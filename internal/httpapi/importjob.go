package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/internal/s3src"
	"github.com/segport/segport/pkg/job"
)

// importJobRequest is Pinpoint's ImportJobRequest, plus segport's JobId.
type importJobRequest struct {
	S3Url       string `json:"S3Url"`
	Format      string `json:"Format"`
	SegmentName string `json:"SegmentName"`
	SegmentId   string `json:"SegmentId"`
	// JobId, 32 lower-case hex digits, makes a repeated request name the same job.
	JobId string `json:"JobId"`
	// DefineSegment false imports the endpoints without a segment;
	// RegisterEndpoints may be absent or true (see importer.Request).
	DefineSegment     *bool `json:"DefineSegment"`
	RegisterEndpoints *bool `json:"RegisterEndpoints"`
	// Replace makes the job's segment version exactly its endpoints, rather
	// than the previous version plus them (an append, the default).
	Replace bool `json:"Replace"`
	// Accepted for Pinpoint compatibility and ignored: the API imports from its own
	// bucket with its own role.
	ExternalId string `json:"ExternalId"`
	RoleArn    string `json:"RoleArn"`
}

func (r *importJobRequest) request() importer.Request {
	return importer.Request{
		S3Url: r.S3Url, Format: r.Format, SegmentName: r.SegmentName, SegmentId: r.SegmentId, JobId: r.JobId,
		DefineSegment: r.DefineSegment, RegisterEndpoints: r.RegisterEndpoints, Replace: r.Replace,
	}
}

const maxRequestBytes = 64 << 10

// createJob runs the trigger's CreateImportJob in process and answers 201 with
// the job as it stands once its pieces are queued.
func (h *Handler) createJob(r *http.Request) (int, any, error) {
	var req importJobRequest
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxRequestBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return 0, nil, &apiError{http.StatusRequestEntityTooLarge, codePayloadTooLarge, fmt.Sprintf("the request body is over %d bytes", maxRequestBytes)}
		}
		return 0, nil, badRequest("the body is not an ImportJobRequest: " + err.Error())
	}
	if err := h.checkImport(req); err != nil {
		return 0, nil, err
	}
	ir := req.request()
	if req.SegmentName == "" && ir.DefinesSegment() {
		// A SegmentId on its own adds to a segment that exists: it never makes one.
		seg, err := h.opts.Reader.GetSegment(r.Context(), req.SegmentId)
		if err != nil {
			return 0, nil, notFoundAs(err, "segment", req.SegmentId)
		}
		ir.SegmentName = seg.Name
	}
	j, err := h.opts.Importer.CreateImportJob(r.Context(), ir)
	if err != nil {
		return 0, nil, fmt.Errorf("create import job: %w", err)
	}
	return http.StatusCreated, importJob{Job: j, Type: "IMPORT"}, nil
}

// checkImport finds the request's own mistakes, so that whatever the trigger
// returns after is an internal error.
func (h *Handler) checkImport(req importJobRequest) error {
	if req.S3Url == "" {
		return badRequest("S3Url is required")
	}
	bucket, prefix, err := s3src.ParseURL(req.S3Url)
	if err != nil {
		return badRequest("S3Url: " + err.Error())
	}
	if len(prefix) > importer.MaxKeyBytes {
		return badRequest(importer.ErrLongPrefix.Error())
	}
	if strings.HasPrefix(prefix, importer.ReportsPrefix) || strings.HasPrefix(importer.ReportsPrefix, prefix) {
		return badRequest("S3Url: the prefix covers " + importer.ReportsPrefix + ", the error reports: name a folder of files to import")
	}
	if h.opts.Bucket != "" && bucket != h.opts.Bucket {
		return badRequest(fmt.Sprintf("S3Url: imports come from the bucket %s", h.opts.Bucket))
	}
	if ir := req.request(); ir.Check() != nil {
		return badRequest(ir.Check().Error())
	}
	if req.Format != "" {
		if _, err := importer.ParseFormat(req.Format); err != nil {
			return badRequest("Format: " + err.Error())
		}
	}
	if req.JobId != "" && !job.IsId(req.JobId) {
		return badRequest("JobId: want 32 lower-case hex digits")
	}
	return nil
}
