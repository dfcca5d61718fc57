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

// Reset is one of a user's pending password resets by link. A user has at
// most two, in two slots of the user record: an admin's (a reset by link,
// a resend or a bulk task) and a self-service one (a forgot-password
// request). A new admin link voids every earlier link, of either kind; a
// new self-service link voids only an earlier self-service one, never an
// admin's (SECURITY.md 9), so both may be pending at once and either
// works until one is used, which ends both. A reset also ends when a
// temporary password is set, or when it expires.
//
// A Reset is not stored on its own: it is a view of the reset fields of the
// user record (rekey.User.ResetID and the fields after it for the admin's,
// SelfResetID and after for the self-service one), so that every step of a
// reset writes one item. The raw token is never stored: TokenHash is the
// SHA-256 of the newest token emailed for the reset (empty until the first
// email is sent), and a token whose hash matches neither slot is void.
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

// PendingReset returns u's pending admin reset (the slot an admin's link,
// a resend or a bulk task writes), if u has one. Records written before
// self-service links had a slot of their own may hold a self-service reset
// here; it works as it did.
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

// SelfServiceReset returns u's pending self-service reset, if u has one.
func SelfServiceReset(u rekey.User) (Reset, bool) {
	if u.SelfResetID == "" {
		return Reset{}, false
	}
	return Reset{
		ID:        u.SelfResetID,
		UserID:    u.ID,
		Purpose:   PurposeSelfService,
		Email:     u.SelfResetEmail,
		CreatedBy: u.ID,
		CreatedAt: u.SelfResetCreatedAt,
		ExpiresAt: u.SelfResetExpiresAt,
		TokenHash: u.SelfResetTokenHash,
	}, true
}

// pendingResets returns every pending reset of u: the admin's first.
func pendingResets(u rekey.User) []Reset {
	var out []Reset
	if r, ok := PendingReset(u); ok {
		out = append(out, r)
	}
	if r, ok := SelfServiceReset(u); ok {
		out = append(out, r)
	}
	return out
}

// resetByID returns u's pending reset whose id is id.
func resetByID(u rekey.User, id string) (Reset, bool) {
	for _, r := range pendingResets(u) {
		if r.ID == id {
			return r, true
		}
	}
	return Reset{}, false
}

// resetByToken returns u's pending reset whose newest token has hash hash.
func resetByToken(u rekey.User, hash string) (Reset, bool) {
	for _, r := range pendingResets(u) {
		if hashMatches(r.TokenHash, hash) {
			return r, true
		}
	}
	return Reset{}, false
}

// newestReset returns u's most recently created pending reset.
func newestReset(u rekey.User) (Reset, bool) {
	all := pendingResets(u)
	if len(all) == 0 {
		return Reset{}, false
	}
	newest := all[0]
	for _, r := range all[1:] {
		if r.CreatedAt.After(newest.CreatedAt) {
			newest = r
		}
	}
	return newest, true
}

// WithReset returns u with r as a pending reset. A self-service r takes the
// self-service slot and voids only an earlier self-service link (also one
// kept in the admin slot by an older record); an admin r takes the admin
// slot and voids every earlier link, the self-service one included. It
// changes nothing else: callers bump the version.
func WithReset(u rekey.User, r Reset) rekey.User {
	if r.Purpose == PurposeSelfService {
		if Purpose(u.ResetPurpose) == PurposeSelfService {
			u = withAdminSlot(u, Reset{})
		}
		u.SelfResetID = r.ID
		u.SelfResetEmail = r.Email
		u.SelfResetCreatedAt = r.CreatedAt
		u.SelfResetExpiresAt = r.ExpiresAt
		u.SelfResetTokenHash = r.TokenHash
		return u
	}
	return withoutSelfService(withAdminSlot(u, r))
}

// withAdminSlot returns u with r in the admin slot.
func withAdminSlot(u rekey.User, r Reset) rekey.User {
	u.ResetID = r.ID
	u.ResetPurpose = string(r.Purpose)
	u.ResetEmail = r.Email
	u.ResetBy = r.CreatedBy
	u.ResetCreatedAt = r.CreatedAt
	u.ResetExpiresAt = r.ExpiresAt
	u.ResetTokenHash = r.TokenHash
	return u
}

// withoutSelfService returns u with its self-service slot empty.
func withoutSelfService(u rekey.User) rekey.User {
	u.SelfResetID, u.SelfResetEmail, u.SelfResetTokenHash = "", "", ""
	u.SelfResetCreatedAt, u.SelfResetExpiresAt = time.Time{}, time.Time{}
	return u
}

// withTokenHash returns u with hash as the newest token of its pending
// reset r (which voids the token emailed before for r alone).
func withTokenHash(u rekey.User, r Reset, hash string) rekey.User {
	if u.SelfResetID != "" && u.SelfResetID == r.ID {
		u.SelfResetTokenHash = hash
	} else {
		u.ResetTokenHash = hash
	}
	return u
}

// WithoutReset returns u with no pending reset: every link it was sent
// stops working.
func WithoutReset(u rekey.User) rekey.User { return withoutSelfService(withAdminSlot(u, Reset{})) }

// ApplyLinkReset returns target as it stands once an admin's reset by link
// r has started at now: the password stops working (it is kept only as
// VoidedPasswordHash, so that sign-in with it can say
// password_reset_required), the status is reset_required, every session
// ends, r is the pending admin reset (with r.TokenHash, which may still be
// empty) and any earlier link, self-service ones included, is void, and the
// version moves on. The single-user reset and bulk tasks
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
	after := WithoutReset(target).WithPassword(hash, now)
	after.Status = rekey.StatusActive
	after.MustChangePassword = true
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
		return "link expired"
	case u.Status == rekey.StatusDisabled:
		return "link voided: account disabled"
	case u.Email == "" || !strings.EqualFold(u.Email, r.Email):
		return "link voided: email address changed"
	case u.PasswordChangedAt.After(r.CreatedAt):
		return "link voided: password changed since"
	default:
		return ""
	}
}
