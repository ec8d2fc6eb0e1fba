// Package app wires the handlers to their AWS adapters from a Config. The Lambda
// mains, the local stack and the CLI all build the same App.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/segport/segport/internal/config"
	"github.com/segport/segport/internal/dynamo"
	"github.com/segport/segport/internal/importer"
	"github.com/segport/segport/internal/meter"
	"github.com/segport/segport/internal/metrics"
	"github.com/segport/segport/internal/s3src"
	"github.com/segport/segport/internal/sqsq"
)

// App is the three handlers and the stores behind them.
type App struct {
	Config  *config.Config
	AWS     aws.Config // the SDK configuration every client was built from
	Store   *dynamo.Store
	Objects *s3src.Store
	Trigger *importer.Trigger
	Parser  *importer.Parser
	Writer  *importer.Writer
	Sweeper *importer.Sweeper

	meter meter.Options // how the handlers of meter.go are metered
}

// Options change how an App is built.
type Options struct {
	Now        importer.Clock
	Log        *slog.Logger
	BatchBytes int                 // write message size bound; 0 for SQS's limit
	S3Options  []func(*s3.Options) // e.g. path-style addressing for the local stack
	Metrics    importer.Metrics    // where the handlers' measurements go; nil for nowhere
}

// New builds an App from cfg, using awsCfg for every client.
func New(cfg *config.Config, awsCfg aws.Config, opts Options) *App {
	awsCfg = meter.Config(awsCfg) // every client counts its requests for the jobs' Stats
	db := dynamodb.NewFromConfig(awsCfg)
	s3opts := []func(*s3.Options){func(o *s3.Options) {
		// Ranged GETs carry no whole-object checksum; the SDK would log an
		// unstructured line for each of them.
		o.DisableLogOutputChecksumValidationSkipped = true
		o.UsePathStyle = cfg.S3PathStyle
	}}
	s3opts = append(s3opts, opts.S3Options...)
	s3c := s3.NewFromConfig(awsCfg, s3opts...)
	assume := newAssumer(awsCfg, s3opts)
	sqc := sqs.NewFromConfig(awsCfg)
	store := dynamo.New(db, cfg.Tables, cfg.Shards)
	if opts.Now != nil {
		store.SetClock(opts.Now)
	}
	objects := s3src.New(s3c)
	parse := sqsq.New(sqc, cfg.ParseQueueURL)
	fin := &importer.Finisher{Jobs: store, Segments: store, Objects: objects, Bucket: cfg.Bucket, Now: opts.Now, Log: opts.Log}
	return &App{
		meter:   meterOptions(opts),
		Config:  cfg,
		AWS:     awsCfg,
		Store:   store,
		Objects: objects,
		Trigger: &importer.Trigger{Jobs: store, Objects: objects, Assume: assume, SourceAccounts: cfg.SourceAccounts,
			Parse: parse, Bucket: cfg.Bucket, PieceSize: cfg.PieceSize, BatchBytes: opts.BatchBytes, Now: opts.Now, Log: opts.Log},
		Parser: &importer.Parser{Jobs: store, Objects: objects, Assume: assume, ReportBucket: cfg.Bucket, Registry: store, Write: sqsq.New(sqc, cfg.WriteQueueURL),
			Parse: parse, Segments: store, Limits: cfg.Limits, Inflate: cfg.Inflate, BatchBytes: opts.BatchBytes, Now: opts.Now, Log: opts.Log, Finisher: fin, Metrics: opts.Metrics, MaxReceive: cfg.MaxReceive},
		Writer: &importer.Writer{Store: store, Jobs: store, Finisher: fin, Log: opts.Log, Metrics: opts.Metrics, MaxReceive: cfg.MaxReceive,
			Concurrency: cfg.WriteConcurrency},
		Sweeper: &importer.Sweeper{Jobs: store, Members: store, Parse: parse, Finisher: fin,
			ParseDLQ: sqsq.New(sqc, cfg.ParseDLQURL), WriteDLQ: sqsq.New(sqc, cfg.WriteDLQURL),
			StallAfter: cfg.StallAfter, MaxTries: cfg.MaxTries, Pruner: store, Now: opts.Now, Log: opts.Log},
	}
}

// FromEnvironment is a Lambda function's start-up: a JSON logger and EMF metrics on
// standard output (which Lambda sends to CloudWatch Logs), the configuration from
// the SEGPORT_* variables and the SDK's from the usual AWS ones (credentials,
// region, AWS_ENDPOINT_URL_*). The logger is returned even with an error, to
// report it.
func FromEnvironment(ctx context.Context) (*App, *slog.Logger, error) {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return nil, log, err
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, log, fmt.Errorf("aws configuration: %w", err)
	}
	m := &metrics.EMF{W: os.Stdout, Function: os.Getenv("AWS_LAMBDA_FUNCTION_NAME")}
	return New(cfg, awsCfg, Options{Log: log, Metrics: m}), log, nil
}
