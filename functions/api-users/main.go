// Command api-users lists, reads and edits user records and their activity, behind the HTTP API.
// It serves the routes of shared/api's route table marked api.FunctionUsers.
package main

import (
	"github.com/rekey/rekey/shared/api"
	"github.com/rekey/rekey/shared/app"
)

func main() { app.StartHTTP(api.FunctionUsers) }
