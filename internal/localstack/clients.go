package localstack

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

type clients struct {
	cfg  aws.Config
	s3c  *s3.Client
	sqsc *sqs.Client
	ddbc *dynamodb.Client
}

func newClients(ep Endpoints, creds Credentials) clients {
	cfg := awsConfig(ep, creds)
	return clients{
		cfg: cfg,
		s3c: s3.NewFromConfig(cfg, func(o *s3.Options) {
			o.UsePathStyle = true
			o.BaseEndpoint = aws.String(ep.S3)
		}),
		sqsc: sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(ep.SQS) }),
		ddbc: dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(ep.DynamoDB) }),
	}
}

func awsConfig(ep Endpoints, creds Credentials) aws.Config {
	return aws.Config{
		Region:        Region,
		Credentials:   credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
		ConfigSources: []any{endpointSource(ep)},
	}
}

// endpointSource lets service clients built from AWSConfig find their
// emulator, as AWS_ENDPOINT_URL_<SERVICE> would.
type endpointSource Endpoints

func (ep endpointSource) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	switch sdkID {
	case "S3":
		return ep.S3, ep.S3 != "", nil
	case "SQS":
		return ep.SQS, ep.SQS != "", nil
	case "DynamoDB":
		return ep.DynamoDB, ep.DynamoDB != "", nil
	case "CloudFormation", "Lambda", "CloudWatch":
		return ep.Control, ep.Control != "", nil
	}
	return "", false, nil
}

// AWSConfig is an SDK configuration for the local stack: the data folder's
// credentials, us-east-1, and per-service endpoints at the emulators. S3
// clients built from it still need UsePathStyle; S3Client sets it.
func (s *Stack) AWSConfig() aws.Config { return s.cfg.Copy() }

// Credentials are the data folder's credentials, which every request to the
// emulators must be signed with.
func (s *Stack) Credentials() Credentials { return s.creds }

// S3Client is a path-style S3 client for the emulator.
func (s *Stack) S3Client() *s3.Client { return s.s3c }

// SQSClient is an SQS client for fauxqs.
func (s *Stack) SQSClient() *sqs.Client { return s.sqsc }

// DynamoClient is a DynamoDB client for dynalite.
func (s *Stack) DynamoClient() *dynamodb.Client { return s.ddbc }

// ExportLines are shell lines pointing AWS tools and the functions'
// configuration at the stack.
func (s *Stack) ExportLines() []string {
	vars := map[string]string{
		"AWS_ENDPOINT_URL_S3":             s.Endpoints.S3,
		"AWS_ENDPOINT_URL_SQS":            s.Endpoints.SQS,
		"AWS_ENDPOINT_URL_DYNAMODB":       s.Endpoints.DynamoDB,
		"AWS_ENDPOINT_URL_CLOUDFORMATION": s.Endpoints.Control,
		"AWS_ENDPOINT_URL_LAMBDA":         s.Endpoints.Control,
		"AWS_ENDPOINT_URL_CLOUDWATCH":     s.Endpoints.Control,
		"AWS_ACCESS_KEY_ID":               s.creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":           s.creds.SecretAccessKey,
		"AWS_REGION":                      Region,
		"AWS_DEFAULT_REGION":              Region, // AWS CLI v1 reads only this one
	}
	names := []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_DYNAMODB",
		"AWS_ENDPOINT_URL_CLOUDFORMATION", "AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL_CLOUDWATCH", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION"}
	// The functions' environment, less what the stack sets above: the template
	// declares the AWS_ENDPOINT_URL_* variables empty for sam local invoke.
	env := s.Env()
	for _, name := range slices.Sorted(maps.Keys(env)) {
		if _, ok := vars[name]; !ok && env[name] != "" {
			names = append(names, name)
			vars[name] = env[name]
		}
	}
	lines := make([]string, len(names))
	for i, name := range names {
		lines[i] = fmt.Sprintf("export %s=%s", name, shellQuote(vars[name]))
	}
	return lines
}

func shellQuote(v string) string {
	if v != "" && strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@%+=,") == "" {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
