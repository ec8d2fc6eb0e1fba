package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/segport/segport/internal/dynamo"
	"github.com/segport/segport/internal/localstack"
	"github.com/segport/segport/pkg/job"
	"github.com/segport/segport/pkg/stats"
)

// countingProxy is a reverse proxy in front of one emulator that counts the
// requests it served, by operation as the SDK names them, and adds up the
// DynamoDB capacity its answers report.
type countingProxy struct {
	service string
	srv     *httptest.Server

	mu         sync.Mutex
	ops        map[string]int64 // "Service.Operation"
	units      float64          // ConsumedCapacity reported in DynamoDB answers
	condFailed int64            // DynamoDB answers ConditionalCheckFailedException
}

func startCountingProxy(t *testing.T, service, upstream string) *countingProxy {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{service: service, ops: map[string]int64{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = p.count
	p.srv = httptest.NewServer(rp)
	t.Cleanup(p.srv.Close)
	return p
}

// count runs once per request the emulator answered.
func (p *countingProxy) count(resp *http.Response) error {
	r := resp.Request
	var op string
	if p.service == "S3" {
		op = s3Operation(r)
	} else {
		_, op, _ = strings.Cut(r.Header.Get("X-Amz-Target"), ".")
	}
	var units float64
	condFailed := false
	if p.service == "DynamoDB" {
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		units, condFailed = dynamoAnswer(body)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ops[p.service+"."+op]++
	p.units += units
	if condFailed {
		p.condFailed++
	}
	return nil
}

// s3Operation names a path-style S3 request as the SDK's operation.
func s3Operation(r *http.Request) string {
	q := r.URL.Query()
	switch r.Method {
	case http.MethodHead:
		return "HeadObject"
	case http.MethodGet:
		if q.Has("list-type") {
			return "ListObjectsV2"
		}
		if strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 0 {
			return "ListObjects"
		}
		return "GetObject"
	case http.MethodPut:
		switch {
		case q.Has("uploadId") && r.Header.Get("X-Amz-Copy-Source") != "":
			return "UploadPartCopy"
		case q.Has("uploadId"):
			return "UploadPart"
		case r.Header.Get("X-Amz-Copy-Source") != "":
			return "CopyObject"
		}
		return "PutObject"
	case http.MethodPost:
		if q.Has("uploads") {
			return "CreateMultipartUpload"
		}
		if q.Has("uploadId") {
			return "CompleteMultipartUpload"
		}
		return "DeleteObjects"
	case http.MethodDelete:
		if q.Has("uploadId") {
			return "AbortMultipartUpload"
		}
		return "DeleteObject"
	}
	return r.Method
}

// dynamoAnswer reads the capacity units a DynamoDB answer reports (one
// ConsumedCapacity, or one per table) and whether it is a failed condition.
func dynamoAnswer(body []byte) (float64, bool) {
	var a struct {
		Type             string          `json:"__type"`
		ConsumedCapacity json.RawMessage `json:"ConsumedCapacity"`
	}
	if json.Unmarshal(body, &a) != nil {
		return 0, false
	}
	type cc struct{ CapacityUnits float64 }
	var one cc
	var many []cc
	units := 0.0
	if json.Unmarshal(a.ConsumedCapacity, &one) == nil {
		units = one.CapacityUnits
	} else if json.Unmarshal(a.ConsumedCapacity, &many) == nil {
		for _, c := range many {
			units += c.CapacityUnits
		}
	}
	return units, strings.HasSuffix(a.Type, "ConditionalCheckFailedException")
}

// proxyEndpoints points the SDK's clients at the proxies, as
// AWS_ENDPOINT_URL_<SERVICE> would.
type proxyEndpoints map[string]*countingProxy

func (pe proxyEndpoints) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	if p, ok := pe[sdkID]; ok {
		return p.srv.URL, true, nil
	}
	return "", false, nil
}

// TestStatsEqualRequestsServed imports the redelivery workload with every
// message delivered at least twice, shuffled, through counting proxies in front
// of the emulators, and checks that the jobs' Stats add up to exactly what the
// emulators served.
func TestStatsEqualRequestsServed(t *testing.T) {
	t.Parallel() // its own stack: it runs beside the other long tests
	proxies := proxyEndpoints{}
	var invocations atomic.Int64
	var rt *Runtime
	redeliverAll := redeliver(&rt, 11)
	rt = openRuntime(t, Options{
		BatchBytes: 600, // many write batches, many invocations
		Client: func(st *localstack.Stack, cfg aws.Config) aws.Config {
			proxies["S3"] = startCountingProxy(t, "S3", st.Endpoints.S3)
			proxies["SQS"] = startCountingProxy(t, "SQS", st.Endpoints.SQS)
			proxies["DynamoDB"] = startCountingProxy(t, "DynamoDB", st.Endpoints.DynamoDB)
			cfg = cfg.Copy()
			cfg.ConfigSources = append([]any{proxies}, cfg.ConfigSources...)
			return cfg
		},
		Wrap: func(src localstack.EventSource, h localstack.Handler) localstack.Handler {
			h = redeliverAll(src, h)
			return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				invocations.Add(1)
				return h(ctx, ev)
			}
		},
	})
	// The test reads the tables around the proxies: only the handlers' requests
	// go through them.
	direct := dynamo.New(rt.Stack.DynamoClient(), rt.App.Config.Tables, rt.App.Config.Shards)
	for i, f := range workload {
		id := job.NewId("stats", fmt.Sprint(i))
		put(t, rt, f.key, f.body, id)
		for ctx := testCtx(t); ; {
			j, err := direct.Job(ctx, id)
			if err == nil && j.JobStatus.Final() {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("job %s did not end: %v", f.key, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	if err := rt.Idle(testCtx(t)); err != nil {
		t.Fatal(err)
	}

	var total stats.Stats
	for i := range workload {
		s, err := direct.Usage(testCtx(t), job.NewId("stats", fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		if s.LambdaInvocations == 0 || s.Requests["DynamoDB.PutItem"] == 0 {
			t.Errorf("job %d has empty stats: %+v", i, s)
		}
		total.Add(s)
	}
	total.Add(rt.SweeperStats()) // the sweeper's requests belong to no job

	served := map[string]int64{}
	var units float64
	var condFailed int64
	for _, p := range proxies {
		maps.Copy(served, p.ops)
		units += p.units
		condFailed += p.condFailed
	}
	for _, op := range slices.Sorted(maps.Keys(served)) {
		if total.Requests[op] != served[op] {
			t.Errorf("%s: stats count %d requests, the emulator served %d", op, total.Requests[op], served[op])
		}
	}
	for op, n := range total.Requests {
		if _, ok := served[op]; !ok {
			t.Errorf("%s: stats count %d requests the emulators never served", op, n)
		}
	}
	var s3Get, s3Put int64
	for op, n := range proxies["S3"].ops {
		switch strings.TrimPrefix(op, "S3.") {
		case "GetObject", "HeadObject":
			s3Get += n
		case "DeleteObject", "DeleteObjects", "AbortMultipartUpload":
		default:
			s3Put += n
		}
	}
	if total.S3GetRequests != s3Get || total.S3PutRequests != s3Put {
		t.Errorf("S3 GET/PUT: stats %d/%d, served %d/%d", total.S3GetRequests, total.S3PutRequests, s3Get, s3Put)
	}
	if s3Get == 0 || s3Put == 0 {
		t.Errorf("the workload should read and write S3: %v", proxies["S3"].ops)
	}
	// Units: what the emulator reported (the usage records' own units, which
	// the stats compute, included), plus those of failed conditions, which
	// DynamoDB charges and reports none of: the stats compute one unit for
	// each of this workload's (its items are under 1 KB).
	counted := total.DynamoDBWriteUnits + total.DynamoDBReadUnits
	if want := units + float64(condFailed); math.Abs(counted-want) > 1e-9 {
		t.Errorf("capacity units: stats %.1f, the emulator reported %.1f and %d failed conditions", counted, units, condFailed)
	}
	// Every SQS invocation and the three S3 events.
	if want := invocations.Load() + int64(len(workload)); total.LambdaInvocations != want {
		t.Errorf("Lambda invocations: stats %d, made %d", total.LambdaInvocations, want)
	}
	if total.LambdaMilliseconds <= 0 || total.LambdaGBSeconds <= 0 {
		t.Errorf("no Lambda time: %+v", total)
	}
	if cost := stats.DefaultPrices.Cost(total); cost <= 0 {
		t.Errorf("cost %v", cost)
	}
	t.Logf("served %v; %.1f units (%d failed conditions); stats %+v", served, units, condFailed, total)
}
