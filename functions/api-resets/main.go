// Command api-resets resets passwords behind the HTTP API: by emailed link,
// by temporary password, self-service, and redemption of links.
// It serves the routes of shared/api's route table marked api.FunctionResets.
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
	a, err := app.Load(context.Background(), api.FunctionResets)
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(httplambda.New(a.API.Handler(api.FunctionResets)).Invoke)
}
