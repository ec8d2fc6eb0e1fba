package localstack

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// credentialsFile, in the data folder (0600), holds the credentials every
// request to the stack's emulators must be signed with. They are made once per
// data folder, so the export lines `segport dev` prints stay valid across
// restarts.
const credentialsFile = "credentials.json"

// Credentials are a local stack's access key and secret.
type Credentials struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
}

func (c Credentials) aws() aws.Credentials {
	return aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, Source: "segport local stack"}
}

// loadCredentials reads the data folder's credentials, making them first if
// there are none.
func loadCredentials(dataDir string) (Credentials, error) {
	path := filepath.Join(dataDir, credentialsFile)
	var c Credentials
	data, err := os.ReadFile(path)
	if err == nil {
		if err := json.Unmarshal(data, &c); err != nil || c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return Credentials{}, fmt.Errorf("%s is damaged: delete it to make new credentials", path)
		}
		return c, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return Credentials{}, fmt.Errorf("read local stack credentials: %w", err)
	}
	key, secret := make([]byte, 8), make([]byte, 24)
	if _, err := rand.Read(key); err != nil {
		return Credentials{}, err
	}
	if _, err := rand.Read(secret); err != nil {
		return Credentials{}, err
	}
	c = Credentials{AccessKeyID: "SEGPORT" + strings.ToUpper(hex.EncodeToString(key)), SecretAccessKey: hex.EncodeToString(secret)}
	data, _ = json.Marshal(c)
	if err := writeIfChanged(path, append(data, '\n'), 0o600); err != nil {
		return Credentials{}, fmt.Errorf("write local stack credentials: %w", err)
	}
	return c, nil
}

// guard is what stands before every emulator: no CORS (a preflight is
// refused, and no response carries Access-Control-* headers, so no web page
// can read an answer or send more than a simple request) and a SigV4
// signature with the stack's credentials on every request.
func guard(v sigV4, service string, next http.Handler) http.Handler {
	return guardBy(v, func(*http.Request) string { return service }, next)
}

// guardBy is guard for a front that serves several services (the control
// plane): serviceOf names the one a request is for, which its signature must
// be scoped to.
func guardBy(v sigV4, serviceOf func(*http.Request) string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w = noCORS{w}
		service := serviceOf(r)
		err := v.verify(r, service)
		if r.Method == http.MethodOptions {
			err = errors.New("the local stack answers no CORS preflight")
		}
		if err != nil {
			refuse(w, service, err)
			return
		}
		next.ServeHTTP(w, r)
		stripCORS(w.Header()) // a handler that writes nothing: net/http sends the headers after it returns
	})
}

// refuse answers 403 in the service's own error shape, so the SDKs report
// the reason.
func refuse(w http.ResponseWriter, service string, err error) {
	switch service {
	case "s3":
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n<Error><Code>AccessDenied</Code><Message>%s</Message></Error>", xmlEscape(err.Error()))
		return
	case "cloudformation": // the query protocol
		writeXML(w, http.StatusForbidden, queryError{Type: "Sender", Code: "InvalidClientTokenId", Message: err.Error()})
		return
	case "monitoring": // CloudWatch's RPC v2 CBOR
		cborError(w, http.StatusForbidden, "InvalidSignatureException", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-ErrorType", "InvalidSignatureException")
	w.WriteHeader(http.StatusForbidden)
	b, _ := json.Marshal(map[string]string{"__type": "InvalidSignatureException", "message": err.Error()})
	w.Write(b)
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// noCORS drops every Access-Control-* header the emulator behind would send.
type noCORS struct{ http.ResponseWriter }

func (w noCORS) WriteHeader(code int) {
	stripCORS(w.Header())
	w.ResponseWriter.WriteHeader(code)
}

func (w noCORS) Write(b []byte) (int, error) {
	stripCORS(w.Header())
	return w.ResponseWriter.Write(b)
}

func (w noCORS) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func stripCORS(h http.Header) {
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			delete(h, k)
		}
	}
}

// socketProxy forwards requests to an emulator listening on a unix socket,
// keeping their Host (fauxqs writes queue URLs from it).
func socketProxy(socket string, logger *slog.Logger) http.Handler {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
		return dialSocket(ctx, socket)
	}
	tr.MaxIdleConnsPerHost = 64
	// Node closes a connection idle for 5 s; one reused as it closes would fail
	// a request the proxy cannot send again.
	tr.IdleConnTimeout = 2 * time.Second
	tr.ResponseHeaderTimeout = time.Minute // requests are not canceled (Rewrite): bound them
	tr.DisableCompression = true           // bodies pass as the emulator wrote them, checksums included
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// A request whose client gives up still reaches the emulator whole:
			// dynalite 4.0.0 throws, and exits, on a request aborted mid-body.
			*pr.Out = *pr.Out.WithContext(context.WithoutCancel(pr.Out.Context()))
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "emulator"
			pr.Out.Host = pr.In.Host
		},
		Transport:      tr,
		ModifyResponse: func(res *http.Response) error { stripCORS(res.Header); return nil },
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() == nil { // else the client left: nobody waits for the answer
				logger.Warn("emulator request failed", "socket", filepath.Base(socket), "err", err)
			}
			w.WriteHeader(http.StatusBadGateway)
		},
	}
}

// dialSocket connects to a unix socket. A full listen backlog makes connect
// fail at once with EAGAIN, where TCP would queue: it is tried again, briefly.
func dialSocket(ctx context.Context, socket string) (net.Conn, error) {
	var d net.Dialer
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		c, err := d.DialContext(ctx, "unix", socket)
		if err == nil || !errors.Is(err, syscall.EAGAIN) {
			return c, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
	}
}

// front is a guard serving one emulator on 127.0.0.1.
type front struct {
	srv *http.Server
	url string
}

func serveFront(h http.Handler) (*front, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	return &front{srv: srv, url: "http://" + ln.Addr().String()}, nil
}

func (f *front) close(ctx context.Context) error {
	if f == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := f.srv.Shutdown(ctx); err != nil {
		f.srv.Close()
		return err
	}
	return nil
}

// Relay checks and signs again the requests a proxy relays to one of the
// stack's emulators (the chaos proxy, which rewrites DynamoDB bodies): it
// accepts what the emulator's guard would accept, and signs the request it
// forwards with the stack's credentials.
type Relay struct {
	v       sigV4
	service string
}

// Relay returns the Relay for service ("dynamodb", "sqs" or "s3").
func (s *Stack) Relay(service string) *Relay { return &Relay{v: s.verifier(), service: service} }

// Verify checks r's signature as the emulator's guard does.
func (rl *Relay) Verify(r *http.Request) error { return rl.v.verify(r, rl.service) }

// Sign signs r, whose body is body, replacing any signature it has.
func (rl *Relay) Sign(ctx context.Context, r *http.Request, body []byte) error {
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256"} {
		r.Header.Del(h)
	}
	sum := sha256.Sum256(body)
	return v4.NewSigner().SignHTTP(ctx, rl.v.creds, r, hex.EncodeToString(sum[:]), rl.service, Region, rl.v.now())
}
