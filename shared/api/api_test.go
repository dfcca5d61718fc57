package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/auth"
	"github.com/rekey/rekey/shared/district"
	"github.com/rekey/rekey/shared/memstore"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/testclock"
	"github.com/rekey/rekey/shared/users"
)

const goodPassword = "correct horse battery staple"

// testAPI is the whole HTTP API over the real auth and users services and
// an in-memory store, with its log captured.
type testAPI struct {
	t     *testing.T
	h     http.Handler
	store *testStore
	clock *testclock.Clock
	logs  *bytes.Buffer
}

// newTestAPI builds the API with a small world: district d1 (schools s1,
// s2), district d2 (school s3); a district admin, teachers in s1 and s2,
// students st1–st5 in s1, st6 in s2, st7 in s3, and a teacher who must
// change their password. Everyone's password is goodPassword.
func newTestAPI(t *testing.T, functions ...string) *testAPI {
	t.Helper()
	ctx := context.Background()
	c := testclock.New(time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC))
	store := &testStore{Store: memstore.New(c.Now)}
	for _, d := range []rekey.District{{ID: "d1", Name: "Riverside Unified"}, {ID: "d2", Name: "Lakeside"}} {
		if err := store.PutDistrict(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []rekey.School{
		{ID: "s1", DistrictID: "d1", Name: "Hillcrest"},
		{ID: "s2", DistrictID: "d1", Name: "Oakwood"},
		{ID: "s3", DistrictID: "d2", Name: "Bayview"},
	} {
		if err := store.PutSchool(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	add := func(id, username string, role rekey.Role, district, school string) {
		u := rekey.User{
			ID: id, Username: username, Role: role, DistrictID: district, SchoolID: school,
			FirstName: "Pat", LastName: strings.ToUpper(id), Email: username + "@example.org",
			Status: rekey.StatusActive, PasswordHash: "h:" + goodPassword, Version: 1, SessionGen: 1,
			MustChangePassword: id == "tmp",
		}
		if err := store.CreateUser(ctx, u, nil); err != nil {
			t.Fatal(err)
		}
	}
	add("dadmin", "district.admin", rekey.RoleDistrictAdmin, "d1", "")
	add("teacher1", "teacher.one", rekey.RoleTeacher, "d1", "s1")
	add("teacher2", "teacher.two", rekey.RoleTeacher, "d1", "s2")
	for i := 1; i <= 5; i++ {
		add(fmt.Sprintf("st%d", i), fmt.Sprintf("student.%d", i), rekey.RoleStudent, "d1", "s1")
	}
	add("st6", "student.6", rekey.RoleStudent, "d1", "s2")
	add("st7", "student.7", rekey.RoleStudent, "d2", "s3")
	add("tmp", "temp.teacher", rekey.RoleTeacher, "d1", "s1")

	logs := &bytes.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	authService := auth.NewService(auth.Config{}, auth.Deps{
		Store: store, Throttles: store, Hasher: fastHasher{}, Now: c.Now, Logger: WithRequestIDs(logger),
	})
	server := New(Deps{
		Auth: authService, Users: users.NewService(store, c.Now), Secrets: store, Logger: logger,
		District: district.NewService(store, c.Now),
	})
	return &testAPI{t: t, h: server.Handler(functions...), store: store, clock: c, logs: logs}
}

// create stores a new user.
func (a *testAPI) create(u rekey.User) {
	a.t.Helper()
	if err := a.store.CreateUser(context.Background(), u, nil); err != nil {
		a.t.Fatal(err)
	}
}

// edit writes u over the stored user as another writer would, one version
// later.
func (a *testAPI) edit(u rekey.User) {
	a.t.Helper()
	if err := a.store.Edit(context.Background(), u); err != nil {
		a.t.Fatal(err)
	}
}

// do sends a request and checks what every response must carry.
func (a *testAPI) do(method, path, body string, headers ...string) *httptest.ResponseRecorder {
	a.t.Helper()
	req := testRequest(method, path, body, headers...)
	req.RemoteAddr = "192.0.2.10:51000"
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	checkCommonHeaders(a.t, method+" "+path, rec)
	return rec
}

// testRequest is a request as the console sends it: headers are name, value
// pairs; a body gets Content-Type application/json unless headers set one.
func testRequest(method, path, body string, headers ...string) *http.Request {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9+/=_.-]{8,64}$`)

// checkCommonHeaders checks the request id and security headers.
func checkCommonHeaders(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	h := rec.Header()
	if id := h.Get("X-Request-Id"); !requestIDPattern.MatchString(id) {
		t.Errorf("%s: X-Request-Id = %q, want an id", what, id)
	}
	for name, want := range map[string]string{
		"Content-Security-Policy":   contentSecurityPolicy,
		"X-Frame-Options":           "DENY",
		"X-Content-Type-Options":    "nosniff",
		"Strict-Transport-Security": "max-age=63072000; includeSubDomains",
		"Referrer-Policy":           "no-referrer",
		"Cache-Control":             "no-store",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %s = %q, want %q", what, name, got, want)
		}
	}
	if rec.Code != http.StatusNoContent && !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Errorf("%s: Content-Type = %q, want JSON", what, h.Get("Content-Type"))
	}
}

// apiError decodes an error answer.
func apiError(t *testing.T, rec *httptest.ResponseRecorder) errorDetail {
	t.Helper()
	var body struct {
		Error *errorDetail `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error == nil {
		t.Fatalf("body %q is not an error answer (%v)", rec.Body, err)
	}
	return *body.Error
}

// wantError checks an error answer's status, code and field.
func wantError(t *testing.T, rec *httptest.ResponseRecorder, status int, code, field string) {
	t.Helper()
	got := apiError(t, rec)
	if rec.Code != status || got.Code != code || got.Field != field {
		t.Errorf("answer = %d %+v, want %d code %s field %q", rec.Code, got, status, code, field)
	}
}

// session is a signed-in client.
type session struct {
	token, csrf string
}

func (s session) bearer() []string { return []string{"Authorization", "Bearer " + s.token} }

func (s session) cookie() []string { return []string{"Cookie", SessionCookie + "=" + s.token} }

func (a *testAPI) login(username string) session {
	a.t.Helper()
	rec := a.do("POST", "/api/auth/login", fmt.Sprintf(`{"username":%q,"password":%q}`, username, goodPassword))
	if rec.Code != http.StatusOK {
		a.t.Fatalf("login %s = %d %s", username, rec.Code, rec.Body)
	}
	var body loginResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		a.t.Fatal(err)
	}
	return session{token: body.Token, csrf: body.CSRFToken}
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %q: %v", rec.Body, err)
	}
	return v
}

