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
// assumed role gives (here our own store, recorded; the local stack has no STS).
func TestRoleArnReadsThroughTheAssumedRole(t *testing.T) {
	rt := openRuntime(t, Options{})
	ctx := testCtx(t)
	_, err := rt.Stack.S3Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(rt.Stack.Bucket),
		Key: aws.String("partner/export.csv"), Body: strings.NewReader("ChannelType,Address\nEMAIL,p@example.com\n")})
	if err != nil {
		t.Fatal(err)
	}
	req := importer.Request{S3Url: "s3://segport/partner/", SegmentName: "partner",
		RoleArn: "arn:aws:iam::111122223333:role/segport-source-read", ExternalId: "ext-42"}

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
