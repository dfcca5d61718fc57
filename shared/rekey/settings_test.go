package rekey

import (
	"testing"
	"time"
)

func TestPasswordPolicyOutdated(t *testing.T) {
	raised := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	policy := PasswordPolicy{MinLengthStaff: 16, MinLengthStudent: 10, StudentRaisedAt: raised}
	student := User{Role: RoleStudent, PasswordHash: "h"}
	teacher := User{Role: RoleTeacher, PasswordHash: "h"}
	with := func(u User, edit func(*User)) User { edit(&u); return u }
	for _, test := range []struct {
		name string
		user User
		want bool
	}{
		{"recorded below the minimum", with(student, func(u *User) { u.PasswordMinLength = 8 }), true},
		{"recorded at the minimum", with(student, func(u *User) { u.PasswordMinLength = 10 }), false},
		{"recorded above the minimum", with(student, func(u *User) { u.PasswordMinLength = 12 }), false},
		{"recorded under the student rule, now staff", with(teacher, func(u *User) { u.PasswordMinLength = 10 }), true},
		{"unrecorded, set before the raise", with(student, func(u *User) { u.PasswordChangedAt = raised.Add(-time.Second) }), true},
		{"unrecorded, set after the raise", with(student, func(u *User) { u.PasswordChangedAt = raised.Add(time.Second) }), false},
		{"unrecorded, role never raised", with(teacher, func(u *User) { u.PasswordChangedAt = raised.Add(-time.Hour) }), false},
		{"no password", with(student, func(u *User) { u.PasswordHash = ""; u.PasswordMinLength = 6 }), false},
		{"already bound to change", with(student, func(u *User) { u.MustChangePassword = true; u.PasswordMinLength = 6 }), false},
	} {
		if got := policy.Outdated(test.user); got != test.want {
			t.Errorf("%s: Outdated(%+v) = %v, want %v", test.name, test.user, got, test.want)
		}
	}
}

func TestWithSettingsDatesRaisedMinimums(t *testing.T) {
	now := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	earlier := now.Add(-time.Hour)
	d := District{ID: "d1", Policy: PasswordPolicy{MinLengthStudent: 10, StaffRaisedAt: earlier}}
	s := d.Settings() // staff 15 (default), student 10
	s.MinLengthStaff, s.MinLengthStudent = 15, 9
	got := d.WithSettings(s, now)
	if !got.Policy.StaffRaisedAt.Equal(earlier) || !got.Policy.StudentRaisedAt.IsZero() {
		t.Errorf("unchanged staff and lowered student minimums: raised at %v / %v, want %v / zero", got.Policy.StaffRaisedAt, got.Policy.StudentRaisedAt, earlier)
	}
	s.MinLengthStaff, s.MinLengthStudent = 16, 11
	got = d.WithSettings(s, now)
	if !got.Policy.StaffRaisedAt.Equal(now) || !got.Policy.StudentRaisedAt.Equal(now) {
		t.Errorf("raised minimums: raised at %v / %v, want %v", got.Policy.StaffRaisedAt, got.Policy.StudentRaisedAt, now)
	}
}

// TestSettingsKidFriendlyDefault: a district whose settings were never
// saved reports the default grade limit, not the zero it stores; once
// saved, 0 means kindergarten.
func TestSettingsKidFriendlyDefault(t *testing.T) {
	for _, test := range []struct {
		district District
		want     int
	}{
		{District{}, DefaultKidFriendlyMaxGrade},
		{District{KidFriendlyMaxGrade: 5}, 5},
		{District{Version: 1}, 0},
		{District{KidFriendlyMaxGrade: 4, Version: 2}, 4},
	} {
		if got := test.district.Settings().KidFriendlyMaxGrade; got != test.want {
			t.Errorf("District{kid %d, version %d}.Settings().KidFriendlyMaxGrade = %d, want %d",
				test.district.KidFriendlyMaxGrade, test.district.Version, got, test.want)
		}
	}
}
