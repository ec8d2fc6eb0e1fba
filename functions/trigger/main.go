// Command trigger is the TriggerFunction Lambda: S3 ObjectCreated events under
// imports/, or a direct CreateImportJob-style request, start import jobs.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/segport/segport/internal/app"
)

func main() {
	a, log, err := app.FromEnvironment(context.Background())
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	lambda.Start(a.TriggerHandler())
}
