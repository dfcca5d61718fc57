package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/rekey/rekey/shared/rekey"
)

// ErrInvalidCredentials is the one answer to a failed sign-in, whatever
// failed: unknown user, wrong password, disabled account. Keeping it one
// value keeps the responses byte-identical (SECURITY.md 5).
var ErrInvalidCredentials = &rekey.Error{
	Code:    rekey.ECodeInvalidCredentials,
	Message: "The username or password is incorrect.",
}

// ErrPasswordResetRequired answers a sign-in with the password an
// administrator's link reset voided.
var ErrPasswordResetRequired = &rekey.Error{
	Code:    rekey.ECodePasswordResetRequired,
	Message: "Your password was reset by an administrator. Use the link in the email you were sent to choose a new one.",
}

// maxLoginLen is the longest sign-in name that can belong to anyone: an
// email address is at most 254 characters, a username 64.
const maxLoginLen = 254

// LoginResult is a successful sign-in. Token and CSRFToken are shown to the
// client once; only their SHA-256 hashes are stored.
type LoginResult struct {
	Token     string
	CSRFToken string
	// MustChangePassword: the session may only change the password, read
	// /api/me and sign out until the user chooses a new password.
	MustChangePassword bool
	User               rekey.User
}

// Login checks a sign-in name (username, or email address when it contains
// '@'; case-insensitive) and password, and opens a session. It fails with
// ErrInvalidCredentials for an unknown user, a wrong password or a disabled
// account alike, with ErrPasswordResetRequired for the password an
// administrator voided, and with a *TooManyAttemptsError while the account
// or client is throttled.
//
// The attempt is counted against the account (the user, whichever of their
// names was typed) and the client before the password is checked, so that
// parallel guesses cannot all slip past the limits (SECURITY.md 5). An
// unknown name and a wrong password cost the same store requests — one read
// of the name, the two reservations, one audit entry — so that neither the
// answer nor its timing says whether the user exists.
func (s *Service) Login(ctx context.Context, login, password, clientIP, requestID string) (LoginResult, error) {
	login = strings.ToLower(strings.TrimSpace(login))
	if len(login) > maxLoginLen {
		login = ""
	}
	user, found, err := s.lookup(ctx, login)
	if err != nil {
		return LoginResult{}, err
	}
	r, err := s.reserve(ctx, accountKey(login, user, found), clientKey(clientIP))
	if err != nil {
		return LoginResult{}, err
	}
	if !found {
		s.hasher.Burn(password)
		return LoginResult{}, s.refuse(ctx, r, s.unknownNameEntry(login, requestID), "unknown sign-in name", clientIP)
	}

	// A reset_required user's password was voided; only the voided one is
	// checked, and only to say why it no longer works. The attempt stays
	// counted: the voided password opens nothing.
	hash := user.PasswordHash
	if user.Status == rekey.StatusResetRequired {
		hash = user.VoidedPasswordHash
	}
	ok, needsRehash := s.verify(ctx, hash, password)
	entry := s.auditEntry(user, rekey.ActionLoginFailure, rekey.OutcomeFailure, "", requestID)
	switch {
	case user.Status == rekey.StatusResetRequired && ok:
		s.audit(ctx, s.auditFrom(user, rekey.ActionLoginFailure, rekey.OutcomeDenied, "password was reset by an administrator", clientIP, requestID))
		return LoginResult{}, ErrPasswordResetRequired
	case !ok:
		return LoginResult{}, s.refuse(ctx, r, entry, "wrong password", clientIP)
	case user.Status != rekey.StatusActive:
		return LoginResult{}, s.refuse(ctx, r, entry, "account "+string(user.Status), clientIP)
	}

	s.succeeded(ctx, r)
	if needsRehash {
		user = s.rehash(ctx, user, password)
	}
	if user, err = s.flagOutdated(ctx, user, requestID); err != nil {
		return LoginResult{}, err
	}
	token, csrf, err := s.openSession(ctx, user)
	if err != nil {
		return LoginResult{}, err
	}
	s.audit(ctx, s.auditFrom(user, rekey.ActionLoginSuccess, rekey.OutcomeSuccess, "", clientIP, requestID))
	return LoginResult{Token: token, CSRFToken: csrf, MustChangePassword: user.MustChangePassword, User: user}, nil
}

