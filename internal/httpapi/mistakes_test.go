package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/segport/segport/pkg/segment"
)

// TestClientMistakesAre4xx: what the security review found answering 500 (ids
// over DynamoDB's key limits, page tokens naming no shard, a 60 KB SegmentId)
// answers 400 or 404 in Pinpoint's error shape, and starts no job.
func TestClientMistakesAre4xx(t *testing.T) {
	srv, _ := server(t)
	base := srv.URL
	upload(t, "uploads/mistakes/a.csv", "ChannelType,Address\nEMAIL,m1@example.com\nEMAIL,m2@example.com\nEMAIL,m3@example.com\n")
	if j := importVia(t, base, "s3://segport/uploads/mistakes/a.csv", "mistakes"); j.JobStatus != "COMPLETED" {
		t.Fatalf("import: %+v", j)
	}
	segId := segment.IdOf("mistakes")
	token := func(m map[string]string) string {
		b, _ := json.Marshal(m)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	long := strings.Repeat("x", 3000)
	tests := []struct {
		name, method, path, body string
		status                   int
	}{
		{"long endpoint id", "GET", "/v1/endpoints/" + long, "", 404},
		{"endpoint id with a control character", "GET", "/v1/endpoints/a%01b", "", 404},
		{"long segment id", "GET", "/v1/segments/" + long, "", 400},
		{"long segment id, members", "GET", "/v1/segments/" + long + "/endpoints", "", 400},
		{"long job id", "GET", "/v1/jobs/import/" + long, "", 404},
		{"job id of another form", "GET", "/v1/jobs/import/abc", "", 404},
		{"long segment-id", "GET", "/v1/jobs/import?segment-id=" + long, "", 400},
		{"long user id", "GET", "/v1/users/" + long + "/endpoints", "", 404},
		{"token shard of one digit", "GET", "/v1/segments/" + segId + "/endpoints?token=" + token(map[string]string{"Shard": segId + "#1", "EndpointId": "x"}), "", 400},
		{"token shard with a sign", "GET", "/v1/segments/" + segId + "/endpoints?token=" + token(map[string]string{"Shard": segId + "#+1", "EndpointId": "x"}), "", 400},
		{"token with a long key", "GET", "/v1/segments/" + segId + "/endpoints?token=" + token(map[string]string{"Shard": segId + "#01", "EndpointId": long}), "", 400},
		{"token of segments with a long key", "GET", "/v1/segments?token=" + token(map[string]string{"SegmentId": long}), "", 400},
		{"token of a user with a long key", "GET", "/v1/users/u/endpoints?token=" + token(map[string]string{"Id": long, "UserId": "u"}), "", 400},
		{"60 KB SegmentId", "POST", "/v1/jobs/import", `{"S3Url":"s3://segport/uploads/mistakes/","SegmentId":"` + strings.Repeat("a", 60<<10) + `"}`, 400},
		{"60 KB SegmentName", "POST", "/v1/jobs/import", `{"S3Url":"s3://segport/uploads/mistakes/","SegmentName":"` + strings.Repeat("a", 60<<10) + `"}`, 400},
		{"prefix of the error reports", "POST", "/v1/jobs/import", `{"S3Url":"s3://segport/reports/","SegmentName":"m"}`, 400},
		{"prefix covering the error reports", "POST", "/v1/jobs/import", `{"S3Url":"s3://segport/","SegmentName":"m"}`, 400},
		{"prefix over S3's key limit", "POST", "/v1/jobs/import", `{"S3Url":"s3://segport/` + strings.Repeat("p", 2000) + `","SegmentName":"m"}`, 400},
	}
	before := countJobs(t, base)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e apiError
			res := call(t, tc.method, base+tc.path, tc.body, &e)
			if res.StatusCode != tc.status || e.Message == "" || len(e.Message) > 300 || res.Header.Get("X-Amzn-ErrorType") != e.Code {
				t.Errorf("%d %+v, want %d with a short message", res.StatusCode, e, tc.status)
			}
		})
	}
	if after := countJobs(t, base); after != before {
		t.Errorf("%d jobs before, %d after: a refused request started one", before, after)
	}
}

func countJobs(t *testing.T, base string) int {
	items, _ := pages(t, base+"/v1/jobs/import?"+url.Values{"page-size": {"1000"}}.Encode(), 1000)
	return len(items)
}
