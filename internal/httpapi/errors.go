package httpapi

import (
	"errors"
	"net/http"

	"github.com/segport/segport/pkg/client"
	"github.com/segport/segport/pkg/segment"
)

// Error codes, Pinpoint's exception names. They are stable: callers switch on them.
const (
	codeBadRequest       = "BadRequestException"
	codeNotFound         = "NotFoundException"
	codeMethodNotAllowed = "MethodNotAllowedException"
	codePayloadTooLarge  = "PayloadTooLargeException"
	codeInternal         = "InternalServerErrorException"
)

// apiError is an error the caller may see: a status, a code and a message that
// holds nothing internal.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func badRequest(msg string) error { return &apiError{http.StatusBadRequest, codeBadRequest, msg} }

// errorBody is the JSON of an error response.
type errorBody struct {
	Code      string `json:"Code"`
	Message   string `json:"Message"`
	RequestID string `json:"RequestID"`
}

// writeError classifies err once: an apiError goes to the caller as it is, a bad
// page token is the caller's mistake, anything else is logged with the request
// id and reaches the caller as a bare 500.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, client.ErrInvalidName):
		ae = &apiError{http.StatusBadRequest, codeBadRequest, nameMessage(err)}
	case errors.Is(err, client.ErrPruned):
		ae = &apiError{http.StatusNotFound, codeNotFound, "the version's members are no longer kept (retention)"}
	case errors.Is(err, client.ErrBadToken):
		ae = &apiError{http.StatusBadRequest, codeBadRequest, "token: not a token this listing issued"}
	default:
		h.opts.Log.ErrorContext(r.Context(), "request failed", "request", r.Header.Get(RequestIDHeader),
			"method", r.Method, "route", r.Pattern, "err", err)
		ae = &apiError{http.StatusInternalServerError, codeInternal, "internal error"}
	}
	writeAPIError(w, r, ae)
}

// writeAPIError writes ae in Pinpoint's error shape.
func writeAPIError(w http.ResponseWriter, r *http.Request, ae *apiError) {
	b, _ := marshal(errorBody{Code: ae.code, Message: ae.message, RequestID: r.Header.Get(RequestIDHeader)})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", ae.code)
	w.WriteHeader(ae.status)
	w.Write(b)
}

// nameMessage is the naming rule's own message (segment.NameError), the one
// every surface shows.
func nameMessage(err error) string {
	var ne *segment.NameError
	if errors.As(err, &ne) {
		return ne.Error()
	}
	return "invalid segment name or id"
}
