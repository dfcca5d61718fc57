package authz

import (
	"fmt"
	"testing"

	"github.com/rekey/rekey/shared/rekey"
)

// The places of the test world: district d1 with schools s1 and s2, district
// d2 with school s3. Every actor sits in d1 (and in s1 when its role has a
// school).
const (
	district1 = "d1"
	district2 = "d2"
	school1   = "s1" // in d1
	school2   = "s2" // in d1
	school3   = "s3" // in d2
)

// place is where a target stands relative to the actor.
type place int

const (
	sameSchool          place = iota // d1/s1
	otherSchoolSameDist              // d1/s2
	otherDistrict                    // d2/s3
)

func (p place) String() string {
	return [...]string{"same school", "other school same district", "other district"}[p]
}

// newUser returns an active user of role r at district/school, dropping the
// school for roles that have none. A guardian keeps it as their home school.
func newUser(id string, r rekey.Role, district, school string) rekey.User {
	if !r.SchoolScoped() && r != rekey.RoleGuardian {
		school = ""
	}
	return rekey.User{
		ID: id, Role: r, DistrictID: district, SchoolID: school, Status: rekey.StatusActive,
		FirstName: "Ada", LastName: "Lovelace", Username: id, Email: id + "@example.org",
		Version: 3,
	}
}

// actorOf is the standard actor of role r: in d1, and in s1 if it has a school.
func actorOf(r rekey.Role) rekey.User {
	return newUser("actor-"+string(r), r, district1, school1)
}

// targetAt is another user of role r standing at p relative to actorOf.
func targetAt(r rekey.Role, p place) rekey.User {
	id := fmt.Sprintf("target-%s-%d", r, p)
	switch p {
	case sameSchool:
		return newUser(id, r, district1, school1)
	case otherSchoolSameDist:
		return newUser(id, r, district1, school2)
	default:
		return newUser(id, r, district2, school3)
	}
}

// permissionMatrix is SECURITY.md 21 written out as data: for each actor role
// and action, one cell per target role. A cell holds three answers, one per
// place of the target: same school | other school, same district | other
// district. Y means allowed, N denied. Targets without a school (district
// admins, support) stand in the actor's district for the first two places;
// guardian targets have a home school. No guardian here is linked to anyone
// (linked students: TestGuardianScope), so a guardian actor may do nothing.
var permissionMatrix = []struct {
	actor  rekey.Role
	action Action
	// target roles:
	student, teacher, schoolAdmin, districtAdmin, support, guardian string
}{
	{rekey.RoleStudent, ActionView, "NNN", "NNN", "NNN", "NNN", "NNN", "NNN"},
	{rekey.RoleStudent, ActionEdit, "NNN", "NNN", "NNN", "NNN", "NNN", "NNN"},
	{rekey.RoleStudent, ActionReset, "NNN", "NNN", "NNN", "NNN", "NNN", "NNN"},
	{rekey.RoleStudent, ActionGuardianReset, "NNN", "NNN", "NNN", "NNN", "NNN", "NNN"},

	{rekey.RoleTeacher, ActionView, "YNN", "YNN", "YNN", "NNN", "NNN", "YNN"},
	{rekey.RoleTeacher, ActionEdit, "YNN", "NNN", "NNN", "NNN", "NNN", "NNN"},
	{rekey.RoleTeacher, ActionReset, "YNN", "NNN", "NNN", "NNN", "NNN", "NNN"},
	{rekey.RoleTeacher, ActionGuardianReset, "NNN", "NNN", "NNN", "NNN", "NNN", "NNN"},

	{rekey.RoleSchoolAdmin, ActionView, "YNN", "YNN", "YNN", "NNN", "NNN", "YNN"},
	{rekey.RoleSchoolAdmin, ActionEdit, "YNN", "YNN", "YNN", "NNN", "NNN", "YNN"},
	{rekey.RoleSchoolAdmin, ActionReset, "YNN", "YNN", "YNN", "NNN", "NNN", "YNN"},
	{rekey.RoleSchoolAdmin, ActionGuardianReset, "NNN", "NNN", "NNN", "NNN", "NNN", "NNN"},

	{rekey.RoleDistrictAdmin, ActionView, "YYN", "YYN", "YYN", "YYN", "NNN", "YYN"},
	{rekey.RoleDistrictAdmin, ActionEdit, "YYN", "YYN", "YYN", "YYN", "NNN", "YYN"},
	{rekey.RoleDistrictAdmin, ActionReset, "YYN", "YYN", "YYN", "YYN", "NNN", "YYN"},
	{rekey.RoleDistrictAdmin, ActionGuardianReset, "NNN", "NNN", "NNN", "NNN", "NNN", "NNN"},

	{rekey.RoleSupport, ActionView, "YYY", "YYY", "YYY", "YYY", "YYY", "YYY"},
	{rekey.RoleSupport, ActionEdit, "YYY", "YYY", "YYY", "YYY", "YYY", "YYY"},
	{rekey.RoleSupport, ActionReset, "YYY", "YYY", "YYY", "YYY", "YYY", "YYY"},
	{rekey.RoleSupport, ActionGuardianReset, "NNN", "NNN", "NNN", "NNN", "NNN", "NNN"},

	{rekey.RoleGuardian, ActionView, "NNN", "NNN", "NNN", "NNN", "NNN", "NNN"},
	{rekey.RoleGuardian, ActionEdit, "NNN", "NNN", "NNN", "NNN", "NNN", "NNN"},
	{rekey.RoleGuardian, ActionReset, "NNN", "NNN", "NNN", "NNN", "NNN", "NNN"},
	{rekey.RoleGuardian, ActionGuardianReset, "NNN", "NNN", "NNN", "NNN", "NNN", "NNN"},
	{rekey.RoleGuardian, ActionSeeClientIPs, "NNN", "NNN", "NNN", "NNN", "NNN", "NNN"},
}