// lookup finds the user a normalised sign-in name belongs to. found is false
// for an empty name and for one nobody has.
func (s *Service) lookup(ctx context.Context, login string) (user rekey.User, found bool, err error) {
	if login == "" {
		return rekey.User{}, false, nil
	}
	if strings.Contains(login, "@") {
		user, err = s.store.GetUserByEmail(ctx, login)
	} else {
		user, err = s.store.GetUserByUsername(ctx, login)
	}
	switch {
	case rekey.ErrorCode(err) == rekey.ECodeNotFound:
		return rekey.User{}, false, nil
	case err != nil:
		return rekey.User{}, false, fmt.Errorf("auth: look up sign-in name: %w", err)
	}
	return user, true, nil
}

// verify checks password against a stored hash, spending the same effort
// when there is no hash. A malformed stored hash is logged and fails the
// check, so that the answer still looks like any other wrong password.
func (s *Service) verify(ctx context.Context, hash, password string) (ok, needsRehash bool) {
	if hash == "" {
		s.hasher.Burn(password)
		return false, false
	}
	ok, needsRehash, err := s.hasher.Verify(hash, password)
	if err != nil {
		s.log.ErrorContext(ctx, "auth: stored password hash cannot be checked", "error", err)
		return false, false
	}
	return ok, needsRehash
}

// refuse settles a failed sign-in (locking the account on its last allowed
// attempt) and writes its one audit entry, entry completed with reason and
// the outcome: a login_failure, or the login_lockout when this failure
// locked the account. Known users and names nobody has get the same single
// write, so the failure costs the same either way (SECURITY.md 5). It
// returns ErrInvalidCredentials, or the error of the locking itself.
func (s *Service) refuse(ctx context.Context, r reservation, entry rekey.AuditEntry, reason, clientIP string) error {
	locked, err := s.failed(ctx, r)
	entry.Action, entry.Outcome, entry.Detail, entry.ClientIP = rekey.ActionLoginFailure, rekey.OutcomeFailure, reason, clientIP
	if locked {
		entry.Action, entry.Outcome = rekey.ActionLoginLockout, rekey.OutcomeDenied
		entry.Detail = fmt.Sprintf("%s; %d failed attempts; locked for %s", reason, r.accountCount.Failures, s.cfg.LockFor)
	}
	s.audit(ctx, entry)
	if err != nil {
		return err
	}
	return ErrInvalidCredentials
}

// unknownNameEntry starts the audit entry of a failed sign-in with a name
// nobody has. It has no actor and no district, so no administrator's view
// lists it; its target is a pseudonym of the name (a SHA-256 prefix), which
// keeps the typed name — often a password typed into the wrong field — out
// of the audit trail, spreads such entries over partitions as users' are,
// and still lets an operator who knows a name find the attempts on it.
func (s *Service) unknownNameEntry(login, requestID string) rekey.AuditEntry {
	sum := sha256.Sum256([]byte(login))
	return rekey.AuditEntry{
		ID:        rekey.NewID(),
		At:        s.now(),
		TargetID:  unknownNamePrefix + hex.EncodeToString(sum[:16]),
		RequestID: requestID,
	}
}

// unknownNamePrefix starts the audit target of a name nobody has; user ids
// never contain ':'.
const unknownNamePrefix = "unknown-name:"

// rehash stores a fresh hash of password after a sign-in whose stored hash
// was made with weaker parameters. It returns the user as stored; on failure
// the old record stands (the next sign-in tries again) and is returned.
func (s *Service) rehash(ctx context.Context, user rekey.User, password string) rekey.User {
	hash, err := s.hasher.Hash(password)
	if err != nil {
		s.log.ErrorContext(ctx, "auth: rehash password", "error", err)
		return user
	}
	after := user
	after.PasswordHash = hash
	after.Version = user.Version + 1
	after.UpdatedAt = s.now()
	if err := s.store.UpdateUser(ctx, user, after, nil); err != nil {
		s.log.WarnContext(ctx, "auth: store rehashed password", "error", err)
		return user
	}
	return after
}