func TestLogin(t *testing.T) {
	a := newTestAPI(t)
	rec := a.do("POST", "/api/auth/login", `{"username":"Teacher.One","password":"`+goodPassword+`"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("login = %d %s, want 200", rec.Code, rec.Body)
	}
	var body map[string]any
	json.Unmarshal(rec.Body.Bytes(), &body)
	for _, key := range []string{"token", "csrfToken", "mustChangePassword", "user"} {
		if _, ok := body[key]; !ok {
			t.Errorf("login body lacks %q: %s", key, rec.Body)
		}
	}
	user := body["user"].(map[string]any)
	if user["id"] != "teacher1" || body["mustChangePassword"] != false {
		t.Errorf("login body = %s", rec.Body)
	}
	if strings.Contains(rec.Body.String(), "h:"+goodPassword) || strings.Contains(strings.ToLower(rec.Body.String()), "passwordhash") {
		t.Errorf("login body leaks the password hash: %s", rec.Body)
	}
	cookie := rec.Result().Cookies()
	if len(cookie) != 1 || cookie[0].Name != SessionCookie || cookie[0].Value != body["token"] || !cookie[0].HttpOnly ||
		!cookie[0].Secure || cookie[0].SameSite != http.SameSiteStrictMode || cookie[0].Path != "/" || cookie[0].Domain != "" {
		t.Errorf("login cookie = %+v", cookie)
	}
}

func TestLoginUnknownUserAndWrongPasswordLookTheSame(t *testing.T) {
	a := newTestAPI(t)
	unknown := a.do("POST", "/api/auth/login", `{"username":"no.such.user","password":"wrong password!"}`)
	wrong := a.do("POST", "/api/auth/login", `{"username":"teacher.one","password":"wrong password!"}`)
	disabled := newTestAPI(t)
	u := disabled.store.user("teacher1")
	u.Status = rekey.StatusDisabled
	disabled.edit(u)
	dis := disabled.do("POST", "/api/auth/login", `{"username":"teacher.one","password":"`+goodPassword+`"}`)
	for _, rec := range []*httptest.ResponseRecorder{wrong, dis} {
		if rec.Code != unknown.Code || !bytes.Equal(rec.Body.Bytes(), unknown.Body.Bytes()) {
			t.Errorf("answers differ: %d %q vs unknown user's %d %q", rec.Code, rec.Body, unknown.Code, unknown.Body)
		}
		strip := func(h http.Header) http.Header {
			h = h.Clone()
			h.Del("X-Request-Id")
			return h
		}
		if diff := cmp.Diff(strip(unknown.Header()), strip(rec.Header())); diff != "" {
			t.Errorf("headers differ (-unknown +other):\n%s", diff)
		}
	}
	wantError(t, unknown, http.StatusUnauthorized, rekey.ECodeInvalidCredentials, "")
}

func TestLoginPasswordResetRequired(t *testing.T) {
	a := newTestAPI(t)
	u := a.store.user("teacher1")
	u.Status, u.VoidedPasswordHash, u.PasswordHash = rekey.StatusResetRequired, u.PasswordHash, ""
	a.edit(u)
	rec := a.do("POST", "/api/auth/login", `{"username":"teacher.one","password":"`+goodPassword+`"}`)
	wantError(t, rec, http.StatusForbidden, rekey.ECodePasswordResetRequired, "")
}

func TestLoginBadInput(t *testing.T) {
	a := newTestAPI(t)
	for _, test := range []struct {
		body, contentType string
		status            int
		code, field       string
	}{
		{`{"username":"","password":"x"}`, "", 422, rekey.ECodeInvalidInput, "username"},
		{`{"username":"a"}`, "", 422, rekey.ECodeInvalidInput, "password"},
		{`{"username":"a","password":"x","remember":true}`, "", 400, rekey.ECodeUnknownField, "remember"},
		{`{"username":"a\udc00","password":"x"}`, "", 422, rekey.ECodeInvalidInput, "username"},
		{`{"username":"a",`, "", 400, rekey.ECodeInvalidJSON, ""},
		{`{"username":"a","password":"x"} {}`, "", 400, rekey.ECodeInvalidJSON, ""},
		{`{"username":1,"password":"x"}`, "", 400, rekey.ECodeInvalidJSON, "username"},
		{`["a"]`, "", 400, rekey.ECodeInvalidJSON, ""},
		{``, "", 415, rekey.ECodeUnsupportedMedia, ""},
		{`username=a&password=x`, "application/x-www-form-urlencoded", 415, rekey.ECodeUnsupportedMedia, ""},
	} {
		t.Run(test.body, func(t *testing.T) {
			var headers []string
			if test.contentType != "" {
				headers = []string{"Content-Type", test.contentType}
			}
			rec := a.do("POST", "/api/auth/login", test.body, headers...)
			wantError(t, rec, test.status, test.code, test.field)
		})
	}
}

func TestLoginThrottling(t *testing.T) {
	a := newTestAPI(t)
	attempt := func() *httptest.ResponseRecorder {
		return a.do("POST", "/api/auth/login", `{"username":"teacher.one","password":"wrong password!"}`)
	}
	for i := range 5 {
		if rec := attempt(); rec.Code != http.StatusUnauthorized {
			t.Fatalf("attempt %d = %d, want 401", i+1, rec.Code)
		}
	}
	rec := attempt()
	wantError(t, rec, http.StatusTooManyRequests, rekey.ECodeTooManyAttempts, "")
	if got := rec.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1", got)
	}
	// Keep failing, each time after the wait, until the lock.
	for range 5 {
		a.clock.Add(time.Minute)
		attempt()
	}
	a.clock.Add(time.Minute)
	rec = a.do("POST", "/api/auth/login", `{"username":"teacher.one","password":"`+goodPassword+`"}`)
	wantError(t, rec, http.StatusTooManyRequests, rekey.ECodeTooManyAttempts, "")
	if got := rec.Header().Get("Retry-After"); got != "840" {
		t.Errorf("Retry-After while locked = %q, want 840", got)
	}
	if a.store.auditFor("teacher1") == 0 {
		t.Errorf("no audit entries for the failures and lockout")
	}
	a.clock.Add(15 * time.Minute)
	if rec := a.do("POST", "/api/auth/login", `{"username":"teacher.one","password":"`+goodPassword+`"}`); rec.Code != http.StatusOK {
		t.Errorf("login after the lock = %d %s, want 200", rec.Code, rec.Body)
	}
}

func TestAuthentication(t *testing.T) {
	a := newTestAPI(t)
	s := a.login("teacher.one")
	for _, test := range []struct {
		name    string
		headers []string
		status  int
	}{
		{"bearer", s.bearer(), 200},
		{"bearer, lower-case scheme", []string{"Authorization", "bearer " + s.token}, 200},
		{"cookie", s.cookie(), 200},
		{"nothing", nil, 401},
		{"basic", []string{"Authorization", "Basic dXNlcjpwYXNz"}, 401},
		{"wrong token", []string{"Authorization", "Bearer " + strings.Repeat("A", 43)}, 401},
		{"bad header beats a good cookie", append([]string{"Authorization", "Bearer"}, s.cookie()...), 401},
	} {
		t.Run(test.name, func(t *testing.T) {
			rec := a.do("GET", "/api/me", "", test.headers...)
			if rec.Code != test.status {
				t.Fatalf("GET /api/me = %d %s, want %d", rec.Code, rec.Body, test.status)
			}
			if test.status == 200 {
				if got := decode[rekey.User](t, rec); got.ID != "teacher1" {
					t.Errorf("GET /api/me = %q, want teacher1", got.ID)
				}
			} else {
				wantError(t, rec, 401, rekey.ECodeUnauthenticated, "")
			}
		})
	}
}

func TestCSRF(t *testing.T) {
	a := newTestAPI(t)
	s := a.login("teacher.one")
	patch := func(headers ...string) *httptest.ResponseRecorder {
		version := a.store.user("st1").Version
		return a.do("PATCH", "/api/users/st1", fmt.Sprintf(`{"grade":"4","version":%d}`, version), headers...)
	}
	wantError(t, patch(s.cookie()...), http.StatusForbidden, rekey.ECodeCSRF, "")
	wantError(t, patch(append(s.cookie(), CSRFHeader, "not-the-token")...), http.StatusForbidden, rekey.ECodeCSRF, "")
	wantError(t, patch(append(s.cookie(), CSRFHeader, s.token)...), http.StatusForbidden, rekey.ECodeCSRF, "")
	if rec := patch(append(s.cookie(), CSRFHeader, s.csrf)...); rec.Code != http.StatusOK {
		t.Errorf("cookie + CSRF token: %d %s, want 200", rec.Code, rec.Body)
	}
	if rec := patch(s.bearer()...); rec.Code != http.StatusOK {
		t.Errorf("bearer without CSRF token: %d %s, want 200", rec.Code, rec.Body)
	}
	if rec := a.do("GET", "/api/users/st1", "", s.cookie()...); rec.Code != http.StatusOK {
		t.Errorf("cookie GET without CSRF token: %d %s, want 200", rec.Code, rec.Body)
	}
}

// TestCSRFTokenForANewTab: a tab that has the session cookie but not the
// CSRF token (opened after sign-in) gets the same token again; a bearer
// client, a cross-site page and a caller without a session do not.
func TestCSRFTokenForANewTab(t *testing.T) {
	a := newTestAPI(t)
	s := a.login("teacher.one")
	rec := a.do("GET", "/api/auth/csrf", "", s.cookie()...)
	got := decode[struct{ CSRFToken string }](t, rec)
	if rec.Code != http.StatusOK || got.CSRFToken != s.csrf {
		t.Fatalf("GET /api/auth/csrf with the cookie = %d %s, want 200 and the token of sign-in", rec.Code, rec.Body)
	}
	if rec := a.do("PATCH", "/api/users/st1", fmt.Sprintf(`{"grade":"4","version":%d}`, a.store.user("st1").Version), append(s.cookie(), CSRFHeader, got.CSRFToken)...); rec.Code != http.StatusOK {
		t.Errorf("a change with the fetched token = %d %s, want 200", rec.Code, rec.Body)
	}
	other := a.login("teacher.one")
	if got := decode[struct{ CSRFToken string }](t, a.do("GET", "/api/auth/csrf", "", other.cookie()...)); got.CSRFToken == s.csrf {
		t.Error("two sessions share a CSRF token")
	}
	wantError(t, a.do("GET", "/api/auth/csrf", "", s.bearer()...), http.StatusUnprocessableEntity, rekey.ECodeInvalidInput, "")
	wantError(t, a.do("GET", "/api/auth/csrf", "", append(s.cookie(), "Sec-Fetch-Site", "cross-site")...), http.StatusForbidden, rekey.ECodeCSRF, "")
	noSession := func(name string, headers ...string) {
		t.Helper()
		if rec := a.do("GET", "/api/auth/csrf", "", headers...); rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"csrfToken":null}` {
			t.Errorf("GET /api/auth/csrf %s = %d %s, want 200 {\"csrfToken\":null}", name, rec.Code, rec.Body)
		}
	}
	noSession("without a session")
	a.do("POST", "/api/auth/logout", "", append(s.cookie(), CSRFHeader, s.csrf)...)
	noSession("after sign-out", s.cookie()...)
}

func TestCrossSiteRequestsRefused(t *testing.T) {
	a := newTestAPI(t)
	s := a.login("teacher.one")
	for _, headers := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Origin", "https://evil.example"},
	} {
		rec := a.do("POST", "/api/auth/login", `{"username":"teacher.one","password":"`+goodPassword+`"}`, headers...)
		wantError(t, rec, http.StatusForbidden, rekey.ECodeCSRF, "")
		rec = a.do("PATCH", "/api/users/st1", `{"grade":"4","version":1}`, append(s.bearer(), headers...)...)
		wantError(t, rec, http.StatusForbidden, rekey.ECodeCSRF, "")
	}
	if rec := a.do("GET", "/api/me", "", append(s.bearer(), "Sec-Fetch-Site", "cross-site")...); rec.Code != http.StatusOK {
		t.Errorf("cross-site GET = %d, want 200 (safe methods pass)", rec.Code)
	}
	rec := a.do("POST", "/api/auth/login", `{"username":"teacher.one","password":"`+goodPassword+`"}`, "Sec-Fetch-Site", "same-origin")
	if rec.Code != http.StatusOK {
		t.Errorf("same-origin login = %d, want 200", rec.Code)
	}
}

