// Command api-tasks serves the task centre behind the HTTP API: tasks with
// live counters, cancelling, and per-user results as JSON or a CSV file.
// It serves the routes of shared/api's route table marked api.FunctionTasks.
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
	a, err := app.Load(context.Background(), api.FunctionTasks)
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(httplambda.New(a.API.Handler(api.FunctionTasks)).Invoke)
}
