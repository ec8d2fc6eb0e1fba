// Command api is the ApiFunction Lambda: segport's query API behind an API Gateway
// HTTP API with IAM authorization (README "Querying segments").
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/segport/segport/internal/app"
	"github.com/segport/segport/internal/config"
	"github.com/segport/segport/internal/httpapi"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		log.Error("configuration", "err", err)
		os.Exit(1)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Error("aws configuration", "err", err)
		os.Exit(1)
	}
	a := app.New(cfg, awsCfg, app.Options{Log: log})
	lambda.Start(httpapi.Lambda(a.API(awsCfg, log)))
}