func TestMustChangePasswordGate(t *testing.T) {
	a := newTestAPI(t)
	rec := a.do("POST", "/api/auth/login", `{"username":"temp.teacher","password":"`+goodPassword+`"}`)
	if body := decode[loginResponse](t, rec); !body.MustChangePassword {
		t.Fatalf("login body = %s, want mustChangePassword true", rec.Body)
	}
	s := session{token: decode[loginResponse](t, rec).Token}
	wantError(t, a.do("GET", "/api/users", "", s.bearer()...), http.StatusForbidden, rekey.ECodePasswordChangeRequired, "")
	wantError(t, a.do("GET", "/api/users/st1", "", s.bearer()...), http.StatusForbidden, rekey.ECodePasswordChangeRequired, "")
	if rec := a.do("GET", "/api/me", "", s.bearer()...); rec.Code != http.StatusOK {
		t.Errorf("GET /api/me = %d, want 200", rec.Code)
	}

	body := `{"currentPassword":"` + goodPassword + `","newPassword":"short"}`
	wantError(t, a.do("POST", "/api/password/change", body, s.bearer()...), 422, rekey.ECodeWeakPassword, "newPassword")
	body = `{"currentPassword":"nope","newPassword":"a fresh and long passphrase"}`
	wantError(t, a.do("POST", "/api/password/change", body, s.bearer()...), 401, rekey.ECodeInvalidCredentials, "currentPassword")
	body = `{"currentPassword":"` + goodPassword + `","newPassword":"a fresh and long passphrase"}`
	rec = a.do("POST", "/api/password/change", body, s.bearer()...)
	if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
		t.Fatalf("password change = %d %s, want 204", rec.Code, rec.Body)
	}
	wantError(t, a.do("GET", "/api/me", "", s.bearer()...), 401, rekey.ECodeUnauthenticated, "")
	rec = a.do("POST", "/api/auth/login", `{"username":"temp.teacher","password":"a fresh and long passphrase"}`)
	if body := decode[loginResponse](t, rec); rec.Code != 200 || body.MustChangePassword {
		t.Errorf("login with the new password = %d %s", rec.Code, rec.Body)
	}
	if rec := a.do("GET", "/api/users", "", session{token: decode[loginResponse](t, rec).Token}.bearer()...); rec.Code != 200 {
		t.Errorf("GET /api/users after the change = %d, want 200", rec.Code)
	}
}

