// Command bulk-dead-letters consumes the bulk work queues' dead-letter
// queues (BulkWorkDLQ, BulkPasswordDLQ): it gives up the chunk of each
// message there, so that its users end failed, saying why, and their task
// finishes; the retry_failed follow-up retries them (README "Redrive").
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rekey/rekey/shared/app"
)

func main() {
	a, err := app.Load(context.Background(), app.FunctionBulkDeadLetters)
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(a.BulkDeadLetters.Handle)
}
