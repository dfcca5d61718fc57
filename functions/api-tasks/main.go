// Command api-tasks serves the task centre behind the HTTP API: tasks with
// live counters, cancelling, and per-user results as JSON or a CSV file.
// It serves the routes of shared/api's route table marked api.FunctionTasks.
package main

import (
	"github.com/rekey/rekey/shared/api"
	"github.com/rekey/rekey/shared/app"
)

func main() { app.StartHTTP(api.FunctionTasks) }
