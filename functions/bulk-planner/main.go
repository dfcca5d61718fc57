// Command bulk-planner expands a bulk reset's selection, page by page and
// within the initiator's scope, into work chunks of about a hundred users on
// the work queue. It resumes where it stopped if retried.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rekey/rekey/shared/app"
)

func main() {
	a, err := app.Load(context.Background(), app.FunctionBulkPlanner)
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(a.BulkPlanner.Handle)
}
