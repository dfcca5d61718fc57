package users

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/memstore"
	"github.com/rekey/rekey/shared/rekey"
)

// testStore is the in-memory store, recording what the service asks of
// it. With leaky set, ListUsers ignores the filter's scope and returns
// every user, to prove the service's own scope check.
type testStore struct {
	*memstore.Store
	leaky     bool
	lastList  rekey.UserFilter
	lastLimit int
}

func (f *testStore) ListUsers(ctx context.Context, filter rekey.UserFilter) (rekey.UserPage, error) {
	f.lastList = filter
	if f.leaky {
		filter = rekey.UserFilter{Limit: filter.Limit, Cursor: filter.Cursor}
	}
	return f.Store.ListUsers(ctx, filter)
}

func (f *testStore) ListAudit(ctx context.Context, targetID string, limit int, cursor string) (rekey.AuditPage, error) {
	f.lastLimit = limit
	return f.Store.ListAudit(ctx, targetID, limit, cursor)
}

// user returns the stored user with the given id (the zero user for none).
func (f *testStore) user(id string) rekey.User {
	u, _ := f.GetUser(context.Background(), id)
	return u
}

// seeded lists the ids of the test world's users.
var seeded = []string{"teacher1", "teacher2", "student1", "student2", "student3", "sadmin1", "dadmin1", "support1"}

// The test world: district d1 (schools s1, s2), district d2 (school s3).
func newStore() *testStore {
	ctx := context.Background()
	f := &testStore{Store: memstore.New(func() time.Time { return fixedNow })}
	for _, d := range []rekey.District{{ID: "d1"}, {ID: "d2"}} {
		_ = f.PutDistrict(ctx, d)
	}
	for _, s := range []rekey.School{{ID: "s1", DistrictID: "d1"}, {ID: "s2", DistrictID: "d1"}, {ID: "s3", DistrictID: "d2"}} {
		_ = f.PutSchool(ctx, s)
	}
	add := func(id string, role rekey.Role, district, school string) {
		u := rekey.User{
			ID: id, Role: role, DistrictID: district, SchoolID: school, Status: rekey.StatusActive,
			FirstName: "First", LastName: strings.ToUpper(id), Username: id, Email: id + "@example.org",
			Version: 1, SessionGen: 1, ResetTokenHash: "pending-" + id,
		}
		if err := f.CreateUser(ctx, u, nil); err != nil {
			panic(err) // the fixed world is valid
		}
	}
	add("teacher1", rekey.RoleTeacher, "d1", "s1")
	add("teacher2", rekey.RoleTeacher, "d1", "s1")
	add("student1", rekey.RoleStudent, "d1", "s1")
	add("student2", rekey.RoleStudent, "d1", "s2")
	add("student3", rekey.RoleStudent, "d2", "s3")
	add("sadmin1", rekey.RoleSchoolAdmin, "d1", "s1")
	add("dadmin1", rekey.RoleDistrictAdmin, "d1", "")
	add("support1", rekey.RoleSupport, "d1", "")
	return f
}

var fixedNow = time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC)

func newTestService(store *testStore) *Service {
	return NewService(store, func() time.Time { return fixedNow })
}

func ids(us []rekey.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.ID)
	}
	slices.Sort(out)
	return out
}

