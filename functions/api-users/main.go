// Command api-users lists, reads and edits user records and their activity, behind the HTTP API.
// It serves the routes of shared/api's route table marked api.FunctionUsers.
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
	a, err := app.Load(context.Background(), api.FunctionUsers)
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(httplambda.New(a.API.Handler(api.FunctionUsers)).Invoke)
}