func TestLogout(t *testing.T) {
	a := newTestAPI(t)
	s := a.login("teacher.one")
	wantError(t, a.do("POST", "/api/auth/logout", "", s.cookie()...), http.StatusForbidden, rekey.ECodeCSRF, "")
	rec := a.do("POST", "/api/auth/logout", "", append(s.cookie(), CSRFHeader, s.csrf)...)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("logout = %d %s, want 204", rec.Code, rec.Body)
	}
	if c := rec.Result().Cookies(); len(c) != 1 || c[0].Name != SessionCookie || c[0].MaxAge >= 0 {
		t.Errorf("logout cookies = %+v, want the session cookie cleared", c)
	}
	wantError(t, a.do("GET", "/api/me", "", s.bearer()...), 401, rekey.ECodeUnauthenticated, "")
	if rec := a.do("POST", "/api/auth/logout", "", s.cookie()...); rec.Code != http.StatusNoContent {
		t.Errorf("second logout = %d, want 204", rec.Code)
	}
	b := a.login("teacher.one")
	if rec := a.do("POST", "/api/auth/logout", "", b.bearer()...); rec.Code != http.StatusNoContent {
		t.Errorf("bearer logout = %d, want 204", rec.Code)
	}
	wantError(t, a.do("GET", "/api/me", "", b.bearer()...), 401, rekey.ECodeUnauthenticated, "")
}

type userList struct {
	Items      []rekey.User `json:"items"`
	NextCursor *string      `json:"nextCursor"`
}

func itemIDs(l userList) []string {
	var ids []string
	for _, u := range l.Items {
		ids = append(ids, u.ID)
	}
	slices.Sort(ids)
	return ids
}

func TestListUsersScope(t *testing.T) {
	a := newTestAPI(t)
	teacher := a.login("teacher.one")
	for _, test := range []struct {
		query string
		want  []string
	}{
		{"", []string{"st1", "st2", "st3", "st4", "st5", "teacher1", "tmp"}},
		{"?schoolId=s2", nil},
		{"?districtId=d2", nil},
		{"?role=student&q=ST3", []string{"st3"}},
	} {
		rec := a.do("GET", "/api/users"+test.query, "", teacher.bearer()...)
		if rec.Code != 200 {
			t.Fatalf("GET /api/users%s = %d %s", test.query, rec.Code, rec.Body)
		}
		if !strings.Contains(rec.Body.String(), `"items":[`) || !strings.Contains(rec.Body.String(), `"nextCursor":null`) {
			t.Errorf("GET /api/users%s body %s, want items array and nextCursor null", test.query, rec.Body)
		}
		if diff := cmp.Diff(test.want, itemIDs(decode[userList](t, rec))); diff != "" {
			t.Errorf("teacher GET /api/users%s (-want +got):\n%s", test.query, diff)
		}
	}
	admin := a.login("district.admin")
	rec := a.do("GET", "/api/users?schoolId=s2", "", admin.bearer()...)
	if diff := cmp.Diff([]string{"st6", "teacher2"}, itemIDs(decode[userList](t, rec))); diff != "" {
		t.Errorf("district admin GET ?schoolId=s2 (-want +got):\n%s", diff)
	}
	student := a.login("student.1")
	wantError(t, a.do("GET", "/api/users", "", student.bearer()...), 403, rekey.ECodeForbidden, "")
}

func TestListUsersBadQuery(t *testing.T) {
	a := newTestAPI(t)
	s := a.login("district.admin")
	for _, test := range []struct {
		query       string
		status      int
		code, field string
	}{
		{"?limit=0", 422, rekey.ECodeInvalidInput, "limit"},
		{"?limit=abc", 422, rekey.ECodeInvalidInput, "limit"},
		{"?limit=201", 422, rekey.ECodeInvalidInput, "limit"},
		{"?role=wizard", 422, rekey.ECodeInvalidInput, "role"},
		{"?sort=name", 400, rekey.ECodeUnknownField, "sort"},
		{"?role=student&role=teacher", 422, rekey.ECodeInvalidInput, "role"},
		{"?cursor=garbage", 400, rekey.ECodeInvalidCursor, ""},
		{"?schoolId=../x", 422, rekey.ECodeInvalidInput, "schoolId"},
		{"?districtId=..%2Fx", 422, rekey.ECodeInvalidInput, "districtId"},
		{"?districtId=d1%23x", 422, rekey.ECodeInvalidInput, "districtId"},
	} {
		rec := a.do("GET", "/api/users"+test.query, "", s.bearer()...)
		wantError(t, rec, test.status, test.code, test.field)
	}
}

