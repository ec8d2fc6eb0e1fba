// Command parser is the ParserFunction Lambda: it imports the pieces queued on
// the parse queue, reporting partial batch failures.
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
	lambda.Start(a.ParserHandler())
}
