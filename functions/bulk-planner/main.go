// Command bulk-planner expands a bulk reset's selection, page by page and
// within the initiator's scope, into work chunks of about a hundred users on
// the work queue. It resumes where it stopped if retried.
package main

import "github.com/rekey/rekey/shared/app"

func main() {
	app.Start(app.FunctionBulkPlanner, func(a *app.App) any { return a.BulkPlanner.Handle })
}
