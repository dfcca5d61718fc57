package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/rekey/rekey/infra/seed"
	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/rekey"
)

// The end-to-end test drives the local stack over HTTP exactly as a client
// following API.md would: moto, the table from template.yaml, the demo seed
// and the Lambdas' handlers.

const demoPassword = "correct horse battery staple"

func startStack(t *testing.T) *Stack {
	t.Helper()
	var steps []string
	wantSteps := []string{"starting moto_server", "creating the table", "seeding the demo district"}
	if os.Getenv("AWS_ENDPOINT_URL") != "" {
		wantSteps[0] = "using the AWS emulator at"
	}
	s, err := Start(context.Background(), recordIAM(Options{
		Addr:              "127.0.0.1:0",
		DemoPassword:      demoPassword,
		StudentsPerSchool: 40,
		SendRate:          500, // moto has no quota; keep the bulk tests quick
		// A cheap hash keeps seeding fast; production cost is tested in shared/password.
		Hasher:   password.Hasher{Params: password.Params{Memory: 64, Iterations: 1, Parallelism: 1}},
		Progress: func(step string) { steps = append(steps, step) },
	}))
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	nameResources(s)
	// make dev prints these steps: a slow first start says what it is doing.
	if len(steps) != len(wantSteps) {
		t.Errorf("Start reported steps %q, want %d beginning %q", steps, len(wantSteps), wantSteps)
	} else {
		for i, want := range wantSteps {
			if !strings.HasPrefix(steps[i], want) {
				t.Errorf("step %d = %q, want it to begin %q", i, steps[i], want)
			}
		}
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close stack: %v", err)
		}
	})
	return s
}

type client struct {
	t     *testing.T
	base  string
	token string
}

// do sends a JSON request and decodes a JSON answer into out (when non-nil).
func (c *client) do(method, path string, body any, out any) (int, apiError) {
	c.t.Helper()
	resp, raw, err := Call(c.base, c.token, method, path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		c.t.Errorf("%s %s: no X-Request-Id", method, path)
	}
	var e struct{ Error apiError }
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(raw, &e); err != nil {
			c.t.Fatalf("%s %s: error body is not JSON: %s", method, path, raw)
		}
	} else if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, e.Error
}

type apiError struct {
	Code, Message, Field string
}

func signIn(t *testing.T, s *Stack, username string) *client {
	t.Helper()
	c := &client{t: t, base: s.URL}
	var out struct {
		Token string
		User  rekey.User
	}
	if status, e := c.do("POST", "/api/auth/login", map[string]string{"username": username, "password": demoPassword}, &out); status != 200 {
		t.Fatalf("sign in as %s = %d %+v, want 200", username, status, e)
	}
	c.token = out.Token
	return c
}

type userPage struct {
	Items      []rekey.User
	NextCursor *string
}

