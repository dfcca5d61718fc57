// Command import-worker applies one chunk of an import's rows: it re-plans
// them against the store and writes each create or update with its audit
// entry, idempotently (shared/imports).
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rekey/rekey/shared/app"
)

func main() {
	a, err := app.Load(context.Background(), app.FunctionImportWorker)
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(a.ImportWorker.HandleSQS)
}
