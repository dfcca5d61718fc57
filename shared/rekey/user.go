package rekey

import (
	"slices"
	"strings"
	"time"
)

// Role is a user's place in the permission hierarchy.
type Role string

// The roles of the school hierarchy, lowest to highest authority, and the
// guardian, who stands outside it.
const (
	RoleStudent       Role = "student"
	RoleTeacher       Role = "teacher"
	RoleSchoolAdmin   Role = "school_admin"
	RoleDistrictAdmin Role = "district_admin"
	RoleSupport       Role = "support"
	// RoleGuardian is a parent or other carer. Their whole scope is the
	// students linked to them (User.GuardianOf, mirrored by the student's
	// User.Guardians); they are neither staff nor admin and have no rank, so
	// no comparison of ranks ever lets a guardian do more than a student.
	RoleGuardian Role = "guardian"
)

// Roles lists every role: the hierarchy, lowest authority first, then the
// guardian (which has no rank).
var Roles = []Role{RoleStudent, RoleTeacher, RoleSchoolAdmin, RoleDistrictAdmin, RoleSupport, RoleGuardian}

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool { return r.Rank() > 0 || r == RoleGuardian }

// Rank orders the roles of the school hierarchy by authority: 1 for
// students up to 5 for support; 0 for a guardian (outside the hierarchy: a
// guardian outranks nobody) and for an unknown role.
func (r Role) Rank() int {
	for i, x := range Roles[:5] {
		if x == r {
			return i + 1
		}
	}
	return 0
}

// IsStaff reports whether r is a staff role (everything but student and
// guardian); "users without a role" in bulk selections are the non-staff.
func (r Role) IsStaff() bool { return r.Rank() > RoleStudent.Rank() }

// IsAdmin reports whether r administers a school or more.
func (r Role) IsAdmin() bool { return r.Rank() >= RoleSchoolAdmin.Rank() }

// SchoolScoped reports whether users of this role belong to one school.
// District admins and support have an empty SchoolID. A guardian is not
// school-scoped: their SchoolID is optional, the "home" school an import
// gave them, which only decides which school's admins manage the guardian
// record (their children may be in several schools).
func (r Role) SchoolScoped() bool {
	return r == RoleStudent || r == RoleTeacher || r == RoleSchoolAdmin
}

// Status is the lifecycle state of an account.
type Status string

// Account states.
const (
	StatusActive        Status = "active"
	StatusResetRequired Status = "reset_required" // password voided by an admin link reset
	StatusDisabled      Status = "disabled"
)

// Valid reports whether s is a defined status.
func (s Status) Valid() bool {
	return s == StatusActive || s == StatusResetRequired || s == StatusDisabled
}

