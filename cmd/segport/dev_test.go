package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// syncBuffer is a bytes.Buffer that dev's goroutine writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDevServesTheAPI runs `segport dev` until it prints the query API's URL,
// then calls the API and loads the console. Its export lines set both region variables and the
// functions' environment, with the template parameters it was given.
func TestDevServesTheAPI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a first stack start may install the emulators
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	data := t.TempDir()
	go func() {
		done <- run(ctx, []string{"dev", "--data", data, "--parameter-overrides", "PieceSize=4096"}, &out, &errOut)
	}()
	line := regexp.MustCompile(`(?m)^export SEGPORT_API_URL=(http://127\.0\.0\.1:\d+)$`)
	var url string
	for url == "" {
		select {
		case err := <-done:
			t.Fatalf("dev ended: %v\n%s\n%s", err, out.String(), errOut.String())
		case <-time.After(100 * time.Millisecond):
		}
		if m := line.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
	}
	for _, want := range []string{"\nexport AWS_REGION=us-east-1\n", "\nexport AWS_DEFAULT_REGION=us-east-1\n", "\nexport SEGPORT_PIECE_SIZE=4096\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dev's output lacks %q:\n%s", want, out.String())
		}
	}
	// A command attached to dev's stack cannot change its parameters.
	if _, errOut, code := runCLI(t, "jobs", "list", "--data", data, "--parameter-overrides", "PieceSize=1"); code != 2 || !strings.Contains(errOut, "give it --parameter-overrides") {
		t.Errorf("overrides on an attached stack: code %d, %s", code, errOut)
	}
	// The API wants the stack's credentials, as the deployed one wants IAM.
	res, err := http.Get(url + "/v1/segments")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("unsigned GET /v1/segments: %d, want 403", res.StatusCode)
	}
	exported := func(name string) string {
		m := regexp.MustCompile(`(?m)^export ` + name + `=(\S+)$`).FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("dev prints no %s", name)
		}
		return m[1]
	}
	creds := aws.Credentials{AccessKeyID: exported("AWS_ACCESS_KEY_ID"), SecretAccessKey: exported("AWS_SECRET_ACCESS_KEY")}
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/v1/segments", nil)
	sum := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if res, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
		t.Errorf("GET /v1/segments: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	// The console is on the same origin, and dev says where: its URL carries
	// the run's session, which its pages then carry in a cookie instead of a
	// signature; without it the console is refused like an unsigned request.
	m := regexp.MustCompile(`\n# The console \(README "The console"\): open (` + regexp.QuoteMeta(url) + `/console/\?session=[0-9a-f]{48}) in a browser on this machine\.\n`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("dev's output does not name the console:\n%s", out.String())
	}
	if res, err = http.Get(url + "/console/"); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("GET /console/ without the session: %d, want 403", res.StatusCode)
	}
	if res, err = http.Get(m[1]); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "segport-console" && c.HttpOnly && c.SameSite == http.SameSiteStrictMode {
			cookie = c
		}
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/html; charset=utf-8" || cookie == nil {
		t.Fatalf("GET %s: %d %s, cookies %v", m[1], res.StatusCode, res.Header.Get("Content-Type"), res.Cookies())
	}
	req, _ = http.NewRequestWithContext(ctx, "GET", url+"/v1/segments", nil)
	req.AddCookie(cookie)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if res, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("the console page's GET /v1/segments with the session's cookie: %d", res.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("dev: %v", err)
	}
}
