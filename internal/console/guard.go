package console

import (
	"fmt"
	"net"
	"net/http"
	"strings"
)

// guard refuses a request the console must not answer. The console has no login:
// it trusts whoever reaches its loopback port. So it answers only requests made
// to a loopback host name (a page of another site that rebinds its own name to
// 127.0.0.1 sends that name in Host), and refuses requests a page of another
// origin makes (its Origin, or the browser's Sec-Fetch-Site, says so). Clients
// that send neither header, like curl, are not browsers running someone's page.
// A plain navigation from another site (a link to the console) is let through:
// it carries no body and shows the user the console, which changes nothing.
func guard(r *http.Request) error {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if !loopbackName(host) {
		return &consoleError{http.StatusForbidden, fmt.Sprintf("the console answers only on 127.0.0.1, [::1] or localhost, not Host %q", r.Host)}
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
		return &consoleError{http.StatusForbidden, fmt.Sprintf("requests from other origins are refused (Origin %q)", o)}
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		if !navigation(r) {
			return &consoleError{http.StatusForbidden, "requests from other sites are refused (Sec-Fetch-Site " + r.Header.Get("Sec-Fetch-Site") + ")"}
		}
	}
	return nil
}

// navigation is a top-level GET of a page, a link followed.
func navigation(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Sec-Fetch-Mode") == "navigate" &&
		!strings.HasPrefix(r.URL.Path, "/console/api/") && !strings.HasPrefix(r.URL.Path, "/v1/")
}

func loopbackName(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
