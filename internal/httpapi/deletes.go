package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/segport/segport/pkg/client"
	"github.com/segport/segport/pkg/segment"
)

// Deleter deletes endpoints, users and segments; *client.Client is one.
type Deleter interface {
	DeleteEndpoints(ctx context.Context, ids []string) (*client.DeleteResult, error)
	DeleteUsers(ctx context.Context, userIds []string) (*client.DeleteResult, error)
	DeleteSegment(ctx context.Context, ref string) (*segment.Segment, error)
}

const codeConflict = "ConflictException"

// routeDeletes adds the DELETE routes. On AWS they are IAM-authorised as every
// route is (the HTTP API's default authorizer): grant execute-api:Invoke on
// DELETE only to who may erase.
func (h *Handler) routeDeletes() {
	h.route("DELETE /v1/endpoints/{id}", h.deleteEndpoint)
	h.route("DELETE /v1/users/{userId}", h.deleteUser)
	h.route("DELETE /v1/segments/{id}", h.deleteSegment)
}

// deleteEndpoint answers 200 with the delete's result even for an endpoint
// not stored (Found 0): its tombstone still keeps older rows on the way out.
func (h *Handler) deleteEndpoint(r *http.Request) (int, any, error) {
	res, err := h.opts.Deleter.DeleteEndpoints(r.Context(), []string{r.PathValue("id")})
	return deleted(res, err)
}

func (h *Handler) deleteUser(r *http.Request) (int, any, error) {
	res, err := h.opts.Deleter.DeleteUsers(r.Context(), []string{r.PathValue("userId")})
	return deleted(res, err)
}

func deleted(res *client.DeleteResult, err error) (int, any, error) {
	if errors.Is(err, client.ErrInvalidId) {
		return 0, nil, badRequest("id: not an id an import could have stored")
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, res, nil
}

func (h *Handler) deleteSegment(r *http.Request) (int, any, error) {
	id := r.PathValue("id")
	seg, err := h.opts.Deleter.DeleteSegment(r.Context(), id)
	switch {
	case errors.Is(err, client.ErrImportsRunning):
		return 0, nil, &apiError{http.StatusConflict, codeConflict, "segment " + segment.QuoteShort(id) + ": " + client.ErrImportsRunning.Error()}
	case err != nil:
		return 0, nil, notFoundAs(err, "segment", id)
	}
	return http.StatusOK, map[string]any{"SegmentId": seg.Id, "Name": seg.Name, "Deleted": true}, nil
}
