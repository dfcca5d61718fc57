// Command bulk-worker resets the users of one work chunk - email link,
// default password or generated passwords - re-checking the initiator's
// permission for each, and sends the emails paced to the SES sending rate.
package main

import "github.com/rekey/rekey/shared/app"

func main() {
	app.Start(app.FunctionBulkWorker, func(a *app.App) any { return a.BulkWorker.Handle })
}
