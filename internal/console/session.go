package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// Session lets the user's browser through a guard that wants credentials a
// browser cannot make (segport dev's API wants SigV4 with the local stack's
// credentials, so that other users of the machine cannot read it). It is a
// secret made per run: the console's URL carries it once (?session=...), the
// console answers that request with it in an HttpOnly, SameSite=Strict cookie,
// and the pages' requests carry the cookie. Cookies are not kept apart by
// port: another server on 127.0.0.1 that the same browser visits would receive
// it, until the run ends.
type Session struct {
	token string
	name  string // the cookie's name
}

// sessionParam is the query parameter of the console's URL that carries the secret.
const sessionParam = "session"

// NewSession makes a session secret.
func NewSession() (*Session, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("make console session: %w", err)
	}
	return &Session{token: hex.EncodeToString(b), name: "segport-console"}, nil
}

// URL is the console's address on base (the server's "http://host:port"),
// carrying the secret.
func (s *Session) URL(base string) string {
	return base + Path + "?" + sessionParam + "=" + url.QueryEscape(s.token)
}

// ErrNoSession is a request with neither the session's cookie nor its URL.
var ErrNoSession = errors.New("no console session")

// Verify accepts a request that carries the session: its cookie, or the URL's parameter.
func (s *Session) Verify(r *http.Request) error {
	got := r.URL.Query().Get(sessionParam)
	if c, err := r.Cookie(s.name); err == nil {
		got = c.Value
	}
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) != 1 {
		return ErrNoSession
	}
	return nil
}

// Wrap sets the session's cookie on the answer to a request that carries the
// secret in its URL, then serves it with h.
func (s *Session) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.URL.Query().Get(sessionParam); v != "" && subtle.ConstantTimeCompare([]byte(v), []byte(s.token)) == 1 {
			http.SetCookie(w, &http.Cookie{Name: s.name, Value: s.token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		}
		h.ServeHTTP(w, r)
	})
}
