// Command api-imports runs roster and users-CSV imports behind the HTTP API:
// dry runs, starts, presigned uploads and per-row results.
// It serves the routes of shared/api's route table marked api.FunctionImports.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rekey/rekey/shared/api"
	"github.com/rekey/rekey/shared/app"
	"github.com/rekey/rekey/shared/httplambda"
)

func main() {
	a, err := app.Load(context.Background(), api.FunctionImports)
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(httplambda.New(a.API.Handler(api.FunctionImports)).Invoke)
}
