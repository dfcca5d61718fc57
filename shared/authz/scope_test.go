package authz

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/rekey"
)

func TestListScope(t *testing.T) {
	schoolRoles := []rekey.Role{rekey.RoleStudent, rekey.RoleTeacher, rekey.RoleSchoolAdmin, rekey.RoleGuardian}
	disabledAdmin := actorOf(rekey.RoleDistrictAdmin)
	disabledAdmin.Status = rekey.StatusDisabled
	for _, test := range []struct {
		name   string
		actor  rekey.User
		want   Scope
		wantOK bool
	}{
		{"student", actorOf(rekey.RoleStudent), Scope{}, false},
		{"teacher", actorOf(rekey.RoleTeacher), Scope{DistrictID: district1, SchoolID: school1, Roles: schoolRoles}, true},
		{"school admin", actorOf(rekey.RoleSchoolAdmin), Scope{DistrictID: district1, SchoolID: school1, Roles: schoolRoles}, true},
		{"district admin", actorOf(rekey.RoleDistrictAdmin), Scope{DistrictID: district1, Roles: []rekey.Role{rekey.RoleStudent, rekey.RoleTeacher, rekey.RoleSchoolAdmin, rekey.RoleGuardian, rekey.RoleDistrictAdmin}}, true},
		{"guardian", actorOf(rekey.RoleGuardian), Scope{}, false},
		{"guardian with linked students", linkedGuardian(), Scope{}, false},
		{"support", actorOf(rekey.RoleSupport), Scope{AllDistricts: true, Roles: rekey.Roles}, true},
		{"disabled district admin", disabledAdmin, Scope{}, false},
	} {
		t.Run(test.name, func(t *testing.T) {
			got, ok := ListScope(test.actor)
			if ok != test.wantOK {
				t.Fatalf("ListScope(%s) ok = %v, want %v", test.name, ok, test.wantOK)
			}
			if diff := cmp.Diff(test.want, got); diff != "" {
				t.Errorf("ListScope(%s) mismatch (-want +got):\n%s", test.name, diff)
			}
		})
	}
}

func TestListScopeAgreesWithView(t *testing.T) {
	// Lists must show exactly the other users the actor may view: no foreign
	// rows (SECURITY.md 22) and nothing viewable hidden.
	for _, actorRole := range rekey.Roles {
		actor := actorOf(actorRole)
		scope, ok := ListScope(actor)
		for _, targetRole := range rekey.Roles {
			for p := sameSchool; p <= otherDistrict; p++ {
				target := targetAt(targetRole, p)
				want := Allowed(actor, target, ActionView)
				if got := ok && scope.Contains(target); got != want {
					t.Errorf("ListScope(%s).Contains(%s in %s) = %v, want %v (Allowed view)", actorRole, targetRole, p, got, want)
				}
			}
		}
	}
}

func TestScopeContains(t *testing.T) {
	school := Scope{DistrictID: district1, SchoolID: school1, Roles: []rekey.Role{rekey.RoleStudent}}
	district := Scope{DistrictID: district1, Roles: []rekey.Role{rekey.RoleStudent, rekey.RoleDistrictAdmin}}
	all := Scope{AllDistricts: true, Roles: rekey.Roles}
	for _, test := range []struct {
		name   string
		scope  Scope
		target rekey.User
		want   bool
	}{
		{"zero scope", Scope{}, targetAt(rekey.RoleStudent, sameSchool), false},
		{"zero scope with roles", Scope{Roles: rekey.Roles}, newUser("u", rekey.RoleStudent, "", school1), false},
		{"school scope, student of the school", school, targetAt(rekey.RoleStudent, sameSchool), true},
		{"school scope, student of another school", school, targetAt(rekey.RoleStudent, otherSchoolSameDist), false},
		{"school scope, teacher of the school (role hidden)", school, targetAt(rekey.RoleTeacher, sameSchool), false},
		{"school scope, same school id in another district", school, newUser("u", rekey.RoleStudent, district2, school1), false},
		{"district scope, student of another school", district, targetAt(rekey.RoleStudent, otherSchoolSameDist), true},
		{"district scope, district admin", district, targetAt(rekey.RoleDistrictAdmin, sameSchool), true},
		{"district scope, support of the district (role hidden)", district, targetAt(rekey.RoleSupport, sameSchool), false},
		{"district scope, student of another district", district, targetAt(rekey.RoleStudent, otherDistrict), false},
		{"all districts, student elsewhere", all, targetAt(rekey.RoleStudent, otherDistrict), true},
		{"all districts, support without district", all, newUser("u", rekey.RoleSupport, "", ""), true},
		{"all districts, unknown role", Scope{AllDistricts: true, Roles: []rekey.Role{"", "guest"}}, newUser("u", "guest", district1, ""), false},
	} {
		t.Run(test.name, func(t *testing.T) {
			if got := test.scope.Contains(test.target); got != test.want {
				t.Errorf("%+v.Contains(%+v) = %v, want %v", test.scope, test.target, got, test.want)
			}
		})
	}
}

func TestScopeRestrict(t *testing.T) {
	school := Scope{DistrictID: district1, SchoolID: school1, Roles: []rekey.Role{rekey.RoleStudent, rekey.RoleTeacher}}
	district := Scope{DistrictID: district1, Roles: []rekey.Role{rekey.RoleStudent, rekey.RoleDistrictAdmin}}
	all := Scope{AllDistricts: true, Roles: rekey.Roles}
	for _, test := range []struct {
		name   string
		scope  Scope
		filter rekey.UserFilter
		want   rekey.UserFilter
		wantOK bool
	}{
		{"school scope fills district and school", school, rekey.UserFilter{Grade: "7", Limit: 50}, rekey.UserFilter{DistrictID: district1, SchoolID: school1, Grade: "7", Limit: 50}, true},
		{"school scope, own school asked", school, rekey.UserFilter{SchoolID: school1}, rekey.UserFilter{DistrictID: district1, SchoolID: school1}, true},
		{"school scope, other school asked", school, rekey.UserFilter{SchoolID: school2}, rekey.UserFilter{}, false},
		{"school scope, hidden role asked", school, rekey.UserFilter{Role: rekey.RoleSchoolAdmin}, rekey.UserFilter{}, false},
		{"district scope keeps asked school", district, rekey.UserFilter{SchoolID: school2, Role: rekey.RoleStudent}, rekey.UserFilter{DistrictID: district1, SchoolID: school2, Role: rekey.RoleStudent}, true},
		{"district scope, other district asked", district, rekey.UserFilter{DistrictID: district2}, rekey.UserFilter{}, false},
		{"district scope, support role asked", district, rekey.UserFilter{Role: rekey.RoleSupport}, rekey.UserFilter{}, false},
		{"all districts keeps the filter", all, rekey.UserFilter{DistrictID: district2, Query: "ada"}, rekey.UserFilter{DistrictID: district2, Query: "ada"}, true},
		{"zero scope", Scope{Roles: rekey.Roles}, rekey.UserFilter{}, rekey.UserFilter{}, false},
	} {
		t.Run(test.name, func(t *testing.T) {
			got, ok := test.scope.Restrict(test.filter)
			if ok != test.wantOK {
				t.Fatalf("Restrict(%+v) ok = %v, want %v", test.filter, ok, test.wantOK)
			}
			if diff := cmp.Diff(test.want, got); diff != "" {
				t.Errorf("Restrict(%+v) mismatch (-want +got):\n%s", test.filter, diff)
			}
		})
	}
}
