package rekey

import "time"

// UserUpdate is one user's part of a UserWrite: After replaces the stored
// user provided it still has Before's version (After.Version is
// Before.Version+1).
type UserUpdate struct {
	Before, After User
}

// ParentCodeClaim maps the SHA-256 (hex) of a parent code to the student it
// belongs to, so that a code typed by a parent finds its student without
// any plaintext stored.
type ParentCodeClaim struct {
	Hash   string
	UserID string
}

// UsersWrite is one all-or-nothing change of several user records: the two
// sides of a guardian link, a guardian's registration with the code it
// used up, a new parent code. Either every part is written or none.
type UsersWrite struct {
	Creates []User
	Updates []UserUpdate
	// PutCodes claims new parent codes (a hash already claimed is a
	// conflict); UseCodes deletes claims, each only while it still maps to
	// its UserID (else rekey.ErrInvalidCode): a code is used once.
	PutCodes []ParentCodeClaim
	UseCodes []ParentCodeClaim
	Audit    []AuditEntry
}

// ParentCodeTTL is how long a parent code stays valid after it is made: 30
// days, long enough for a letter home and a parent's evening, short enough
// that a code found in an old schoolbag is dead.
const ParentCodeTTL = 30 * 24 * time.Hour

// ParentCode is a student's parent code as stored on their record: only
// its hash (for lookup and comparison) and the code sealed under a data key
// of its own (for showing it again to the student and their staff), never
// the plaintext.
type ParentCode struct {
	Hash      string    `json:"-"`
	Sealed    []byte    `json:"-"`
	SealedKey []byte    `json:"-"` // the data key, sealed under the KMS key
	ExpiresAt time.Time `json:"-"`
}

// Valid reports whether the code exists and has not expired at now.
func (c ParentCode) Valid(now time.Time) bool {
	return c.Hash != "" && now.Before(c.ExpiresAt)
}
