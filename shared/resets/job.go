package resets

import (
	"fmt"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// Errors of the reset flows. They are *rekey.Error values, so the HTTP layer
// maps them by code.
var (
	// ErrInvalidToken answers every unusable token alike: unknown, forged,
	// expired, superseded, used, or for a disabled account.
	ErrInvalidToken = &rekey.Error{Code: rekey.ECodeInvalidToken, Message: "This password reset link is invalid or has expired. Ask for a new one."}
	// ErrNoEmail: a reset link needs an email address.
	ErrNoEmail = &rekey.Error{Code: rekey.ECodeNoEmail, Message: "This user has no email address, so no reset link can be sent. Set a temporary password instead."}
	// ErrNoPendingReset: there is no reset link to resend.
	ErrNoPendingReset = &rekey.Error{Code: rekey.ECodeNoPendingReset, Message: "This user has no pending password reset link to resend."}
	// errTooManyRequests is inside every TooManyRequestsError; its message
	// is the same for every login.
	errTooManyRequests = &rekey.Error{Code: rekey.ECodeTooManyAttempts, Message: "Too many password reset requests. Wait a little and try again."}
)

// TooManyRequestsError refuses a forgot-password request from a client that
// asked too often. It unwraps to a *rekey.Error too_many_attempts, and says
// how long to wait (the HTTP layer sends it as Retry-After).
type TooManyRequestsError struct {
	Wait time.Duration
	// Err, when set, is what the client is told instead of the
	// forgot-password text (another throttled request, such as a parent
	// code, says what it throttles).
	Err *rekey.Error
}

func (e *TooManyRequestsError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("too many requests (%s), retry after %s", e.Err.Message, e.Wait)
	}
	return fmt.Sprintf("resets: too many forgot-password requests, retry after %s", e.Wait)
}

// Unwrap returns the application error, so rekey.ErrorCode finds the code.
func (e *TooManyRequestsError) Unwrap() error {
	if e.Err != nil {
		return e.Err
	}
	return errTooManyRequests
}

// RetryAfter is how long the client should wait before asking again.
func (e *TooManyRequestsError) RetryAfter() time.Duration { return e.Wait }
