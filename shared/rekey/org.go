package rekey

import "time"

// District is the top of the hierarchy: a school district or any
// organisation shaped like one.
type District struct {
	ID     string         `json:"id"`
	Name   string         `json:"name"`
	Policy PasswordPolicy `json:"passwordPolicy"`
	// The district's settings beside its policy (see DistrictSettings);
	// Version guards them as a user's version guards a user record.
	ApprovalThreshold   int    `json:"approvalThreshold"`
	KidFriendlyMaxGrade int    `json:"kidFriendlyMaxGrade"`
	Timezone            string `json:"timezone"`
	Version             int    `json:"version"`
}

// PasswordPolicy is a district's password rules. Zero fields mean "use the
// default" (see DefaultPasswordPolicy).
type PasswordPolicy struct {
	MinLengthStaff   int `json:"minLengthStaff"`
	MinLengthStudent int `json:"minLengthStudent"`
	MaxLength        int `json:"maxLength"`
	// StaffRaisedAt and StudentRaisedAt are when the district last raised
	// a minimum: a password whose user has no recorded minimum
	// (User.PasswordMinLength, set before it was recorded) counts as set
	// under the old rule when it is older (see Outdated).
	StaffRaisedAt   time.Time `json:"-"`
	StudentRaisedAt time.Time `json:"-"`
}

// DefaultPasswordPolicy follows NIST SP 800-63B-4: 15 characters for staff
// (single-factor), 8 for students, up to 128 accepted.
var DefaultPasswordPolicy = PasswordPolicy{MinLengthStaff: 15, MinLengthStudent: 8, MaxLength: 128}

// WithDefaults fills zero fields from DefaultPasswordPolicy.
func (p PasswordPolicy) WithDefaults() PasswordPolicy {
	if p.MinLengthStaff <= 0 {
		p.MinLengthStaff = DefaultPasswordPolicy.MinLengthStaff
	}
	if p.MinLengthStudent <= 0 {
		p.MinLengthStudent = DefaultPasswordPolicy.MinLengthStudent
	}
	if p.MaxLength <= 0 {
		p.MaxLength = DefaultPasswordPolicy.MaxLength
	}
	return p
}

// MinLength is the minimum for a user of role r.
func (p PasswordPolicy) MinLength(r Role) int {
	p = p.WithDefaults()
	// A guardian's password guards their children's accounts too, so it
	// is held to the staff minimum.
	if r.IsStaff() || r == RoleGuardian {
		return p.MinLengthStaff
	}
	return p.MinLengthStudent
}

// School belongs to one district. SSO schools sign in elsewhere, so a
// forgot-password request gets a pointer to the school sign-in instead of a link.
type School struct {
	ID         string `json:"id"`
	DistrictID string `json:"districtId"`
	Name       string `json:"name"`
	SSO        bool   `json:"sso"`
	SSOURL     string `json:"ssoUrl,omitempty"`
	// ExternalID is the school's id in the district's student information
	// system (a OneRoster org sourcedId), so that a re-imported roster finds
	// the school it created before.
	ExternalID string `json:"externalId,omitempty"`
}

// Session is a signed-in session. Only the SHA-256 of the opaque token is
// stored; the raw token lives only in the client.
type Session struct {
	TokenHash     string
	UserID        string
	Generation    int    // must equal User.SessionGen
	CSRFTokenHash string // SHA-256 of the CSRF token handed out at sign-in
	CreatedAt     time.Time
	LastSeenAt    time.Time
	// ExpiresAt is the absolute expiry (12 h after sign-in); the idle expiry
	// is LastSeenAt + idle timeout, checked by the service.
	ExpiresAt time.Time
}

// AuditEntry records one change or security event: who did what to whom,
// before and after (never secrets), when, and under which request id.
type AuditEntry struct {
	ID         string         `json:"id"`
	At         time.Time      `json:"at"`
	DistrictID string         `json:"districtId"`
	ActorID    string         `json:"actorId"`
	ActorName  string         `json:"actorName,omitempty"`
	TargetID   string         `json:"targetId"`
	Action     string         `json:"action"`
	Outcome    string         `json:"outcome"`
	Before     map[string]any `json:"before,omitempty"`
	After      map[string]any `json:"after,omitempty"`
	Detail     string         `json:"detail,omitempty"`
	// ClientIP is the network address a sign-in (or a failed one) came
	// from. It is blanked for viewers who may not see it
	// (authz.ActionSeeClientIPs), so it is kept out of Detail.
	ClientIP  string `json:"clientIp,omitempty"`
	RequestID string `json:"requestId"`
}

// Audit actions.
const (
	ActionUserCreate      = "user.create"
	ActionUserUpdate      = "user.update"
	ActionUserMove        = "user.move"
	ActionUserRoleChange  = "user.role_change"
	ActionLoginSuccess    = "auth.login"
	ActionLoginFailure    = "auth.login_failure"
	ActionLoginLockout    = "auth.lockout"
	ActionPasswordChange  = "password.change"
	ActionResetLink       = "password.reset_link"
	ActionResetTemporary  = "password.reset_temporary"
	ActionResetResend     = "password.reset_resend"
	ActionResetComplete   = "password.reset_complete"
	ActionResetFailed     = "password.reset_failed"
	ActionForgotRequested = "password.forgot"
	// Guardian actions: a guardian's temporary password for a linked
	// child, registration and a child added with a parent code, and a
	// parent code made or replaced (never the code itself).
	ActionGuardianReset      = "password.guardian_reset"
	ActionGuardianRegister   = "guardian.register"
	ActionGuardianAddChild   = "guardian.add_child"
	ActionParentCodeIssue    = "parent_code.issue"
	ActionParentCodeReplaced = "parent_code.regenerate"
)

// ActionResetEmailFailed: a single-user reset email (an admin's link or a
// forgot-password link) failed its last try; the detail has SES's reason.
const ActionResetEmailFailed = "password.reset_email_failed"

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeDenied  = "denied"
)

// AuditPage is one page of audit entries, newest first.
type AuditPage struct {
	Items []AuditEntry
	Next  string
}
