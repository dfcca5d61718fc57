// Package roster reads the files a district brings its people in with and
// plans what importing them would change: a OneRoster 1.1 CSV bundle (a zip
// of manifest.csv, orgs.csv and users.csv) or a plain users CSV ("update
// emails"). It is pure: no AWS, no HTTP, no storage. The API answers a dry
// run with Plan's Summary; the import task applies Plan's Changes.
//
//	zip (io.ReaderAt) ──── ReadBundle ───┐
//	                                     ├──▶ *File ── Plan(ctx, f, dir, actor) ──▶ *Result
//	users CSV (io.Reader) ─ ReadUsersCSV ┘    rows, orgs, issues,  looks up existing      Summary: counts, errors,
//	                                          ignored files and    users through dir,     ignored files and columns
//	                                          columns              BatchSize rows a call  Schools, then Changes: what to write
//
// # Reading
//
// ReadBundle reads the zip's central directory and decompresses only
// manifest.csv, orgs.csv and users.csv, each once, streaming through
// encoding/csv into compact Rows; the other files of a bundle are never
// decompressed and are listed in File.IgnoredFiles. Columns Rekey does not
// use (unknown ones, and OneRoster's middleName, sms, phone, password …) are
// listed in File.IgnoredColumns, never stored; a password column is never
// read. Limits bound the work a hostile file can cause (see DefaultLimits):
// the number of zip entries, the uncompressed bytes actually read (the
// sizes a zip declares are not trusted), the number of user rows and the
// number of errors listed.
//
// Text must be UTF-8 (a leading byte order mark is dropped, CRLF and LF
// both work). A file in another encoding — typically Windows-1252 from
// "Save as CSV" in Excel — is refused with invalid_encoding and a message
// saying how to save it as UTF-8, rather than decoded by guess: a wrong
// guess would store misspelt names silently, and invalid UTF-8 is never
// stored. Values are kept as text exactly as given (after trimming), so a
// cell like =HYPERLINK(…) is stored as that text; anything that writes such
// values back into a spreadsheet must neutralise them (the bulk results CSV
// does, SECURITY.md 30).
//
// # Mapping (API.md "Creating and importing users")
//
// OneRoster: sourcedId → externalId; givenName/familyName → first/last
// name; orgs of type school → schools (matched by sourcedId, then by name
// for a school that has none yet; created when new, by district admins
// only); the org of type district is the importer's district; a user's
// school is the first school among its orgSourcedIds (a department counts
// as its parent school). Roles: student, teacher; administrator → school
// admin, or district admin when the user's only org is the district;
// guardian, parent and relative → RoleGuardian, with agentSourcedIds kept
// as Change.GuardianLinks. grades: KG → K, 01…12 → 1…12, other CEDS codes
// (PK, TK, IT, PR, PS, UG, 13, Other) as given; kept for students only.
// enabledUser=false or status=tobedeleted → disabled, enabledUser=true
// re-enables a disabled account. Nothing is ever deleted: users missing from
// a bulk file stay as they are, and bulk and delta files are read alike.
//
// A blank cell never clears a field: a student information system that
// has no student emails must not wipe the ones an admin filled in with a
// users CSV.
//
// # Planning
//
// Plan matches each row to an existing user by externalId (within the
// district), then by username (anywhere: usernames are global), and judges
// every create and update with the permission matrix (authz.CheckUpdate),
// so an import may do exactly what the actor could do by hand: district
// admins import for their district, school admins only their school's rows
// (rows for other schools are errors). A username or email held by another
// user — in this district or another — is an error, and so are two rows
// that match the same user. Re-importing the same data plans only
// unchanged rows. A file with any error must be refused whole
// (Result.Err); Plan itself writes nothing.
//
// # Wiring
//
//	f, err := roster.ReadBundle(bytes.NewReader(body), int64(len(body)), roster.Limits{}) // or an S3 object as io.ReaderAt
//	f, err := roster.ReadUsersCSV(r.Body, roster.Limits{})                                 // text/csv
//	res, err := roster.Plan(ctx, f, store, actor) // store implements roster.Directory
//	dry run: 200 res.Summary
//	apply:   if err := res.Err(); err != nil → 422 import_invalid with roster.AsInvalid(err).Issues;
//	         else write res.Schools, then each res.Changes[i] (Change.Apply on the stored user,
//	         conditional on Change.Version; a create applies to rekey.User{DistrictID: …}).
//
// Re-planning is cheap and deterministic apart from new schools' ids, so a
// worker that resumes after a crash plans again and finds what it already
// wrote as unchanged. GenerateBundle makes large bundles for benchmarks.
package roster
