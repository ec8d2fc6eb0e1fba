package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/pkg/client"
	"github.com/segport/segport/pkg/endpoint"
	"github.com/segport/segport/pkg/job"
)

// Forwarder is the query API of a deployed stack, reached from 127.0.0.1: it
// sends each request on to the stack's API URL signed with SigV4 for
// execute-api, with the credentials of whoever runs `segport console --aws`.
// Only the method, path, query, body and the Accept and Content-Type headers go
// on (no cookie, no Origin): the browser never sees a credential, and nothing
// new is exposed in AWS.
type Forwarder struct {
	URL         *url.URL // the stack's ApiUrl
	Credentials aws.CredentialsProvider
	Region      string
	Client      aws.HTTPClient // nil for http.DefaultClient
	Now         func() time.Time
}

// NewForwarder forwards to apiURL with awsCfg's credentials and region.
func NewForwarder(apiURL string, awsCfg aws.Config) (*Forwarder, error) {
	u, err := url.Parse(strings.TrimSuffix(apiURL, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("API URL %q is not an http(s) URL", apiURL)
	}
	if awsCfg.Credentials == nil || awsCfg.Region == "" {
		return nil, errors.New("no AWS credentials or region: configure them as for the AWS CLI")
	}
	return &Forwarder{URL: u, Credentials: awsCfg.Credentials, Region: awsCfg.Region, Client: awsCfg.HTTPClient}, nil
}

// maxForwardBytes bounds a forwarded request body: the API takes at most 64 KiB.
const maxForwardBytes = 1 << 20

func (f *Forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	res, err := f.forward(r)
	if err != nil {
		writeError(w, &consoleError{http.StatusBadGateway, "the deployed API could not be reached: " + err.Error()})
		return
	}
	defer res.Body.Close()
	for _, h := range []string{"Content-Type", "X-Amzn-ErrorType", "X-Request-Id", "Apigw-Requestid"} {
		if v := res.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(res.StatusCode)
	io.Copy(w, res.Body)
}

func (f *Forwarder) forward(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxForwardBytes))
	if err != nil {
		return nil, fmt.Errorf("read the request: %w", err)
	}
	u := *f.URL
	u.Path = f.URL.Path + r.URL.Path
	u.RawPath = ""
	if f.URL.RawPath != "" || r.URL.RawPath != "" {
		u.RawPath = f.URL.EscapedPath() + r.URL.EscapedPath()
	}
	u.RawQuery = r.URL.RawQuery
	out, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for _, h := range []string{"Accept", "Content-Type"} {
		if v := r.Header.Get(h); v != "" {
			out.Header.Set(h, v)
		}
	}
	creds, err := f.Credentials.Retrieve(r.Context())
	if err != nil {
		return nil, fmt.Errorf("AWS credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, out, hex.EncodeToString(sum[:]), "execute-api", f.Region, now()); err != nil {
		return nil, fmt.Errorf("sign the request: %w", err)
	}
	if f.Client == nil {
		return http.DefaultClient.Do(out)
	}
	return f.Client.Do(out)
}

// APIReader reads what the console's own endpoints need through a query API
// handler (a Forwarder), so that `segport console --aws` needs no table access.
type APIReader struct{ API http.Handler }

// APIImporter starts imports with the query API's POST /v1/jobs/import.
type APIImporter struct{ API http.Handler }

// call sends one request to the API in process and decodes its JSON answer.
func call(ctx context.Context, api http.Handler, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequestWithContext(ctx, method, path, rd)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, req)
	if rec.Code == http.StatusNotFound {
		return client.ErrNotFound
	}
	if rec.Code/100 != 2 {
		var e struct{ Code, Message string }
		json.Unmarshal(rec.Body.Bytes(), &e)
		if e.Message == "" {
			e.Message = strings.TrimSpace(rec.Body.String())
		}
		return fmt.Errorf("%s %s: %d %s", method, path, rec.Code, e.Message)
	}
	return json.Unmarshal(rec.Body.Bytes(), out)
}

// GetImportJob reads GET /v1/jobs/import/{id}.
func (a APIReader) GetImportJob(ctx context.Context, id string) (*job.Job, error) {
	var j job.Job
	if err := call(ctx, a.API, http.MethodGet, "/v1/jobs/import/"+url.PathEscape(id), nil, &j); err != nil {
		return nil, fmt.Errorf("import job %s: %w", id, err)
	}
	return &j, nil
}

// SegmentMembersPage reads GET /v1/segments/{id}/endpoints.
func (a APIReader) SegmentMembersPage(ctx context.Context, segmentId string, opts client.PageOptions) (client.Page[*endpoint.Endpoint], error) {
	q := url.Values{}
	if opts.Size > 0 {
		q.Set("page-size", fmt.Sprint(opts.Size))
	}
	if opts.Token != "" {
		q.Set("token", opts.Token)
	}
	var page struct {
		Item      []*endpoint.Endpoint
		NextToken string
	}
	err := call(ctx, a.API, http.MethodGet, "/v1/segments/"+url.PathEscape(segmentId)+"/endpoints?"+q.Encode(), nil, &page)
	if err != nil {
		return client.Page[*endpoint.Endpoint]{}, fmt.Errorf("members of segment %s: %w", segmentId, err)
	}
	return client.Page[*endpoint.Endpoint]{Items: page.Item, NextToken: page.NextToken}, nil
}

// CreateImportJob sends POST /v1/jobs/import.
func (a APIImporter) CreateImportJob(ctx context.Context, req importer.Request) (*job.Job, error) {
	var j job.Job
	body := map[string]string{"S3Url": req.S3Url, "Format": req.Format, "SegmentName": req.SegmentName, "JobId": req.JobId}
	if err := call(ctx, a.API, http.MethodPost, "/v1/jobs/import", body, &j); err != nil {
		if errors.Is(err, client.ErrNotFound) {
			err = errors.New("the deployed API has no POST /v1/jobs/import")
		}
		return nil, fmt.Errorf("start import: %w", err)
	}
	return &j, nil
}
