// Command mail-events records what SES says later about the email Rekey
// sent — delivered, bounced, complained — against the task result of the
// user it went to, matched by SES's message id. An EventBridge rule on the
// configuration set's events invokes it; failures go to its DLQ.
package main

import "github.com/rekey/rekey/shared/app"

func main() {
	app.Start(app.FunctionMailEvents, func(a *app.App) any { return a.MailEvents.Handle })
}
