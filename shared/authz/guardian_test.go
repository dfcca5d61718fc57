package authz

import (
	"testing"

	"github.com/rekey/rekey/shared/rekey"
)

// linkedGuardian is a guardian of d1 (home school s1) linked, on both sides,
// to linkedChild, linkedChildElsewhere (another school of d1) and
// linkedDisabledChild.
func linkedGuardian() rekey.User {
	g := actorOf(rekey.RoleGuardian)
	g.GuardianOf = []string{"child", "child-elsewhere", "child-disabled", "child-far", "child-half", "teacher-linked"}
	return g
}

func linkedChild(id, district, school string) rekey.User {
	c := newUser(id, rekey.RoleStudent, district, school)
	c.Guardians = []string{linkedGuardian().ID}
	return c
}

// TestGuardianScope is the guardian row of the matrix for targets that are
// linked to the guardian, and for every way a link can be missing or void.
func TestGuardianScope(t *testing.T) {
	g := linkedGuardian()
	child := linkedChild("child", district1, school1)
	elsewhere := linkedChild("child-elsewhere", district1, school2)
	disabledChild := linkedChild("child-disabled", district1, school1)
	disabledChild.Status = rekey.StatusDisabled
	far := linkedChild("child-far", district2, school3) // links across districts grant nothing
	half := newUser("child-half", rekey.RoleStudent, district1, school1)
	// half: the guardian lists the student, the student does not list the guardian.
	oneSided := newUser("child-one-sided", rekey.RoleStudent, district1, school1)
	oneSided.Guardians = []string{g.ID} // the student lists the guardian, not the other way
	teacher := newUser("teacher-linked", rekey.RoleTeacher, district1, school1)
	teacher.Guardians = []string{g.ID} // a malformed record: staff have no guardians
	otherGuardian := newUser("other-guardian", rekey.RoleGuardian, district1, school1)
	otherGuardian.GuardianOf = []string{"child"}
	disabledG := g
	disabledG.Status = rekey.StatusDisabled
	resetG := g
	resetG.Status = rekey.StatusResetRequired
	student := linkedChild("child", district1, school1) // a student acting on a sibling
	sibling := linkedChild("sibling", district1, school1)

	type answers struct{ view, edit, reset, guardianReset, ips bool }
	for _, test := range []struct {
		name          string
		actor, target rekey.User
		want          answers
	}{
		{"linked child", g, child, answers{view: true, guardianReset: true}},
		{"linked child at another school", g, elsewhere, answers{view: true, guardianReset: true}},
		{"disabled linked child", g, disabledChild, answers{view: true}},
		{"linked child in another district", g, far, answers{}},
		{"link only on the guardian's side", g, half, answers{}},
		{"link only on the student's side", g, oneSided, answers{}},
		{"linked teacher", g, teacher, answers{}},
		{"another guardian", g, otherGuardian, answers{}},
		{"unlinked student", g, targetAt(rekey.RoleStudent, sameSchool), answers{}},
		{"staff", g, targetAt(rekey.RoleSchoolAdmin, sameSchool), answers{}},
		{"disabled guardian", disabledG, child, answers{}},
		{"guardian whose password was reset", resetG, child, answers{}},
		{"self", g, g, answers{view: true, ips: true}},
		{"student on a sibling", student, sibling, answers{}},
		{"student on self", student, student, answers{view: true, ips: true}},
		{"other guardian on the child", otherGuardian, child, answers{}},
		{"support on the child", actorOf(rekey.RoleSupport), child, answers{view: true, edit: true, reset: true, ips: true}},
	} {
		t.Run(test.name, func(t *testing.T) {
			for action, want := range map[Action]bool{ActionView: test.want.view, ActionEdit: test.want.edit,
				ActionReset: test.want.reset, ActionGuardianReset: test.want.guardianReset, ActionSeeClientIPs: test.want.ips} {
				if got := Allowed(test.actor, test.target, action); got != want {
					t.Errorf("Allowed(%s, %s, %s) = %v, want %v", test.actor.ID, test.target.ID, action, got, want)
				}
			}
		})
	}
}

