package dynamo

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/rekey"
)

// sampleUser is a student with every field set, secrets included.
func sampleUser(id, username, email string) rekey.User {
	return rekey.User{
		ID: id, DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent,
		FirstName: "Ada", LastName: "Lovelace", Username: username, Email: email,
		Grade: "7", Title: "", ExternalID: "UPN-" + id, Status: rekey.StatusActive,
		MustChangePassword: true, PasswordChangedAt: t0.Add(-time.Hour), Version: 1,
		CreatedAt: t0, UpdatedAt: t0,
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", VoidedPasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$b2xk$b2xk",
		SessionGen: 3, ResetTokenHash: "abc123",
	}
}

func TestCreateAndGetUser(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	want := sampleUser("u1", "Ada.Lovelace", "Ada@Example.org")
	want.CreatedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600)) // any zone round-trips as the same instant
	if err := s.CreateUser(ctx, want, nil); err != nil {
		t.Fatalf("CreateUser() error: %v", err)
	}
	for _, test := range []struct {
		name string
		get  func() (rekey.User, error)
	}{
		{"GetUser(u1)", func() (rekey.User, error) { return s.GetUser(ctx, "u1") }},
		{"GetUserByUsername(ada.lovelace)", func() (rekey.User, error) { return s.GetUserByUsername(ctx, "ada.lovelace") }},
		{"GetUserByUsername(ADA.LOVELACE)", func() (rekey.User, error) { return s.GetUserByUsername(ctx, "ADA.LOVELACE") }},
		{"GetUserByEmail(ada@example.org)", func() (rekey.User, error) { return s.GetUserByEmail(ctx, "ada@example.org") }},
		{"GetUserByEmail(ADA@EXAMPLE.ORG)", func() (rekey.User, error) { return s.GetUserByEmail(ctx, "ADA@EXAMPLE.ORG") }},
	} {
		t.Run(test.name, func(t *testing.T) {
			got, err := test.get()
			if err != nil {
				t.Fatalf("%s error: %v", test.name, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", test.name, diff)
			}
		})
	}
	for _, test := range []struct {
		name string
		get  func() (rekey.User, error)
	}{
		{"GetUser(nope)", func() (rekey.User, error) { return s.GetUser(ctx, "nope") }},
		{"GetUser(empty)", func() (rekey.User, error) { return s.GetUser(ctx, "") }},
		{"GetUserByUsername(nope)", func() (rekey.User, error) { return s.GetUserByUsername(ctx, "nope") }},
		{"GetUserByEmail(nope@example.org)", func() (rekey.User, error) { return s.GetUserByEmail(ctx, "nope@example.org") }},
		{"GetUserByEmail(empty)", func() (rekey.User, error) { return s.GetUserByEmail(ctx, "") }},
	} {
		t.Run(test.name, func(t *testing.T) {
			got, err := test.get()
			if !errors.Is(err, rekey.ErrNotFound) {
				t.Errorf("%s = %+v, %v, want rekey.ErrNotFound", test.name, got, err)
			}
		})
	}
}

func TestCreateUserClashes(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if err := s.CreateUser(ctx, sampleUser("u1", "alice", "alice@example.org"), nil); err != nil {
		t.Fatalf("CreateUser(u1) error: %v", err)
	}
	audit := &rekey.AuditEntry{ActorID: "admin", TargetID: "u2", Action: rekey.ActionUserCreate}
	for _, test := range []struct {
		name string
		user rekey.User
		want error
	}{
		{"same username in other case", sampleUser("u2", "ALICE", "other@example.org"), rekey.ErrUsernameTaken},
		{"same email in other case", sampleUser("u2", "alice2", "Alice@Example.org"), rekey.ErrEmailTaken},
		{"both taken", sampleUser("u2", "alice", "alice@example.org"), rekey.ErrUsernameTaken},
		{"same id", sampleUser("u1", "alice3", "alice3@example.org"), rekey.ErrConflict},
	} {
		t.Run(test.name, func(t *testing.T) {
			if err := s.CreateUser(ctx, test.user, audit); !errors.Is(err, test.want) {
				t.Errorf("CreateUser(%s) error = %v, want %v", test.user.ID, err, test.want)
			}
		})
	}
	// Nothing of the refused creations was written.
	if _, err := s.GetUser(ctx, "u2"); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("GetUser(u2) error = %v, want rekey.ErrNotFound", err)
	}
	for _, login := range []string{"alice2", "alice3"} {
		if _, err := s.GetUserByUsername(ctx, login); !errors.Is(err, rekey.ErrNotFound) {
			t.Errorf("GetUserByUsername(%s) error = %v, want rekey.ErrNotFound", login, err)
		}
	}
	if page, err := s.ListAudit(ctx, "u2", 0, ""); err != nil || len(page.Items) != 0 {
		t.Errorf("ListAudit(u2) = %d items, %v; want none", len(page.Items), err)
	}
	// A user without email claims none: a second one is fine.
	if err := s.CreateUser(ctx, sampleUser("u3", "nomail1", ""), nil); err != nil {
		t.Errorf("CreateUser(u3 without email) error: %v", err)
	}
	if err := s.CreateUser(ctx, sampleUser("u4", "nomail2", ""), nil); err != nil {
		t.Errorf("CreateUser(u4 without email) error: %v", err)
	}
}

