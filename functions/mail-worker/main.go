// Command mail-worker sends Rekey's email from the mail queue: reset links
// (making each token at send time), single sign-on notices and
// password-changed notices, through SES. It reports only the failed messages
// of a batch (ReportBatchItemFailures), so SQS retries just those.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rekey/rekey/shared/app"
)

func main() {
	a, err := app.Load(context.Background(), app.FunctionMailWorker)
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(a.MailWorker.Handle)
}
