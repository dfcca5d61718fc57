package rekey

import "time"

// DistrictSettings is what a district admin tunes: the API's district
// settings object. It is a view of the District record (its policy's
// minimum lengths and its own fields), not a second copy of them.
type DistrictSettings struct {
	// ApprovalThreshold is the number of users above which a bulk reset
	// waits for a second admin; 0 turns approvals off.
	ApprovalThreshold int `json:"approvalThreshold"`
	// KidFriendlyMaxGrade is the highest grade (0 = K) whose generated
	// passwords are words and digits a young child can type.
	KidFriendlyMaxGrade int `json:"kidFriendlyMaxGrade"`
	MinLengthStaff      int `json:"minLengthStaff"`
	MinLengthStudent    int `json:"minLengthStudent"`
	// Timezone is an IANA name; schedules default to it.
	Timezone string `json:"timezone"`
	Version  int    `json:"version"`
}

// Bounds of the district settings, checked by the settings service.
const (
	// MaxApprovalThreshold: a threshold above any district's size would
	// be "off" in disguise; 0 says that plainly.
	MaxApprovalThreshold = 1_000_000
	// MaxGrade is the highest grade Rekey knows (0 = K … 12).
	MaxGrade = 12
	// MinStaffLength and MinStudentLength are the lowest minimums a
	// district may choose: NIST SP 800-63B-4 allows 8 only with a second
	// factor, which staff may not have, so staff stay at 8 or more and
	// students (often with simple generated passwords) at 6 or more.
	MinStaffLength   = 8
	MinStudentLength = 6
	// DefaultTimezone is the time zone of a district that has chosen none.
	DefaultTimezone = "UTC"
	// DefaultKidFriendlyMaxGrade is the kid-friendly grade limit of a
	// district whose settings were never saved: grade 2 (K is 0).
	DefaultKidFriendlyMaxGrade = 2
)

// Settings returns the district's settings with defaults filled in. A
// district whose settings were never saved (Version 0) stores a zero
// kidFriendlyMaxGrade that nobody chose; it means the default grade
// (DefaultKidFriendlyMaxGrade), not "kindergarten only". Once saved, 0 is
// kindergarten.
func (d District) Settings() DistrictSettings {
	p := d.Policy.WithDefaults()
	tz := d.Timezone
	if tz == "" {
		tz = DefaultTimezone
	}
	kid := d.KidFriendlyMaxGrade
	if d.Version == 0 && kid == 0 {
		kid = DefaultKidFriendlyMaxGrade
	}
	return DistrictSettings{
		ApprovalThreshold:   d.ApprovalThreshold,
		KidFriendlyMaxGrade: kid,
		MinLengthStaff:      p.MinLengthStaff,
		MinLengthStudent:    p.MinLengthStudent,
		Timezone:            tz,
		Version:             d.Version,
	}
}

// WithSettings returns the district with s applied at now: a raised
// minimum length records when it was raised (see PasswordPolicy.Outdated).
// The version is the caller's to move on.
func (d District) WithSettings(s DistrictSettings, now time.Time) District {
	old := d.Policy.WithDefaults()
	d.ApprovalThreshold = s.ApprovalThreshold
	d.KidFriendlyMaxGrade = s.KidFriendlyMaxGrade
	d.Timezone = s.Timezone
	d.Policy.MinLengthStaff = s.MinLengthStaff
	d.Policy.MinLengthStudent = s.MinLengthStudent
	if s.MinLengthStaff > old.MinLengthStaff {
		d.Policy.StaffRaisedAt = now
	}
	if s.MinLengthStudent > old.MinLengthStudent {
		d.Policy.StudentRaisedAt = now
	}
	return d
}

// AuditView is the settings as recorded in audit before/after snapshots.
func (s DistrictSettings) AuditView() map[string]any {
	return map[string]any{
		"approvalThreshold": s.ApprovalThreshold, "kidFriendlyMaxGrade": s.KidFriendlyMaxGrade,
		"minLengthStaff": s.MinLengthStaff, "minLengthStudent": s.MinLengthStudent, "timezone": s.Timezone,
	}
}

// Outdated reports whether u's password was set under a weaker rule than
// p's minimum for u's role: such a user must change it at next sign-in.
// A password with a recorded minimum is outdated when that minimum is
// below today's; one without (set before minimums were recorded) when it
// is older than the last raise of its role's minimum. Users without a
// password, or already bound to change it, are never outdated.
func (p PasswordPolicy) Outdated(u User) bool {
	if u.PasswordHash == "" || u.MustChangePassword {
		return false
	}
	if u.PasswordMinLength > 0 {
		return u.PasswordMinLength < p.MinLength(u.Role)
	}
	raised := p.StudentRaisedAt
	if u.Role.IsStaff() {
		raised = p.StaffRaisedAt
	}
	return !raised.IsZero() && u.PasswordChangedAt.Before(raised)
}

// ActionSettingsUpdate and ActionPasswordOutdated are the audit actions of
// a settings change and of a sign-in that found its password set under a
// weaker rule (the user is bound to change it).
const (
	ActionSettingsUpdate   = "district.settings_update"
	ActionPasswordOutdated = "password.outdated"
)