// TestListSchoolsQuery: districtId must be an id (400 invalid_id naming
// it), for every caller, whether or not their scope would use it.
func TestListSchoolsQuery(t *testing.T) {
	a := newTestAPI(t)
	a.create(rekey.User{ID: "sup", Username: "support.one", Role: rekey.RoleSupport, FirstName: "Sam", LastName: "Support",
		Status: rekey.StatusActive, PasswordHash: "h:" + goodPassword, Version: 1, SessionGen: 1})
	for _, test := range []struct {
		actor, query string
		status       int
		code         string
		want         []string // school ids, for 200
	}{
		{"support.one", "?districtId=d2", 200, "", []string{"s3"}},
		{"support.one", "?districtId=../x", 400, rekey.ECodeInvalidID, nil},
		{"support.one", "?districtId=..%2F..%2Fd1", 400, rekey.ECodeInvalidID, nil},
		{"support.one", "?districtId=d1%00", 400, rekey.ECodeInvalidID, nil},
		{"district.admin", "?districtId=../x", 400, rekey.ECodeInvalidID, nil},
		{"district.admin", "", 200, "", []string{"s1", "s2"}},
		{"teacher.one", "?districtId=../x", 400, rekey.ECodeInvalidID, nil},
	} {
		s := a.login(test.actor)
		rec := a.do("GET", "/api/schools"+test.query, "", s.bearer()...)
		if test.status != 200 {
			wantError(t, rec, test.status, test.code, "districtId")
			continue
		}
		got := decode[listResponse[rekey.School]](t, rec)
		var ids []string
		for _, sc := range got.Items {
			ids = append(ids, sc.ID)
		}
		slices.Sort(ids)
		if rec.Code != 200 || !slices.Equal(ids, test.want) {
			t.Errorf("%s GET /api/schools%s = %d %v, want %v", test.actor, test.query, rec.Code, ids, test.want)
		}
	}
}

func TestListUsersCursor(t *testing.T) {
	a := newTestAPI(t)
	s := a.login("district.admin")
	var all []string
	path := "/api/users?limit=3"
	var firstCursor string
	for range 10 {
		rec := a.do("GET", path, "", s.bearer()...)
		if rec.Code != 200 {
			t.Fatalf("GET %s = %d %s", path, rec.Code, rec.Body)
		}
		page := decode[userList](t, rec)
		for _, u := range page.Items {
			all = append(all, u.ID)
		}
		if page.NextCursor == nil {
			break
		}
		if firstCursor == "" {
			firstCursor = *page.NextCursor
		}
		if _, err := a.store.ListUsers(context.Background(), rekey.UserFilter{DistrictID: "d1", Cursor: *page.NextCursor}); err == nil {
			t.Errorf("cursor %q is the store cursor as is", *page.NextCursor)
		}
		path = "/api/users?limit=3&cursor=" + *page.NextCursor
	}
	if len(all) != 10 {
		t.Errorf("paged through %d users (%v), want 10", len(all), all)
	}

	storePart, mac, _ := strings.Cut(firstCursor, ".")
	forged := "YXQ6OQ" + "." + mac // "at:9" with the MAC of another cursor
	flipped := storePart + "." + strings.Map(func(r rune) rune {
		if r == 'A' {
			return 'B'
		}
		return 'A'
	}, mac[:1]) + mac[1:]
	for _, test := range []struct{ name, query string }{
		{"forged store cursor", "limit=3&cursor=" + forged},
		{"flipped MAC", "limit=3&cursor=" + flipped},
		{"no MAC", "limit=3&cursor=" + storePart},
		{"other query", "limit=3&role=student&cursor=" + firstCursor},
	} {
		rec := a.do("GET", "/api/users?"+test.query, "", s.bearer()...)
		if rec.Code != 400 || apiError(t, rec).Code != rekey.ECodeInvalidCursor {
			t.Errorf("%s: %d %s, want 400 invalid_cursor", test.name, rec.Code, rec.Body)
		}
	}
	other := a.login("teacher.two")
	rec := a.do("GET", "/api/users?limit=3&cursor="+firstCursor, "", other.bearer()...)
	wantError(t, rec, 400, rekey.ECodeInvalidCursor, "")
	if a.store.secrets != 1 {
		t.Errorf("cursor key fetched %d times, want once", a.store.secrets)
	}
}

func TestGetUser(t *testing.T) {
	a := newTestAPI(t)
	s := a.login("teacher.one")
	rec := a.do("GET", "/api/users/st1", "", s.bearer()...)
	if got := decode[rekey.User](t, rec); rec.Code != 200 || got.ID != "st1" {
		t.Errorf("GET in scope = %d %s", rec.Code, rec.Body)
	}
	var raw map[string]any
	json.Unmarshal(rec.Body.Bytes(), &raw)
	for _, key := range []string{"id", "districtId", "schoolId", "role", "firstName", "lastName", "username", "email",
		"grade", "title", "externalId", "status", "mustChangePassword", "version", "createdAt", "updatedAt"} {
		if _, ok := raw[key]; !ok {
			t.Errorf("user JSON lacks %q", key)
		}
	}
	wantError(t, a.do("GET", "/api/users/st6", "", s.bearer()...), 404, rekey.ECodeNotFound, "")
	wantError(t, a.do("GET", "/api/users/st7", "", s.bearer()...), 404, rekey.ECodeNotFound, "")
	wantError(t, a.do("GET", "/api/users/nobody", "", s.bearer()...), 404, rekey.ECodeNotFound, "")
	wantError(t, a.do("GET", "/api/users/bad%20id", "", s.bearer()...), 400, rekey.ECodeInvalidID, "")
	wantError(t, a.do("GET", "/api/users/"+strings.Repeat("a", 65), "", s.bearer()...), 400, rekey.ECodeInvalidID, "")
}