func TestConcurrentCreatesOfOneUsername(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	const n = 8
	spellings := []string{"racer", "RACER", "Racer"}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			u := sampleUser(fmt.Sprintf("racer%d", i), spellings[i%len(spellings)], fmt.Sprintf("r%d@example.org", i))
			errs[i] = s.CreateUser(ctx, u, nil)
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, rekey.ErrUsernameTaken):
			t.Errorf("CreateUser(racer%d) error = %v, want nil or rekey.ErrUsernameTaken", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent creates of one username succeeded, want exactly 1", won, n)
	}
}

func TestUpdateUser(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	before := sampleUser("u1", "bob", "bob@example.org")
	if err := s.CreateUser(ctx, before, nil); err != nil {
		t.Fatalf("CreateUser(u1) error: %v", err)
	}
	if err := s.CreateUser(ctx, sampleUser("u2", "carol", "carol@example.org"), nil); err != nil {
		t.Fatalf("CreateUser(u2) error: %v", err)
	}

	// Rename and change email: the old names become free.
	after := before
	after.Username, after.Email, after.Version, after.UpdatedAt = "Robert", "robert@example.org", 2, t0.Add(time.Minute)
	after.LastName = "Builder"
	audit := &rekey.AuditEntry{ID: "a1", At: t0.Add(time.Minute), ActorID: "admin", TargetID: "u1",
		Action: rekey.ActionUserUpdate, Outcome: rekey.OutcomeSuccess, Before: before.AuditView(), After: after.AuditView()}
	if err := s.UpdateUser(ctx, before, after, audit); err != nil {
		t.Fatalf("UpdateUser(rename) error: %v", err)
	}
	if got, err := s.GetUserByUsername(ctx, "robert"); err != nil || got.ID != "u1" || got.LastName != "Builder" {
		t.Errorf("GetUserByUsername(robert) = %s %s, %v; want u1 Builder", got.ID, got.LastName, err)
	}
	if got, err := s.GetUserByEmail(ctx, "ROBERT@example.org"); err != nil || got.ID != "u1" {
		t.Errorf("GetUserByEmail(robert@) = %s, %v; want u1", got.ID, err)
	}
	for _, login := range []string{"bob"} {
		if _, err := s.GetUserByUsername(ctx, login); !errors.Is(err, rekey.ErrNotFound) {
			t.Errorf("GetUserByUsername(%s) after rename error = %v, want rekey.ErrNotFound", login, err)
		}
	}
	if _, err := s.GetUserByEmail(ctx, "bob@example.org"); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("GetUserByEmail(bob@) after change error = %v, want rekey.ErrNotFound", err)
	}
	if err := s.CreateUser(ctx, sampleUser("u3", "BOB", "bob@example.org"), nil); err != nil {
		t.Errorf("CreateUser(u3 with the freed username and email) error: %v", err)
	}
	current := after

	// A case-only rename keeps the claim; dropping the email frees it.
	next := current
	next.Username, next.Email, next.Version = "ROBERT", "", 3
	if err := s.UpdateUser(ctx, current, next, nil); err != nil {
		t.Fatalf("UpdateUser(case-only rename, drop email) error: %v", err)
	}
	if got, err := s.GetUserByUsername(ctx, "Robert"); err != nil || got.Username != "ROBERT" {
		t.Errorf("GetUserByUsername(Robert) = %q, %v; want ROBERT", got.Username, err)
	}
	if _, err := s.GetUserByEmail(ctx, "robert@example.org"); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("GetUserByEmail(robert@) after dropping it error = %v, want rekey.ErrNotFound", err)
	}
	current = next

	auditBefore, err := s.ListAudit(ctx, "u1", 0, "")
	if err != nil {
		t.Fatalf("ListAudit(u1) error: %v", err)
	}
	failing := &rekey.AuditEntry{ID: "a-fail", ActorID: "admin", TargetID: "u1", Action: rekey.ActionUserUpdate}
	for _, test := range []struct {
		name          string
		before, after func() (rekey.User, rekey.User)
		want          error
	}{
		{
			name: "stale version",
			before: func() (rekey.User, rekey.User) {
				stale, after := current, current
				stale.Version, after.Version, after.FirstName = 2, 3, "Stale"
				return stale, after
			},
			want: rekey.ErrVersionConflict,
		},
		{
			name: "username of another user",
			before: func() (rekey.User, rekey.User) {
				after := current
				after.Version, after.Username = current.Version+1, "Carol"
				return current, after
			},
			want: rekey.ErrUsernameTaken,
		},
		{
			name: "email of another user",
			before: func() (rekey.User, rekey.User) {
				after := current
				after.Version, after.Email = current.Version+1, "CAROL@example.org"
				return current, after
			},
			want: rekey.ErrEmailTaken,
		},
		{
			name: "missing user",
			before: func() (rekey.User, rekey.User) {
				ghost := sampleUser("ghost", "ghost", "")
				after := ghost
				after.Version = 2
				return ghost, after
			},
			want: rekey.ErrVersionConflict,
		},
	} {
		t.Run(test.name, func(t *testing.T) {
			before, after := test.before()
			if err := s.UpdateUser(ctx, before, after, failing); !errors.Is(err, test.want) {
				t.Errorf("UpdateUser() error = %v, want %v", err, test.want)
			}
		})
	}
	// A failed update wrote nothing: record, claims and audit log unchanged.
	got, err := s.GetUser(ctx, "u1")
	if err != nil {
		t.Fatalf("GetUser(u1) error: %v", err)
	}
	if diff := cmp.Diff(current, got); diff != "" {
		t.Errorf("user after failed updates changed (-want +got):\n%s", diff)
	}
	if got, err := s.GetUserByUsername(ctx, "carol"); err != nil || got.ID != "u2" {
		t.Errorf("GetUserByUsername(carol) = %s, %v; want u2", got.ID, err)
	}
	auditAfter, err := s.ListAudit(ctx, "u1", 0, "")
	if err != nil {
		t.Fatalf("ListAudit(u1) error: %v", err)
	}
	if diff := cmp.Diff(auditBefore, auditAfter); diff != "" {
		t.Errorf("audit log after failed updates changed (-want +got):\n%s", diff)
	}
	if len(auditAfter.Items) != 1 || auditAfter.Items[0].ID != "a1" {
		t.Errorf("ListAudit(u1) = %+v, want just a1", auditAfter.Items)
	}

	// The caller must bump the version by one.
	bad := current
	bad.Version = current.Version + 2
	if err := s.UpdateUser(ctx, current, bad, nil); err == nil {
		t.Errorf("UpdateUser() with version %d after %d error = nil, want one", bad.Version, current.Version)
	}
}

