package rekey

import (
	"errors"
	"fmt"
)

// Application error codes. The HTTP layer maps each code to a status in one
// table (api.statusFor); the console reads the same codes from API responses.
const (
	ECodeInternal               = "internal"
	ECodeInvalidInput           = "invalid_input"
	ECodeInvalidJSON            = "invalid_json"
	ECodeBodyTooLarge           = "body_too_large"
	ECodeUnknownField           = "unknown_field"
	ECodeInvalidCursor          = "invalid_cursor"
	ECodeInvalidID              = "invalid_id"
	ECodeNotFound               = "not_found"
	ECodeUnauthenticated        = "unauthenticated"
	ECodeInvalidCredentials     = "invalid_credentials"
	ECodePasswordResetRequired  = "password_reset_required"
	ECodePasswordChangeRequired = "password_change_required"
	ECodeTooManyAttempts        = "too_many_attempts"
	ECodeForbidden              = "forbidden"
	ECodeCSRF                   = "csrf_failed"
	ECodeVersionConflict        = "version_conflict"
	ECodeUsernameTaken          = "username_taken"
	ECodeEmailTaken             = "email_taken"
	ECodeWeakPassword           = "weak_password"
	ECodeInvalidToken           = "invalid_token"
	ECodeNoEmail                = "no_email"
	ECodeNoPendingReset         = "no_pending_reset"
	ECodeMethodNotAllowed       = "method_not_allowed"
	ECodeUnsupportedMedia       = "unsupported_media_type"
	ECodeConflict               = "conflict"
	ECodeResultsTooLarge        = "results_too_large"
	ECodeIdempotencyKeyReused   = "idempotency_key_reused"
	// ECodeImportInvalid: an import file has at least one error row; it
	// is refused whole and the answer lists every error (shared/roster).
	ECodeImportInvalid = "import_invalid"
	// ECodeSelfApproval: the creator of a task awaiting approval tried to
	// approve it; a second person must.
	ECodeSelfApproval = "self_approval"
	// ECodeNotAwaitingApproval: approve or reject of a task that is not
	// (or no longer) awaiting approval.
	ECodeNotAwaitingApproval = "not_awaiting_approval"
	// ECodeInvalidCode: a parent code that is unknown, used, expired or of
	// a student the caller may not reach; one answer for all of them.
	ECodeInvalidCode = "invalid_code"
	// ECodeExternalIDTaken: another user of the district already has this
	// externalId (the id of its student information system).
	ECodeExternalIDTaken = "external_id_taken"
	// ECodeUseUpload: an import body above the direct limit; the caller
	// must upload it with POST /api/imports/uploads.
	ECodeUseUpload         = "import_too_large"
	ECodeNothingToFollowUp = "nothing_to_follow_up"
	ECodeUnknownAction     = "unknown_action"
)

// Error is the one application error type: a stable machine-readable code, a
// message safe to show to the caller, and optionally the input field at fault.
// Anything that is not an *Error reaching the HTTP layer is logged and shown
// as "Internal error".
type Error struct {
	Code    string
	Message string
	Field   string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("rekey error: code=%s field=%s message=%s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("rekey error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an *Error about one input field, used for 422 answers.
func FieldError(code, field, message string) *Error {
	return &Error{Code: code, Field: field, Message: message}
}

// ErrorCode returns the code of the *Error in err's chain, or ECodeInternal.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ECodeInternal
}

// ErrorMessage returns the caller-safe message of err, hiding internal errors.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// Sentinel errors that stores and services return, wrapped with context.
// They are *Error values so that they map to a status without translation.
var (
	// ErrNotFound: the item does not exist (or is outside the caller's scope).
	ErrNotFound = &Error{Code: ECodeNotFound, Message: "Not found."}
	// ErrVersionConflict: a conditional write found a newer version.
	ErrVersionConflict = &Error{Code: ECodeVersionConflict, Message: "The record was changed by someone else; reload it and try again."}
	// ErrUsernameTaken: another user already holds this username.
	ErrUsernameTaken = &Error{Code: ECodeUsernameTaken, Field: "username", Message: "That username is already in use."}
	// ErrEmailTaken: another user already holds this email address.
	ErrEmailTaken = &Error{Code: ECodeEmailTaken, Field: "email", Message: "That email address is already in use."}
	// ErrInvalidCode: the parent code is unknown, used or expired.
	ErrInvalidCode = &Error{Code: ECodeInvalidCode, Field: "parentCode", Message: "That parent code is not valid. Codes can be used once and expire after 30 days; ask the school or your child for a new one."}
	// ErrExternalIDTaken: another user of the district already holds this
	// externalId.
	ErrExternalIDTaken = &Error{Code: ECodeExternalIDTaken, Field: "externalId", Message: "Another user of the district already has that external id."}
	// ErrConflict: a conditional write failed for a reason other than version.
	ErrConflict = &Error{Code: ECodeConflict, Message: "The request conflicts with the current state; try again."}
	// ErrTaskEnded: a bulk task's worker found the task cancelled or
	// failed (a lease renewal that checks it): it must stop sending.
	ErrTaskEnded = &Error{Code: ECodeConflict, Message: "The task has ended."}
	// ErrForbidden: the actor may not do this to this target.
	ErrForbidden = &Error{Code: ECodeForbidden, Message: "You do not have permission to do that."}
	// ErrIdempotencyKeyReused: an Idempotency-Key came back with another
	// request than the one it started (SECURITY.md 19).
	ErrIdempotencyKeyReused = &Error{Code: ECodeIdempotencyKeyReused, Field: "Idempotency-Key",
		Message: "This Idempotency-Key was already used for a different request; send a new key for a new request."}
)
