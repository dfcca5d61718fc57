// Command bulk-sweeper runs every minute (an EventBridge rule) and puts
// back on the work queue the bulk chunks whose worker died holding them,
// so that their users, whose passwords may already be voided, get their
// links within about a minute instead of after the queue's visibility
// timeout.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rekey/rekey/shared/app"
)

func main() {
	a, err := app.Load(context.Background(), app.FunctionBulkSweeper)
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(a.BulkSweeper.Handle)
}
