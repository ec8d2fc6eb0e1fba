package httpapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/segport/segport/internal/httpapi"
)

// TestLoopbackRefusesWebPages: the API `segport dev` serves refuses a
// cross-origin text/plain POST (a "simple" request a page may send without a
// preflight), a request naming another Host (DNS rebinding), an unsigned one
// or one signed with other credentials, and answers no request with CORS
// headers; signed curl-like requests go through, and so do the signed
// requests of the console's pages on the same origin (dev's console passes
// its session instead of a signature: TestDevServesTheAPI).
func TestLoopbackRefusesWebPages(t *testing.T) {
	rt := runtime(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	api := rt.App.API(rt.Stack.AWSConfig(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := &http.Server{Handler: httpapi.Loopback(api, addr, rt.Stack.Relay("execute-api").Verify)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	base := "http://" + addr
	_, port, _ := net.SplitHostPort(addr)

	tests := []struct {
		name, method, path, body string
		header                   map[string]string
		host                     string
		status                   int
		unsigned                 bool
		creds                    *aws.Credentials
	}{
		{"curl", "GET", "/v1/segments", "", nil, "", 200, false, nil},
		{"localhost", "GET", "/v1/segments", "", nil, "localhost:" + port, 200, false, nil},
		{"typed in the address bar", "GET", "/v1/segments", "", map[string]string{"Sec-Fetch-Site": "none"}, "", 200, false, nil},
		{"cross-origin text/plain POST", "POST", "/v1/jobs/import", `{"S3Url":"s3://segport/imports/x/","SegmentName":"x"}`,
			map[string]string{"Origin": "https://evil.example", "Content-Type": "text/plain"}, "", 403, false, nil},
		{"preflight", "OPTIONS", "/v1/jobs/import", "", map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "PUT"}, "", 403, false, nil},
		{"fetch without Origin", "GET", "/v1/segments", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, "", 403, false, nil},
		{"null origin", "GET", "/v1/segments", "", map[string]string{"Origin": "null"}, "", 403, false, nil},
		{"rebinding host", "GET", "/v1/segments", "", nil, "attacker.example:" + port, 403, false, nil},
		{"other port", "GET", "/v1/segments", "", nil, "127.0.0.1:1", 403, false, nil},
		{"unsigned", "GET", "/v1/segments", "", nil, "", 403, true, nil},
		{"other credentials", "GET", "/v1/segments", "", nil, "", 403, false, &aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"}},
		{"signed, a name with a space", "GET", "/v1/segments/no%20such%20segment", "", nil, "", 404, false, nil},
		// The console's pages, served on the same origin by segport dev.
		{"same-origin fetch", "GET", "/v1/segments", "", map[string]string{"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}, "", 200, false, nil},
		{"same-origin POST", "POST", "/v1/jobs/import", `{}`, map[string]string{"Origin": base, "Sec-Fetch-Site": "same-origin"}, "", 400, false, nil},
		{"origin of another port", "POST", "/v1/jobs/import", `{}`, map[string]string{"Origin": "http://127.0.0.1:1"}, "", 403, false, nil},
		{"origin of localhost", "GET", "/v1/segments", "", map[string]string{"Origin": "http://localhost:" + port}, "", 403, false, nil},
		{"link followed to a page", "GET", "/console/", "", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, "", 404, false, nil},
		{"link followed to the API", "GET", "/v1/segments", "", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, "", 403, false, nil},
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
			if !tc.unsigned {
				c := aws.Credentials{AccessKeyID: rt.Stack.Credentials().AccessKeyID, SecretAccessKey: rt.Stack.Credentials().SecretAccessKey}
				if tc.creds != nil {
					c = *tc.creds
				}
				sum := sha256.Sum256([]byte(tc.body))
				if err := v4.NewSigner().SignHTTP(testCtx(t), c, req, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now()); err != nil {
					t.Fatal(err)
				}
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
