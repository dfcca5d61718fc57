package app

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rekey/rekey/shared/httplambda"
)

// Start is the whole main of a function: it loads what the named function
// needs (see Load) and hands the Lambda runtime the handler that handlerOf
// picks from the app. A configuration error ends the process before the
// runtime starts, so Lambda reports the init failure with the message.
func Start(function string, handlerOf func(*App) any) {
	a, err := Load(context.Background(), function)
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(handlerOf(a))
}

// StartHTTP is the whole main of an HTTP function: it serves the routes of
// shared/api's route table marked with function (an api.Function*
// constant) from API Gateway's HTTP events.
func StartHTTP(function string) {
	Start(function, func(a *App) any { return httplambda.New(a.API.Handler(function)).Invoke })
}
