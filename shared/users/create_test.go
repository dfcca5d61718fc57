package users

import (
	"context"
	"errors"
	"testing"

	"github.com/rekey/rekey/shared/rekey"
)

func TestCreate(t *testing.T) {
	student := NewUser{Role: rekey.RoleStudent, FirstName: " Ada ", LastName: "Lovelace", Username: "Ada.L", Email: "ADA@example.org", Grade: "5", ExternalID: "S-100"}
	with := func(n NewUser, f func(*NewUser)) NewUser { f(&n); return n }
	for _, test := range []struct {
		name      string
		actor     string
		in        NewUser
		wantCode  string
		wantField string
		wantPlace [2]string // district, school of the created user
	}{
		{"school admin, own school by default", "sadmin1", student, "", "", [2]string{"d1", "s1"}},
		{"school admin, own school named", "sadmin1", with(student, func(n *NewUser) { n.SchoolID = "s1" }), "", "", [2]string{"d1", "s1"}},
		{"school admin, another school", "sadmin1", with(student, func(n *NewUser) { n.SchoolID = "s2" }), rekey.ECodeForbidden, "schoolId", [2]string{}},
		{"school admin, a district admin", "sadmin1", with(student, func(n *NewUser) { n.Role = rekey.RoleDistrictAdmin }), rekey.ECodeForbidden, "role", [2]string{}},
		{"school admin, a teacher", "sadmin1", with(student, func(n *NewUser) { n.Role = rekey.RoleTeacher; n.Title = "Ms" }), "", "", [2]string{"d1", "s1"}},
		{"district admin, any school of theirs", "dadmin1", with(student, func(n *NewUser) { n.SchoolID = "s2" }), "", "", [2]string{"d1", "s2"}},
		{"district admin, a school of another district", "dadmin1", with(student, func(n *NewUser) { n.SchoolID = "s3" }), rekey.ECodeInvalidInput, "schoolId", [2]string{}},
		{"district admin, a student without school", "dadmin1", student, rekey.ECodeInvalidInput, "schoolId", [2]string{}},
		{"district admin, support", "dadmin1", with(student, func(n *NewUser) { n.Role = rekey.RoleSupport }), rekey.ECodeForbidden, "role", [2]string{}},
		{"district admin, a district admin", "dadmin1", with(student, func(n *NewUser) { n.Role = rekey.RoleDistrictAdmin }), "", "", [2]string{"d1", ""}},
		{"teacher", "teacher1", student, rekey.ECodeForbidden, "", [2]string{}},
		{"student", "student1", student, rekey.ECodeForbidden, "", [2]string{}},
		{"username taken", "sadmin1", with(student, func(n *NewUser) { n.Username = "TEACHER2" }), rekey.ECodeUsernameTaken, "username", [2]string{}},
		{"email taken", "sadmin1", with(student, func(n *NewUser) { n.Email = "teacher2@example.org" }), rekey.ECodeEmailTaken, "email", [2]string{}},
		{"bad email", "sadmin1", with(student, func(n *NewUser) { n.Email = "nope" }), rekey.ECodeInvalidInput, "email", [2]string{}},
		{"no role", "sadmin1", with(student, func(n *NewUser) { n.Role = "" }), rekey.ECodeInvalidInput, "role", [2]string{}},
		{"no last name", "sadmin1", with(student, func(n *NewUser) { n.LastName = " " }), rekey.ECodeInvalidInput, "lastName", [2]string{}},
	} {
		t.Run(test.name, func(t *testing.T) {
			store := newStore()
			svc := newTestService(store)
			before := len(store.Audit())
			got, err := svc.Create(context.Background(), store.user(test.actor), test.in, "req-1")
			if test.wantCode != "" {
				var e *rekey.Error
				if rekey.ErrorCode(err) != test.wantCode || errorField(err, &e) != test.wantField {
					t.Fatalf("Create = %v, want code %s field %q", err, test.wantCode, test.wantField)
				}
				if n := len(store.Audit()); n != before {
					t.Errorf("audit entries %d after a refusal, want %d", n, before)
				}
				return
			}
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			stored := store.user(got.ID)
			if stored.Username != "ada.l" || stored.Email != "ada@example.org" || stored.FirstName != "Ada" || stored.Version != 1 ||
				stored.DistrictID != test.wantPlace[0] || stored.SchoolID != test.wantPlace[1] || stored.Status != rekey.StatusActive || stored.PasswordHash != "" {
				t.Errorf("stored %+v", stored)
			}
			if (stored.Role == rekey.RoleStudent) != (stored.Grade == "5") {
				t.Errorf("grade %q for a %s", stored.Grade, stored.Role)
			}
			audit := store.Audit()
			if len(audit) != before+1 || audit[len(audit)-1].Action != rekey.ActionUserCreate || audit[len(audit)-1].TargetID != got.ID ||
				audit[len(audit)-1].After["username"] != "ada.l" || audit[len(audit)-1].RequestID != "req-1" {
				t.Errorf("audit = %+v", audit[before:])
			}
		})
	}
}

func TestCreateExternalIDTaken(t *testing.T) {
	store := newStore()
	svc := newTestService(store)
	in := NewUser{Role: rekey.RoleStudent, FirstName: "A", LastName: "B", Username: "ab1", ExternalID: "X-1", SchoolID: "s1"}
	if _, err := svc.Create(context.Background(), store.user("sadmin1"), in, ""); err != nil {
		t.Fatal(err)
	}
	in.Username = "ab2"
	_, err := svc.Create(context.Background(), store.user("dadmin1"), in, "")
	if rekey.ErrorCode(err) != rekey.ECodeExternalIDTaken {
		t.Fatalf("second create with externalId X-1: %v, want external_id_taken", err)
	}
}

// errorField is the field of the *rekey.Error in err's chain.
func errorField(err error, e **rekey.Error) string {
	if err == nil {
		return ""
	}
	var x *rekey.Error
	if ok := asError(err, &x); ok {
		*e = x
		return x.Field
	}
	return ""
}

func asError(err error, target **rekey.Error) bool { return errors.As(err, target) }
