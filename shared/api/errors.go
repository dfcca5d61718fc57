package api

import (
	"errors"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/roster"
)

// statusByCode is the one table from application error code to HTTP status.
// Syntactic problems (the request's JSON, an unknown field, a bad id or
// cursor) are 400; a well-formed value that is not acceptable for its field
// (rekey.ECodeInvalidInput, always with Field) is 422.
var statusByCode = map[string]int{
	rekey.ECodeInvalidJSON:            http.StatusBadRequest,
	rekey.ECodeUnknownField:           http.StatusBadRequest,
	rekey.ECodeInvalidCursor:          http.StatusBadRequest,
	rekey.ECodeInvalidID:              http.StatusBadRequest,
	rekey.ECodeInvalidToken:           http.StatusBadRequest,
	rekey.ECodeInvalidCode:            http.StatusBadRequest,
	rekey.ECodeUnknownAction:          http.StatusBadRequest,
	rekey.ECodeUnauthenticated:        http.StatusUnauthorized,
	rekey.ECodeInvalidCredentials:     http.StatusUnauthorized,
	rekey.ECodeForbidden:              http.StatusForbidden,
	rekey.ECodePasswordResetRequired:  http.StatusForbidden,
	rekey.ECodePasswordChangeRequired: http.StatusForbidden,
	rekey.ECodeCSRF:                   http.StatusForbidden,
	rekey.ECodeSelfApproval:           http.StatusForbidden,
	rekey.ECodeNotAwaitingApproval:    http.StatusConflict,
	rekey.ECodeNotFound:               http.StatusNotFound,
	rekey.ECodeMethodNotAllowed:       http.StatusMethodNotAllowed,
	rekey.ECodeVersionConflict:        http.StatusConflict,
	rekey.ECodeUsernameTaken:          http.StatusConflict,
	rekey.ECodeEmailTaken:             http.StatusConflict,
	rekey.ECodeExternalIDTaken:        http.StatusConflict,
	rekey.ECodeConflict:               http.StatusConflict,
	rekey.ECodeNoPendingReset:         http.StatusConflict,
	rekey.ECodeBodyTooLarge:           http.StatusRequestEntityTooLarge,
	rekey.ECodeUseUpload:              http.StatusRequestEntityTooLarge,
	rekey.ECodeUnsupportedMedia:       http.StatusUnsupportedMediaType,
	rekey.ECodeInvalidInput:           http.StatusUnprocessableEntity,
	rekey.ECodeWeakPassword:           http.StatusUnprocessableEntity,
	rekey.ECodeNoEmail:                http.StatusUnprocessableEntity,
	rekey.ECodeResultsTooLarge:        http.StatusUnprocessableEntity,
	rekey.ECodeIdempotencyKeyReused:   http.StatusUnprocessableEntity,
	rekey.ECodeImportInvalid:          http.StatusUnprocessableEntity,
	rekey.ECodeNothingToFollowUp:      http.StatusConflict,
	rekey.ECodeTooManyAttempts:        http.StatusTooManyRequests,
	rekey.ECodeInternal:               http.StatusInternalServerError,
}

// StatusFor is the HTTP status of an application error code; unknown codes
// are 500.
func StatusFor(code string) int {
	if status, ok := statusByCode[code]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// ErrorStatuses returns a copy of the code-to-status table, for the console
// and for documentation.
func ErrorStatuses() map[string]int { return maps.Clone(statusByCode) }

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
	// Errors are the rows of an import refused with import_invalid.
	Errors []roster.Issue `json:"errors,omitempty"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// retryAfterError is an error that says when to try again (auth's
// TooManyAttemptsError).
type retryAfterError interface {
	error
	RetryAfter() time.Duration
}

// writeError answers err: an application error with its code's status, any
// other error as a logged 500 "Internal error.".
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	detail := errorDetail{Code: rekey.ErrorCode(err), Message: rekey.ErrorMessage(err)}
	var e *rekey.Error
	if errors.As(err, &e) {
		detail.Field = e.Field
	}
	status := StatusFor(detail.Code)
	if status == http.StatusInternalServerError {
		s.log.ErrorContext(r.Context(), "internal error", "error", err, "method", r.Method, "route", r.Pattern)
		detail = errorDetail{Code: rekey.ECodeInternal, Message: "Internal error."}
	}
	var ra retryAfterError
	if errors.As(err, &ra) {
		seconds := int((ra.RetryAfter() + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(seconds, 1)))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rekey"`)
	}
	body := errorBody{Error: detail}
	if invalid, ok := roster.AsInvalid(err); ok {
		body.Errors = invalid.Issues
	}
	s.writeJSON(w, r, status, body)
}

// writeJSON answers v as JSON with status.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := marshal(v)
	if err != nil {
		s.log.ErrorContext(r.Context(), "encode response", "error", err)
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"internal","message":"Internal error."}}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}

// writeAttachment answers 200 with body as a file to save under filename.
// Like writeJSON it ignores a failed write: the status is sent by then, so
// no error answer could follow.
func writeAttachment(w http.ResponseWriter, contentType, filename string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// fail is a shorthand for an application error without a field.
func fail(code, message string) *rekey.Error { return &rekey.Error{Code: code, Message: message} }
