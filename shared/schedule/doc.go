// Package schedule is Rekey's scheduled bulk resets (PRODUCT.md "Scheduled
// bulk resets"): saved bulk resets that run on an EventBridge-syntax
// expression in a time zone, the service that creates, lists, edits and
// deletes them, and the dispatcher that starts each due occurrence as an
// ordinary bulk task, exactly once.
//
// # Expressions
//
// Package cron (shared/schedule/cron) reads the expressions,
// rate(N minute|minutes|hour|hours|day|days) and cron(Minutes Hours
// Day-of-month Month Day-of-week Year) with EventBridge's rules, and walks
// their occurrences. Cron expressions follow the wall clock of the
// schedule's IANA time zone, across daylight-saving changes: a skipped time
// runs at the end of the gap, a repeated time runs at its first instant,
// each once. Rates are fixed intervals counted from the schedule's creation.
// What is a schedule's rule rather than the syntax's stays here: a new or
// edited schedule runs at most once an hour (MinInterval) and must run again
// after now, and cron's plain errors become 422 answers on the expression
// or timezone field.
//
// # Who may do what
//
// Only active admins (school_admin and up) create schedules. A schedule
// belongs to its creator's district and always runs with the creator's
// authority as it stands at run time, never the editor's. It is visible to,
// and may be edited, paused or deleted by, its creator, the district admins
// of its district, and support: users whose scope covers the creator's.
// Nobody else learns it exists (404); in particular two school admins of one
// school do not see each other's schedules (deny by default: equal scope is
// not authority over the other's saved resets). A support user's schedule
// reaches every district, so it belongs to none and only support sees it.
// Being the creator grants nothing by itself (SECURITY.md 21): a school
// admin's schedule is bound to their school when saved, and a creator who
// was demoted or moved to another school or district no longer sees it,
// and its runs fail, saying why.
//
// # Why no default password
//
// A schedule refuses the default_password delivery. It would have to keep
// the password, in clear or reversibly encrypted, in the table for as long
// as the schedule exists (months or years), readable by anyone who can read
// the table or its backups, and it would set the same known password on
// every run; SECURITY.md keeps only hashes of secrets. email_link and
// generated_passwords make fresh secrets at run time instead.
//
// # Dispatching
//
// See Dispatcher: an EventBridge rule (rate(1 minute)) or the local runner's
// ticker calls Run, which claims each due occurrence with a conditional
// write before starting its task, so that overlapping or repeated
// invocations start it once.
package schedule
