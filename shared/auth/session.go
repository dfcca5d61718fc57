package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"github.com/rekey/rekey/shared/rekey"
)

// ErrUnauthenticated answers a request without a valid session, whatever
// the reason (unknown, expired, idle, ended by a password change).
var ErrUnauthenticated = &rekey.Error{
	Code:    rekey.ECodeUnauthenticated,
	Message: "Please sign in.",
}

// tokenBytes is the entropy of session and CSRF tokens: 256 bits.
const tokenBytes = 32

// tokenLen is the length of a token as handed out (unpadded base64url).
var tokenLen = base64.RawURLEncoding.EncodedLen(tokenBytes)

// newToken returns a fresh random token, unpadded base64url.
func newToken() string {
	b := make([]byte, tokenBytes)
	rand.Read(b) // never returns an error (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashToken is the hex SHA-256 of a token: the only form in which session
// and CSRF tokens are stored.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// wellFormed reports whether token could be one newToken made, so that
// garbage never reaches the store.
func wellFormed(token string) bool {
	if len(token) != tokenLen {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(token)
	return err == nil
}

// CSRFMatches reports whether csrfToken is the one handed out with session,
// in constant time.
func CSRFMatches(session rekey.Session, csrfToken string) bool {
	if csrfToken == "" || session.CSRFTokenHash == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(HashToken(csrfToken)), []byte(session.CSRFTokenHash)) == 1
}

// CSRFToken is the CSRF token of the session whose token is
// sessionToken: derived from it one way (domain-separated SHA-256), so a
// browser tab that holds the session cookie can ask for it again, while
// nobody without the session token can compute it or learn the session
// token from it.
func CSRFToken(sessionToken string) string {
	sum := sha256.Sum256([]byte("rekey csrf token\x00" + sessionToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// openSession stores a new session for user and returns its token and CSRF
// token.
func (s *Service) openSession(ctx context.Context, user rekey.User) (token, csrf string, err error) {
	token = newToken()
	csrf = CSRFToken(token)
	now := s.now()
	session := rekey.Session{
		TokenHash:     HashToken(token),
		UserID:        user.ID,
		Generation:    user.SessionGen,
		CSRFTokenHash: HashToken(csrf),
		CreatedAt:     now,
		LastSeenAt:    now,
		ExpiresAt:     now.Add(s.cfg.AbsoluteTimeout),
	}
	if err := s.store.PutSession(ctx, session); err != nil {
		return "", "", fmt.Errorf("auth: store session: %w", err)
	}
	return token, csrf, nil
}

// Authenticate returns the signed-in user and session a token stands for.
// It fails with ErrUnauthenticated when the session is unknown, past its
// absolute or idle timeout, ended by a password change or reset (its
// generation is not the user's), or the user is no longer active. A live
// session's LastSeenAt is written at most once per TouchInterval.
func (s *Service) Authenticate(ctx context.Context, token string) (rekey.User, rekey.Session, error) {
	if !wellFormed(token) {
		return rekey.User{}, rekey.Session{}, ErrUnauthenticated
	}
	hash := HashToken(token)
	session, err := s.store.GetSession(ctx, hash)
	switch {
	case rekey.ErrorCode(err) == rekey.ECodeNotFound:
		return rekey.User{}, rekey.Session{}, ErrUnauthenticated
	case err != nil:
		return rekey.User{}, rekey.Session{}, fmt.Errorf("auth: read session: %w", err)
	}

	now := s.now()
	expires := session.CreatedAt.Add(s.cfg.AbsoluteTimeout)
	if !session.ExpiresAt.IsZero() && session.ExpiresAt.Before(expires) {
		expires = session.ExpiresAt
	}
	if !now.Before(expires) || now.Sub(session.LastSeenAt) >= s.cfg.IdleTimeout {
		s.endSession(ctx, hash)
		return rekey.User{}, rekey.Session{}, ErrUnauthenticated
	}

	user, err := s.store.GetUser(ctx, session.UserID)
	switch {
	case rekey.ErrorCode(err) == rekey.ECodeNotFound:
		s.endSession(ctx, hash)
		return rekey.User{}, rekey.Session{}, ErrUnauthenticated
	case err != nil:
		return rekey.User{}, rekey.Session{}, fmt.Errorf("auth: read session user: %w", err)
	}
	if session.Generation != user.SessionGen || user.Status != rekey.StatusActive {
		s.endSession(ctx, hash)
		return rekey.User{}, rekey.Session{}, ErrUnauthenticated
	}

	if now.Sub(session.LastSeenAt) >= s.cfg.TouchInterval {
		if err := s.store.TouchSession(ctx, hash, now); err != nil {
			s.log.WarnContext(ctx, "auth: touch session", "error", err)
		} else {
			session.LastSeenAt = now
		}
	}
	return user, session, nil
}

// Logout ends the session of token. Ending a session that no longer exists
// is not an error.
func (s *Service) Logout(ctx context.Context, token string) error {
	if !wellFormed(token) {
		return nil
	}
	err := s.store.DeleteSession(ctx, HashToken(token))
	if err != nil && rekey.ErrorCode(err) != rekey.ECodeNotFound {
		return fmt.Errorf("auth: delete session: %w", err)
	}
	return nil
}

// endSession deletes a session found to be dead. The answer is the same
// whether or not the delete works (the session is refused either way), so a
// failure is only logged.
func (s *Service) endSession(ctx context.Context, tokenHash string) {
	if err := s.store.DeleteSession(ctx, tokenHash); err != nil && rekey.ErrorCode(err) != rekey.ECodeNotFound {
		s.log.WarnContext(ctx, "auth: delete dead session", "error", err)
	}
}