func TestWalkingSkeletonEndToEnd(t *testing.T) {
	s := startStack(t)
	admin := signIn(t, s, seed.DistrictAdminUsername)

	// Page through every student, 25 at a time: each exactly once.
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		var page userPage
		q := url.Values{"role": {"student"}, "limit": {"25"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		if status, e := admin.do("GET", "/api/users?"+q.Encode(), nil, &page); status != 200 {
			t.Fatalf("list students = %d %+v", status, e)
		}
		for _, u := range page.Items {
			if u.Role != rekey.RoleStudent || seen[u.ID] {
				t.Fatalf("page %d: unexpected or repeated user %s (%s)", pages, u.Username, u.Role)
			}
			seen[u.ID] = true
		}
		if page.NextCursor == nil || *page.NextCursor == "" {
			break
		}
		cursor = *page.NextCursor
		if pages > 20 {
			t.Fatal("pagination does not end")
		}
	}
	if len(seen) != 3*40 {
		t.Errorf("paged through %d students, want %d", len(seen), 3*40)
	}

	// Tampered cursor.
	if status, e := admin.do("GET", "/api/users?role=student&cursor=AAAA"+url.QueryEscape(cursor), nil, nil); status != 400 || e.Code != "invalid_cursor" {
		t.Errorf("tampered cursor = %d %+v, want 400 invalid_cursor", status, e)
	}

	// Edit one student.
	var students userPage
	admin.do("GET", "/api/users?role=student&schoolId=demo-school-1&limit=2", nil, &students)
	if len(students.Items) < 2 {
		t.Fatalf("want two students of school 1, got %d", len(students.Items))
	}
	target, other := students.Items[0], students.Items[1]
	var edited rekey.User
	if status, e := admin.do("PATCH", "/api/users/"+target.ID, map[string]any{"firstName": "Renamed", "version": target.Version}, &edited); status != 200 {
		t.Fatalf("edit = %d %+v, want 200", status, e)
	}
	if edited.FirstName != "Renamed" || edited.Version != target.Version+1 {
		t.Errorf("edited = %s v%d, want Renamed v%d", edited.FirstName, edited.Version, target.Version+1)
	}
	for _, test := range []struct {
		name   string
		patch  map[string]any
		status int
		code   string
		field  string
	}{
		{"stale version", map[string]any{"lastName": "Stale", "version": target.Version}, 409, "version_conflict", ""},
		{"bad email", map[string]any{"email": "not-an-email", "version": edited.Version}, 422, "", "email"},
		{"duplicate username", map[string]any{"username": other.Username, "version": edited.Version}, 409, "username_taken", "username"},
		{"control character", map[string]any{"lastName": "A\u0007B", "version": edited.Version}, 422, "", "lastName"},
		{"unknown field", map[string]any{"passwordHash": "x", "version": edited.Version}, 400, "unknown_field", ""},
	} {
		t.Run(test.name, func(t *testing.T) {
			status, e := admin.do("PATCH", "/api/users/"+target.ID, test.patch, nil)
			if status != test.status || (test.code != "" && e.Code != test.code) || (test.field != "" && e.Field != test.field) {
				t.Errorf("PATCH %v = %d %+v, want %d code %q field %q", test.patch, status, e, test.status, test.code, test.field)
			}
		})
	}

	// The activity log shows the one successful edit and nothing from the failures.
	var activity struct{ Items []rekey.AuditEntry }
	if status, e := admin.do("GET", "/api/users/"+target.ID+"/activity", nil, &activity); status != 200 {
		t.Fatalf("activity = %d %+v", status, e)
	}
	if len(activity.Items) != 1 || activity.Items[0].Before["firstName"] != target.FirstName || activity.Items[0].After["firstName"] != "Renamed" {
		t.Errorf("activity = %+v, want exactly the rename", activity.Items)
	}

	// A teacher of school 1 sees only school 1 and cannot reach a school-2 student.
	var teacherName, school2Student string
	for _, u := range s.Demo.Users {
		if u.Role == rekey.RoleTeacher && u.SchoolID == "demo-school-1" && teacherName == "" {
			teacherName = u.Username
		}
		if u.Role == rekey.RoleStudent && u.SchoolID == "demo-school-2" && school2Student == "" {
			school2Student = u.ID
		}
	}
	teacher := signIn(t, s, teacherName)
	var mine userPage
	teacher.do("GET", "/api/users?schoolId=demo-school-2&limit=200", nil, &mine)
	if len(mine.Items) != 0 {
		t.Errorf("teacher listing school 2 got %d users, want none", len(mine.Items))
	}
	teacher.do("GET", "/api/users?limit=200", nil, &mine)
	for _, u := range mine.Items {
		if u.SchoolID != "demo-school-1" {
			t.Errorf("teacher sees %s of %s", u.Username, u.SchoolID)
		}
	}
	if status, _ := teacher.do("GET", "/api/users/"+school2Student, nil, nil); status != 404 {
		t.Errorf("teacher GET other school's student = %d, want 404", status)
	}
	if status, _ := teacher.do("PATCH", "/api/users/"+school2Student, map[string]any{"firstName": "X", "version": 1}, nil); status != 404 {
		t.Errorf("teacher PATCH other school's student = %d, want 404", status)
	}
	var me rekey.User
	teacher.do("GET", "/api/me", nil, &me)
	if status, e := teacher.do("PATCH", "/api/users/"+me.ID, map[string]any{"role": "school_admin", "version": me.Version}, nil); status != 403 {
		t.Errorf("teacher raising own role = %d %+v, want 403", status, e)
	}

	// Wrong password and unknown user look the same.
	anon := &client{t: t, base: s.URL}
	s1, e1 := anon.do("POST", "/api/auth/login", map[string]string{"username": teacherName, "password": "wrong password here"}, nil)
	s2, e2 := anon.do("POST", "/api/auth/login", map[string]string{"username": "no.such.user", "password": "wrong password here"}, nil)
	if s1 != 401 || fmt.Sprint(s1, e1) != fmt.Sprint(s2, e2) {
		t.Errorf("wrong password = %d %+v, unknown user = %d %+v; want identical 401s", s1, e1, s2, e2)
	}
}
