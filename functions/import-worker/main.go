// Command import-worker applies one chunk of an import's rows: it re-plans
// them against the store and writes each create or update with its audit
// entry, idempotently (shared/imports).
package main

import "github.com/rekey/rekey/shared/app"

func main() {
	app.Start(app.FunctionImportWorker, func(a *app.App) any { return a.ImportWorker.HandleSQS })
}
