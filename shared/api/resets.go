package api

import (
	"context"
	"net/http"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// ResetService resets passwords: by emailed link, by temporary password,
// self-service, and redemption of a link; *resets.Service implements it.
type ResetService interface {
	ResetByLink(ctx context.Context, actor rekey.User, targetID, requestID string) (time.Time, error)
	Resend(ctx context.Context, actor rekey.User, targetID, requestID string) (time.Time, error)
	ResetTemporary(ctx context.Context, actor rekey.User, targetID, temporary, requestID string) (string, error)
	ResetWithToken(ctx context.Context, rawToken, newPassword, requestID string) error
	CheckToken(ctx context.Context, rawToken, requestID string) error
	Forgot(ctx context.Context, login, clientIP, requestID string) error
}

// Reset modes of POST /api/users/{id}/password-reset.
const (
	resetModeLink      = "link"
	resetModeTemporary = "temporary"
)

type resetRequest struct {
	Mode              string `json:"mode"`
	TemporaryPassword string `json:"temporaryPassword"`
}

type resetResponse struct {
	Mode              string     `json:"mode"`
	ExpiresAt         *time.Time `json:"expiresAt,omitempty"`
	TemporaryPassword string     `json:"temporaryPassword,omitempty"`
}

// resetPassword is POST /api/users/{id}/password-reset: 202 {mode, expiresAt}
// for a link, 200 {mode, temporaryPassword?} for a temporary password (the
// password is echoed only when Rekey generated it).
func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req resetRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	switch req.Mode {
	case resetModeLink:
		if req.TemporaryPassword != "" {
			return rekey.FieldError(rekey.ECodeInvalidInput, "temporaryPassword", "A temporary password goes only with mode \"temporary\".")
		}
		expires, err := s.resets.ResetByLink(ctx, p.user, id, RequestID(ctx))
		if err != nil {
			return err
		}
		s.writeJSON(w, r, http.StatusAccepted, resetResponse{Mode: resetModeLink, ExpiresAt: &expires})
		return nil
	case resetModeTemporary:
		generated, err := s.resets.ResetTemporary(ctx, p.user, id, req.TemporaryPassword, RequestID(ctx))
		if err != nil {
			return err
		}
		s.writeJSON(w, r, http.StatusOK, resetResponse{Mode: resetModeTemporary, TemporaryPassword: generated})
		return nil
	default:
		return rekey.FieldError(rekey.ECodeInvalidInput, "mode", "Mode must be \"link\" or \"temporary\".")
	}
}

// resendReset is POST /api/users/{id}/password-reset/resend: a new link that
// voids the previous one.
func (s *Server) resendReset(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := decodeOptionalJSON(r); err != nil {
		return err
	}
	ctx := r.Context()
	expires, err := s.resets.Resend(ctx, p.user, id, RequestID(ctx))
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusAccepted, struct {
		ExpiresAt time.Time `json:"expiresAt"`
	}{expires})
	return nil
}

type forgotRequest struct {
	Login string `json:"login"`
}

// forgotAnswer is the one body POST /api/password/forgot ever gives on
// success, whether or not the account exists.
var forgotAnswer = struct {
	Message string `json:"message"`
}{"If an account matches, we have sent instructions to its email address."}

// forgotPassword is POST /api/password/forgot: 202 with the same body for
// known, unknown and disabled accounts; the email goes out asynchronously.
func (s *Server) forgotPassword(w http.ResponseWriter, r *http.Request) error {
	var req forgotRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Login == "" || len(req.Login) > 254 {
		return rekey.FieldError(rekey.ECodeInvalidInput, "login", "Enter your username or email address.")
	}
	ctx := r.Context()
	if err := s.resets.Forgot(ctx, req.Login, clientIP(r), RequestID(ctx)); err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusAccepted, forgotAnswer)
	return nil
}

type redeemRequest struct {
	Token       string `json:"token"`
	NewPassword string `json:"newPassword"`
}

// redeemReset is POST /api/password/reset: the emailed token and a new
// password; 204, and the user signs in afresh.
func (s *Server) redeemReset(w http.ResponseWriter, r *http.Request) error {
	var req redeemRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := checkTokenShape(req.Token); err != nil {
		return err
	}
	if req.NewPassword == "" {
		return rekey.FieldError(rekey.ECodeInvalidInput, "newPassword", "Enter a new password.")
	}
	ctx := r.Context()
	if err := s.resets.ResetWithToken(ctx, req.Token, req.NewPassword, RequestID(ctx)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// checkTokenShape refuses, before any lookup, a reset token that no link
// could hold: redemption and the check answer it alike.
func checkTokenShape(token string) error {
	if token == "" || len(token) > 512 {
		return rekey.Errorf(rekey.ECodeInvalidToken, "This reset link is invalid or has expired. Ask for a new one.")
	}
	return nil
}

type checkTokenRequest struct {
	Token string `json:"token"`
}

// checkResetToken is POST /api/password/reset/check: whether the emailed
// token would still set a new password, without using it. 200 {valid: true},
// or 400 invalid_token as redemption answers. A POST, never a GET, and it
// writes nothing, so that neither link scanners nor the page itself use up
// a link by looking at it.
func (s *Server) checkResetToken(w http.ResponseWriter, r *http.Request) error {
	var req checkTokenRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := checkTokenShape(req.Token); err != nil {
		return err
	}
	ctx := r.Context()
	if err := s.resets.CheckToken(ctx, req.Token, RequestID(ctx)); err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, struct {
		Valid bool `json:"valid"`
	}{true})
	return nil
}

// decodeOptionalJSON accepts an empty body or an empty JSON object, for
// actions that take no parameters; anything else is refused as usual.
func decodeOptionalJSON(r *http.Request) error {
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return nil
	}
	var empty struct{}
	return decodeJSON(r, &empty)
}