func TestPatchUser(t *testing.T) {
	for _, test := range []struct {
		name, actor, target, body string
		headers                   []string
		status                    int
		code, field               string
	}{
		{name: "happy path", actor: "teacher.one", target: "st1",
			body: `{"firstName":"Émile","email":"Emile@Example.org","version":1}`, status: 200},
		{name: "stale version", actor: "teacher.one", target: "st1",
			body: `{"firstName":"X","version":0}`, status: 409, code: rekey.ECodeVersionConflict},
		{name: "missing version", actor: "teacher.one", target: "st1",
			body: `{"firstName":"X"}`, status: 422, code: rekey.ECodeInvalidInput, field: "version"},
		{name: "bad email", actor: "teacher.one", target: "st1",
			body: `{"email":"not-an-email","version":1}`, status: 422, code: rekey.ECodeInvalidInput, field: "email"},
		{name: "control characters in a name", actor: "teacher.one", target: "st1",
			body: `{"lastName":"Smith\u0000\u001b[31m","version":1}`, status: 422, code: rekey.ECodeInvalidInput, field: "lastName"},
		{name: "unpaired surrogate in a name", actor: "teacher.one", target: "st1",
			body: `{"firstName":"Jo\ud800","version":1}`, status: 422, code: rekey.ECodeInvalidInput, field: "firstName"},
		{name: "invalid UTF-8 in a name", actor: "teacher.one", target: "st1",
			body: "{\"lastName\":\"Sm\xffith\",\"version\":1}", status: 422, code: rekey.ECodeInvalidInput, field: "lastName"},
		{name: "null for a required field", actor: "teacher.one", target: "st1",
			body: `{"firstName":null,"version":1}`, status: 422, code: rekey.ECodeInvalidInput, field: "firstName"},
		{name: "null for a clearable field", actor: "teacher.one", target: "st1",
			body: `{"email": null ,"version":1}`, status: 422, code: rekey.ECodeInvalidInput, field: "email"},
		{name: "null beside a change", actor: "teacher.one", target: "st1",
			body: `{"firstName":"Jo","grade":null,"version":1}`, status: 422, code: rekey.ECodeInvalidInput, field: "grade"},
		{name: "null version", actor: "teacher.one", target: "st1",
			body: `{"firstName":"Jo","version":null}`, status: 422, code: rekey.ECodeInvalidInput, field: "version"},
		{name: "unknown field", actor: "teacher.one", target: "st1",
			body: `{"firstName":"X","isAdmin":true,"version":1}`, status: 400, code: rekey.ECodeUnknownField, field: "isAdmin"},
		{name: "managed field", actor: "teacher.one", target: "st1",
			body: `{"mustChangePassword":false,"version":1}`, status: 400, code: rekey.ECodeUnknownField, field: "mustChangePassword"},
		{name: "wrong type", actor: "teacher.one", target: "st1",
			body: `{"version":"1"}`, status: 400, code: rekey.ECodeInvalidJSON, field: "version"},
		{name: "malformed JSON", actor: "teacher.one", target: "st1",
			body: `{"firstName":"X",`, status: 400, code: rekey.ECodeInvalidJSON},
		{name: "trailing data", actor: "teacher.one", target: "st1",
			body: `{"version":1}x`, status: 400, code: rekey.ECodeInvalidJSON},
		{name: "oversize body", actor: "teacher.one", target: "st1",
			body: `{"firstName":"` + strings.Repeat("a", MaxBodyBytes) + `","version":1}`, status: 413, code: rekey.ECodeBodyTooLarge},
		{name: "not JSON", actor: "teacher.one", target: "st1", headers: []string{"Content-Type", "text/plain"},
			body: `{"version":1}`, status: 415, code: rekey.ECodeUnsupportedMedia},
		{name: "bad id", actor: "teacher.one", target: "a.b",
			body: `{"version":1}`, status: 400, code: rekey.ECodeInvalidID},
		{name: "duplicate username", actor: "teacher.one", target: "st1",
			body: `{"username":"Student.2","version":1}`, status: 409, code: rekey.ECodeUsernameTaken, field: "username"},
		{name: "duplicate email", actor: "teacher.one", target: "st1",
			body: `{"email":"student.2@example.org","version":1}`, status: 409, code: rekey.ECodeEmailTaken, field: "email"},
		{name: "out of scope", actor: "teacher.one", target: "st6",
			body: `{"firstName":"X","version":1}`, status: 404, code: rekey.ECodeNotFound},
		{name: "in view, not editable", actor: "teacher.one", target: "tmp",
			body: `{"firstName":"X","version":1}`, status: 403, code: rekey.ECodeForbidden},
		{name: "role grant refused", actor: "district.admin", target: "teacher1",
			body: `{"role":"school_admin","version":1}`, status: 403, code: rekey.ECodeForbidden, field: "role"},
		{name: "school in another district", actor: "district.admin", target: "st1",
			body: `{"schoolId":"s3","version":1}`, status: 422, code: rekey.ECodeInvalidInput, field: "schoolId"},
	} {
		t.Run(test.name, func(t *testing.T) {
			a := newTestAPI(t)
			s := a.login(test.actor)
			auditBefore := a.store.auditFor(test.target)
			before := a.store.user(test.target)
			rec := a.do("PATCH", "/api/users/"+test.target, test.body, append(s.bearer(), test.headers...)...)
			if test.status != 200 {
				wantError(t, rec, test.status, test.code, test.field)
				if got := a.store.auditFor(test.target); got != auditBefore {
					t.Errorf("a failed patch wrote %d audit entries", got-auditBefore)
				}
				if diff := cmp.Diff(before, a.store.user(test.target)); diff != "" {
					t.Errorf("a failed patch changed the user (-before +after):\n%s", diff)
				}
				return
			}
			if rec.Code != 200 {
				t.Fatalf("PATCH = %d %s, want 200", rec.Code, rec.Body)
			}
			got := decode[rekey.User](t, rec)
			if got.FirstName != "Émile" || got.Email != "emile@example.org" || got.Version != 2 {
				t.Errorf("PATCH answer = %+v", got)
			}
			if a.store.auditFor(test.target) != auditBefore+1 {
				t.Errorf("a patch wrote %d audit entries, want 1", a.store.auditFor(test.target)-auditBefore)
			}
			// The same edit again with the old version is stale.
			rec = a.do("PATCH", "/api/users/"+test.target, test.body, s.bearer()...)
			wantError(t, rec, 409, rekey.ECodeVersionConflict, "")
		})
	}
}

func TestUserActivity(t *testing.T) {
	a := newTestAPI(t)
	s := a.login("teacher.one")
	for i := 1; i <= 3; i++ {
		// A second apart, so that newest first is one order (entries of
		// the same instant come in any order, as in DynamoDB).
		a.clock.Add(time.Second)
		rec := a.do("PATCH", "/api/users/st1", fmt.Sprintf(`{"grade":"%d","version":%d}`, i, i), s.bearer()...)
		if rec.Code != 200 {
			t.Fatalf("PATCH %d = %d %s", i, rec.Code, rec.Body)
		}
	}
	rec := a.do("GET", "/api/users/st1/activity?limit=2", "", s.bearer()...)
	var page struct {
		Items      []rekey.AuditEntry `json:"items"`
		NextCursor *string            `json:"nextCursor"`
	}
	json.Unmarshal(rec.Body.Bytes(), &page)
	if rec.Code != 200 || len(page.Items) != 2 || page.NextCursor == nil || page.Items[0].After["grade"] != "3" {
		t.Fatalf("activity page 1 = %d %s", rec.Code, rec.Body)
	}
	rec = a.do("GET", "/api/users/st1/activity?limit=2&cursor="+*page.NextCursor, "", s.bearer()...)
	json.Unmarshal(rec.Body.Bytes(), &page)
	if rec.Code != 200 || len(page.Items) != 1 || page.NextCursor != nil {
		t.Errorf("activity page 2 = %d %s", rec.Code, rec.Body)
	}
	rec = a.do("GET", "/api/users/st2/activity?cursor="+"x", "", s.bearer()...)
	wantError(t, rec, 400, rekey.ECodeInvalidCursor, "")
	wantError(t, a.do("GET", "/api/users/st6/activity", "", s.bearer()...), 404, rekey.ECodeNotFound, "")
	if rec := a.do("GET", "/api/users/st2/activity", "", s.bearer()...); !strings.Contains(rec.Body.String(), `"items":[]`) {
		t.Errorf("empty activity = %s, want items []", rec.Body)
	}
}

