// Command api-bulk starts bulk password resets: it records the task and
// enqueues it for the planner, answering at once, behind the HTTP API.
// It serves the routes of shared/api's route table marked api.FunctionBulk.
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
	a, err := app.Load(context.Background(), api.FunctionBulk)
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(httplambda.New(a.API.Handler(api.FunctionBulk)).Invoke)
}
