// Command api-auth signs users in and out, answers /api/me and changes passwords, behind the HTTP API.
// It serves the routes of shared/api's route table marked api.FunctionAuth.
package main

import (
	"github.com/rekey/rekey/shared/api"
	"github.com/rekey/rekey/shared/app"
)

func main() { app.StartHTTP(api.FunctionAuth) }
