package localrun

import (
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/pkg/job"
)

// TestRoleArnReadsThroughTheAssumedRole checks that an import naming a RoleArn
// reads its objects, in the trigger and in the parser, through the Objects the
// assumed role gives (here our own store, recorded; the local stack has no STS),
// and only for the accounts SourceAccountIds lists.
func TestRoleArnReadsThroughTheAssumedRole(t *testing.T) {
	rt := openRuntime(t, Options{Parameters: map[string]string{"SourceAccountIds": "111122223333,444455556666"}})
	ctx := testCtx(t)
	_, err := rt.Stack.S3Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(rt.Stack.Bucket),
		Key: aws.String("partner/export.csv"), Body: strings.NewReader("ChannelType,Address\nEMAIL,p@example.com\n")})
	if err != nil {
		t.Fatal(err)
	}
	req := importer.Request{S3Url: "s3://segport/partner/", SegmentName: "partner",
		RoleArn: "arn:aws:iam::111122223333:role/segport-source-read", ExternalId: "ext-42"}

	// Only the allowed accounts' roles, and only with an ExternalId.
	for _, bad := range []struct {
		role, ext, want string
	}{
		{"arn:aws:iam::999999999999:role/segport-source-read", "ext-42", "account 999999999999 is not among the accounts"},
		{req.RoleArn, "", "RoleArn needs an ExternalId"},
		{"segport-source-read", "ext-42", "is not an IAM role ARN"},
	} {
		r := req
		r.RoleArn, r.ExternalId = bad.role, bad.ext
		if _, err := rt.App.Trigger.CreateImportJob(ctx, r); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("RoleArn %s, ExternalId %q: %v, want %q", bad.role, bad.ext, err, bad.want)
		}
	}
	saved := rt.App.Trigger.Assume
	rt.App.Trigger.Assume, rt.App.Parser.Assume = nil, nil
	if _, err := rt.App.Trigger.CreateImportJob(ctx, req); err == nil || !strings.Contains(err.Error(), "RoleArn") {
		t.Fatalf("without AssumeRole configured: %v", err)
	}
	if saved == nil {
		t.Fatal("the App has no AssumeRole reader")
	}

	var mu sync.Mutex
	var seen []job.Source
	assume := func(src job.Source) (importer.Objects, error) {
		mu.Lock()
		seen = append(seen, src)
		mu.Unlock()
		return rt.App.Objects, nil
	}
	rt.App.Trigger.Assume, rt.App.Parser.Assume = assume, assume
	started, err := rt.App.Trigger.CreateImportJob(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if j := waitJob(t, rt, started.Id); j.JobStatus != job.Completed || j.TotalProcessed != 1 {
		t.Fatalf("job %+v", j)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) < 2 {
		t.Fatalf("the assumed role was used %d times, want the trigger and the parser", len(seen))
	}
	for _, src := range seen {
		if src.RoleArn != req.RoleArn || src.ExternalId != req.ExternalId {
			t.Errorf("assumed %+v", src)
		}
	}
}
