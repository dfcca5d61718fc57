package users

import (
	"context"
	"slices"
	"testing"

	"github.com/rekey/rekey/shared/rekey"
)

// withGuardians adds guardian g1 (home school s1) and g2 (no school) of d1,
// and g3 of d2, to the test world.
func withGuardians(t *testing.T, f *testStore) {
	t.Helper()
	for _, g := range []rekey.User{
		{ID: "g1", Role: rekey.RoleGuardian, DistrictID: "d1", SchoolID: "s1"},
		{ID: "g2", Role: rekey.RoleGuardian, DistrictID: "d1"},
		{ID: "g3", Role: rekey.RoleGuardian, DistrictID: "d2"},
	} {
		g.Status, g.Username, g.FirstName, g.LastName, g.Version = rekey.StatusActive, g.ID, "G", g.ID, 1
		if err := f.CreateUser(context.Background(), g, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func TestUpdateLinks(t *testing.T) {
	ctx := context.Background()
	for _, test := range []struct {
		name      string
		actor     string
		target    string
		patch     Patch
		wantCode  string
		wantField string
		// both sides after, when allowed
		wantGuardians map[string][]string // student → guardians
		wantChildren  map[string][]string // guardian → guardianOf
	}{
		{name: "school admin links a student to a guardian of the school", actor: "sadmin1", target: "student1",
			patch: Patch{Guardians: ptr([]string{"g1"})}, wantGuardians: map[string][]string{"student1": {"g1"}}, wantChildren: map[string][]string{"g1": {"student1"}}},
		{name: "district admin links a guardian to two students", actor: "dadmin1", target: "g2",
			patch:         Patch{GuardianOf: ptr([]string{"student1", "student2"})},
			wantGuardians: map[string][]string{"student1": {"g2"}, "student2": {"g2"}}, wantChildren: map[string][]string{"g2": {"student1", "student2"}}},
		{name: "school admin links a guardian without a school", actor: "sadmin1", target: "student1",
			patch: Patch{Guardians: ptr([]string{"g2"})}, wantCode: rekey.ECodeInvalidInput, wantField: "guardians"},
		{name: "teacher links a student", actor: "teacher1", target: "student1",
			patch: Patch{Guardians: ptr([]string{"g1"})}, wantCode: rekey.ECodeForbidden, wantField: "guardians"},
		{name: "guardian of another district", actor: "support1", target: "student1",
			patch: Patch{Guardians: ptr([]string{"g3"})}, wantCode: rekey.ECodeInvalidInput, wantField: "guardians"},
		{name: "a teacher as a guardian", actor: "dadmin1", target: "student1",
			patch: Patch{Guardians: ptr([]string{"teacher1"})}, wantCode: rekey.ECodeInvalidInput, wantField: "guardians"},
		{name: "a guardian as a child", actor: "dadmin1", target: "g2",
			patch: Patch{GuardianOf: ptr([]string{"g1"})}, wantCode: rekey.ECodeInvalidInput, wantField: "guardianOf"},
		{name: "unknown user", actor: "dadmin1", target: "student1",
			patch: Patch{Guardians: ptr([]string{"nobody"})}, wantCode: rekey.ECodeInvalidInput, wantField: "guardians"},
		{name: "listed twice", actor: "dadmin1", target: "student1",
			patch: Patch{Guardians: ptr([]string{"g1", "g1"})}, wantCode: rekey.ECodeInvalidInput, wantField: "guardians"},
		{name: "guardianOf on a student", actor: "dadmin1", target: "student1",
			patch: Patch{GuardianOf: ptr([]string{"student2"})}, wantCode: rekey.ECodeInvalidInput, wantField: "guardianOf"},
	} {
		t.Run(test.name, func(t *testing.T) {
			f := newStore()
			withGuardians(t, f)
			svc := newTestService(f)
			before := f.user(test.target)
			test.patch.Version = ptr(before.Version)
			_, err := svc.Update(ctx, f.user(test.actor), test.target, test.patch, "req")
			if test.wantCode != "" {
				e, _ := err.(*rekey.Error)
				if e == nil || e.Code != test.wantCode || e.Field != test.wantField {
					t.Fatalf("Update = %v, want %s on %q", err, test.wantCode, test.wantField)
				}
				// Nothing was written on either side.
				for _, id := range []string{"student1", "student2", "g1", "g2", "g3", "teacher1"} {
					if u := f.user(id); len(u.Guardians)+len(u.GuardianOf) != 0 {
						t.Errorf("refused edit left links on %s: %v %v", id, u.Guardians, u.GuardianOf)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Update = %v", err)
			}
			for id, want := range test.wantGuardians {
				if got := f.user(id).Guardians; !slices.Equal(got, want) {
					t.Errorf("%s guardians = %v, want %v", id, got, want)
				}
			}
			for id, want := range test.wantChildren {
				if got := f.user(id).GuardianOf; !slices.Equal(got, want) {
					t.Errorf("%s guardianOf = %v, want %v", id, got, want)
				}
			}
		})
	}
}

// Unlinking updates both sides too, and leaves both lists empty.
func TestUpdateUnlink(t *testing.T) {
	ctx := context.Background()
	f := newStore()
	withGuardians(t, f)
	svc := newTestService(f)
	da := f.user("dadmin1")
	if _, err := svc.Update(ctx, da, "g1", Patch{GuardianOf: ptr([]string{"student1"}), Version: ptr(1)}, "r"); err != nil {
		t.Fatal(err)
	}
	stu := f.user("student1")
	if _, err := svc.Update(ctx, da, "student1", Patch{Guardians: ptr([]string{}), Version: ptr(stu.Version)}, "r"); err != nil {
		t.Fatal(err)
	}
	if g, s := f.user("g1"), f.user("student1"); g.GuardianOf != nil || s.Guardians != nil {
		t.Errorf("after unlink: g1 guardianOf %v, student1 guardians %v; want none", g.GuardianOf, s.Guardians)
	}
	page, _ := f.ListAudit(ctx, "g1", 10, "")
	if len(page.Items) != 2 {
		t.Errorf("g1 has %d audit entries, want link and unlink", len(page.Items))
	}
}
