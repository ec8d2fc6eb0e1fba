package localstack

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io/fs"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestDynamoFolderStaysProportional rewrites a few items many times, reading
// them back with a Query after each write as the writer does, and checks that
// the DynamoDB folder stays near the size of the live data rather than of
// everything ever written: dynalite's queries must not pin old LevelDB files.
func TestDynamoFolderStaysProportional(t *testing.T) {
	t.Parallel()
	s := startStack(t, Options{})
	ctx := testContext(t)
	c := s.DynamoClient()
	const (
		keys    = 20
		writes  = 2000
		workers = 8
		size    = 16 << 10 // 32 MB written in all, 320 KB live
	)
	// Random bytes: LevelDB compresses its files, and repetition would hide their size.
	raw := make([]byte, size*3/4)
	rand.Read(raw)
	blob := base64.StdEncoding.EncodeToString(raw)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < writes; i += workers {
				job := fmt.Sprintf("job-%02d", i%keys)
				_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("JobsTable"), Item: map[string]ddbtypes.AttributeValue{
					"JobId": &ddbtypes.AttributeValueMemberS{Value: job}, "Sk": &ddbtypes.AttributeValueMemberS{Value: "job"},
					"Blob": &ddbtypes.AttributeValueMemberS{Value: blob[i%size:] + blob[:i%size]},
				}})
				if err == nil {
					_, err = c.Query(ctx, &dynamodb.QueryInput{
						TableName: aws.String("JobsTable"), KeyConditionExpression: aws.String("JobId = :j"),
						ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":j": &ddbtypes.AttributeValueMemberS{Value: job}},
					})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// LevelDB keeps up to four 4 MB level-0 files and a 4 MB log before it
	// compacts: about 20 MB beyond the live data, whatever was written. With
	// every query's files pinned the folder held about 90 MB here.
	const limit = 32 << 20
	if n := dirSize(t, filepath.Join(s.dataDir, "dynamo")); n > limit {
		t.Errorf("the DynamoDB folder holds %d MB after writing 32 MB to 320 KB of items; want at most %d MB", n>>20, limit>>20)
	}
}

func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if info, err := d.Info(); err == nil && !d.IsDir() {
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
