package api

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rekey/rekey/shared/auth"
	"github.com/rekey/rekey/shared/bulk/envelope"
	"github.com/rekey/rekey/shared/guardians"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/resets"
	"github.com/rekey/rekey/shared/users"
)

// memKeys is a Keyring without KMS.
type memKeys struct {
	mu   sync.Mutex
	keys map[string]envelope.Key
}

func (k *memKeys) NewKey(_ context.Context, owner string) (envelope.Key, []byte, error) {
	plain := make([]byte, envelope.KeySize)
	rand.Read(plain)
	key, err := envelope.NewKey(plain)
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys == nil {
		k.keys = map[string]envelope.Key{}
	}
	sealed := owner + "#" + rekey.NewID()
	k.keys[sealed] = key
	return key, []byte(sealed), err
}

func (k *memKeys) OpenKey(_ context.Context, owner string, sealed []byte) (envelope.Key, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	key, ok := k.keys[string(sealed)]
	if !ok || !strings.HasPrefix(string(sealed), owner+"#") {
		return envelope.Key{}, errors.New("cannot decrypt")
	}
	return key, nil
}

type nopQueue struct{}

func (nopQueue) Send(context.Context, any) error { return nil }

// newGuardianAPI serves every users, auth and resets route with the real
// services over the test world.
func newGuardianAPI(t *testing.T) *testAPI {
	t.Helper()
	a := newTestAPI(t)
	rs, err := resets.NewService(resets.Config{}, resets.Deps{Store: a.store, Queue: nopQueue{}, Hasher: fastHasher{}, Now: a.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Deps{
		Auth:      auth.NewService(auth.Config{}, auth.Deps{Store: a.store, Throttles: a.store, Hasher: fastHasher{}, Now: a.clock.Now}),
		Users:     users.NewService(a.store, a.clock.Now),
		Secrets:   a.store,
		Resets:    rs,
		Guardians: guardians.NewService(a.store, &memKeys{}, fastHasher{}, rs, guardians.DefaultConfig, a.clock.Now),
	})
	a.h = s.Handler(FunctionAuth, FunctionUsers, FunctionResets)
	return a
}

const guardianPassword = "blue kettle winter orchard sings"

func TestGuardianFlow(t *testing.T) {
	a := newGuardianAPI(t)
	student := a.login("student.1")
	rec := a.do("GET", "/api/me/parent-code", "", student.bearer()...)
	code := decode[guardians.Code](t, rec)
	if rec.Code != http.StatusOK || len(code.Code) != 14 || code.ExpiresAt.IsZero() {
		t.Fatalf("GET /api/me/parent-code = %d %s", rec.Code, rec.Body)
	}
	// The teacher reads the same code; a teacher of another school cannot.
	teacher := a.login("teacher.one")
	if got := decode[guardians.Code](t, a.do("GET", "/api/users/st1/parent-code", "", teacher.bearer()...)); got.Code != code.Code {
		t.Errorf("teacher sees %q, student %q", got.Code, code.Code)
	}
	wantError(t, a.do("GET", "/api/users/st1/parent-code", "", a.login("teacher.two").bearer()...), http.StatusNotFound, rekey.ECodeNotFound, "")

	register := func(code, username string) *httptest.ResponseRecorder {
		return a.do("POST", "/api/guardians/register", fmt.Sprintf(
			`{"parentCode":%q,"firstName":"Sam","lastName":"Parent","email":%q,"username":%q,"password":%q}`,
			code, username+"@home.example", username, guardianPassword))
	}
	wantError(t, register("ABCD-EFGH-JKMN", "sam.parent"), http.StatusBadRequest, rekey.ECodeInvalidCode, "parentCode")
	rec = register(code.Code, "sam.parent")
	if rec.Code != http.StatusCreated {
		t.Fatalf("register = %d %s", rec.Code, rec.Body)
	}
	g := decode[rekey.User](t, rec)
	if g.Role != rekey.RoleGuardian || len(g.GuardianOf) != 1 || g.GuardianOf[0] != "st1" {
		t.Fatalf("registered %+v", g)
	}
	wantError(t, register(code.Code, "sam.other"), http.StatusBadRequest, rekey.ECodeInvalidCode, "parentCode")

	rec = a.do("POST", "/api/auth/login", fmt.Sprintf(`{"username":"sam.parent","password":%q}`, guardianPassword))
	if rec.Code != http.StatusOK {
		t.Fatalf("guardian login = %d %s", rec.Code, rec.Body)
	}
	body := decode[loginResponse](t, rec)
	gs := session{token: body.Token, csrf: body.CSRFToken}

	kids := decode[struct{ Items []rekey.User }](t, a.do("GET", "/api/me/children", "", gs.bearer()...))
	if len(kids.Items) != 1 || kids.Items[0].ID != "st1" {
		t.Fatalf("children = %+v", kids.Items)
	}
	rec = a.do("POST", "/api/me/children/st1/password-reset", `{"mode":"temporary"}`, gs.bearer()...)
	reset := decode[resetResponse](t, rec)
	if rec.Code != http.StatusOK || reset.TemporaryPassword == "" {
		t.Fatalf("reset child = %d %s", rec.Code, rec.Body)
	}
	// The school sees it in the child's activity.
	activity := a.do("GET", "/api/users/st1/activity", "", teacher.bearer()...)
	if !strings.Contains(activity.Body.String(), rekey.ActionGuardianReset) || strings.Contains(activity.Body.String(), reset.TemporaryPassword) {
		t.Errorf("child's activity lacks the guardian's reset, or shows the password: %s", activity.Body)
	}

	// Every attempt outside the guardian's scope fails.
	for _, test := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/api/users", "", http.StatusForbidden},
		{"GET", "/api/users?role=student", "", http.StatusForbidden},
		{"GET", "/api/users/st2", "", http.StatusNotFound},          // unlinked student, same school
		{"GET", "/api/users/st7", "", http.StatusNotFound},          // other district
		{"GET", "/api/users/teacher1", "", http.StatusNotFound},     // staff
		{"GET", "/api/users/st2/activity", "", http.StatusNotFound}, // unlinked
		{"PATCH", "/api/users/st1", `{"firstName":"X","version":3}`, http.StatusForbidden},
		{"PATCH", "/api/users/st2", `{"firstName":"X","version":1}`, http.StatusNotFound},
		{"POST", "/api/users/st1/password-reset", `{"mode":"temporary"}`, http.StatusForbidden},
		{"POST", "/api/users/st2/password-reset", `{"mode":"link"}`, http.StatusNotFound},
		{"POST", "/api/me/children/st2/password-reset", `{"mode":"temporary"}`, http.StatusNotFound},
		{"POST", "/api/me/children/st7/password-reset", `{"mode":"temporary"}`, http.StatusNotFound},
		{"POST", "/api/me/children/teacher1/password-reset", `{"mode":"temporary"}`, http.StatusNotFound},
		{"POST", "/api/me/children/" + g.ID + "/password-reset", `{"mode":"temporary"}`, http.StatusNotFound},
		{"POST", "/api/me/children/st1/password-reset", `{"mode":"link"}`, http.StatusUnprocessableEntity},
		{"GET", "/api/users/st2/parent-code", "", http.StatusNotFound},
		{"GET", "/api/users/st1/parent-code", "", http.StatusForbidden},
		{"GET", "/api/schools/s1/parent-codes.csv", "", http.StatusNotFound},
		{"GET", "/api/me/parent-code", "", http.StatusForbidden},
	} {
		rec := a.do(test.method, test.path, test.body, gs.bearer()...)
		if rec.Code != test.status {
			t.Errorf("guardian %s %s = %d %s, want %d", test.method, test.path, rec.Code, rec.Body, test.status)
		}
	}
	if u := a.store.user("st2"); u.MustChangePassword || u.FirstName == "X" {
		t.Errorf("an unlinked student was changed: %+v", u)
	}

	// A student trying the guardian endpoints.
	other := a.login("student.2")
	for _, test := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/api/me/children", "", http.StatusForbidden},
		{"POST", "/api/me/children", `{"parentCode":"ABCD-EFGH-JKMN"}`, http.StatusForbidden},
		{"POST", "/api/me/children/st1/password-reset", `{"mode":"temporary"}`, http.StatusNotFound},
		{"GET", "/api/users/st1/parent-code", "", http.StatusNotFound},
	} {
		rec := a.do(test.method, test.path, test.body, other.bearer()...)
		if rec.Code != test.status {
			t.Errorf("student %s %s = %d %s, want %d", test.method, test.path, rec.Code, rec.Body, test.status)
		}
	}
}

func TestSchoolParentCodesCSVRoute(t *testing.T) {
	a := newGuardianAPI(t)
	a.create(rekey.User{ID: "evil", Username: "evil", Role: rekey.RoleStudent, DistrictID: "d1", SchoolID: "s1",
		FirstName: "=cmd|' /C calc'!A0", LastName: "<script>x</script>", Status: rekey.StatusActive, Version: 1})
	req := httptest.NewRequest("GET", "/api/schools/s1/parent-codes.csv", nil)
	for k, v := range map[string]string{"Authorization": "Bearer " + a.login("teacher.one").token} {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") ||
		rec.Header().Get("Content-Disposition") != `attachment; filename="parent-codes-s1.csv"` {
		t.Fatalf("parent-codes.csv = %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	body := rec.Body.String()
	if !strings.HasPrefix(body, "externalId,username,firstName,lastName,grade,parentCode\n") ||
		!strings.Contains(body, `,'=cmd|' /C calc'!A0,`) || strings.Count(body, "\n") != 7 {
		t.Errorf("parent-codes.csv:\n%s", body)
	}
}
