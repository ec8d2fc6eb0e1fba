package console

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/segport/segport/pkg/client"
	"github.com/segport/segport/pkg/endpoint"
	"github.com/segport/segport/pkg/job"
)

// report downloads a job's error report (README: columns File, Line, Field,
// Message, Row) from the stack's bucket, streamed.
func (h *Handler) report(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	j, err := h.opts.Reader.GetImportJob(r.Context(), id)
	if errors.Is(err, client.ErrNotFound) {
		writeError(w, &consoleError{http.StatusNotFound, fmt.Sprintf("import job %q not found", id)})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if j.ErrorReport == "" {
		msg := fmt.Sprintf("import job %s has no error report", id)
		if !j.JobStatus.Final() {
			msg += " yet: it is written when the job ends"
		}
		writeError(w, &consoleError{http.StatusNotFound, msg})
		return
	}
	bucket, key, err := job.ParseS3URL(j.ErrorReport)
	if err != nil || bucket != h.opts.Bucket {
		h.fail(w, r, fmt.Errorf("error report %q of job %s is not in the bucket %s", j.ErrorReport, id, h.opts.Bucket))
		return
	}
	obj, err := h.opts.Objects.Head(r.Context(), bucket, key)
	if errors.Is(err, job.ErrNotFound) {
		writeError(w, &consoleError{http.StatusNotFound, fmt.Sprintf("the error report of import job %s, %s, is gone", id, j.ErrorReport)})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	body, err := h.opts.Objects.Range(r.Context(), bucket, key, 0, obj.Size)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer body.Close()
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Length", strconv.FormatInt(obj.Size, 10))
	w.Header().Set("Content-Disposition", `attachment; filename="segport-errors-`+id+`.csv"`)
	if _, err := io.Copy(w, body); err != nil {
		h.opts.Log.WarnContext(r.Context(), "error report download cut", "job", id, "err", err)
	}
}

// maxUserCount is how many members the users count reads at most.
const maxUserCount = 10000

// users counts the distinct users (User.UserId) among a segment's members: the
// segment item does not keep that number. It reads at most maxUserCount members;
// Complete says whether it read them all.
func (h *Handler) users(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	users := map[string]bool{}
	members := 0
	opts := client.PageOptions{Size: client.MaxPageSize}
	for {
		p, err := h.opts.Reader.SegmentMembersPage(r.Context(), id, opts)
		if errors.Is(err, client.ErrNotFound) {
			writeError(w, &consoleError{http.StatusNotFound, fmt.Sprintf("segment %q not found", id)})
			return
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		countUsers(users, p.Items)
		members += len(p.Items)
		if p.NextToken == "" || members >= maxUserCount {
			writeJSON(w, http.StatusOK, map[string]any{"Users": len(users), "Members": members, "Complete": p.NextToken == ""})
			return
		}
		opts.Token = p.NextToken
	}
}

func countUsers(users map[string]bool, eps []*endpoint.Endpoint) {
	for _, e := range eps {
		if e.User != nil && e.User.UserId != "" {
			users[e.User.UserId] = true
		}
	}
}
