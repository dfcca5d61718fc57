// Command api-bulk starts bulk password resets: it records the task and
// enqueues it for the planner, answering at once, behind the HTTP API.
// It serves the routes of shared/api's route table marked api.FunctionBulk.
package main

import (
	"github.com/rekey/rekey/shared/api"
	"github.com/rekey/rekey/shared/app"
)

func main() { app.StartHTTP(api.FunctionBulk) }
