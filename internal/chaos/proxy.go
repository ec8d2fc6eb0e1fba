package chaos

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Proxy is a reverse proxy in front of a DynamoDB endpoint that answers some
// calls with DynamoDB's throttling and server errors and leaves part of some
// batches unprocessed. Its answers are real HTTP responses in DynamoDB's JSON
// error shape, so the SDK's own error parsing and retries run.
type Proxy struct {
	c        *Chaos
	auth     Auth
	upstream *url.URL
	client   *http.Client
	srv      *http.Server
	url      string
}

// Auth stands the proxy between the SDK and a guarded emulator
// (*localstack.Relay): the proxy refuses what the emulator would refuse, and
// signs again what it forwards, whose body it may have changed.
type Auth interface {
	Verify(r *http.Request) error
	Sign(ctx context.Context, r *http.Request, body []byte) error
}

// StartProxy serves a Proxy to upstream on a free port of 127.0.0.1.
func (c *Chaos) StartProxy(upstream string, auth Auth) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, fmt.Errorf("dynamodb proxy upstream: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("dynamodb proxy listener: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	// The body is passed on as dynalite sent it, checksum included.
	tr.DisableCompression = true
	p := &Proxy{c: c, auth: auth, upstream: u, client: &http.Client{Transport: tr}, url: "http://" + ln.Addr().String()}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln)
	return p, nil
}

// URL is the proxy's base URL.
func (p *Proxy) URL() string { return p.url }

// Close stops the proxy.
func (p *Proxy) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.srv.Shutdown(ctx)
	p.client.CloseIdleConnections()
	return err
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := p.auth.Verify(r); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read request: "+err.Error(), http.StatusBadRequest)
		return
	}
	c := p.c
	c.count.ddbCalls.Add(1)
	if attempt(r) > 1 {
		c.count.sdkRetries.Add(1)
	}
	if c.rng.hit(c.spec.Throttle) {
		p.fail(w, r, body)
		return
	}
	var held *heldBack
	if c.rng.hit(c.spec.Unprocessed) {
		if body, held, err = p.holdBack(operation(r), body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	resp, err := p.forward(r, body)
	if err != nil {
		http.Error(w, "forward: "+err.Error(), http.StatusBadGateway)
		return
	}
	if held != nil && resp.status == http.StatusOK {
		if resp.body, err = held.merge(resp.body); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		held.count(c)
	}
	resp.write(w)
}

// faults are the errors a throttled call gets, as DynamoDB sends them.
var faults = []struct {
	status      int
	code, types string
	message     string
}{
	{http.StatusBadRequest, "ProvisionedThroughputExceededException", "com.amazonaws.dynamodb.v20120810",
		"The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API."},
	{http.StatusBadRequest, "ThrottlingException", "com.amazon.coral.availability", "Rate of requests exceeds the allowed throughput."},
	{http.StatusInternalServerError, "InternalServerError", "com.amazonaws.dynamodb.v20120810", "Internal server error"},
}

// fail answers a call with one of the faults. Half of the HTTP 500s come after
// the call has been applied, as a real server error may: the retry then
// repeats a write that already happened.
func (p *Proxy) fail(w http.ResponseWriter, r *http.Request, body []byte) {
	f := faults[p.c.rng.intN(len(faults))]
	if f.status == http.StatusInternalServerError {
		p.c.count.internal.Add(1)
		if p.c.rng.hit(0.5) {
			if _, err := p.forward(r, body); err == nil {
				p.c.count.applied.Add(1)
			}
		}
	} else {
		p.c.count.throttled.Add(1)
	}
	b := fmt.Appendf(nil, `{"__type":"%s#%s","message":"%s"}`, f.types, f.code, f.message)
	resp := &response{status: f.status, header: http.Header{}, body: b}
	resp.header.Set("Content-Type", "application/x-amz-json-1.0")
	resp.header.Set("X-Amzn-Errortype", f.code)
	resp.header.Set("X-Amzn-Requestid", requestId())
	resp.write(w)
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// write sends the response with its length and DynamoDB's CRC32 of the body,
// which the SDK checks.
func (resp *response) write(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range resp.header {
		h[k] = v
	}
	h.Set("Content-Length", strconv.Itoa(len(resp.body)))
	h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(resp.body)), 10))
	w.WriteHeader(resp.status)
	w.Write(resp.body)
}

// forward sends the call, with body in place of the original, to upstream. The
// request's signature no longer matches a changed body; dynalite does not check
// signatures.
func (p *Proxy) forward(r *http.Request, body []byte) (*response, error) {
	u := *p.upstream
	u.Path, u.RawQuery = r.URL.Path, r.URL.RawQuery
	req, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range r.Header {
		if !hopHeaders[http.CanonicalHeaderKey(k)] {
			req.Header[k] = v
		}
	}
	if err := p.auth.Sign(r.Context(), req, body); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	res, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	header := res.Header.Clone()
	for k := range hopHeaders {
		header.Del(k)
	}
	return &response{status: res.StatusCode, header: header, body: b}, nil
}

// hopHeaders are not passed on; Content-Length is set from the body sent.
var hopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Transfer-Encoding": true, "Te": true, "Trailer": true,
	"Upgrade": true, "Proxy-Connection": true, "Content-Length": true,
}

// operation is the DynamoDB operation a call names.
func operation(r *http.Request) string {
	_, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
	return op
}

// attempt is the SDK's attempt number of a call, from its amz-sdk-request
// header ("attempt=2; max=10").
func attempt(r *http.Request) int {
	for _, part := range strings.Split(r.Header.Get("Amz-Sdk-Request"), ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "attempt="); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

func requestId() string {
	b := make([]byte, 16)
	rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}
