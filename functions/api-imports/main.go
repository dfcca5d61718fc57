// Command api-imports runs roster and users-CSV imports behind the HTTP API:
// dry runs, starts, presigned uploads and per-row results.
// It serves the routes of shared/api's route table marked api.FunctionImports.
package main

import (
	"github.com/rekey/rekey/shared/api"
	"github.com/rekey/rekey/shared/app"
)

func main() { app.StartHTTP(api.FunctionImports) }
