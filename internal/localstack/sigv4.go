package localstack

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// sigV4 verifies AWS Signature Version 4 on requests to the local emulators,
// with the credentials of the stack's data folder: gofakes3, fauxqs and
// dynalite check none, and any local process or web page could otherwise read
// and write the stack's data.
type sigV4 struct {
	creds aws.Credentials
	now   func() time.Time
}

// maxSkew is how far a request's X-Amz-Date may be from the clock, as on AWS.
const maxSkew = 15 * time.Minute

// ErrUnsigned is a request without a SigV4 Authorization header.
var ErrUnsigned = errors.New("the request is not signed: the local stack needs AWS Signature Version 4 with its credentials (segport dev prints them)")

// verify checks r's Authorization header. It reads (and restores) the body
// when the request does not state its payload hash.
func (v sigV4) verify(r *http.Request, service string) error {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return ErrUnsigned
	}
	algo, rest, _ := strings.Cut(auth, " ")
	if algo != "AWS4-HMAC-SHA256" {
		return fmt.Errorf("unsupported signature algorithm %q: want AWS4-HMAC-SHA256", algo)
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = val
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || fields["SignedHeaders"] == "" || fields["Signature"] == "" {
		return errors.New("malformed Authorization header")
	}
	if subtle.ConstantTimeCompare([]byte(scope[0]), []byte(v.creds.AccessKeyID)) != 1 {
		return errors.New("the access key id is not the local stack's")
	}
	if scope[3] != service {
		return fmt.Errorf("the request is signed for %s, this endpoint serves %s", scope[3], service)
	}
	date := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", date)
	if err != nil || !strings.HasPrefix(date, scope[1]) {
		return errors.New("missing or malformed X-Amz-Date")
	}
	if skew := v.now().Sub(t); skew > maxSkew || skew < -maxSkew {
		return fmt.Errorf("the request time %s is more than %s from the local clock", date, maxSkew)
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	if !contains(signed, "host") {
		return errors.New("the signature does not cover the Host header")
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return fmt.Errorf("read the request body: %w", err)
		}
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.Sum256(body)
		payload = hex.EncodeToString(sum[:])
	}
	key := []byte("AWS4" + v.creds.SecretAccessKey)
	for _, s := range scope[1:] {
		key = hmacSHA256(key, s)
	}
	query, headers := canonicalQuery(r), canonicalHeaders(r, signed)
	for _, uri := range canonicalURIs(r, service) {
		canonical := strings.Join([]string{r.Method, uri, query, headers, fields["SignedHeaders"], payload}, "\n")
		sum := sha256.Sum256([]byte(canonical))
		toSign := "AWS4-HMAC-SHA256\n" + date + "\n" + strings.Join(scope[1:], "/") + "\n" + hex.EncodeToString(sum[:])
		want := hex.EncodeToString(hmacSHA256(key, toSign))
		if hmac.Equal([]byte(want), []byte(fields["Signature"])) {
			return nil
		}
	}
	return errors.New("the signature does not match: sign with the local stack's secret key")
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// canonicalURIs are the paths a signer may have signed: as sent for S3;
// escaped once more for other services, as the SDKs do, or as sent, as curl's
// --aws-sigv4 does.
func canonicalURIs(r *http.Request, service string) []string {
	path, _, _ := strings.Cut(r.RequestURI, "?")
	if path == "" || !strings.HasPrefix(path, "/") {
		path = r.URL.EscapedPath()
	}
	if path == "" {
		path = "/"
	}
	if service == "s3" {
		return []string{path}
	}
	return []string{awsEscape(path, true), path}
}

// canonicalQuery sorts the query's pairs, each name and value escaped as
// SigV4 escapes them.
func canonicalQuery(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	var pairs []string
	for _, p := range strings.Split(r.URL.RawQuery, "&") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		pairs = append(pairs, awsEscape(unescape(k), false)+"="+awsEscape(unescape(v), false))
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// unescape undoes percent-encoding only ("+" stays "+": the SDKs encode a
// space as %20).
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// awsEscape percent-encodes every byte but A-Z a-z 0-9 - _ . ~ (and "/" when
// keepSlash), upper-case hex, as SigV4 does.
func awsEscape(s string, keepSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' || (keepSlash && c == '/') {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// canonicalHeaders lists the signed headers, lower-case names, values trimmed
// with inner runs of spaces collapsed. net/http keeps Host and Content-Length
// out of r.Header.
func canonicalHeaders(r *http.Request, signed []string) string {
	var b strings.Builder
	for _, h := range signed {
		var values []string
		switch h {
		case "host":
			values = []string{r.Host}
		case "content-length":
			values = []string{strconv.FormatInt(r.ContentLength, 10)}
		default:
			values = append([]string(nil), r.Header.Values(h)...)
		}
		for i, v := range values {
			values[i] = strings.Join(strings.Fields(v), " ")
		}
		b.WriteString(h + ":" + strings.Join(values, ",") + "\n")
	}
	return b.String()
}
