// Command api-schedules saves, lists, pauses and deletes scheduled bulk
// resets, behind the HTTP API.
// It serves the routes of shared/api's route table marked api.FunctionSchedules.
package main

import (
	"github.com/rekey/rekey/shared/api"
	"github.com/rekey/rekey/shared/app"
)

func main() { app.StartHTTP(api.FunctionSchedules) }
