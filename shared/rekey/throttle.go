package rekey

import "time"

// Throttle is the failure counter of one key, e.g. "ACCOUNT#<login>" or
// "CLIENT#<ip>" (SECURITY.md 5). Failures counts the failures of the current
// window, which started at FirstFailureAt; LockedUntil is set while a lock is
// in force. The zero value (with Key set) means "no failures". It is a domain
// type so that every store (DynamoDB, in memory) and the sign-in service
// share one definition.
type Throttle struct {
	Key            string
	Failures       int
	FirstFailureAt time.Time
	LastFailureAt  time.Time
	LockedUntil    time.Time
}

// AttemptLimit says when one more attempt of a key may be counted. Attempts
// count in a window that opens at the first one and lasts Window; at most Max
// are counted in one window; and after n counted attempts the next must come
// at least Wait(n) after the last one (nil: no wait).
type AttemptLimit struct {
	Window time.Duration
	Max    int
	Wait   func(failures int) time.Duration
}
