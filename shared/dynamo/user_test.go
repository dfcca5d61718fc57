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
