package authz

import (
	"errors"
	"testing"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// edited returns u with change applied: the proposed record of an edit.
func edited(u rekey.User, change func(*rekey.User)) rekey.User {
	change(&u)
	return u
}

func TestCheckUpdate(t *testing.T) {
	var (
		student     = targetAt(rekey.RoleStudent, sameSchool)
		teacher     = targetAt(rekey.RoleTeacher, sameSchool)
		schoolAdmin = targetAt(rekey.RoleSchoolAdmin, sameSchool)
		distAdmin   = targetAt(rekey.RoleDistrictAdmin, sameSchool)
		support     = targetAt(rekey.RoleSupport, sameSchool)
		farStudent  = targetAt(rekey.RoleStudent, otherDistrict)

		asStudent     = actorOf(rekey.RoleStudent)
		asTeacher     = actorOf(rekey.RoleTeacher)
		asSchoolAdmin = actorOf(rekey.RoleSchoolAdmin)
		asDistAdmin   = actorOf(rekey.RoleDistrictAdmin)
		asSupport     = actorOf(rekey.RoleSupport)
	)
	disabled := func(u rekey.User) rekey.User { u.Status = rekey.StatusDisabled; return u }

	for _, test := range []struct {
		name      string
		actor     rekey.User
		before    rekey.User
		change    func(*rekey.User)
		wantCode  string // "" = allowed
		wantField string
	}{
		// Escalations (SECURITY.md 21–24) that must fail.
		{"teacher raises own role", asTeacher, asTeacher, func(u *rekey.User) { u.Role = rekey.RoleSchoolAdmin }, rekey.ECodeForbidden, "role"},
		{"school admin raises own role", asSchoolAdmin, asSchoolAdmin, func(u *rekey.User) { u.Role = rekey.RoleDistrictAdmin; u.SchoolID = "" }, rekey.ECodeForbidden, "role"},
		{"district admin makes self support", asDistAdmin, asDistAdmin, func(u *rekey.User) { u.Role = rekey.RoleSupport }, rekey.ECodeForbidden, "role"},
		{"district admin lowers own role", asDistAdmin, asDistAdmin, func(u *rekey.User) { u.Role = rekey.RoleSchoolAdmin; u.SchoolID = school1 }, rekey.ECodeForbidden, "role"},
		{"school admin grants district admin to teacher", asSchoolAdmin, teacher, func(u *rekey.User) { u.Role = rekey.RoleDistrictAdmin; u.SchoolID = "" }, rekey.ECodeForbidden, "role"},
		{"school admin makes another school admin district admin", asSchoolAdmin, schoolAdmin, func(u *rekey.User) { u.Role = rekey.RoleDistrictAdmin; u.SchoolID = "" }, rekey.ECodeForbidden, "role"},
		{"school admin promotes teacher to school admin", asSchoolAdmin, teacher, func(u *rekey.User) { u.Role = rekey.RoleSchoolAdmin }, rekey.ECodeForbidden, "role"},
		{"school admin demotes teacher to student", asSchoolAdmin, teacher, func(u *rekey.User) { u.Role = rekey.RoleStudent }, rekey.ECodeForbidden, "role"},
		{"teacher promotes student to teacher", asTeacher, student, func(u *rekey.User) { u.Role = rekey.RoleTeacher }, rekey.ECodeForbidden, "role"},
		{"district admin grants support", asDistAdmin, distAdmin, func(u *rekey.User) { u.Role = rekey.RoleSupport }, rekey.ECodeForbidden, "role"},
		{"support grants support", asSupport, distAdmin, func(u *rekey.User) { u.Role = rekey.RoleSupport }, rekey.ECodeForbidden, "role"},
		{"district admin promotes teacher to school admin", asDistAdmin, teacher, func(u *rekey.User) { u.Role = rekey.RoleSchoolAdmin }, rekey.ECodeForbidden, "role"},
		{"district admin promotes student to district admin", asDistAdmin, student, func(u *rekey.User) { u.Role = rekey.RoleDistrictAdmin; u.SchoolID = "" }, rekey.ECodeForbidden, "role"},
		{"district admin demotes school admin to teacher", asDistAdmin, schoolAdmin, func(u *rekey.User) { u.Role = rekey.RoleTeacher }, rekey.ECodeForbidden, "role"},
		{"district admin makes teacher a student", asDistAdmin, teacher, func(u *rekey.User) { u.Role = rekey.RoleStudent }, rekey.ECodeForbidden, "role"},
		{"support changes another support user's role", asSupport, support, func(u *rekey.User) { u.Role = rekey.RoleDistrictAdmin; u.DistrictID = district1 }, rekey.ECodeForbidden, "role"},
		{"school admin moves student to another school", asSchoolAdmin, student, func(u *rekey.User) { u.SchoolID = school2 }, rekey.ECodeForbidden, "schoolId"},
		{"school admin moves teacher to another school", asSchoolAdmin, teacher, func(u *rekey.User) { u.SchoolID = school2 }, rekey.ECodeForbidden, "schoolId"},
		{"school admin moves school admin to another district", asSchoolAdmin, schoolAdmin, func(u *rekey.User) { u.DistrictID = district2; u.SchoolID = school3 }, rekey.ECodeForbidden, "districtId"},
		{"teacher moves student to another school", asTeacher, student, func(u *rekey.User) { u.SchoolID = school2 }, rekey.ECodeForbidden, "schoolId"},
		{"district admin moves student to another district", asDistAdmin, student, func(u *rekey.User) { u.DistrictID = district2; u.SchoolID = school3 }, rekey.ECodeForbidden, "districtId"},
		{"district admin moves district admin to another district", asDistAdmin, distAdmin, func(u *rekey.User) { u.DistrictID = district2 }, rekey.ECodeForbidden, "districtId"},
		{"district admin clears a district", asDistAdmin, student, func(u *rekey.User) { u.DistrictID = "" }, rekey.ECodeForbidden, "districtId"},
		{"support moves support user to a district", asSupport, support, func(u *rekey.User) { u.DistrictID = district2 }, rekey.ECodeForbidden, "districtId"},
		{"district admin edits user of another district", asDistAdmin, farStudent, func(u *rekey.User) { u.FirstName = "Eve" }, rekey.ECodeForbidden, ""},
		{"school admin edits user of another school", asSchoolAdmin, targetAt(rekey.RoleStudent, otherSchoolSameDist), func(u *rekey.User) { u.FirstName = "Eve" }, rekey.ECodeForbidden, ""},
		{"teacher edits teacher", asTeacher, teacher, func(u *rekey.User) { u.Title = "Head" }, rekey.ECodeForbidden, ""},
		{"school admin edits district admin", asSchoolAdmin, distAdmin, func(u *rekey.User) { u.Title = "Head" }, rekey.ECodeForbidden, ""},
		{"district admin edits support", asDistAdmin, support, func(u *rekey.User) { u.Title = "Head" }, rekey.ECodeForbidden, ""},
		{"student edits another student", asStudent, student, func(u *rekey.User) { u.FirstName = "Eve" }, rekey.ECodeForbidden, ""},
		{"student edits own name", asStudent, asStudent, func(u *rekey.User) { u.FirstName = "Eve" }, rekey.ECodeForbidden, ""},
		{"teacher changes own school", asTeacher, asTeacher, func(u *rekey.User) { u.SchoolID = school2 }, rekey.ECodeForbidden, "schoolId"},
		{"school admin changes own school", asSchoolAdmin, asSchoolAdmin, func(u *rekey.User) { u.SchoolID = school2 }, rekey.ECodeForbidden, "schoolId"},
		{"support changes own district", asSupport, asSupport, func(u *rekey.User) { u.DistrictID = district2 }, rekey.ECodeForbidden, "districtId"},
		{"district admin changes own status", asDistAdmin, asDistAdmin, func(u *rekey.User) { u.Status = rekey.StatusDisabled }, rekey.ECodeForbidden, "status"},
		{"support re-enables own disabled record", disabled(asSupport), disabled(asSupport), func(u *rekey.User) { u.Status = rekey.StatusActive }, rekey.ECodeForbidden, ""},
		{"teacher changes own email", asTeacher, asTeacher, func(u *rekey.User) { u.Email = "new@example.org" }, rekey.ECodeForbidden, "email"},
		{"district admin changes own username", asDistAdmin, asDistAdmin, func(u *rekey.User) { u.Username = "boss" }, rekey.ECodeForbidden, "username"},
		{"school admin changes own external id", asSchoolAdmin, asSchoolAdmin, func(u *rekey.User) { u.ExternalID = "X1" }, rekey.ECodeForbidden, "externalId"},
		{"disabled district admin edits student", disabled(asDistAdmin), student, func(u *rekey.User) { u.FirstName = "Eve" }, rekey.ECodeForbidden, ""},
		{"disabled support moves student", disabled(asSupport), student, func(u *rekey.User) { u.DistrictID = district2; u.SchoolID = school3 }, rekey.ECodeForbidden, ""},
		{"teacher disables student", asTeacher, student, func(u *rekey.User) { u.Status = rekey.StatusDisabled }, rekey.ECodeForbidden, "status"},

		// Shape errors.
		{"district admin switches school admin to district admin keeping a school", asDistAdmin, schoolAdmin, func(u *rekey.User) { u.Role = rekey.RoleDistrictAdmin }, rekey.ECodeInvalidInput, "schoolId"},
		{"district admin switches district admin to school admin without a school", asDistAdmin, distAdmin, func(u *rekey.User) { u.Role = rekey.RoleSchoolAdmin }, rekey.ECodeInvalidInput, "schoolId"},
		{"district admin clears a student's school", asDistAdmin, student, func(u *rekey.User) { u.SchoolID = "" }, rekey.ECodeInvalidInput, "schoolId"},
		{"district admin gives a district admin a school", asDistAdmin, distAdmin, func(u *rekey.User) { u.SchoolID = school2 }, rekey.ECodeInvalidInput, "schoolId"},
		{"school admin moves school admin to no school", asSchoolAdmin, schoolAdmin, func(u *rekey.User) { u.SchoolID = "" }, rekey.ECodeInvalidInput, "schoolId"},
		{"support moves student to a district without a school", asSupport, student, func(u *rekey.User) { u.DistrictID = district2; u.SchoolID = "" }, rekey.ECodeInvalidInput, "schoolId"},
		{"support moves student to no district", asSupport, student, func(u *rekey.User) { u.DistrictID = "" }, rekey.ECodeInvalidInput, "districtId"},
		{"support promotes teacher to district admin keeping a school", asSupport, teacher, func(u *rekey.User) { u.Role = rekey.RoleDistrictAdmin }, rekey.ECodeInvalidInput, "schoolId"},
		{"support sets an unknown role", asSupport, teacher, func(u *rekey.User) { u.Role = "owner" }, rekey.ECodeInvalidInput, "role"},
		{"district admin sets status reset_required", asDistAdmin, student, func(u *rekey.User) { u.Status = rekey.StatusResetRequired }, rekey.ECodeInvalidInput, "status"},
		{"district admin sets an unknown status", asDistAdmin, student, func(u *rekey.User) { u.Status = "banned" }, rekey.ECodeInvalidInput, "status"},

		// Allowed edits.
		{"no change", asTeacher, student, func(*rekey.User) {}, "", ""},
		{"teacher edits student's details", asTeacher, student, func(u *rekey.User) {
			u.FirstName, u.LastName, u.Username, u.Email, u.Grade, u.ExternalID = "Eve", "Smith", "esmith", "e@example.org", "7", "UPN1"
		}, "", ""},
		{"teacher removes student's email", asTeacher, student, func(u *rekey.User) { u.Email = "" }, "", ""},
		{"school admin edits teacher's title and email", asSchoolAdmin, teacher, func(u *rekey.User) { u.Title = "Head of Year"; u.Email = "t@example.org" }, "", ""},
		{"school admin disables another school admin", asSchoolAdmin, schoolAdmin, func(u *rekey.User) { u.Status = rekey.StatusDisabled }, "", ""},
		{"school admin re-enables student", asSchoolAdmin, disabled(student), func(u *rekey.User) { u.Status = rekey.StatusActive }, "", ""},
		{"school admin clears reset_required", asSchoolAdmin, edited(student, func(u *rekey.User) { u.Status = rekey.StatusResetRequired }), func(u *rekey.User) { u.Status = rekey.StatusActive }, "", ""},
		{"school admin switches another school admin's school", asSchoolAdmin, schoolAdmin, func(u *rekey.User) { u.SchoolID = school2 }, "", ""},
		{"district admin switches school admin to district admin", asDistAdmin, schoolAdmin, func(u *rekey.User) { u.Role = rekey.RoleDistrictAdmin; u.SchoolID = "" }, "", ""},
		{"district admin switches district admin to school admin", asDistAdmin, distAdmin, func(u *rekey.User) { u.Role = rekey.RoleSchoolAdmin; u.SchoolID = school2 }, "", ""},
		{"district admin moves student between schools", asDistAdmin, student, func(u *rekey.User) { u.SchoolID = school2 }, "", ""},
		{"district admin moves school admin between schools", asDistAdmin, targetAt(rekey.RoleSchoolAdmin, otherSchoolSameDist), func(u *rekey.User) { u.SchoolID = school1 }, "", ""},
		{"district admin disables another district admin", asDistAdmin, distAdmin, func(u *rekey.User) { u.Status = rekey.StatusDisabled }, "", ""},
		{"support moves student between districts", asSupport, student, func(u *rekey.User) { u.DistrictID = district2; u.SchoolID = school3 }, "", ""},
		{"support moves district admin between districts", asSupport, distAdmin, func(u *rekey.User) { u.DistrictID = district2 }, "", ""},
		{"support promotes teacher to school admin", asSupport, teacher, func(u *rekey.User) { u.Role = rekey.RoleSchoolAdmin }, "", ""},
		{"support promotes teacher to district admin", asSupport, teacher, func(u *rekey.User) { u.Role = rekey.RoleDistrictAdmin; u.SchoolID = "" }, "", ""},
		{"support demotes district admin to teacher", asSupport, distAdmin, func(u *rekey.User) { u.Role = rekey.RoleTeacher; u.SchoolID = school1 }, "", ""},
		{"support edits another support user's names and status", asSupport, support, func(u *rekey.User) { u.FirstName = "Grace"; u.Status = rekey.StatusDisabled }, "", ""},
		{"teacher edits own names and title", asTeacher, asTeacher, func(u *rekey.User) { u.FirstName, u.LastName, u.Title = "Grace", "Hopper", "Dr" }, "", ""},
		{"district admin edits own title", asDistAdmin, asDistAdmin, func(u *rekey.User) { u.Title = "Superintendent" }, "", ""},
	} {
		t.Run(test.name, func(t *testing.T) {
			after := edited(test.before, test.change)
			err := CheckUpdate(test.actor, test.before, after)
			checkRekeyError(t, err, test.wantCode, test.wantField)
		})
	}
}

func TestCheckUpdateManagedFields(t *testing.T) {
	// Mass assignment: no role, not even support, may set a field Rekey
	// manages itself.
	later := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, test := range []struct {
		field  string
		change func(*rekey.User)
	}{
		{"id", func(u *rekey.User) { u.ID = "someone-else" }},
		{"version", func(u *rekey.User) { u.Version++ }},
		{"createdAt", func(u *rekey.User) { u.CreatedAt = later }},
		{"updatedAt", func(u *rekey.User) { u.UpdatedAt = later }},
		{"passwordHash", func(u *rekey.User) { u.PasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA" }},
		{"mustChangePassword", func(u *rekey.User) { u.MustChangePassword = true }},
		{"passwordChangedAt", func(u *rekey.User) { u.PasswordChangedAt = later }},
		{"sessionGen", func(u *rekey.User) { u.SessionGen++ }},
		{"resetTokenHash", func(u *rekey.User) { u.ResetTokenHash = "abc123" }},
	} {
		for _, actor := range []rekey.User{actorOf(rekey.RoleSupport), actorOf(rekey.RoleDistrictAdmin), actorOf(rekey.RoleTeacher)} {
			t.Run(test.field+" by "+string(actor.Role), func(t *testing.T) {
				before := targetAt(rekey.RoleStudent, sameSchool)
				err := CheckUpdate(actor, before, edited(before, test.change))
				checkRekeyError(t, err, rekey.ECodeForbidden, test.field)
			})
		}
		t.Run(test.field+" on own record", func(t *testing.T) {
			self := actorOf(rekey.RoleSupport)
			err := CheckUpdate(self, self, edited(self, test.change))
			checkRekeyError(t, err, rekey.ECodeForbidden, test.field)
		})
	}
	t.Run("same instant in another zone is unchanged", func(t *testing.T) {
		before := targetAt(rekey.RoleStudent, sameSchool)
		before.CreatedAt = later
		after := edited(before, func(u *rekey.User) { u.CreatedAt = later.In(time.FixedZone("X", 3600)) })
		checkRekeyError(t, CheckUpdate(actorOf(rekey.RoleSupport), before, after), "", "")
	})
}

// checkRekeyError fails unless err is nil (wantCode "") or a *rekey.Error
// with the wanted code and field and a message for people.
func checkRekeyError(t *testing.T, err error, wantCode, wantField string) {
	t.Helper()
	if wantCode == "" {
		if err != nil {
			t.Fatalf("CheckUpdate() = %v, want nil", err)
		}
		return
	}
	var rerr *rekey.Error
	if !errors.As(err, &rerr) {
		t.Fatalf("CheckUpdate() = %v (%T), want a *rekey.Error with code %s", err, err, wantCode)
	}
	if rerr.Code != wantCode || rerr.Field != wantField {
		t.Errorf("CheckUpdate() = code %q field %q, want code %q field %q (message %q)", rerr.Code, rerr.Field, wantCode, wantField, rerr.Message)
	}
	if rerr.Message == "" {
		t.Errorf("CheckUpdate() message is empty, want a message for people")
	}
}