func TestList(t *testing.T) {
	for _, test := range []struct {
		name   string
		actor  string
		filter rekey.UserFilter
		leaky  bool
		want   []string
	}{
		{"teacher sees own school", "teacher1", rekey.UserFilter{}, false, []string{"sadmin1", "student1", "teacher1", "teacher2"}},
		{"teacher asking for another school", "teacher1", rekey.UserFilter{SchoolID: "s2"}, false, nil},
		{"teacher asking for another district", "teacher1", rekey.UserFilter{DistrictID: "d2"}, false, nil},
		{"teacher, store ignores the filter", "teacher1", rekey.UserFilter{}, true, []string{"sadmin1", "student1", "teacher1", "teacher2"}},
		{"district admin sees district, not support", "dadmin1", rekey.UserFilter{}, false,
			[]string{"dadmin1", "sadmin1", "student1", "student2", "teacher1", "teacher2"}},
		{"district admin narrows to a school", "dadmin1", rekey.UserFilter{SchoolID: "s2"}, false, []string{"student2"}},
		{"district admin asking for a foreign school", "dadmin1", rekey.UserFilter{SchoolID: "s3"}, false, nil},
		{"district admin asking for support", "dadmin1", rekey.UserFilter{Role: rekey.RoleSupport}, false, nil},
		{"district admin, role filter", "dadmin1", rekey.UserFilter{Role: rekey.RoleStudent}, false, []string{"student1", "student2"}},
		{"support sees everyone", "support1", rekey.UserFilter{}, false,
			[]string{"dadmin1", "sadmin1", "student1", "student2", "student3", "support1", "teacher1", "teacher2"}},
		{"support narrows to a district", "support1", rekey.UserFilter{DistrictID: "d2"}, false, []string{"student3"}},
	} {
		t.Run(test.name, func(t *testing.T) {
			store := newStore()
			store.leaky = test.leaky
			svc := newTestService(store)
			page, err := svc.List(context.Background(), store.user(test.actor), test.filter)
			if err != nil {
				t.Fatalf("List error = %v", err)
			}
			if page.Items == nil {
				t.Errorf("List items = nil, want a non-nil slice")
			}
			if diff := cmp.Diff(test.want, ids(page.Items)); diff != "" {
				t.Errorf("List(%s, %+v) ids (-want +got):\n%s", test.actor, test.filter, diff)
			}
		})
	}
}

func TestListRefusals(t *testing.T) {
	store := newStore()
	svc := newTestService(store)
	for _, test := range []struct {
		name      string
		actor     string
		filter    rekey.UserFilter
		wantCode  string
		wantField string
	}{
		{"student", "student1", rekey.UserFilter{}, rekey.ECodeForbidden, ""},
		{"limit too big", "dadmin1", rekey.UserFilter{Limit: 201}, rekey.ECodeInvalidInput, "limit"},
		{"negative limit", "dadmin1", rekey.UserFilter{Limit: -1}, rekey.ECodeInvalidInput, "limit"},
		{"unknown role", "dadmin1", rekey.UserFilter{Role: "wizard"}, rekey.ECodeInvalidInput, "role"},
		{"bad school id", "dadmin1", rekey.UserFilter{SchoolID: "../x"}, rekey.ECodeInvalidInput, "schoolId"},
		{"control character in query", "dadmin1", rekey.UserFilter{Query: "a\x00b"}, rekey.ECodeInvalidInput, "q"},
	} {
		t.Run(test.name, func(t *testing.T) {
			_, err := svc.List(context.Background(), store.user(test.actor), test.filter)
			var e *rekey.Error
			if !errors.As(err, &e) || e.Code != test.wantCode || e.Field != test.wantField {
				t.Errorf("List error = %v, want code %s field %q", err, test.wantCode, test.wantField)
			}
		})
	}
}

