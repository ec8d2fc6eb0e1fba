package httpapi

import (
	"net"
	"net/http"
)

// codeForbidden is Pinpoint's ForbiddenException.
const codeForbidden = "ForbiddenException"

// Loopback guards the API that `segport dev` serves, unauthenticated, on a
// loopback address: a web page the user visits can reach 127.0.0.1 too. It
// answers 403 to a request whose Host is not addr (the address it listens on,
// or localhost with its port: a page behind a rebinding DNS name sends its own
// name), and to any request a browser sends on a page's behalf (an Origin
// header, or Sec-Fetch-Site other than "none", which is a typed URL). curl,
// the SDKs and the CLI send neither. No response carries CORS headers, so a
// page can neither send a preflighted request nor read an answer. verify, when
// not nil, checks the request's credentials (the local stack's SigV4 for
// execute-api, as API Gateway's IAM authorization does on AWS), so that other
// users of the machine cannot read it either.
func Loopback(h *Handler, addr string, verify func(*http.Request) error) http.Handler {
	_, port, _ := net.SplitHostPort(addr)
	allowed := map[string]bool{addr: true, net.JoinHostPort("localhost", port): true}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		msg := ""
		switch site := r.Header.Get("Sec-Fetch-Site"); {
		case !allowed[r.Host]:
			msg = "the local API answers only requests to " + addr
		case r.Header.Get("Origin") != "" || (site != "" && site != "none"):
			msg = "the local API answers no request a web page sends"
		case verify != nil:
			if err := verify(r); err != nil {
				msg = "sign requests with the local stack's credentials (SigV4, service execute-api): " + err.Error()
			}
		}
		if msg != "" {
			h.stamp(w, r)
			h.writeError(w, r, &apiError{http.StatusForbidden, codeForbidden, msg})
			return
		}
		h.ServeHTTP(w, r)
	})
}