// TestUserActivityClientIPs: a teacher reading a school admin's activity
// does not see where they signed in from; the admin and the district
// admin do.
func TestUserActivityClientIPs(t *testing.T) {
	a := newTestAPI(t)
	sadm := a.store.user("teacher1")
	sadm.ID, sadm.Username, sadm.Email, sadm.Role = "sadm", "school.admin", "school.admin@example.org", rekey.RoleSchoolAdmin
	a.create(sadm)
	a.login("school.admin") // from 192.0.2.10, as every test request
	for _, test := range []struct {
		viewer string
		sees   bool
	}{
		{"teacher.one", false},
		{"school.admin", true},
		{"district.admin", true},
	} {
		rec := a.do("GET", "/api/users/sadm/activity", "", a.login(test.viewer).bearer()...)
		page := decode[listResponse[rekey.AuditEntry]](t, rec)
		var login *rekey.AuditEntry
		for i, e := range page.Items {
			if e.Action == rekey.ActionLoginSuccess {
				login = &page.Items[i]
			}
		}
		switch {
		case rec.Code != 200 || login == nil:
			t.Errorf("%s: activity = %d %s, want a sign-in entry", test.viewer, rec.Code, rec.Body)
		case test.sees && login.ClientIP != "192.0.2.10":
			t.Errorf("%s: sign-in entry %+v, want clientIp 192.0.2.10", test.viewer, *login)
		case !test.sees && strings.Contains(rec.Body.String(), "192.0.2.10"):
			t.Errorf("%s sees the address: %s", test.viewer, rec.Body)
		}
	}
}

func TestUnknownPathsAndMethods(t *testing.T) {
	a := newTestAPI(t)
	wantError(t, a.do("GET", "/api/nothing-here", ""), 404, rekey.ECodeNotFound, "")
	wantError(t, a.do("GET", "/api/users/", ""), 404, rekey.ECodeNotFound, "")
	rec := a.do("DELETE", "/api/users/st1", "")
	wantError(t, rec, 405, rekey.ECodeMethodNotAllowed, "")
	if got := rec.Header().Get("Allow"); got != "GET, PATCH, HEAD" {
		t.Errorf("Allow = %q, want GET, PATCH, HEAD", got)
	}
	wantError(t, a.do("GET", "/api/auth/login", ""), 405, rekey.ECodeMethodNotAllowed, "")
}

func TestHandlerMountsOnlyNamedFunctions(t *testing.T) {
	authOnly := newTestAPI(t, FunctionAuth)
	s := authOnly.login("teacher.one")
	wantError(t, authOnly.do("GET", "/api/users", "", s.bearer()...), 404, rekey.ECodeNotFound, "")
	usersOnly := newTestAPI(t, FunctionUsers)
	wantError(t, usersOnly.do("POST", "/api/auth/login", `{}`), 404, rekey.ECodeNotFound, "")
	wantError(t, usersOnly.do("GET", "/api/users", ""), 401, rekey.ECodeUnauthenticated, "")
}

var functionName = regexp.MustCompile(`^[a-z]+(-[a-z]+)*$`)

// TestRouteTable checks the one route table: each method+pattern once,
// each with a handler and a function, and Routes read off it unchanged.
func TestRouteTable(t *testing.T) {
	s := New(Deps{})
	table := s.routes()
	seen := map[string]bool{}
	consoleRoutes := 0
	for _, r := range table {
		if seen[r.key()] {
			t.Errorf("route %s listed twice", r.key())
		}
		seen[r.key()] = true
		if r.handler == nil {
			t.Errorf("route %s has no handler", r.key())
		}
		if r.Pattern == consolePattern {
			consoleRoutes++
		}
		// functions_test checks each name against the folders in functions/.
		if !functionName.MatchString(r.Function) {
			t.Errorf("route %s: function %q is not a function folder name", r.key(), r.Function)
		}
	}
	if consoleRoutes != 1 {
		t.Errorf("%d console catch-all routes, want 1", consoleRoutes)
	}
	var want []Route
	for _, r := range table {
		want = append(want, r.Route)
	}
	if diff := cmp.Diff(want, Routes); diff != "" {
		t.Errorf("Routes differs from the route table (-table +Routes):\n%s", diff)
	}
	s.Handler() // panics on a pattern conflict
}

// TestHandlerErrorsGoThroughOneWrapper checks serve, the one place a
// handler's error is written: codes by the table, anything else a logged
// 500 that shows nothing of the error.
func TestHandlerErrorsGoThroughOneWrapper(t *testing.T) {
	logs := &bytes.Buffer{}
	s := New(Deps{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	for _, test := range []struct {
		name    string
		err     error
		status  int
		code    string
		field   string
		message string
	}{
		{"application error", rekey.FieldError(rekey.ECodeInvalidInput, "name", "Enter a name."), 422, rekey.ECodeInvalidInput, "name", "Enter a name."},
		{"wrapped application error", fmt.Errorf("users: update: %w", rekey.ErrNotFound), 404, rekey.ECodeNotFound, "", ""},
		{"unknown error", errors.New("dynamo: connection reset by peer"), 500, rekey.ECodeInternal, "", "Internal error."},
	} {
		t.Run(test.name, func(t *testing.T) {
			logs.Reset()
			h := s.serve(func(w http.ResponseWriter, r *http.Request) error { return test.err })
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/x", nil))
			wantError(t, rec, test.status, test.code, test.field)
			if test.message != "" {
				if got := apiError(t, rec).Message; got != test.message {
					t.Errorf("message = %q, want %q", got, test.message)
				}
			}
			logged := strings.Contains(logs.String(), "internal error")
			if logged != (test.status == 500) {
				t.Errorf("logged internal error = %v, want %v:\n%s", logged, test.status == 500, logs)
			}
			if test.status == 500 && strings.Contains(rec.Body.String(), "connection reset") {
				t.Errorf("answer shows the internal error: %s", rec.Body)
			}
		})
	}
	// A handler that wrote its answer and returned nil is left alone.
	rec := httptest.NewRecorder()
	s.serve(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}).ServeHTTP(rec, httptest.NewRequest("GET", "/api/x", nil))
	if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
		t.Errorf("nil error: %d %q, want 204 and no body", rec.Code, rec.Body)
	}
}