// A guardian record without a home school belongs to the district alone.
func TestGuardianWithoutSchool(t *testing.T) {
	g := newUser("g", rekey.RoleGuardian, district1, "")
	for _, test := range []struct {
		actor rekey.Role
		want  bool
	}{
		{rekey.RoleTeacher, false}, {rekey.RoleSchoolAdmin, false}, {rekey.RoleDistrictAdmin, true}, {rekey.RoleSupport, true},
	} {
		for _, a := range []Action{ActionView, ActionEdit, ActionReset} {
			if got := Allowed(actorOf(test.actor), g, a); got != test.want {
				t.Errorf("Allowed(%s, guardian without school, %s) = %v, want %v", test.actor, a, got, test.want)
			}
		}
	}
	if !canAct(g) {
		t.Error("a guardian without a home school cannot act")
	}
}

// TestLinkedGuardianTakeover: a guardian's reach is their children, at
// whatever school they study, so taking over a linked guardian's account
// (resetting its password, or pointing its email or username elsewhere and
// then using forgot-password) is resetting every child. Only district-wide
// actors hold all of them: a school admin of the guardian's home school may
// no longer reset a linked guardian nor change its email or username (it
// still edits names and unlinked guardians), else a school admin could
// reach a sibling at another school through the parent (SECURITY.md 21).
func TestLinkedGuardianTakeover(t *testing.T) {
	linked := targetAt(rekey.RoleGuardian, sameSchool)
	linked.GuardianOf = []string{"child-elsewhere"}
	unlinked := targetAt(rekey.RoleGuardian, sameSchool)
	for _, test := range []struct {
		name   string
		actor  rekey.User
		target rekey.User
		reset  bool
	}{
		{"school admin, linked guardian", actorOf(rekey.RoleSchoolAdmin), linked, false},
		{"school admin, unlinked guardian", actorOf(rekey.RoleSchoolAdmin), unlinked, true},
		{"district admin, linked guardian", actorOf(rekey.RoleDistrictAdmin), linked, true},
		{"support, linked guardian", actorOf(rekey.RoleSupport), linked, true},
	} {
		if got := Allowed(test.actor, test.target, ActionReset); got != test.reset {
			t.Errorf("%s: Allowed(reset) = %v, want %v", test.name, got, test.reset)
		}
	}
	for _, test := range []struct {
		name      string
		actor     rekey.User
		before    rekey.User
		change    func(*rekey.User)
		wantField string
	}{
		{"school admin changes a linked guardian's email", actorOf(rekey.RoleSchoolAdmin), linked, func(u *rekey.User) { u.Email = "head@school.example" }, "email"},
		{"school admin changes a linked guardian's username", actorOf(rekey.RoleSchoolAdmin), linked, func(u *rekey.User) { u.Username = "mine" }, "username"},
		{"school admin renames a linked guardian", actorOf(rekey.RoleSchoolAdmin), linked, func(u *rekey.User) { u.FirstName = "X" }, ""},
		{"school admin changes an unlinked guardian's email", actorOf(rekey.RoleSchoolAdmin), unlinked, func(u *rekey.User) { u.Email = "pat@home.example" }, ""},
		{"district admin changes a linked guardian's email", actorOf(rekey.RoleDistrictAdmin), linked, func(u *rekey.User) { u.Email = "pat@home.example" }, ""},
	} {
		err := CheckUpdate(test.actor, test.before, edited(test.before, test.change))
		if test.wantField == "" {
			if err != nil {
				t.Errorf("%s: CheckUpdate = %v, want nil", test.name, err)
			}
			continue
		}
		if e, ok := err.(*rekey.Error); !ok || e.Code != rekey.ECodeForbidden || e.Field != test.wantField {
			t.Errorf("%s: CheckUpdate = %v, want forbidden on %s", test.name, err, test.wantField)
		}
	}
}

