package httpapi_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/segport/segport/internal/httpapi"
)

// TestLoopbackRefusesWebPages: the API `segport dev` serves refuses a
// cross-origin text/plain POST (a "simple" request a page may send without a
// preflight), a request naming another Host (DNS rebinding), and answers no
// request with CORS headers; curl-like requests go through, and so do the
// requests of the console's pages on the same origin.
func TestLoopbackRefusesWebPages(t *testing.T) {
	rt := runtime(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	srv := &http.Server{Handler: httpapi.Loopback(rt.App.API(rt.Stack.AWSConfig(), slog.New(slog.NewTextHandler(io.Discard, nil))), addr)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	base := "http://" + addr
	_, port, _ := net.SplitHostPort(addr)

	tests := []struct {
		name, method, path, body string
		header                   map[string]string
		host                     string
		status                   int
	}{
		{"curl", "GET", "/v1/segments", "", nil, "", 200},
		{"localhost", "GET", "/v1/segments", "", nil, "localhost:" + port, 200},
		{"typed in the address bar", "GET", "/v1/segments", "", map[string]string{"Sec-Fetch-Site": "none"}, "", 200},
		{"cross-origin text/plain POST", "POST", "/v1/jobs/import", `{"S3Url":"s3://segport/imports/x/","SegmentName":"x"}`,
			map[string]string{"Origin": "https://evil.example", "Content-Type": "text/plain"}, "", 403},
		{"preflight", "OPTIONS", "/v1/jobs/import", "", map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "PUT"}, "", 403},
		{"fetch without Origin", "GET", "/v1/segments", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, "", 403},
		{"null origin", "GET", "/v1/segments", "", map[string]string{"Origin": "null"}, "", 403},
		{"rebinding host", "GET", "/v1/segments", "", nil, "attacker.example:" + port, 403},
		{"other port", "GET", "/v1/segments", "", nil, "127.0.0.1:1", 403},
		// The console's pages, served on the same origin by segport dev.
		{"same-origin fetch", "GET", "/v1/segments", "", map[string]string{"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}, "", 200},
		{"same-origin POST", "POST", "/v1/jobs/import", `{}`, map[string]string{"Origin": base, "Sec-Fetch-Site": "same-origin"}, "", 400},
		{"origin of another port", "POST", "/v1/jobs/import", `{}`, map[string]string{"Origin": "http://127.0.0.1:1"}, "", 403},
		{"origin of localhost", "GET", "/v1/segments", "", map[string]string{"Origin": "http://localhost:" + port}, "", 403},
		{"link followed to a page", "GET", "/console/", "", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, "", 404},
		{"link followed to the API", "GET", "/v1/segments", "", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, "", 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var e apiError
			json.NewDecoder(res.Body).Decode(&e)
			if res.StatusCode != tc.status || (tc.status == 403 && e.Code != "ForbiddenException") {
				t.Errorf("%d %+v, want %d", res.StatusCode, e, tc.status)
			}
			for k := range res.Header {
				if strings.HasPrefix(strings.ToLower(k), "access-control-") {
					t.Errorf("response carries %s", k)
				}
			}
		})
	}
}
