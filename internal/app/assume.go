package app

import (
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/internal/s3src"
	"github.com/segport/segport/pkg/job"
)

// assumer reads buckets of other accounts with credentials from STS AssumeRole on
// the role an import names (with its ExternalId), as Pinpoint's import does. One
// S3 client per role, with cached, self-refreshing credentials.
type assumer struct {
	cfg    aws.Config
	s3opts []func(*s3.Options)
	mu     sync.Mutex
	stores map[job.Source]*s3src.Store
}

func newAssumer(cfg aws.Config, s3opts []func(*s3.Options)) importer.AssumeFunc {
	a := &assumer{cfg: cfg, s3opts: s3opts, stores: map[job.Source]*s3src.Store{}}
	return a.objects
}

func (a *assumer) objects(src job.Source) (importer.Objects, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if st, ok := a.stores[src]; ok {
		return st, nil
	}
	provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(a.cfg), src.RoleArn, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = "segport-import"
		if src.ExternalId != "" {
			o.ExternalID = aws.String(src.ExternalId)
		}
	})
	cfg := a.cfg.Copy()
	cfg.Credentials = aws.NewCredentialsCache(provider)
	st := s3src.New(s3.NewFromConfig(cfg, a.s3opts...))
	a.stores[src] = st
	return st, nil
}