func TestCheckUpdateGuardians(t *testing.T) {
	g := linkedGuardian()
	child := linkedChild("child", district1, school1)
	guardianTarget := targetAt(rekey.RoleGuardian, sameSchool)
	for _, test := range []struct {
		name      string
		actor     rekey.User
		before    rekey.User
		change    func(*rekey.User)
		wantCode  string
		wantField string
	}{
		{"guardian edits a linked child", g, child, func(u *rekey.User) { u.FirstName = "X" }, rekey.ECodeForbidden, ""},
		{"guardian unlinks a child", g, child, func(u *rekey.User) { u.Guardians = nil }, rekey.ECodeForbidden, ""},
		{"guardian edits self", g, g, func(u *rekey.User) { u.FirstName = "X" }, rekey.ECodeForbidden, ""},
		{"guardian links self to another child", g, g, func(u *rekey.User) { u.GuardianOf = append(u.GuardianOf, "x") }, rekey.ECodeForbidden, ""},
		{"support makes a student a guardian", actorOf(rekey.RoleSupport), child, func(u *rekey.User) { u.Role = rekey.RoleGuardian }, rekey.ECodeForbidden, "role"},
		{"support makes a guardian a teacher", actorOf(rekey.RoleSupport), guardianTarget, func(u *rekey.User) { u.Role = rekey.RoleTeacher }, rekey.ECodeForbidden, "role"},
		{"district admin makes a guardian a district admin", actorOf(rekey.RoleDistrictAdmin), guardianTarget, func(u *rekey.User) { u.Role = rekey.RoleDistrictAdmin }, rekey.ECodeForbidden, "role"},
		{"teacher edits a guardian of the school", actorOf(rekey.RoleTeacher), guardianTarget, func(u *rekey.User) { u.FirstName = "X" }, rekey.ECodeForbidden, ""},
		{"school admin edits a guardian of the school", actorOf(rekey.RoleSchoolAdmin), guardianTarget, func(u *rekey.User) { u.FirstName = "X" }, "", ""},
		{"school admin moves a guardian to another school", actorOf(rekey.RoleSchoolAdmin), guardianTarget, func(u *rekey.User) { u.SchoolID = school2 }, rekey.ECodeForbidden, "schoolId"},
		{"district admin clears a guardian's home school", actorOf(rekey.RoleDistrictAdmin), guardianTarget, func(u *rekey.User) { u.SchoolID = "" }, "", ""},
		{"district admin links a student", actorOf(rekey.RoleDistrictAdmin), targetAt(rekey.RoleStudent, sameSchool), func(u *rekey.User) { u.Guardians = []string{"g"} }, "", ""},
		{"guardianOf on a student", actorOf(rekey.RoleDistrictAdmin), targetAt(rekey.RoleStudent, sameSchool), func(u *rekey.User) { u.GuardianOf = []string{"x"} }, rekey.ECodeInvalidInput, "guardianOf"},
		{"guardians on a teacher", actorOf(rekey.RoleDistrictAdmin), targetAt(rekey.RoleTeacher, sameSchool), func(u *rekey.User) { u.Guardians = []string{"x"} }, rekey.ECodeInvalidInput, "guardians"},
		{"guardians on a guardian", actorOf(rekey.RoleDistrictAdmin), guardianTarget, func(u *rekey.User) { u.Guardians = []string{"x"} }, rekey.ECodeInvalidInput, "guardians"},
		{"district admin links self", actorOf(rekey.RoleDistrictAdmin), actorOf(rekey.RoleDistrictAdmin), func(u *rekey.User) { u.GuardianOf = []string{"x"} }, rekey.ECodeForbidden, "guardianOf"},
	} {
		t.Run(test.name, func(t *testing.T) {
			err := CheckUpdate(test.actor, test.before, edited(test.before, test.change))
			if test.wantCode == "" {
				if err != nil {
					t.Fatalf("CheckUpdate = %v, want nil", err)
				}
				return
			}
			e, ok := err.(*rekey.Error)
			if !ok || e.Code != test.wantCode || e.Field != test.wantField {
				t.Fatalf("CheckUpdate = %#v, want code %s field %q", err, test.wantCode, test.wantField)
			}
		})
	}
}
