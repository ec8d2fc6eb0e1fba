package s3src

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	segport "github.com/segport/segport"
	"github.com/segport/segport/internal/localstack"
)

const mib = 1 << 20

func TestPlanParts(t *testing.T) {
	lim := partLimits{min: 10, max: 25, count: 100}
	tests := []struct {
		name   string
		header int
		sizes  []int64
		want   string // each part: its size, c for copied, g for gathered
	}{
		{"nothing", 0, nil, ""},
		{"header only", 4, nil, "4g"},
		{"short objects gathered", 4, []int64{3, 0, 5, 7}, "10g 9g"},
		{"a long object copied", 0, []int64{12}, "12c"},
		{"gathered bytes topped up before a copy", 4, []int64{16}, "10g 10c"},
		{"too short a rest after topping up is gathered", 4, []int64{15}, "10g 9g"},
		{"long copies split evenly", 0, []int64{60}, "20c 20c 20c"},
		{"a mix", 2, []int64{3, 30, 4, 0, 11, 2, 10}, "10g 25c 10g 10g 7g"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srcs := []source{{size: int64(tt.header), inline: make([]byte, tt.header)}}
			var total int64 = int64(tt.header)
			for i, n := range tt.sizes {
				srcs = append(srcs, source{key: fmt.Sprint(i), size: n})
				total += n
			}
			parts := planParts(srcs, lim)
			var got []byte
			var covered int64
			for i, p := range parts {
				if i > 0 {
					got = append(got, ' ')
				}
				got = fmt.Appendf(got, "%d%c", p.size, map[bool]byte{true: 'c', false: 'g'}[p.copy])
				if p.size > lim.max || i < len(parts)-1 && p.size < lim.min || !p.copy && p.size > lim.min {
					t.Errorf("part %d is %d bytes", i+1, p.size)
				}
				covered += p.size
			}
			if string(got) != tt.want {
				t.Errorf("parts = %q, want %q", got, tt.want)
			}
			if covered != total {
				t.Errorf("parts hold %d bytes, want %d", covered, total)
			}
		})
	}
}