func TestAllowedMatrix(t *testing.T) {
	covered := map[string]bool{}
	for _, row := range permissionMatrix {
		cells := map[rekey.Role]string{
			rekey.RoleStudent: row.student, rekey.RoleTeacher: row.teacher,
			rekey.RoleSchoolAdmin: row.schoolAdmin, rekey.RoleDistrictAdmin: row.districtAdmin,
			rekey.RoleSupport: row.support, rekey.RoleGuardian: row.guardian,
		}
		for _, targetRole := range rekey.Roles {
			cell := cells[targetRole]
			if len(cell) != 3 {
				t.Fatalf("matrix row %s/%s: cell for %s is %q, want three of Y/N", row.actor, row.action, targetRole, cell)
			}
			for p := sameSchool; p <= otherDistrict; p++ {
				want := cell[p] == 'Y'
				actor, target := actorOf(row.actor), targetAt(targetRole, p)
				name := fmt.Sprintf("%s %s %s in %s", row.actor, row.action, targetRole, p)
				covered[name] = true
				t.Run(name, func(t *testing.T) {
					if got := Allowed(actor, target, row.action); got != want {
						t.Errorf("Allowed(%s, %s, %s) = %v, want %v", actor.ID, target.ID, row.action, got, want)
					}
				})
			}
		}
	}
	if want := (len(rekey.Roles)*4 + 1) * len(rekey.Roles) * 3; len(covered) != want {
		t.Errorf("matrix covers %d cases, want every actor role × action × target role × place = %d", len(covered), want)
	}
}

func TestAllowedSelf(t *testing.T) {
	// Everyone sees their own record; staff edit a few of their own fields
	// (CheckUpdate limits which); nobody resets their own password through
	// the admin reset.
	for _, test := range []struct {
		role              rekey.Role
		view, edit, reset bool
	}{
		{rekey.RoleStudent, true, false, false},
		{rekey.RoleTeacher, true, true, false},
		{rekey.RoleSchoolAdmin, true, true, false},
		{rekey.RoleDistrictAdmin, true, true, false},
		{rekey.RoleSupport, true, true, false},
	} {
		self := actorOf(test.role)
		for action, want := range map[Action]bool{ActionView: test.view, ActionEdit: test.edit, ActionReset: test.reset} {
			t.Run(fmt.Sprintf("%s %s self", test.role, action), func(t *testing.T) {
				if got := Allowed(self, self, action); got != want {
					t.Errorf("Allowed(%s, self, %s) = %v, want %v", test.role, action, got, want)
				}
			})
		}
	}
}

