package localrun

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/segport/segport/pkg/importer"
	"github.com/segport/segport/pkg/job"
)

func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rt, err := Open(ctx, Options{DataDir: t.TempDir(), VisibilityTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	body, _ := os.ReadFile("../../examples/spec-example.csv")
	id := job.NewId("smoke")
	_, err = rt.Stack.S3Client().PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(rt.Stack.Bucket), Key: aws.String("imports/spec seg/spec.csv"),
		Body: bytes.NewReader(body), Metadata: map[string]string{importer.MetaJobId: id},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	j, err := rt.App.Store.Job(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", j)
	seg, err := rt.App.Store.SegmentByName(ctx, "spec seg")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", seg)
	ids, err := rt.App.Store.Members(ctx, seg.Id, 0)
	t.Log(ids, err)
}
