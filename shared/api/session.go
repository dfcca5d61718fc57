package api

import (
	"net"
	"net/http"
	"strings"

	"github.com/rekey/rekey/shared/auth"
	"github.com/rekey/rekey/shared/rekey"
)

// SessionCookie is the console's session cookie. The __Host- prefix makes
// browsers insist on Secure, Path=/ and no Domain.
const SessionCookie = "__Host-rekey_session"

// CSRFHeader carries the CSRF token with unsafe requests that authenticate
// by cookie.
const CSRFHeader = "X-CSRF-Token"

var (
	errCSRF = fail(rekey.ECodeCSRF, "The request is missing its CSRF token or the token is wrong.")
	// errPasswordChangeRequired refuses everything but changing the
	// password, /api/me and logout while a change is forced.
	errPasswordChangeRequired = fail(rekey.ECodePasswordChangeRequired, "Choose a new password before continuing.")
)

// access says which sessions a route accepts.
type access int

const (
	fullAccess           access = iota // sessions without a forced password change
	duringPasswordChange               // any session, even with a forced change pending
)

// principal is the signed-in caller of a request.
type principal struct {
	user    rekey.User
	session rekey.Session
	// cookieToken is the session token when it came in the session
	// cookie (empty for bearer tokens).
	cookieToken string
}

// signedInHandler is a handler for a signed-in caller.
type signedInHandler func(w http.ResponseWriter, r *http.Request, p principal) error

// signedIn authenticates a request before h sees it: by bearer token, or by
// session cookie together with the CSRF header on unsafe methods. Sessions
// with a forced password change pending pass only routes that allow it.
func (s *Server) signedIn(a access, h signedInHandler) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.authenticate(r)
		if err != nil {
			return err
		}
		if a == fullAccess && p.user.MustChangePassword {
			return errPasswordChangeRequired
		}
		return h(w, r, p)
	}
}

// authenticate finds r's session and checks the CSRF token when it came in
// the cookie.
func (s *Server) authenticate(r *http.Request) (principal, error) {
	token, byCookie, err := credentials(r)
	if err != nil {
		return principal{}, err
	}
	user, session, err := s.auth.Authenticate(r.Context(), token)
	if err != nil {
		return principal{}, err
	}
	if byCookie && !safeMethod(r.Method) && !auth.CSRFMatches(session, r.Header.Get(CSRFHeader)) {
		return principal{}, errCSRF
	}
	p := principal{user: user, session: session}
	if byCookie {
		p.cookieToken = token
	}
	return p, nil
}

// credentials returns the session token of r: the Authorization bearer
// token when that header is present (a malformed one fails), else the
// session cookie.
func credentials(r *http.Request) (token string, byCookie bool, err error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		token = strings.TrimSpace(token)
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return "", false, auth.ErrUnauthenticated
		}
		return token, false, nil
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		return c.Value, true, nil
	}
	return "", false, auth.ErrUnauthenticated
}

// safeMethod reports whether method changes nothing (no CSRF check).
func safeMethod(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// clientIP is the address of the client: RemoteAddr, which the Lambda
// adapter sets from API Gateway's source IP. Forwarded headers are not
// trusted.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// setSessionCookie gives the browser the session token: HttpOnly (no
// script reads it), Secure, SameSite=Strict, for the whole origin, for the
// browser session only (the server enforces the timeouts).
func setSessionCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: token, Path: "/",
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
	})
}

// clearSessionCookie tells the browser to forget the session cookie.
func clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
	})
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type loginResponse struct {
	Token              string     `json:"token"`
	CSRFToken          string     `json:"csrfToken"`
	MustChangePassword bool       `json:"mustChangePassword"`
	User               rekey.User `json:"user"`
}

// login is POST /api/auth/login: 200 with the tokens (and the session
// cookie), or the same 401 for an unknown user and a wrong password.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(req.Username) == "":
		return rekey.FieldError(rekey.ECodeInvalidInput, "username", "Enter your username or email address.")
	case req.Password == "":
		return rekey.FieldError(rekey.ECodeInvalidInput, "password", "Enter your password.")
	}
	ctx := r.Context()
	res, err := s.auth.Login(ctx, req.Username, req.Password, clientIP(r), RequestID(ctx))
	if err != nil {
		s.log.InfoContext(ctx, "sign-in refused", "login", loginRef(req.Username), "code", rekey.ErrorCode(err))
		return err
	}
	setSessionCookie(w, res.Token)
	s.writeJSON(w, r, http.StatusOK, loginResponse{
		Token: res.Token, CSRFToken: res.CSRFToken, MustChangePassword: res.MustChangePassword, User: res.User,
	})
	return nil
}

// logout is POST /api/auth/logout: it ends the caller's session (a cookie
// session only with its CSRF token) and clears the cookie. It answers 204
// even when the session had already ended, so a client can always sign out.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	token, byCookie, err := credentials(r)
	if err == nil {
		_, session, authErr := s.auth.Authenticate(r.Context(), token)
		switch {
		case authErr == nil && byCookie && !auth.CSRFMatches(session, r.Header.Get(CSRFHeader)):
			return errCSRF
		case authErr != nil && rekey.ErrorCode(authErr) != rekey.ECodeUnauthenticated:
			return authErr
		}
		if err := s.auth.Logout(r.Context(), token); err != nil {
			return err
		}
	}
	clearSessionCookie(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// me is GET /api/me: the signed-in user.
func (s *Server) me(w http.ResponseWriter, r *http.Request, p principal) error {
	s.writeJSON(w, r, http.StatusOK, p.user)
	return nil
}

// csrfToken is GET /api/auth/csrf: {csrfToken} of the caller's cookie
// session, for a console tab opened after sign-in (each tab keeps the
// token in its own sessionStorage), or {csrfToken: null} when the request
// carries no valid session, so that the sign-in page loads without an
// error. Other origins cannot read the answer; bearer-token clients need
// no CSRF token and get 422.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) error {
	// Browsers say where a request comes from; only the console's own
	// pages (or the address bar) may ask. The cookie is SameSite=Strict
	// anyway.
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return fail(rekey.ECodeCSRF, "Cross-origin request refused.")
	}
	var answer struct {
		CSRFToken *string `json:"csrfToken"`
	}
	p, err := s.authenticate(r)
	switch {
	case rekey.ErrorCode(err) == rekey.ECodeUnauthenticated:
	case err != nil:
		return err
	case p.cookieToken == "":
		return fail(rekey.ECodeInvalidInput, "Only sessions kept in the console's cookie use a CSRF token.")
	default:
		token := auth.CSRFToken(p.cookieToken)
		answer.CSRFToken = &token
	}
	s.writeJSON(w, r, http.StatusOK, answer)
	return nil
}

type passwordChangeRequest struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
}

// changePassword is POST /api/password/change: 204, after which every
// session of the user, this one included, has ended (SECURITY.md 13).
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, p principal) error {
	var req passwordChangeRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	switch {
	case req.CurrentPassword == "":
		return rekey.FieldError(rekey.ECodeInvalidInput, "currentPassword", "Enter your current password.")
	case req.NewPassword == "":
		return rekey.FieldError(rekey.ECodeInvalidInput, "newPassword", "Enter a new password.")
	}
	ctx := r.Context()
	if err := s.auth.ChangePassword(ctx, p.user, req.CurrentPassword, req.NewPassword, clientIP(r), RequestID(ctx)); err != nil {
		return err
	}
	clearSessionCookie(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
