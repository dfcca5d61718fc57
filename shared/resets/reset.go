package resets

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// Purpose says who started a reset by link, which decides its longest
// expiry and the wording of its email.
type Purpose string

// Reset purposes.
const (
	// PurposeAdmin: an administrator reset the password by link; the old
	// password was voided at once.
	PurposeAdmin Purpose = "admin"
	// PurposeSelfService: the user asked through "forgot password"; the
	// current password keeps working until the link is used.
	PurposeSelfService Purpose = "self_service"
)

// Valid reports whether p is a defined purpose.
func (p Purpose) Valid() bool { return p == PurposeAdmin || p == PurposeSelfService }

// Reset is a user's one pending password reset by link. A user has at most
// one: starting another (an admin's link, a resend, a forgot-password
// request, a bulk task) replaces it, so the newest issued wins and every
// earlier link stops working at once. It ends when its link is used, when a
// temporary password is set, or when it expires.
//
// A Reset is not stored on its own: it is a view of the reset fields of the
// user record (rekey.User.ResetID and the fields after it), so that every
// step of a reset writes one item. The raw token is never stored: TokenHash
// is the SHA-256 of the newest token emailed (empty until the first email
// is sent), and a token whose hash differs from it is superseded.
type Reset struct {
	ID        string
	UserID    string
	Purpose   Purpose
	Email     string // the address the link is sent to; a changed address voids the reset
	CreatedBy string // the actor's id; the user's own id for self-service
	CreatedAt time.Time
	ExpiresAt time.Time
	TokenHash string
}

// Expired reports whether the reset can no longer be used at now: a reset
// is good strictly before ExpiresAt.
func (r Reset) Expired(now time.Time) bool { return !now.Before(r.ExpiresAt) }

// KeepAfterExpiry is how long an expired reset stays pending, so that an
// admin can still resend its link; after that Resend answers
// ErrNoPendingReset and a new reset is needed.
const KeepAfterExpiry = 7 * 24 * time.Hour

// PendingReset returns u's pending reset, if u has one.
func PendingReset(u rekey.User) (Reset, bool) {
	if u.ResetID == "" {
		return Reset{}, false
	}
	return Reset{
		ID:        u.ResetID,
		UserID:    u.ID,
		Purpose:   Purpose(u.ResetPurpose),
		Email:     u.ResetEmail,
		CreatedBy: u.ResetBy,
		CreatedAt: u.ResetCreatedAt,
		ExpiresAt: u.ResetExpiresAt,
		TokenHash: u.ResetTokenHash,
	}, true
}

// WithReset returns u with r as its pending reset, replacing any other (and
// so voiding its link). It changes nothing else: callers bump the version.
func WithReset(u rekey.User, r Reset) rekey.User {
	u.ResetID = r.ID
	u.ResetPurpose = string(r.Purpose)
	u.ResetEmail = r.Email
	u.ResetBy = r.CreatedBy
	u.ResetCreatedAt = r.CreatedAt
	u.ResetExpiresAt = r.ExpiresAt
	u.ResetTokenHash = r.TokenHash
	return u
}

// WithoutReset returns u with no pending reset: every link it was sent
// stops working.
func WithoutReset(u rekey.User) rekey.User { return WithReset(u, Reset{}) }

// ApplyLinkReset returns target as it stands once an admin's reset by link
// r has started at now: the password stops working (it is kept only as
// VoidedPasswordHash, so that sign-in with it can say
// password_reset_required), the status is reset_required, every session
// ends, r is the pending reset (with r.TokenHash, which may still be
// empty), and the version moves on. The single-user reset and bulk tasks
// both start link resets through it.
func ApplyLinkReset(target rekey.User, r Reset, now time.Time) rekey.User {
	after := WithReset(target, r)
	if target.PasswordHash != "" {
		after.VoidedPasswordHash = target.PasswordHash
	}
	after.PasswordHash = ""
	after.Status = rekey.StatusResetRequired
	after.MustChangePassword = false
	after.SessionGen = target.SessionGen + 1
	after.Version = target.Version + 1
	after.UpdatedAt = now
	return after
}

// ApplyTemporaryPassword returns target as it stands once an admin set a
// temporary password (whose argon2id hash is hash) at now: the user must
// choose a new one at next sign-in, the account is active, every session
// ends, any pending link is voided, and the version moves on. Single-user
// temporary passwords and bulk default or generated passwords share it.
func ApplyTemporaryPassword(target rekey.User, hash string, now time.Time) rekey.User {
	after := WithoutReset(target)
	after.PasswordHash = hash
	after.VoidedPasswordHash = ""
	after.Status = rekey.StatusActive
	after.MustChangePassword = true
	after.PasswordChangedAt = now
	after.SessionGen = target.SessionGen + 1
	after.Version = target.Version + 1
	after.UpdatedAt = now
	return after
}

// tokenBytes is the entropy of a reset token: 256 bits from crypto/rand
// (SECURITY.md 6 asks for at least 128).
const tokenBytes = 32

// tokenEncoding is URL-safe, so the token goes into a link as it is.
var tokenEncoding = base64.RawURLEncoding

// tokenSeparator joins the user id and the random part of a token; ids
// never contain it (rekey.ValidID).
const tokenSeparator = "."

// NewToken returns a new raw reset token for user userID and the hash under
// which it is stored. A token is "<userId>.<256 random bits, base64url>":
// the id says which record to read, so redemption costs one read and one
// conditional write, and since the stored hash covers the whole token, a
// token edited to name another user matches nothing.
func NewToken(userID string) (raw, hash string) {
	b := make([]byte, tokenBytes)
	rand.Read(b) // never returns an error (crypto/rand, Go 1.24+)
	raw = userID + tokenSeparator + tokenEncoding.EncodeToString(b)
	return raw, HashToken(raw)
}

// HashToken is the stored form of a raw token: lower-case hex SHA-256. A
// token has 256 bits of entropy, so an unsalted fast hash is enough.
func HashToken(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// tokenUser returns the user id a raw token names, or ok false when raw
// could not be a token Rekey issued, so that garbage is refused without a
// store read.
func tokenUser(raw string) (userID string, ok bool) {
	userID, secret, found := strings.Cut(raw, tokenSeparator)
	if !found || !rekey.ValidID(userID) || len(secret) != tokenEncoding.EncodedLen(tokenBytes) {
		return "", false
	}
	if _, err := tokenEncoding.Strict().DecodeString(secret); err != nil {
		return "", false
	}
	return userID, true
}

// hashMatches compares a token's hash with the stored one in constant time;
// an empty stored hash matches nothing.
func hashMatches(stored, hash string) bool {
	return stored != "" && subtle.ConstantTimeCompare([]byte(stored), []byte(hash)) == 1
}

// voidedFor reports why reset r can no longer serve user u at now, or ""
// when it still can. A reset is void once it has expired, when the user is
// disabled, when the user's email changed since it was issued (SECURITY.md
// 9), or when the password changed after it was issued (a temporary password
// or a change of password ends pending links).
func voidedFor(r Reset, u rekey.User, now time.Time) string {
	switch {
	case r.Expired(now):
		return "expired"
	case u.Status == rekey.StatusDisabled:
		return "account disabled"
	case u.Email == "" || !strings.EqualFold(u.Email, r.Email):
		return "email address changed"
	case u.PasswordChangedAt.After(r.CreatedAt):
		return "password changed since"
	default:
		return ""
	}
}
