// Command bulk-worker resets the users of one work chunk - email link,
// default password or generated passwords - re-checking the initiator's
// permission for each, and sends the emails paced to the SES sending rate.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rekey/rekey/shared/app"
)

func main() {
	a, err := app.Load(context.Background(), app.FunctionBulkWorker)
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(a.BulkWorker.Handle)
}
