package localstack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// TestEmulatorsAreGuarded: every emulator endpoint, and the control plane
// for each service it serves, refuses an unsigned request, one signed
// "Signature=00", one signed with the old fixed credentials, one signed for
// another service and a CORS preflight, and no response, refused or not, carries
// Access-Control-* headers. The data folder is 0700 and its files 0600, and
// the credentials stay those of the data folder across restarts.
func TestEmulatorsAreGuarded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startStack(t, Options{DataDir: dir})
	ctx := testContext(t)
	putObject(ctx, t, s.S3Client(), "imports/guard/a.csv", "ChannelType,Address\n")
	if _, err := s.DynamoClient().Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("EndpointsTable")}); err != nil {
		t.Fatalf("a signed scan: %v", err)
	}

	type call struct{ service, method, url, body, target string }
	calls := []call{
		{"s3", "GET", s.Endpoints.S3 + "/segport/imports/guard/a.csv", "", ""},
		{"s3", "PUT", s.Endpoints.S3 + "/segport/reports/evil.csv", "x", ""},
		{"sqs", "POST", s.Endpoints.SQS + "/", `{}`, "AmazonSQS.ListQueues"},
		{"dynamodb", "POST", s.Endpoints.DynamoDB + "/", `{"TableName":"EndpointsTable"}`, "DynamoDB_20120810.Scan"},
		// the control plane: one port, a signature scoped to each service
		{"cloudformation", "POST", s.Endpoints.Control + "/", "Action=DescribeStacks&Version=2010-05-15", ""},
		{"lambda", "GET", s.Endpoints.Control + "/2015-03-31/event-source-mappings/", "", ""},
		{"lambda", "POST", s.Endpoints.Control + "/2015-03-31/functions/TriggerFunction/invocations", "{}", ""},
		{"monitoring", "POST", s.Endpoints.Control + "/service/GraniteServiceVersion20100801/operation/DescribeAlarms", "", ""},
	}
	send := func(c call, prepare func(*http.Request)) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, c.method, c.url, strings.NewReader(c.body))
		if c.target != "" {
			req.Header.Set("X-Amz-Target", c.target)
			req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		}
		if c.service == "cloudformation" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("Origin", "https://evil.example")
		prepare(req)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	signWith := func(creds aws.Credentials, service string) func(*http.Request) {
		return func(r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			sum := sha256.Sum256(body)
			hash := hex.EncodeToString(sum[:])
			r.Header.Set("X-Amz-Content-Sha256", hash)
			v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = service == "s3" }).
				SignHTTP(context.Background(), creds, r, hash, service, Region, time.Now())
		}
	}
	for _, c := range calls {
		attempts := map[string]func(*http.Request){
			"unsigned": func(*http.Request) {},
			"Signature=00": func(r *http.Request) {
				signWith(s.creds.aws(), c.service)(r)
				a := r.Header.Get("Authorization")
				r.Header.Set("Authorization", a[:strings.Index(a, "Signature=")]+"Signature=00")
			},
			"old fixed credentials":      signWith(aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"}, c.service),
			"signed for another service": signWith(s.creds.aws(), map[bool]string{true: "sqs", false: "lambda"}[c.service != "sqs"]),
			"preflight": func(r *http.Request) {
				r.Method = http.MethodOptions
				r.Header.Set("Access-Control-Request-Method", "PUT")
			},
		}
		for name, prepare := range attempts {
			res := send(c, prepare)
			if res.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s, %s: %d, want 403", c.method, c.url, name, res.StatusCode)
			}
			checkNoCORS(t, c.url+" "+name, res.Header)
		}
		res := send(c, signWith(s.creds.aws(), c.service)) // signed right: answered, still without CORS
		if res.StatusCode == http.StatusForbidden {
			t.Errorf("%s %s signed with the stack's credentials: 403", c.method, c.url)
		}
		checkNoCORS(t, c.url+" signed", res.Header)
	}

	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if perm := info.Mode().Perm(); perm != want && path != dir+"/stack.lock" || (path == dir && perm != 0o700) {
			t.Errorf("%s is %v, want %v", path, perm, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// fauxqs and dynalite listen on no TCP port: on unix sockets in a folder
	// only this user may enter, reached through their guards.
	if info, err := os.Stat(s.sockDir); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("socket folder %s: %v %v, want 0700", s.sockDir, info.Mode(), err)
	}
	for _, e := range []*emulator{s.fauxqs, s.dynalite} {
		if !strings.HasPrefix(e.socket, s.sockDir+"/") {
			t.Errorf("%s listens on %q", e.name, e.socket)
		}
	}
	creds := s.Credentials()
	if creds.AccessKeyID == "local" || len(creds.SecretAccessKey) < 32 {
		t.Errorf("credentials %q are not generated", creds.AccessKeyID)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if again := startStack(t, Options{DataDir: dir}).Credentials(); again != creds {
		t.Errorf("credentials changed across a restart of the same data folder")
	}
	if other := startStack(t, Options{}).Credentials(); other == creds {
		t.Errorf("two data folders share credentials")
	}
}

func checkNoCORS(t *testing.T, what string, h http.Header) {
	t.Helper()
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			t.Errorf("%s: the response carries %s", what, k)
		}
	}
}
