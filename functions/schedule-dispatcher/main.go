// Command schedule-dispatcher runs every minute (an EventBridge rule) and
// starts each due scheduled reset exactly once per occurrence, as an
// ordinary bulk task.
package main

import "github.com/rekey/rekey/shared/app"

func main() {
	app.Start(app.FunctionScheduleDispatcher, func(a *app.App) any { return a.Dispatcher.Handle })
}
