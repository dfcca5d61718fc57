// Command console serves the admin console - its pages and assets - from
// the same origin as the API: every GET outside /api/.
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
	a, err := app.Load(context.Background(), api.FunctionConsole)
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(httplambda.New(a.API.Handler(api.FunctionConsole)).Invoke)
}
