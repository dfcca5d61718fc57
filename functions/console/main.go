// Command console serves the admin console - its pages and assets - from
// the same origin as the API: every GET outside /api/.
package main

import (
	"github.com/rekey/rekey/shared/api"
	"github.com/rekey/rekey/shared/app"
)

func main() { app.StartHTTP(api.FunctionConsole) }