func TestAllowedActorState(t *testing.T) {
	with := func(u rekey.User, change func(*rekey.User)) rekey.User {
		change(&u)
		return u
	}
	student := targetAt(rekey.RoleStudent, sameSchool)
	for _, test := range []struct {
		name   string
		actor  rekey.User
		target rekey.User
		action Action
		want   bool
	}{
		{"active district admin resets student", actorOf(rekey.RoleDistrictAdmin), student, ActionReset, true},
		{"disabled district admin views student", with(actorOf(rekey.RoleDistrictAdmin), func(u *rekey.User) { u.Status = rekey.StatusDisabled }), student, ActionView, false},
		{"disabled district admin resets student", with(actorOf(rekey.RoleDistrictAdmin), func(u *rekey.User) { u.Status = rekey.StatusDisabled }), student, ActionReset, false},
		{"disabled support edits student", with(actorOf(rekey.RoleSupport), func(u *rekey.User) { u.Status = rekey.StatusDisabled }), student, ActionEdit, false},
		{"disabled teacher views self", with(actorOf(rekey.RoleTeacher), func(u *rekey.User) { u.Status = rekey.StatusDisabled }), with(actorOf(rekey.RoleTeacher), func(u *rekey.User) { u.Status = rekey.StatusDisabled }), ActionView, false},
		{"reset_required school admin resets student", with(actorOf(rekey.RoleSchoolAdmin), func(u *rekey.User) { u.Status = rekey.StatusResetRequired }), student, ActionReset, false},
		{"actor without status", with(actorOf(rekey.RoleDistrictAdmin), func(u *rekey.User) { u.Status = "" }), student, ActionView, false},
		{"actor without id", with(actorOf(rekey.RoleDistrictAdmin), func(u *rekey.User) { u.ID = "" }), student, ActionView, false},
		{"actor with unknown role", with(actorOf(rekey.RoleDistrictAdmin), func(u *rekey.User) { u.Role = "superuser" }), student, ActionView, false},
		{"teacher without school sees district admin", with(actorOf(rekey.RoleTeacher), func(u *rekey.User) { u.SchoolID = "" }), targetAt(rekey.RoleDistrictAdmin, sameSchool), ActionView, false},
		{"teacher without school sees student", with(actorOf(rekey.RoleTeacher), func(u *rekey.User) { u.SchoolID = "" }), student, ActionView, false},
		{"district admin with a school", with(actorOf(rekey.RoleDistrictAdmin), func(u *rekey.User) { u.SchoolID = school1 }), student, ActionView, false},
		{"district admin without district", with(actorOf(rekey.RoleDistrictAdmin), func(u *rekey.User) { u.DistrictID = "" }), with(student, func(u *rekey.User) { u.DistrictID = "" }), ActionView, false},
		{"support without district", with(actorOf(rekey.RoleSupport), func(u *rekey.User) { u.DistrictID = "" }), student, ActionReset, true},
		{"target with unknown role", actorOf(rekey.RoleSupport), with(student, func(u *rekey.User) { u.Role = "guest" }), ActionView, false},
		{"unknown action", actorOf(rekey.RoleSupport), student, Action("delete"), false},
		{"disabled target viewed", actorOf(rekey.RoleSchoolAdmin), with(student, func(u *rekey.User) { u.Status = rekey.StatusDisabled }), ActionView, true},
		{"disabled target edited", actorOf(rekey.RoleSchoolAdmin), with(student, func(u *rekey.User) { u.Status = rekey.StatusDisabled }), ActionEdit, true},
		{"disabled target reset", actorOf(rekey.RoleSchoolAdmin), with(student, func(u *rekey.User) { u.Status = rekey.StatusDisabled }), ActionReset, false},
		{"reset_required target reset again", actorOf(rekey.RoleSchoolAdmin), with(student, func(u *rekey.User) { u.Status = rekey.StatusResetRequired }), ActionReset, true},
		{"district admin with school-less student of other district", actorOf(rekey.RoleDistrictAdmin), with(student, func(u *rekey.User) { u.DistrictID = district2; u.SchoolID = "" }), ActionView, false},
		{"school admin sees district admin carrying a school id", actorOf(rekey.RoleSchoolAdmin), with(targetAt(rekey.RoleDistrictAdmin, sameSchool), func(u *rekey.User) { u.SchoolID = school1 }), ActionView, false},
		{"district admin sees support carrying the district id", actorOf(rekey.RoleDistrictAdmin), targetAt(rekey.RoleSupport, sameSchool), ActionView, false},
	} {
		t.Run(test.name, func(t *testing.T) {
			if got := Allowed(test.actor, test.target, test.action); got != test.want {
				t.Errorf("Allowed(%+v, %+v, %s) = %v, want %v", test.actor, test.target, test.action, got, test.want)
			}
		})
	}
}

// TestAllowedSeeClientIPs: sign-in addresses are for the user, district
// admins of their district and support; never for a viewer who cannot see
// the user at all.
func TestAllowedSeeClientIPs(t *testing.T) {
	for _, test := range []struct {
		actor  rekey.Role
		target rekey.Role
		at     place
		want   bool
	}{
		{rekey.RoleSupport, rekey.RoleSchoolAdmin, otherDistrict, true},
		{rekey.RoleDistrictAdmin, rekey.RoleSchoolAdmin, sameSchool, true},
		{rekey.RoleDistrictAdmin, rekey.RoleTeacher, otherSchoolSameDist, true},
		{rekey.RoleDistrictAdmin, rekey.RoleTeacher, otherDistrict, false},
		{rekey.RoleSchoolAdmin, rekey.RoleTeacher, sameSchool, false},
		{rekey.RoleSchoolAdmin, rekey.RoleSchoolAdmin, sameSchool, false},
		{rekey.RoleTeacher, rekey.RoleSchoolAdmin, sameSchool, false},
		{rekey.RoleTeacher, rekey.RoleStudent, sameSchool, false},
		{rekey.RoleStudent, rekey.RoleStudent, sameSchool, false},
	} {
		actor, target := actorOf(test.actor), targetAt(test.target, test.at)
		if got := Allowed(actor, target, ActionSeeClientIPs); got != test.want {
			t.Errorf("Allowed(%s, %s at %v, see client IPs) = %v, want %v", test.actor, test.target, test.at, got, test.want)
		}
	}
	for _, r := range rekey.Roles {
		self := actorOf(r)
		if !Allowed(self, self, ActionSeeClientIPs) {
			t.Errorf("a %s may not see their own sign-in addresses", r)
		}
	}
}
