// Package imports brings a district's people in: the dry run and the start
// of an import (POST /api/imports), presigned uploads for large files, and
// the worker that applies an import chunk by chunk. Reading and planning
// are shared/roster's; this package stores, queues and writes.
//
//	POST /api/imports ─▶ Service.Start ── roster.Plan (whole file) ── errors? ─▶ 422 import_invalid, nothing written
//	                          │ no errors
//	                          ├─ new schools (with ExternalID)
//	                          ├─ chunk items: RowsPerChunk rows each ─┐
//	                          ├─ task (kind import) + job, one transaction
//	                          └─ one message per chunk ──▶ queue ──▶ Worker.Handle(chunk)
//	                                                                   re-plans the chunk's rows, writes each user
//	                                                                   (create / update with audit, conditional),
//	                                                                   then results + task counters, once
//
// # Idempotency
//
// A chunk is re-planned from the stored rows every time it is worked on,
// so a redelivered message, or a worker that died midway, finds the rows it
// already wrote unchanged and writes only the rest. A created user's id is
// derived from the task and row (rowUserID), so two workers racing on the
// same chunk collide on the same user item and its username claim instead
// of creating the user twice, and the loser can still report the row as
// created. Updates are conditional on the version the plan read; a
// conflict re-plans the row once. The chunk's results and the task's
// counters are written once, conditional on the chunk not being done.
//
// # Memory
//
// Start holds the whole file's rows and plan (about 1 KB a row); a worker
// holds one chunk (RowsPerChunk rows) whatever the file's size.
package imports
