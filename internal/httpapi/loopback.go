package httpapi

import (
	"net"
	"net/http"
	"strings"
)

// codeForbidden is Pinpoint's ForbiddenException.
const codeForbidden = "ForbiddenException"

// Loopback guards the API that `segport dev` serves on a loopback address
// (next is the API, or the console in front of it): a web page the user
// visits can reach 127.0.0.1 too. It answers 403 to a request whose Host is
// not addr (the address it listens on, or localhost with its port: a page
// behind a rebinding DNS name sends its own name), and to any request a page
// of another origin sends (an Origin header other than the address's own, or
// Sec-Fetch-Site other than "none", a typed URL, or "same-origin"). curl, the
// SDKs and the CLI send neither header. The only pages of the API's own origin
// are the console's (segport dev serves it on the same port), whose calls to
// the API are what same-origin requests are; the API itself serves no page. A
// link to the console followed from another site (a top-level GET outside
// /v1/) is left to next, whose guard lets it show the page. No response
// carries CORS headers, so a page can neither send a preflighted request nor
// read an answer. verify, when not nil, checks the request's credentials (the
// local stack's SigV4 for execute-api, as API Gateway's IAM authorization
// does on AWS, or the console's session), so that other users of the machine
// cannot read it either.
func Loopback(next http.Handler, addr string, verify func(*http.Request) error) http.Handler {
	_, port, _ := net.SplitHostPort(addr)
	allowed := map[string]bool{addr: true, net.JoinHostPort("localhost", port): true}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		msg := ""
		origin := r.Header.Get("Origin")
		switch site := r.Header.Get("Sec-Fetch-Site"); {
		case !allowed[r.Host]:
			msg = "the local API answers only requests to " + addr
		case origin != "" && origin != "http://"+r.Host:
			msg = "the local API answers no request a web page of another origin sends"
		case site != "" && site != "none" && site != "same-origin" && !linkFollowed(r):
			msg = "the local API answers no request a web page of another site sends"
		case verify != nil:
			if err := verify(r); err != nil {
				msg = "sign requests with the local stack's credentials (SigV4, service execute-api): " + err.Error()
			}
		}
		if msg != "" {
			writeAPIError(w, r, &apiError{http.StatusForbidden, codeForbidden, msg})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// linkFollowed is a top-level navigation to a page, not to the API: a link
// to the console on another site.
func linkFollowed(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Origin") == "" && r.Header.Get("Sec-Fetch-Mode") == "navigate" &&
		r.URL.Path != "/v1" && !strings.HasPrefix(r.URL.Path, "/v1/")
}
