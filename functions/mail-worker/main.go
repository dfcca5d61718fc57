// Command mail-worker sends Rekey's email from the mail queue: reset links
// (making each token at send time), single sign-on notices and
// password-changed notices, through SES. It reports only the failed messages
// of a batch (ReportBatchItemFailures), so SQS retries just those.
package main

import "github.com/rekey/rekey/shared/app"

func main() {
	app.Start(app.FunctionMailWorker, func(a *app.App) any { return a.MailWorker.Handle })
}
