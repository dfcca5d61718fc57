// Command mail-events records what SES says later about the email Rekey
// sent — delivered, bounced, complained — against the task result of the
// user it went to, matched by SES's message id. An EventBridge rule on the
// configuration set's events invokes it; failures go to its DLQ.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rekey/rekey/shared/app"
)

func main() {
	a, err := app.Load(context.Background(), app.FunctionMailEvents)
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(a.MailEvents.Handle)
}
