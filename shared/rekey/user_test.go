package rekey

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWithPassword(t *testing.T) {
	set := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	now := set.Add(48 * time.Hour)
	for _, test := range []struct {
		name   string
		before User
	}{
		{"forced change after a temporary password", User{ID: "u1", Role: RoleStudent, PasswordHash: "old", MustChangePassword: true,
			PasswordChangedAt: set, PasswordMinLength: 8, SessionGen: 3, Version: 7, UpdatedAt: set}},
		{"after an admin's link reset voided the password", User{ID: "u1", Role: RoleTeacher, VoidedPasswordHash: "voided",
			Status: StatusResetRequired, ResetID: "r1", ResetTokenHash: "link", PasswordMinLength: 8, Version: 2}},
	} {
		t.Run(test.name, func(t *testing.T) {
			want := test.before
			want.PasswordHash, want.VoidedPasswordHash = "new", ""
			want.PasswordChangedAt, want.UpdatedAt = now, now
			want.SessionGen, want.Version = test.before.SessionGen+1, test.before.Version+1
			// A forced change, the minimum, links and status are the
			// caller's: they stay as they were.
			got := test.before.WithPassword("new", now)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("WithPassword(new, now) mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
