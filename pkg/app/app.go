// Package app wires the handlers to their AWS adapters from a Config. The Lambda
// mains, the local stack and the CLI all build the same App.
package app

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/segport/segport/pkg/config"
	"github.com/segport/segport/pkg/dynamo"
	"github.com/segport/segport/pkg/importer"
	"github.com/segport/segport/pkg/s3src"
	"github.com/segport/segport/pkg/sqsq"
)

// App is the three handlers and the stores behind them.
type App struct {
	Config  *config.Config
	Store   *dynamo.Store
	Objects *s3src.Store
	Trigger *importer.Trigger
	Parser  *importer.Parser
	Writer  *importer.Writer
}

// Options change how an App is built.
type Options struct {
	Now        importer.Clock
	Log        *slog.Logger
	BatchBytes int                 // write message size bound; 0 for SQS's limit
	S3Options  []func(*s3.Options) // e.g. path-style addressing for the local stack
}

// New builds an App from cfg, using awsCfg for every client.
func New(cfg *config.Config, awsCfg aws.Config, opts Options) *App {
	db := dynamodb.NewFromConfig(awsCfg)
	s3c := s3.NewFromConfig(awsCfg, opts.S3Options...)
	sqc := sqs.NewFromConfig(awsCfg)
	store := dynamo.New(db, cfg.Tables, cfg.Shards)
	objects := s3src.New(s3c)
	fin := &importer.Finisher{Jobs: store, Objects: objects, Bucket: cfg.Bucket, Shards: cfg.Shards, Now: opts.Now, Log: opts.Log}
	return &App{
		Config:  cfg,
		Store:   store,
		Objects: objects,
		Trigger: &importer.Trigger{Jobs: store, Objects: objects, Parse: sqsq.New(sqc, cfg.ParseQueueURL),
			Bucket: cfg.Bucket, PieceSize: cfg.PieceSize, Now: opts.Now, Log: opts.Log},
		Parser: &importer.Parser{Jobs: store, Objects: objects, Registry: store, Write: sqsq.New(sqc, cfg.WriteQueueURL),
			Limits: cfg.Limits, BatchBytes: opts.BatchBytes, Now: opts.Now, Log: opts.Log, Finisher: fin},
		Writer: &importer.Writer{Store: store, Jobs: store, Finisher: fin, Log: opts.Log},
	}
}
