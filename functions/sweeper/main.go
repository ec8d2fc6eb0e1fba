// Command sweeper is the SweeperFunction Lambda: on a schedule it records what
// reached the dead-letter queues and sends again the work of stalled jobs, so
// that every job ends.
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
	lambda.Start(a.Sweeper.HandleSchedule)
}