func TestRequestIDs(t *testing.T) {
	a := newTestAPI(t)
	rec := a.do("GET", "/api/me", "", "X-Request-Id", "Yk4mJhSUIAMEPfg=")
	if got := rec.Header().Get("X-Request-Id"); got != "Yk4mJhSUIAMEPfg=" {
		t.Errorf("X-Request-Id = %q, want the incoming id", got)
	}
	for _, bad := range []string{"short", "has space in it", strings.Repeat("a", 65), "evil\"id<script>"} {
		rec := a.do("GET", "/api/me", "", "X-Request-Id", bad)
		if got := rec.Header().Get("X-Request-Id"); got == bad || len(got) != 26 {
			t.Errorf("incoming X-Request-Id %q: answered %q, want a fresh id", bad, got)
		}
	}
	one, two := a.do("GET", "/api/me", ""), a.do("GET", "/api/me", "")
	if one.Header().Get("X-Request-Id") == two.Header().Get("X-Request-Id") {
		t.Errorf("two requests got the same id")
	}
}

func TestLogsCarryRequestIDsAndNoSecrets(t *testing.T) {
	a := newTestAPI(t)
	s := a.login("teacher.one")
	a.do("POST", "/api/auth/login", `{"username":"teacher.one@example.org","password":"wrong password!"}`)
	a.do("GET", "/api/users/st1", "", s.bearer()...)
	lines := strings.Split(strings.TrimSpace(a.logs.String()), "\n")
	if len(lines) < 4 {
		t.Fatalf("only %d log lines:\n%s", len(lines), a.logs)
	}
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q is not JSON", line)
		}
		if id, _ := rec["requestId"].(string); id == "" {
			t.Errorf("log line without requestId: %s", line)
		}
	}
	for _, secret := range []string{goodPassword, "wrong password!", s.token, s.csrf, "teacher.one@example.org"} {
		if strings.Contains(a.logs.String(), secret) {
			t.Errorf("log holds %q:\n%s", secret, a.logs)
		}
	}
}

func TestPanicsAnswerInternalError(t *testing.T) {
	a := newTestAPI(t)
	s := a.login("teacher.one")
	logs := &bytes.Buffer{}
	server := New(Deps{
		Auth:   auth.NewService(auth.Config{}, auth.Deps{Store: a.store, Throttles: a.store, Hasher: fastHasher{}, Now: a.clock.Now}),
		Users:  nil, // a missing service panics inside the handler
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	})
	a.h = server.Handler()
	rec := a.do("GET", "/api/users/st1", "", s.bearer()...)
	wantError(t, rec, 500, rekey.ECodeInternal, "")
	if got := apiError(t, rec).Message; got != "Internal error." {
		t.Errorf("message = %q, want Internal error.", got)
	}
	if !strings.Contains(logs.String(), rec.Header().Get("X-Request-Id")) {
		t.Errorf("the panic was not logged with the request id:\n%s", logs)
	}
}

func TestStatusFor(t *testing.T) {
	for code, want := range map[string]int{
		rekey.ECodeInvalidJSON: 400, rekey.ECodeInvalidCursor: 400, rekey.ECodeInvalidID: 400,
		rekey.ECodeUnauthenticated: 401, rekey.ECodeInvalidCredentials: 401, rekey.ECodeCSRF: 403,
		rekey.ECodePasswordChangeRequired: 403, rekey.ECodeNotFound: 404, rekey.ECodeVersionConflict: 409,
		rekey.ECodeUsernameTaken: 409, rekey.ECodeBodyTooLarge: 413, rekey.ECodeUnsupportedMedia: 415,
		rekey.ECodeInvalidInput: 422, rekey.ECodeWeakPassword: 422, rekey.ECodeImportInvalid: 422, rekey.ECodeTooManyAttempts: 429,
		rekey.ECodeInternal: 500, "no_such_code": 500,
	} {
		if got := StatusFor(code); got != want {
			t.Errorf("StatusFor(%q) = %d, want %d", code, got, want)
		}
	}
	// Every code the domain defines has a status of its own.
	for _, code := range []string{
		rekey.ECodeInvalidInput, rekey.ECodeInvalidJSON, rekey.ECodeBodyTooLarge, rekey.ECodeUnknownField,
		rekey.ECodeInvalidCursor, rekey.ECodeInvalidID, rekey.ECodeNotFound, rekey.ECodeUnauthenticated,
		rekey.ECodeInvalidCredentials, rekey.ECodePasswordResetRequired, rekey.ECodePasswordChangeRequired,
		rekey.ECodeTooManyAttempts, rekey.ECodeForbidden, rekey.ECodeCSRF, rekey.ECodeVersionConflict,
		rekey.ECodeUsernameTaken, rekey.ECodeEmailTaken, rekey.ECodeWeakPassword, rekey.ECodeInvalidToken,
		rekey.ECodeNoEmail, rekey.ECodeNoPendingReset, rekey.ECodeMethodNotAllowed, rekey.ECodeUnsupportedMedia,
		rekey.ECodeConflict, rekey.ECodeImportInvalid,
	} {
		if _, ok := ErrorStatuses()[code]; !ok {
			t.Errorf("code %q has no status", code)
		}
	}
}

func TestConsoleServesEverythingOutsideAPI(t *testing.T) {
	console := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("console " + r.URL.Path))
	})
	s := New(Deps{Console: console})
	for _, test := range []struct {
		name      string
		functions []string
		path      string
		status    int
		console   bool
	}{
		{"root", nil, "/", 200, true},
		{"page", nil, "/reset-password?token=abc", 200, true},
		{"unknown API path stays JSON", nil, "/api/nope", 404, false},
		{"bare /api", nil, "/api", 404, false},
		{"console function alone", []string{FunctionConsole}, "/forgot-password", 200, true},
		{"API function alone has no console", []string{FunctionUsers}, "/", 404, false},
	} {
		t.Run(test.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.Handler(test.functions...).ServeHTTP(rec, httptest.NewRequest("GET", test.path, nil))
			gotConsole := strings.HasPrefix(rec.Body.String(), "console ")
			if rec.Code != test.status || gotConsole != test.console {
				t.Errorf("GET %s = %d console=%v, want %d console=%v", test.path, rec.Code, gotConsole, test.status, test.console)
			}
			if rec.Header().Get("X-Request-Id") == "" || rec.Header().Get("Content-Security-Policy") == "" {
				t.Errorf("GET %s: missing request id or CSP", test.path)
			}
		})
	}
}