func TestListPaging(t *testing.T) {
	store := newStore()
	svc := newTestService(store)
	actor := store.user("support1")
	page, err := svc.List(context.Background(), actor, rekey.UserFilter{})
	if err != nil || store.lastList.Limit != rekey.UserPaging.Default {
		t.Fatalf("List with no limit asked the store for %d (err %v), want %d", store.lastList.Limit, err, rekey.UserPaging.Default)
	}
	var got []string
	cursor := ""
	for range 10 {
		page, err = svc.List(context.Background(), actor, rekey.UserFilter{Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ids(page.Items)...)
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	if len(got) != len(seeded) {
		t.Errorf("paging by 3 returned %d users, want %d", len(got), len(seeded))
	}
}

func TestGet(t *testing.T) {
	store := newStore()
	svc := newTestService(store)
	for _, test := range []struct {
		actor, target string
		ok            bool
	}{
		{"teacher1", "student1", true},
		{"teacher1", "teacher1", true},
		{"teacher1", "student2", false},
		{"teacher1", "student3", false},
		{"teacher1", "missing", false},
		{"student1", "student1", true},
		{"student1", "teacher1", false},
		{"dadmin1", "support1", false},
	} {
		got, err := svc.Get(context.Background(), store.user(test.actor), test.target)
		if test.ok && (err != nil || got.ID != test.target) {
			t.Errorf("Get(%s, %s) = %q, %v; want the user", test.actor, test.target, got.ID, err)
		}
		if !test.ok && (err != rekey.ErrNotFound || got.ID != "") {
			t.Errorf("Get(%s, %s) = %q, %v; want ErrNotFound", test.actor, test.target, got.ID, err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestUpdate(t *testing.T) {
	for _, test := range []struct {
		name      string
		actor     string
		target    string
		patch     Patch
		wantCode  string
		wantField string
		check     func(t *testing.T, got rekey.User, entry rekey.AuditEntry)
	}{
		{
			name: "names and email", actor: "teacher1", target: "student1",
			patch: Patch{FirstName: ptr("  Émilie "), Email: ptr("Emilie.B@Example.ORG"), Version: ptr(1)},
			check: func(t *testing.T, got rekey.User, entry rekey.AuditEntry) {
				if got.FirstName != "Émilie" || got.Email != "emilie.b@example.org" || got.Version != 2 ||
					!got.UpdatedAt.Equal(fixedNow) || got.ResetTokenHash != "" {
					t.Errorf("updated user = %+v", got)
				}
				want := rekey.AuditEntry{
					ID: entry.ID, At: fixedNow, DistrictID: "d1", ActorID: "teacher1", ActorName: "First TEACHER1",
					TargetID: "student1", Action: rekey.ActionUserUpdate, Outcome: rekey.OutcomeSuccess,
					Before:    map[string]any{"firstName": "First", "email": "student1@example.org"},
					After:     map[string]any{"firstName": "Émilie", "email": "emilie.b@example.org"},
					RequestID: "req-1",
				}
				if diff := cmp.Diff(want, entry); diff != "" {
					t.Errorf("audit entry (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "move within district", actor: "dadmin1", target: "student1",
			patch: Patch{SchoolID: ptr("s2"), Version: ptr(1)},
			check: func(t *testing.T, got rekey.User, entry rekey.AuditEntry) {
				if got.SchoolID != "s2" || entry.Action != rekey.ActionUserMove || got.ResetTokenHash == "" {
					t.Errorf("moved user %+v, audit action %s", got, entry.Action)
				}
			},
		},
		{
			name: "admin switch", actor: "dadmin1", target: "sadmin1",
			patch: Patch{Role: ptr(rekey.RoleDistrictAdmin), SchoolID: ptr(""), Version: ptr(1)},
			check: func(t *testing.T, got rekey.User, entry rekey.AuditEntry) {
				if got.Role != rekey.RoleDistrictAdmin || got.SchoolID != "" || entry.Action != rekey.ActionUserRoleChange {
					t.Errorf("switched user %+v, audit action %s", got, entry.Action)
				}
			},
		},
		{
			name: "disable", actor: "sadmin1", target: "teacher1",
			patch: Patch{Status: ptr(rekey.StatusDisabled), Version: ptr(1)},
			check: func(t *testing.T, got rekey.User, entry rekey.AuditEntry) {
				if got.Status != rekey.StatusDisabled || got.SessionGen != 2 || got.ResetTokenHash != "" {
					t.Errorf("disabled user %+v", got)
				}
			},
		},
		{name: "missing version", actor: "teacher1", target: "student1",
			patch: Patch{FirstName: ptr("X")}, wantCode: rekey.ECodeInvalidInput, wantField: "version"},
		{name: "stale version", actor: "teacher1", target: "student1",
			patch: Patch{FirstName: ptr("X"), Version: ptr(0)}, wantCode: rekey.ECodeVersionConflict},
		{name: "bad email", actor: "teacher1", target: "student1",
			patch: Patch{Email: ptr("not an email"), Version: ptr(1)}, wantCode: rekey.ECodeInvalidInput, wantField: "email"},
		{name: "email with a display name", actor: "teacher1", target: "student1",
			patch: Patch{Email: ptr("Bob <bob@example.org>"), Version: ptr(1)}, wantCode: rekey.ECodeInvalidInput, wantField: "email"},
		{name: "control character in a name", actor: "teacher1", target: "student1",
			patch: Patch{LastName: ptr("Smith\x07"), Version: ptr(1)}, wantCode: rekey.ECodeInvalidInput, wantField: "lastName"},
		{name: "bidi override in a name", actor: "teacher1", target: "student1",
			patch: Patch{FirstName: ptr("abc\u202edef"), Version: ptr(1)}, wantCode: rekey.ECodeInvalidInput, wantField: "firstName"},
		{name: "empty name", actor: "teacher1", target: "student1",
			patch: Patch{FirstName: ptr("   "), Version: ptr(1)}, wantCode: rekey.ECodeInvalidInput, wantField: "firstName"},
		{name: "long name", actor: "teacher1", target: "student1",
			patch: Patch{FirstName: ptr(strings.Repeat("é", 101)), Version: ptr(1)}, wantCode: rekey.ECodeInvalidInput, wantField: "firstName"},
		{name: "bad username", actor: "teacher1", target: "student1",
			patch: Patch{Username: ptr("a b"), Version: ptr(1)}, wantCode: rekey.ECodeInvalidInput, wantField: "username"},
		{name: "long grade", actor: "teacher1", target: "student1",
			patch: Patch{Grade: ptr(strings.Repeat("1", 17)), Version: ptr(1)}, wantCode: rekey.ECodeInvalidInput, wantField: "grade"},
		{name: "unknown role", actor: "dadmin1", target: "student1",
			patch: Patch{Role: ptr(rekey.Role("wizard")), Version: ptr(1)}, wantCode: rekey.ECodeInvalidInput, wantField: "role"},
		{name: "duplicate username", actor: "teacher1", target: "student1",
			patch: Patch{Username: ptr("Student2"), Version: ptr(1)}, wantCode: rekey.ECodeUsernameTaken, wantField: "username"},
		{name: "duplicate email", actor: "teacher1", target: "student1",
			patch: Patch{Email: ptr("student2@example.org"), Version: ptr(1)}, wantCode: rekey.ECodeEmailTaken, wantField: "email"},
		{name: "out of scope", actor: "teacher1", target: "student2",
			patch: Patch{FirstName: ptr("X"), Version: ptr(1)}, wantCode: rekey.ECodeNotFound},
		{name: "visible but not editable", actor: "teacher1", target: "teacher2",
			patch: Patch{FirstName: ptr("X"), Version: ptr(1)}, wantCode: rekey.ECodeForbidden},
		{name: "school admin promotes a teacher", actor: "sadmin1", target: "teacher1",
			patch: Patch{Role: ptr(rekey.RoleSchoolAdmin), Version: ptr(1)}, wantCode: rekey.ECodeForbidden, wantField: "role"},
		{name: "school in another district", actor: "dadmin1", target: "student1",
			patch: Patch{SchoolID: ptr("s3"), Version: ptr(1)}, wantCode: rekey.ECodeInvalidInput, wantField: "schoolId"},
		{name: "unknown school", actor: "dadmin1", target: "student1",
			patch: Patch{SchoolID: ptr("nope"), Version: ptr(1)}, wantCode: rekey.ECodeInvalidInput, wantField: "schoolId"},
		{name: "support moves to an unknown district", actor: "support1", target: "student1",
			patch: Patch{DistrictID: ptr("d9"), SchoolID: ptr("s1"), Version: ptr(1)}, wantCode: rekey.ECodeInvalidInput, wantField: "districtId"},
		{name: "own email", actor: "teacher1", target: "teacher1",
			patch: Patch{Email: ptr("me@example.org"), Version: ptr(1)}, wantCode: rekey.ECodeForbidden, wantField: "email"},
	} {
		t.Run(test.name, func(t *testing.T) {
			store := newStore()
			svc := newTestService(store)
			before := store.user(test.target)
			got, err := svc.Update(context.Background(), store.user(test.actor), test.target, test.patch, "req-1")
			if test.wantCode != "" {
				var e *rekey.Error
				if !errors.As(err, &e) || e.Code != test.wantCode || e.Field != test.wantField {
					t.Errorf("Update error = %v, want code %s field %q", err, test.wantCode, test.wantField)
				}
				if len(store.Audit()) != 0 {
					t.Errorf("a failed update wrote %d audit entries", len(store.Audit()))
				}
				if diff := cmp.Diff(before, store.user(test.target)); diff != "" {
					t.Errorf("a failed update changed the user (-before +after):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("Update error = %v", err)
			}
			if diff := cmp.Diff(got, store.user(test.target)); diff != "" {
				t.Errorf("returned and stored user differ (-returned +stored):\n%s", diff)
			}
			if len(store.Audit()) != 1 {
				t.Fatalf("%d audit entries, want 1", len(store.Audit()))
			}
			test.check(t, got, store.Audit()[0])
		})
	}
}

func TestUpdateNoOp(t *testing.T) {
	store := newStore()
	svc := newTestService(store)
	before := store.user("student1")
	for _, test := range []struct {
		name     string
		version  int
		wantCode string
	}{{"right version", 1, ""}, {"stale version", 0, rekey.ECodeVersionConflict}} {
		t.Run(test.name, func(t *testing.T) {
			got, err := svc.Update(context.Background(), store.user("teacher1"), "student1",
				Patch{FirstName: ptr(before.FirstName), Email: ptr(strings.ToUpper(before.Email)), Version: ptr(test.version)}, "req-1")
			if rekey.ErrorCode(err) != test.wantCode {
				t.Fatalf("Update error = %v, want code %q", err, test.wantCode)
			}
			if test.wantCode == "" {
				if diff := cmp.Diff(before, got); diff != "" {
					t.Errorf("no-op update returned a changed user (-want +got):\n%s", diff)
				}
			}
			if len(store.Audit()) != 0 || store.user("student1").Version != 1 {
				t.Errorf("no-op update wrote audit %d / version %d", len(store.Audit()), store.user("student1").Version)
			}
		})
	}
}

func TestActivity(t *testing.T) {
	store := newStore()
	svc := newTestService(store)
	if _, err := svc.Update(context.Background(), store.user("teacher1"), "student1", Patch{Grade: ptr("5"), Version: ptr(1)}, "req-1"); err != nil {
		t.Fatal(err)
	}
	page, err := svc.Activity(context.Background(), store.user("teacher1"), "student1", 0, "")
	if err != nil || len(page.Items) != 1 || store.lastLimit != rekey.AuditPaging.Default {
		t.Errorf("Activity = %d items, limit %d, %v; want 1 item, limit %d", len(page.Items), store.lastLimit, err, rekey.AuditPaging.Default)
	}
	if _, err := svc.Activity(context.Background(), store.user("teacher1"), "student3", 0, ""); err != rekey.ErrNotFound {
		t.Errorf("Activity out of scope error = %v, want ErrNotFound", err)
	}
	page, err = svc.Activity(context.Background(), store.user("teacher1"), "student2", 10, "")
	if err == nil {
		t.Errorf("Activity out of scope returned %d items", len(page.Items))
	}
	page, err = svc.Activity(context.Background(), store.user("teacher1"), "teacher1", 10, "")
	if err != nil || page.Items == nil {
		t.Errorf("Activity of self = %v, %v; want an empty, non-nil page", page.Items, err)
	}
	if _, err := svc.Activity(context.Background(), store.user("teacher1"), "student1", 500, ""); rekey.ErrorCode(err) != rekey.ECodeInvalidInput {
		t.Errorf("Activity limit 500 error = %v, want invalid_input", err)
	}
}

func TestEmailValidation(t *testing.T) {
	for _, test := range []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"a@b.org", "a@b.org", true},
		{" A.B+tag@Example.Org ", "a.b+tag@example.org", true},
		{"a@b", "", false},
		{"a@b.", "", false},
		{"@b.org", "", false},
		{"a b@c.org", "", false},
		{"<a@b.org>", "", false},
		{"a@b.org, c@d.org", "", false},
		{"a@b.org (comment)", "", false},
		{strings.Repeat("a", 250) + "@b.org", "", false},
		{"a\n@b.org", "", false},
	} {
		got, err := normaliseEmail(test.in)
		if (err == nil) != test.ok || got != test.want {
			t.Errorf("normaliseEmail(%q) = %q, %v; want %q, ok %v", test.in, got, err, test.want, test.ok)
		}
	}
}

func TestSchools(t *testing.T) {
	for _, test := range []struct {
		actor    string
		district string
		want     []string
	}{
		{"dadmin1", "", []string{"s1", "s2"}},
		{"dadmin1", "d2", []string{"s1", "s2"}}, // a district admin cannot look into another district
		{"support1", "d2", []string{"s3"}},
		{"sadmin1", "", []string{"s1"}},
		{"teacher1", "d2", []string{"s1"}},
		{"student1", "", []string{"s1"}}, // a student's account page names their school
		{"student3", "d1", []string{"s3"}},
		{"lost", "", nil},   // a school that is gone
		{"astray", "", nil}, // a school of another district
		{"nomad", "", nil},  // no school at all
	} {
		t.Run(test.actor+"/"+test.district, func(t *testing.T) {
			store := newStore()
			for _, u := range []rekey.User{
				{ID: "lost", Role: rekey.RoleStudent, DistrictID: "d1", SchoolID: "s9", Status: rekey.StatusActive},
				{ID: "astray", Role: rekey.RoleTeacher, DistrictID: "d1", SchoolID: "s3", Status: rekey.StatusActive},
				{ID: "nomad", Role: rekey.RoleStudent, DistrictID: "d1", Status: rekey.StatusActive},
			} {
				u.Username, u.Version = u.ID, 1
				if err := store.CreateUser(context.Background(), u, nil); err != nil {
					t.Fatal(err)
				}
			}
			got, err := newTestService(store).Schools(context.Background(), store.user(test.actor), test.district)
			if err != nil {
				t.Fatalf("Schools error = %v", err)
			}
			var gotIDs []string
			for _, s := range got {
				gotIDs = append(gotIDs, s.ID)
			}
			slices.Sort(gotIDs)
			if diff := cmp.Diff(test.want, gotIDs); diff != "" {
				t.Errorf("Schools mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestActivityClientIPs: the network addresses of sign-ins are shown only
// to the user themselves, district admins and support; other viewers (a
// teacher or school admin looking at a colleague) get the entries without
// them, including entries written before the address had its own field.
func TestActivityClientIPs(t *testing.T) {
	const ip = "192.0.2.7"
	entries := []rekey.AuditEntry{
		{ID: "a1", TargetID: "sadmin1", Action: rekey.ActionLoginSuccess, Outcome: rekey.OutcomeSuccess, ClientIP: ip},
		{ID: "a2", TargetID: "sadmin1", Action: rekey.ActionLoginSuccess, Outcome: rekey.OutcomeSuccess, Detail: "from " + ip},
		{ID: "a3", TargetID: "sadmin1", Action: rekey.ActionLoginFailure, Outcome: rekey.OutcomeFailure, Detail: "wrong password; from " + ip},
		{ID: "a4", TargetID: "sadmin1", Action: rekey.ActionLoginLockout, Outcome: rekey.OutcomeDenied, Detail: "10 failed attempts; locked for 15m0s; last from " + ip},
		{ID: "a5", TargetID: "sadmin1", Action: rekey.ActionPasswordChange, Outcome: rekey.OutcomeFailure, Detail: "wrong current password; from " + ip},
		{ID: "a6", TargetID: "sadmin1", Action: rekey.ActionUserUpdate, Outcome: rekey.OutcomeSuccess, Detail: "moved from Hillcrest"},
	}
	hidden := []rekey.AuditEntry{
		{ID: "a6", TargetID: "sadmin1", Action: rekey.ActionUserUpdate, Outcome: rekey.OutcomeSuccess, Detail: "moved from Hillcrest"},
		{ID: "a5", TargetID: "sadmin1", Action: rekey.ActionPasswordChange, Outcome: rekey.OutcomeFailure, Detail: "wrong current password"},
		{ID: "a4", TargetID: "sadmin1", Action: rekey.ActionLoginLockout, Outcome: rekey.OutcomeDenied, Detail: "10 failed attempts; locked for 15m0s"},
		{ID: "a3", TargetID: "sadmin1", Action: rekey.ActionLoginFailure, Outcome: rekey.OutcomeFailure, Detail: "wrong password"},
		{ID: "a2", TargetID: "sadmin1", Action: rekey.ActionLoginSuccess, Outcome: rekey.OutcomeSuccess},
		{ID: "a1", TargetID: "sadmin1", Action: rekey.ActionLoginSuccess, Outcome: rekey.OutcomeSuccess},
	}
	// at is the time of entry a<n>: n seconds after fixedNow, so a6 is the
	// newest.
	at := func(id string) time.Time { return fixedNow.Add(time.Duration(id[1]-'0') * time.Second) }
	for _, test := range []struct {
		viewer, target string
		sees           bool
	}{
		{"sadmin1", "sadmin1", true},  // themselves
		{"dadmin1", "sadmin1", true},  // their district admin
		{"support1", "sadmin1", true}, // support
		{"teacher1", "sadmin1", false},
		{"sadmin2", "sadmin1", false},
		{"sadmin1", "teacher1", false},
		{"teacher2", "teacher1", false},
		{"teacher1", "teacher1", true},
	} {
		t.Run(test.viewer+" on "+test.target, func(t *testing.T) {
			store := newStore()
			ctx := context.Background()
			if err := store.CreateUser(ctx, rekey.User{ID: "sadmin2", Role: rekey.RoleSchoolAdmin, DistrictID: "d1", SchoolID: "s1", Status: rekey.StatusActive, Username: "sadmin2", Version: 1}, nil); err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				e.TargetID, e.At = test.target, at(e.ID)
				if err := store.PutAudit(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			page, err := newTestService(store).Activity(context.Background(), store.user(test.viewer), test.target, 0, "")
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(entries)
			slices.Reverse(want)
			if !test.sees {
				want = slices.Clone(hidden)
			}
			for i := range want {
				want[i].TargetID, want[i].At = test.target, at(want[i].ID)
			}
			if diff := cmp.Diff(want, page.Items); diff != "" {
				t.Errorf("activity (-want +got):\n%s", diff)
			}
			for _, e := range page.Items {
				if !test.sees && (e.ClientIP != "" || strings.Contains(e.Detail, ip)) {
					t.Errorf("%s sees the address in %+v", test.viewer, e)
				}
			}
		})
	}
}
