// Package imports brings a district's people in: the dry run and the start
// of an import (POST /api/imports), presigned uploads for large files, and
// the worker that applies an import chunk by chunk. Reading and planning
// are shared/roster's; this package stores, queues and writes.
//
//	POST /api/imports ─▶ Service.Start ── roster.SummarizeRows (file read twice; links kept) ── errors? ─▶ 422 import_invalid, nothing written
//	                          │ no errors
//	                          ├─ new schools (with ExternalID)
//	                          ├─ third reading: chunk items, RowsPerChunk rows each, written as they fill (links mirrored) ─┐
//	                          ├─ task (kind import) + job, one transaction
//	                          └─ one message per chunk ──▶ queue ──▶ Worker.Handle(chunk)
//	                                                                   re-plans the chunk's rows (the school list read
//	                                                                   once per import, not per chunk), writes the users
//	                                                                   ~20 rows a transaction (WriteImportUsers: each
//	                                                                   row's user, claims and audit whole), links,
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
// created. Updates are conditional on the version the plan read. Rows
// are written in batches, each row's items in one transaction; a row whose
// condition fails is dropped from its batch (the rest is written) and then
// re-planned once and written on its own. The chunk's results and the task's
// counters are written once, conditional on the chunk not being done.
//
// # Memory
//
// Start, like the dry run, holds the file's bytes but not its rows: it
// reads the file three times (roster.SummarizeRows twice, then once to
// write the chunks as they fill), keeping the fingerprints the uniqueness
// checks need, counts rather than a change per row, and the file's
// guardian links (linkIndex, an entry per link). A worker holds one chunk
// (RowsPerChunk rows) whatever the file's size.
package imports
