// Command api-auth signs users in and out, answers /api/me and changes passwords, behind the HTTP API.
// It serves the routes of shared/api's route table marked api.FunctionAuth.
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
	a, err := app.Load(context.Background(), api.FunctionAuth)
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(httplambda.New(a.API.Handler(api.FunctionAuth)).Invoke)
}