func TestConcat(t *testing.T) {
	st := startStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Concat must not touch the local disk: its temporary directory stays empty.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	header := []byte("File,Line,Field,Message,Row\n")
	tests := []struct {
		name    string
		header  []byte
		sizes   []int
		limits  partLimits
		failing int // a part number S3 refuses
		wantErr bool
	}{
		{name: "zero parts", header: header},
		{name: "nothing at all"},
		{name: "one small part", header: header, sizes: []int{100}},
		{name: "empty parts", header: header, sizes: []int{0, 0}},
		{name: "small parts crossing 5 MiB", header: header, sizes: repeat(1_000_003, 12)},
		{name: "a part larger than 5 MiB", header: header, sizes: []int{12 * mib}},
		{name: "one long part and no header", sizes: []int{6 * mib}},
		{name: "a mix", header: header, sizes: []int{3 * mib, 8*mib + 7, 100, 0, 6 * mib, 2 * mib, 11*mib + 1, 5}},
		{name: "copies cut at the largest part", header: header, sizes: []int{21 * mib},
			limits: partLimits{min: s3Limits.min, max: 8 * mib, count: s3Limits.count}},
		{name: "more parts than allowed are joined first", header: header, sizes: repeat(2*mib+3, 12),
			limits: partLimits{min: s3Limits.min, max: 12 * mib, count: 4}},
		{name: "more parts than allowed even joined", header: header, sizes: []int{6 * mib, 6 * mib},
			limits: partLimits{min: s3Limits.min, max: s3Limits.max, count: 1}, wantErr: true},
		{name: "a refused part aborts the upload", header: header, sizes: repeat(3*mib, 8), failing: 3, wantErr: true},
		{name: "an upload S3 refuses is aborted", header: header, sizes: []int{3 * mib},
			limits: partLimits{min: mib, max: s3Limits.max, count: s3Limits.count}, wantErr: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := New(st.S3Client())
			if tt.failing > 0 {
				store = New(s3.NewFromConfig(st.AWSConfig(), func(o *s3.Options) {
					o.UsePathStyle = true
					o.HTTPClient = &http.Client{Transport: refusePart{http.DefaultTransport, tt.failing}}
				}))
			}
			store.limits = tt.limits
			prefix := fmt.Sprintf("reports/job%d/", i)
			want := bytes.Clone(tt.header)
			var keys []string
			for j, n := range tt.sizes {
				key := fmt.Sprintf("%sparts/%06d.csv", prefix, j)
				body := randomBytes(uint64(i*100+j), n)
				if err := store.Put(ctx, st.Bucket, key, bytes.NewReader(body), "text/csv", nil); err != nil {
					t.Fatal(err)
				}
				keys = append(keys, key)
				want = append(want, body...)
			}
			dst := prefix + "report.csv"
			err := store.Concat(ctx, st.Bucket, dst, tt.header, keys)
			if tt.wantErr {
				if err == nil {
					t.Fatal("Concat succeeded")
				}
				if _, err := store.Head(ctx, st.Bucket, dst); err == nil {
					t.Error("a failed Concat left a report")
				}
				assertNoUploads(ctx, t, st.S3Client(), st.Bucket, dst)
				assertNoJoined(ctx, t, store, st.Bucket, dst)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := store.Get(ctx, st.Bucket, dst)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("report is %d bytes, want %d; first difference at byte %d", len(got), len(want), firstDiff(got, want))
			}
			assertNoUploads(ctx, t, st.S3Client(), st.Bucket, dst)
			assertNoJoined(ctx, t, store, st.Bucket, dst)
		})
	}
	t.Run("a missing part", func(t *testing.T) {
		err := New(st.S3Client()).Concat(ctx, st.Bucket, "reports/gone.csv", header, []string{"reports/gone/parts/000000.csv"})
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("Concat = %v, want ErrNotFound", err)
		}
	})
	if entries, err := os.ReadDir(tmp); err != nil || len(entries) > 0 {
		t.Errorf("temporary directory holds %d entries (%v), want none", len(entries), err)
	}
}

func assertNoUploads(ctx context.Context, t *testing.T, c *s3.Client, bucket, key string) {
	t.Helper()
	out, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)})
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchUpload" {
		return // gofakes3's answer for a bucket that never had an upload
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Uploads) > 0 {
		t.Errorf("%d multipart uploads of %s left incomplete", len(out.Uploads), key)
	}
}

// assertNoJoined checks that the intermediate objects of a join are gone.
func assertNoJoined(ctx context.Context, t *testing.T, store *Store, bucket, key string) {
	t.Helper()
	left, err := store.List(ctx, bucket, key+".join/")
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("%d intermediate objects left, %s first", len(left), left[0].Key)
	}
}

// refusePart answers an upload of part n with an error, as S3 may.
type refusePart struct {
	next http.RoundTripper
	n    int
}

func (r refusePart) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPut || req.URL.Query().Get("partNumber") != fmt.Sprint(r.n) {
		return r.next.RoundTrip(req)
	}
	return &http.Response{
		StatusCode: http.StatusBadRequest, Header: http.Header{"Content-Type": {"application/xml"}}, Request: req,
		Body: io.NopCloser(strings.NewReader("<Error><Code>InvalidRequest</Code><Message>refused</Message></Error>")),
	}, nil
}

func repeat(n, times int) []int {
	s := make([]int, times)
	for i := range s {
		s[i] = n
	}
	return s
}

func randomBytes(seed uint64, n int) []byte {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func startStack(t *testing.T) *localstack.Stack {
	t.Helper()
	nodeDir, err := localstack.SharedNodeDir()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := localstack.Start(ctx, localstack.Options{
		DataDir: t.TempDir(), NodeDir: nodeDir, Template: segport.Template,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
