// Command bulk-sweeper runs every minute (an EventBridge rule) and puts
// back on the work queue the bulk chunks whose worker died holding them,
// so that their users, whose passwords may already be voided, get their
// links within about a minute instead of after the queue's visibility
// timeout.
package main

import "github.com/rekey/rekey/shared/app"

func main() {
	app.Start(app.FunctionBulkSweeper, func(a *app.App) any { return a.BulkSweeper.Handle })
}
