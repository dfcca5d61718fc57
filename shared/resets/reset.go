package resets

import (
	"crypto/rand"
	"crypto/sha256"
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
// request) replaces it, so the newest issued wins and every earlier link
// stops working at once. It ends when its link is used, when a temporary
// password is set, or when it expires.
//
// The raw token is never stored. TokenHash is the SHA-256 of the newest token
// the mail worker emailed (empty until the first email is sent); a Token
// record whose hash differs from it is superseded.
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

// Token is the stored form of one emailed reset token, found by the SHA-256
// of the raw token. It names its user, so a token can only ever change the
// password of the user it was issued for.
type Token struct {
	Hash      string
	UserID    string
	ResetID   string
	Purpose   Purpose
	CreatedAt time.Time
	ExpiresAt time.Time
}

// tokenBytes is the entropy of a reset token: 256 bits from crypto/rand
// (SECURITY.md 6 asks for at least 128).
const tokenBytes = 32

// tokenEncoding is URL-safe, so the token goes into a link as it is.
var tokenEncoding = base64.RawURLEncoding

// newToken returns a random raw token and the hex SHA-256 under which it is
// stored.
func newToken() (raw, hash string) {
	b := make([]byte, tokenBytes)
	rand.Read(b) // never returns an error (crypto/rand, Go 1.24+)
	raw = tokenEncoding.EncodeToString(b)
	return raw, HashToken(raw)
}

// HashToken is the stored form of a raw token: lower-case hex SHA-256. A
// token has 256 bits of entropy, so an unsalted fast hash is enough.
func HashToken(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// wellFormedToken reports whether raw could be a token Rekey issued, so
// that garbage is refused without a store read.
func wellFormedToken(raw string) bool {
	if len(raw) != tokenEncoding.EncodedLen(tokenBytes) {
		return false
	}
	_, err := tokenEncoding.Strict().DecodeString(raw)
	return err == nil
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