// TestUserItemMapsEveryField fills every field of rekey.User, including any
// added later, and checks the item round-trips it: a field the item struct
// forgot would silently be lost on the next write.
func TestUserItemMapsEveryField(t *testing.T) {
	var u rekey.User
	fillEveryField(t, reflect.ValueOf(&u).Elem(), "rekey.User")
	av, err := attributevalue.MarshalMap(newUserItem(u))
	if err != nil {
		t.Fatalf("MarshalMap() error: %v", err)
	}
	var it userItem
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		t.Fatalf("UnmarshalMap() error: %v", err)
	}
	got, err := it.user()
	if err != nil {
		t.Fatalf("user() error: %v", err)
	}
	if diff := cmp.Diff(u, got); diff != "" {
		t.Errorf("user item round trip lost fields (-want +got):\n%s", diff)
	}
}

// fillEveryField sets every field of the struct v (and of the structs in
// it) to a value that differs from field to field; a kind it does not know
// fails the test, so that a new field cannot go untested.
func fillEveryField(t *testing.T, v reflect.Value, name string) {
	t.Helper()
	for i := range v.NumField() {
		f, field := v.Field(i), name+"."+v.Type().Field(i).Name
		switch {
		case f.Type() == reflect.TypeOf(time.Time{}):
			f.Set(reflect.ValueOf(t0.Add(time.Duration(i) * time.Hour)))
		case f.Kind() == reflect.String:
			f.SetString("value-of-" + field)
		case f.Kind() == reflect.Int:
			f.SetInt(int64(i + 1))
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
			f.Set(reflect.ValueOf([]string{field + "-1", field + "-2"}))
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Uint8:
			f.SetBytes([]byte("bytes-of-" + field))
		case f.Kind() == reflect.Struct:
			fillEveryField(t, f, field)
		default:
			t.Fatalf("%s has kind %v, which this test does not fill", field, f.Kind())
		}
	}
}
