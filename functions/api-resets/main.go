// Command api-resets resets passwords behind the HTTP API: by emailed link,
// by temporary password, self-service, and redemption of links.
// It serves the routes of shared/api's route table marked api.FunctionResets.
package main

import (
	"github.com/rekey/rekey/shared/api"
	"github.com/rekey/rekey/shared/app"
)

func main() { app.StartHTTP(api.FunctionResets) }