// User is one account. The JSON form is the API's `user` object; secrets
// (PasswordHash, SessionGen, ResetTokenHash) never leave the server.
type User struct {
	ID                 string    `json:"id"`
	DistrictID         string    `json:"districtId"`
	SchoolID           string    `json:"schoolId"`
	Role               Role      `json:"role"`
	FirstName          string    `json:"firstName"`
	LastName           string    `json:"lastName"`
	Username           string    `json:"username"`
	Email              string    `json:"email"`
	Grade              string    `json:"grade"`
	Title              string    `json:"title"`
	ExternalID         string    `json:"externalId"`
	Status             Status    `json:"status"`
	MustChangePassword bool      `json:"mustChangePassword"`
	PasswordChangedAt  time.Time `json:"passwordChangedAt,omitzero"`
	Version            int       `json:"version"`
	CreatedAt          time.Time `json:"createdAt"`
	UpdatedAt          time.Time `json:"updatedAt"`
	// GuardianOf (guardians only) and Guardians (students only) are the two
	// sides of a guardian link, as user ids. Every write keeps both sides
	// equal, and a guardian's authority needs the link on both: a half-made
	// link grants nothing.
	GuardianOf []string `json:"guardianOf,omitempty"`
	Guardians  []string `json:"guardians,omitempty"`
	// ParentCode (students only) is the pending code a parent registers
	// with; zero when none was made or the last one was used.
	ParentCode ParentCode `json:"-"`

	// PasswordHash is the PHC-format argon2id hash; empty when no password
	// works (after a link reset, or for a new account).
	PasswordHash string `json:"-"`
	// PasswordMinLength is the policy minimum (for the user's role) that
	// the password was checked against when it was set; 0 when unknown.
	// It tells whose password a raised minimum outdates (PasswordPolicy.
	// Outdated) without keeping anything about the password itself.
	PasswordMinLength int `json:"-"`
	// VoidedPasswordHash keeps the hash an admin link reset voided, only so
	// that sign-in with that old password can answer password_reset_required
	// instead of a bare invalid_credentials; it never signs anyone in.
	VoidedPasswordHash string `json:"-"`
	// SessionGen is bumped to end every session of the user at once:
	// a session is valid only while its generation equals the user's.
	SessionGen int `json:"-"`
	// ResetTokenHash is the SHA-256 (hex) of the token of the admin's (or a
	// bulk task's) pending reset; issuing a new one voids the old.
	ResetTokenHash string `json:"-"`

	// The user's one pending password reset by link lives on the record
	// itself (package resets reads and writes it), so that issuing,
	// replacing and redeeming a link each write only this item.
	// ResetID is empty when no reset is pending.
	ResetID string `json:"-"`
	// ResetPurpose is "admin" or "self_service" (resets.Purpose).
	ResetPurpose string `json:"-"`
	// ResetEmail is the address the link was sent to; a changed address
	// voids the link.
	ResetEmail string `json:"-"`
	// ResetBy is who started the reset: an admin's id, a bulk task's
	// creator, or the user's own id for self-service.
	ResetBy        string    `json:"-"`
	ResetCreatedAt time.Time `json:"-"`
	ResetExpiresAt time.Time `json:"-"`

	// The user's pending self-service reset (a "forgot password" link) has
	// a slot of its own beside the one above, so that an anonymous request
	// never voids a link an admin sent (SECURITY.md 9): both stay valid
	// until one is used. Its purpose is always self_service and its
	// creator the user; SelfResetID is empty when none is pending.
	SelfResetID        string    `json:"-"`
	SelfResetEmail     string    `json:"-"`
	SelfResetCreatedAt time.Time `json:"-"`
	SelfResetExpiresAt time.Time `json:"-"`
	SelfResetTokenHash string    `json:"-"`
	// SpentResetTokenHash is the hash of the last reset token used, kept
	// only so that a second use of it is audited as "link already used".
	SpentResetTokenHash string `json:"-"`
}

// FullName is the display name.
func (u User) FullName() string { return strings.TrimSpace(u.FirstName + " " + u.LastName) }

// WithPassword returns u with a new password (whose argon2id hash is hash)
// set at now: it replaces any password a link reset voided, every session
// ends (SECURITY.md 13) and the version moves on. Every way a password is
// set goes through it; callers say whether the user must change it, the
// minimum a password the user chose was checked against, and what becomes
// of pending links and the account's status.
func (u User) WithPassword(hash string, now time.Time) User {
	after := u
	after.PasswordHash = hash
	after.VoidedPasswordHash = ""
	after.PasswordChangedAt = now
	after.SessionGen = u.SessionGen + 1
	after.Version = u.Version + 1
	after.UpdatedAt = now
	return after
}

// AuditView is the user as recorded in audit before/after snapshots: every
// public field, never a secret.
func (u User) AuditView() map[string]any {
	view := map[string]any{
		"districtId": u.DistrictID, "schoolId": u.SchoolID, "role": string(u.Role),
		"firstName": u.FirstName, "lastName": u.LastName, "username": u.Username,
		"email": u.Email, "grade": u.Grade, "title": u.Title, "externalId": u.ExternalID,
		"status": string(u.Status), "mustChangePassword": u.MustChangePassword,
	}
	// Links appear only when there are some, so that the snapshots of users
	// without any stay as they were.
	if len(u.GuardianOf) > 0 {
		view["guardianOf"] = u.GuardianOf
	}
	if len(u.Guardians) > 0 {
		view["guardians"] = u.Guardians
	}
	return view
}

// IsGuardianOf reports whether u is a guardian linked to student on both
// sides of the link, in the same district. Only such a link gives u
// anything over student.
func (u User) IsGuardianOf(student User) bool {
	return u.Role == RoleGuardian && student.Role == RoleStudent && u.ID != "" && student.ID != "" &&
		u.DistrictID != "" && u.DistrictID == student.DistrictID &&
		slices.Contains(u.GuardianOf, student.ID) && slices.Contains(student.Guardians, u.ID)
}

// UserFilter narrows a user listing. DistrictID or SchoolID is always set by
// the service from the actor's scope, never taken from the caller alone.
type UserFilter struct {
	DistrictID string
	SchoolID   string
	Role       Role
	Grade      string
	// Query matches case-insensitively within first name, last name,
	// username or email.
	Query  string
	Limit  int
	Cursor string // store-level cursor (already verified by the API layer)
}

// UserPage is one page of a listing; Next is empty on the last page.
type UserPage struct {
	Items []User
	Next  string
}
