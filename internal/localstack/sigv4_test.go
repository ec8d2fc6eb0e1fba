package localstack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestSigV4 signs requests with the SDK's signer and checks that verify
// accepts them, and refuses them unsigned, with another key or secret, for
// another service, stale, or altered after signing.
func TestSigV4(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: "SEGPORTLOCALKEY", SecretAccessKey: "secret"}
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	v := sigV4{creds: creds, now: func() time.Time { return now }}
	sign := func(r *http.Request, body string, c aws.Credentials, service string, at time.Time, s3 bool) {
		t.Helper()
		sum := sha256.Sum256([]byte(body))
		hash := hex.EncodeToString(sum[:])
		if s3 {
			r.Header.Set("X-Amz-Content-Sha256", hash)
		}
		signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = s3 })
		if err := signer.SignHTTP(context.Background(), c, r, hash, service, "us-east-1", at); err != nil {
			t.Fatal(err)
		}
	}
	// A request as the server sees it: signed as a client builds it, then
	// parsed from the wire form.
	serverSide := func(method, target, body string, c aws.Credentials, service string, at time.Time, s3 bool, tamper func(*http.Request)) *http.Request {
		out := httptest.NewRequest(method, "http://127.0.0.1:4566"+target, strings.NewReader(body))
		out.Header.Set("Content-Type", "application/x-amz-json-1.0")
		out.Header.Set("X-Amz-Target", "DynamoDB_20120810.Scan")
		sign(out, body, c, service, at, s3)
		if tamper != nil {
			tamper(out)
		}
		return out
	}
	tests := []struct {
		name, method, target, body, service string
		s3                                  bool
		c                                   aws.Credentials
		at                                  time.Time
		tamper                              func(*http.Request)
		wantErr                             string
	}{
		{name: "dynamodb", method: "POST", target: "/", body: `{"TableName":"t"}`, service: "dynamodb", c: creds, at: now},
		{name: "s3 key with spaces and a query", method: "GET", target: "/segport/imports/spring%20customers/a%2Bb.csv?list-type=2&prefix=imports%2F", service: "s3", s3: true, c: creds, at: now},
		{name: "s3 put", method: "PUT", target: "/segport/imports/x/%C3%A9t%C3%A9.csv", body: "a,b\n", service: "s3", s3: true, c: creds, at: now},
		{name: "sqs", method: "POST", target: "/", body: `{"QueueUrl":"q"}`, service: "sqs", c: creds, at: now},
		{name: "unsigned", method: "POST", target: "/", service: "dynamodb", c: creds, at: now,
			tamper: func(r *http.Request) { r.Header.Del("Authorization") }, wantErr: "not signed"},
		{name: "signature 00", method: "POST", target: "/", service: "dynamodb", c: creds, at: now, tamper: func(r *http.Request) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:strings.Index(a, "Signature=")]+"Signature=00")
		}, wantErr: "signature does not match"},
		{name: "other secret", method: "POST", target: "/", service: "dynamodb", c: aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: "guess"}, at: now, wantErr: "signature does not match"},
		{name: "other key", method: "POST", target: "/", service: "dynamodb", c: aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"}, at: now, wantErr: "access key id"},
		{name: "other service", method: "POST", target: "/", service: "sqs", c: creds, at: now, wantErr: "signed for sqs"},
		{name: "stale", method: "POST", target: "/", service: "dynamodb", c: creds, at: now.Add(-time.Hour), wantErr: "from the local clock"},
		{name: "body altered", method: "POST", target: "/", body: `{"TableName":"t"}`, service: "dynamodb", c: creds, at: now, tamper: func(r *http.Request) {
			r.Body = httptest.NewRequest("POST", "/", strings.NewReader(`{"TableName":"u"}`)).Body
		}, wantErr: "signature does not match"},
		{name: "host altered", method: "POST", target: "/", service: "dynamodb", c: creds, at: now, tamper: func(r *http.Request) { r.Host = "evil.example" }, wantErr: "signature does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.service
			if tt.name == "other service" {
				want = "dynamodb"
			}
			err := v.verify(serverSide(tt.method, tt.target, tt.body, tt.c, tt.service, tt.at, tt.s3, tt.tamper), want)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("verify: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("verify = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
