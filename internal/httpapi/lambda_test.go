package httpapi_test

import (
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/segport/segport/internal/httpapi"
	"github.com/segport/segport/pkg/segment"
)

// TestSampleEvent feeds events/api-get-segment.json to the ApiFunction's handler,
// as `sam local invoke ApiFunction -e events/api-get-segment.json` does, after
// importing the spec's example into the segment it names.
func TestSampleEvent(t *testing.T) {
	srv, _ := server(t)
	spec, err := os.ReadFile("../../examples/spec-example.csv")
	if err != nil {
		t.Fatal(err)
	}
	upload(t, "uploads/spec-example.csv", string(spec))
	importVia(t, srv.URL, "s3://segport/uploads/spec-example.csv", "spring customers")

	raw, err := os.ReadFile("../../events/api-get-segment.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	rt := runtime(t)
	handle := httpapi.Lambda(rt.App.API(rt.Stack.AWSConfig(), slog.Default()))
	ctx := testCtx(t)

	res, err := handle(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	var seg segment.Segment
	if err := json.Unmarshal([]byte(res.Body), &seg); err != nil {
		t.Fatalf("body %q: %v", res.Body, err)
	}
	if res.StatusCode != 200 || seg.Name != "spring customers" || seg.EndpointCount != 5 || res.IsBase64Encoded ||
		res.Headers["Content-Type"] != "application/json" || res.Headers[httpapi.RequestIDHeader] != ev.RequestContext.RequestID {
		t.Fatalf("response %d %+v, headers %v", res.StatusCode, seg, res.Headers)
	}

	t.Run("named stage", func(t *testing.T) {
		ev := ev
		ev.RequestContext.Stage = "prod"
		ev.RawPath = "/prod" + ev.RawPath
		if res, _ := handle(ctx, ev); res.StatusCode != 200 {
			t.Errorf("under a named stage: %d %s", res.StatusCode, res.Body)
		}
	})
	t.Run("missing id", func(t *testing.T) {
		ev := ev
		ev.RawPath = "/v1/segments/0000000000000000"
		res, _ := handle(ctx, ev)
		var e apiError
		json.Unmarshal([]byte(res.Body), &e)
		if res.StatusCode != 404 || e.Code != "NotFoundException" || e.RequestID != ev.RequestContext.RequestID {
			t.Errorf("missing segment: %d %s", res.StatusCode, res.Body)
		}
	})
	t.Run("post with a base64 body", func(t *testing.T) {
		ev := ev
		ev.RequestContext.HTTP.Method = "POST"
		ev.RawPath = "/v1/jobs/import"
		ev.Body, ev.IsBase64Encoded = "eyJTM1VybCI6ICJub3BlIn0=", true // {"S3Url": "nope"}
		res, _ := handle(ctx, ev)
		if res.StatusCode != 400 || !strings.Contains(res.Body, "S3Url") {
			t.Errorf("bad POST: %d %s", res.StatusCode, res.Body)
		}
	})
}
