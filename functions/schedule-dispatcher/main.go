// Command schedule-dispatcher runs every minute (an EventBridge rule) and
// starts each due scheduled reset exactly once per occurrence, as an
// ordinary bulk task.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rekey/rekey/shared/app"
)

func main() {
	a, err := app.Load(context.Background(), app.FunctionScheduleDispatcher)
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(a.Dispatcher.Handle)
}
