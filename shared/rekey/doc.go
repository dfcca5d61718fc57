// Package rekey holds Rekey's domain: users, roles, districts, schools,
// sessions, audit entries and the application error type. It imports nothing
// of Rekey's own and nothing of AWS or HTTP, so every adapter (dynamo, api,
// mail, queue) can depend on it and it on none of them.
package rekey
