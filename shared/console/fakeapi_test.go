package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAPI is an in-memory stand-in for Rekey's HTTP API, just enough to
// click through every console screen in a real browser before the real
// services are wired. It follows API.md's shapes and error format, sets
// the strict CSP the production middleware sets (so the browser reports
// any violation), and checks the CSRF header on state-changing requests.
type fakeAPI struct {
	mu        sync.Mutex
	users     []map[string]any
	sessions  map[string]string // session cookie -> user id
	csrf      map[string]string // session cookie -> csrf token
	tasks     []*fakeTask
	schedules []map[string]any
	seq       int
	latency   time.Duration // added to every API answer, to see loading states
}

type fakeTask struct {
	m       map[string]any
	started time.Time
	ids     []string
}

const fakePassword = "correct horse battery staple"

const fakeCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

func newFakeAPI() *fakeAPI {
	f := &fakeAPI{sessions: map[string]string{}, csrf: map[string]string{}}
	now := time.Now().UTC().Add(-48 * time.Hour).Format(time.RFC3339)
	add := func(role, school, first, last, username, email, grade, title string) {
		f.seq++
		f.users = append(f.users, map[string]any{
			"id": fmt.Sprintf("u%04d", f.seq), "districtId": "demo-district", "schoolId": school, "role": role,
			"firstName": first, "lastName": last, "username": username, "email": email, "grade": grade,
			"title": title, "externalId": "", "status": "active", "mustChangePassword": false, "version": 1,
			"createdAt": now, "updatedAt": now,
		})
	}
	add("district_admin", "", "Dana", "Okafor", "district.admin", "district.admin@riverbend.example", "", "Director of Technology")
	add("teacher", "demo-school-1", "Tom", "Temp", "teacher.temp", "", "", "Teacher")
	f.users[1]["mustChangePassword"] = true
	firsts := []string{"Ava", "Ben", "Chloe", "Dev", "Ema", "Finn", "Gia", "Hugo", "Isla", "Jon", "Kai", "Lena"}
	lasts := []string{"Adams", "Baker", "Chen", "Diaz", "Evans", "Fox", "Garcia", "Hughes", "Ito", "Jones"}
	for s := 1; s <= 3; s++ {
		school := fmt.Sprintf("demo-school-%d", s)
		add("school_admin", school, "Priya", fmt.Sprintf("Principal%d", s), fmt.Sprintf("principal.%d", s), fmt.Sprintf("principal.%d@riverbend.example", s), "", "Principal")
		for i := range 3 {
			add("teacher", school, firsts[(s*3+i)%12], lasts[(s+i)%10], fmt.Sprintf("teacher.%d.%d", s, i), fmt.Sprintf("teacher.%d.%d@riverbend.example", s, i), "", "Teacher")
		}
		for i := range 40 {
			first, last := firsts[(i+s)%12], lasts[(i*7+s)%10]
			username := strings.ToLower(fmt.Sprintf("%s.%s%d", first, last, s*100+i))
			email := username + "@students.riverbend.example"
			if i%7 == 3 {
				email = ""
			}
			add("student", school, first, last, username, email, []string{"K", "1", "2", "3", "4", "5"}[i%6], "")
			f.users[len(f.users)-1]["externalId"] = fmt.Sprintf("UPN%07d", 1000000+f.seq)
		}
	}
	add("student", "demo-school-1", "<img src=x onerror=alert(1)>", "<script>alert(2)</script>", "xss.student", "xss@students.riverbend.example", "3", "")
	return f
}

func (f *fakeAPI) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (f *fakeAPI) fail(w http.ResponseWriter, status int, code, field, message string) {
	f.writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "field": field, "message": message}})
}

func (f *fakeAPI) user(id string) map[string]any {
	for _, u := range f.users {
		if u["id"] == id {
			return u
		}
	}
	return nil
}

// ServeHTTP answers /api/... and hands everything else to the console.
func (f *fakeAPI) serve(console http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", fakeCSP)
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("X-Request-Id", strconv.FormatInt(time.Now().UnixNano(), 36))
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			console.ServeHTTP(w, r)
			return
		}
		time.Sleep(f.latency)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.api(w, r)
	})
}

func (f *fakeAPI) api(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if r.Body != nil && r.ContentLength != 0 {
		json.NewDecoder(r.Body).Decode(&body)
	}
	str := func(k string) string { s, _ := body[k].(string); return s }
	p := r.URL.Path
	switch {
	case p == "/api/auth/login" && r.Method == "POST":
		for _, u := range f.users {
			if (u["username"] == str("username") || u["email"] == str("username")) && str("password") == fakePassword {
				if u["status"] == "reset_required" {
					f.fail(w, 403, "password_reset_required", "", "An administrator reset your password. Use the emailed link.")
					return
				}
				f.seq++
				sid, csrf := fmt.Sprintf("s%d", f.seq), fmt.Sprintf("c%d", f.seq)
				f.sessions[sid], f.csrf[sid] = u["id"].(string), csrf
				http.SetCookie(w, &http.Cookie{Name: "fake_session", Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
				f.writeJSON(w, 200, map[string]any{"token": "bearer-not-for-the-console", "csrfToken": csrf, "mustChangePassword": u["mustChangePassword"], "user": u})
				return
			}
		}
		f.fail(w, 401, "invalid_credentials", "", "Invalid username or password.")
		return
	case p == "/api/password/forgot" && r.Method == "POST":
		w.WriteHeader(202)
		return
	case p == "/api/password/reset/check" && r.Method == "POST":
		if str("token") != "good-token" {
			f.fail(w, 400, "invalid_token", "", "This link is invalid or has expired.")
			return
		}
		f.writeJSON(w, 200, map[string]any{"valid": true})
		return
	case p == "/api/password/reset" && r.Method == "POST":
		switch {
		case str("token") != "good-token":
			f.fail(w, 400, "invalid_token", "", "This link is invalid or has expired.")
		case len([]rune(str("newPassword"))) < 8:
			f.fail(w, 422, "weak_password", "newPassword", "Use at least 8 characters.")
		default:
			w.WriteHeader(204)
		}
		return
	}
	cookie, err := r.Cookie("fake_session")
	if err != nil || f.sessions[cookie.Value] == "" {
		f.fail(w, 401, "unauthenticated", "", "Sign in first.")
		return
	}
	if r.Method != "GET" && r.Header.Get("X-CSRF-Token") != f.csrf[cookie.Value] {
		f.fail(w, 403, "csrf_failed", "", "Missing or wrong CSRF token.")
		return
	}
	me := f.user(f.sessions[cookie.Value])
	parts := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case p == "/api/me":
		f.writeJSON(w, 200, me)
	case p == "/api/auth/logout":
		delete(f.sessions, cookie.Value)
		w.WriteHeader(204)
	case p == "/api/password/change":
		if str("currentPassword") != fakePassword {
			f.fail(w, 401, "invalid_credentials", "currentPassword", "That is not your current password.")
			return
		}
		if len([]rune(str("newPassword"))) < 15 {
			f.fail(w, 422, "weak_password", "newPassword", "Staff passwords need at least 15 characters.")
			return
		}
		me["mustChangePassword"] = false
		delete(f.sessions, cookie.Value)
		w.WriteHeader(204)
	case me["mustChangePassword"] == true:
		f.fail(w, 403, "password_change_required", "", "Change your password first.")
	case p == "/api/schools":
		f.writeJSON(w, 200, map[string]any{"items": []map[string]any{
			{"id": "demo-school-1", "name": "Northfield Elementary School", "districtId": "demo-district", "sso": false},
			{"id": "demo-school-2", "name": "Lakeview Middle School", "districtId": "demo-district", "sso": false},
			{"id": "demo-school-3", "name": "Hillcrest High School", "districtId": "demo-district", "sso": true},
		}})
	case p == "/api/password/policy":
		f.writeJSON(w, 200, map[string]any{"minLengthStaff": 15, "minLengthStudent": 8, "maxLength": 128})
	case p == "/api/users" && r.Method == "GET":
		f.listUsers(w, r)
	case len(parts) == 3 && parts[1] == "users":
		u := f.user(parts[2])
		if u == nil {
			f.fail(w, 404, "not_found", "", "Not found.")
			return
		}
		if r.Method == "PATCH" {
			f.patchUser(w, u, body)
			return
		}
		f.writeJSON(w, 200, u)
	case len(parts) == 4 && parts[1] == "users" && parts[3] == "activity":
		f.writeJSON(w, 200, map[string]any{"items": []map[string]any{
			{"id": "a2", "at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "actorId": "u0001", "actorName": "Dana Okafor", "targetId": parts[2], "action": "user.update", "outcome": "success",
				"before": map[string]any{"lastName": "Smith", "grade": "3"}, "after": map[string]any{"lastName": "<b>Smyth</b>", "grade": "4"}},
			{"id": "a1", "at": time.Now().Add(-30 * time.Hour).UTC().Format(time.RFC3339), "actorId": parts[2], "actorName": "", "targetId": parts[2], "action": "auth.login_failure", "outcome": "failure", "detail": "wrong password"},
		}, "nextCursor": ""})
	case len(parts) == 4 && parts[1] == "users" && parts[3] == "password-reset":
		u := f.user(parts[2])
		switch {
		case str("mode") == "link" && u["email"] == "":
			f.fail(w, 422, "no_email", "", "This user has no email address.")
		case str("mode") == "link":
			u["status"] = "reset_required"
			f.writeJSON(w, 202, map[string]any{"mode": "link", "expiresAt": time.Now().Add(15 * time.Minute).UTC().Format(time.RFC3339)})
		case str("temporaryPassword") != "" && len([]rune(str("temporaryPassword"))) < 8:
			f.fail(w, 422, "weak_password", "temporaryPassword", "Use at least 8 characters.")
		case str("temporaryPassword") != "":
			f.writeJSON(w, 200, map[string]any{"mode": "temporary"})
		default:
			f.writeJSON(w, 200, map[string]any{"mode": "temporary", "temporaryPassword": "maple-river-quiet-47"})
		}
	case len(parts) == 5 && parts[4] == "resend":
		if f.user(parts[2])["status"] != "reset_required" {
			f.fail(w, 409, "no_pending_reset", "", "There is no pending reset for this user.")
			return
		}
		f.writeJSON(w, 202, map[string]any{"expiresAt": time.Now().Add(15 * time.Minute).UTC().Format(time.RFC3339)})
	case p == "/api/bulk-resets":
		f.startTask(w, body)
	case p == "/api/tasks":
		items := []map[string]any{}
		for i := len(f.tasks) - 1; i >= 0; i-- {
			items = append(items, f.progress(f.tasks[i]))
		}
		f.writeJSON(w, 200, map[string]any{"items": items, "nextCursor": ""})
	case len(parts) >= 3 && parts[1] == "tasks":
		f.task(w, r, parts)
	case p == "/api/schedules" && r.Method == "GET":
		f.writeJSON(w, 200, map[string]any{"items": f.schedules})
	case p == "/api/schedules" && r.Method == "POST":
		f.seq++
		body["id"] = fmt.Sprintf("sch%d", f.seq)
		body["version"] = 1
		body["nextRunAt"] = time.Date(time.Now().Year()+1, 9, 1, 6, 0, 0, 0, time.UTC).Format(time.RFC3339)
		f.schedules = append(f.schedules, body)
		f.writeJSON(w, 201, body)
	case len(parts) == 3 && parts[1] == "schedules":
		i := slices.IndexFunc(f.schedules, func(s map[string]any) bool { return s["id"] == parts[2] })
		if i < 0 {
			f.fail(w, 404, "not_found", "", "Not found.")
			return
		}
		switch r.Method {
		case "PATCH":
			f.schedules[i]["enabled"] = body["enabled"]
			f.writeJSON(w, 200, f.schedules[i])
		case "DELETE":
			f.schedules = slices.Delete(f.schedules, i, i+1)
			w.WriteHeader(204)
		default:
			f.writeJSON(w, 200, f.schedules[i])
		}
	default:
		f.fail(w, 404, "not_found", "", "No such endpoint in the fake API.")
	}
}

func (f *fakeAPI) matching(q, role, school, grade string) []map[string]any {
	var out []map[string]any
	for _, u := range f.users {
		if role != "" && u["role"] != role || school != "" && u["schoolId"] != school || grade != "" && u["grade"] != grade {
			continue
		}
		if q != "" {
			hay := strings.ToLower(fmt.Sprint(u["firstName"], " ", u["lastName"], " ", u["username"], " ", u["email"]))
			if !strings.Contains(hay, strings.ToLower(q)) {
				continue
			}
		}
		out = append(out, u)
	}
	sort.SliceStable(out, func(i, j int) bool { return fmt.Sprint(out[i]["lastName"]) < fmt.Sprint(out[j]["lastName"]) })
	return out
}

func (f *fakeAPI) listUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	all := f.matching(q.Get("q"), q.Get("role"), q.Get("schoolId"), q.Get("grade"))
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	start := 0
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(c, "off"))
		if err != nil || n < 0 || n > len(all) {
			f.fail(w, 400, "invalid_cursor", "cursor", "Invalid cursor.")
			return
		}
		start = n
	}
	end := min(start+limit, len(all))
	next := ""
	if end < len(all) {
		next = fmt.Sprintf("off%d", end)
	}
	f.writeJSON(w, 200, map[string]any{"items": all[start:end], "nextCursor": next})
}

func (f *fakeAPI) patchUser(w http.ResponseWriter, u map[string]any, body map[string]any) {
	if v, _ := body["version"].(float64); int(v) != u["version"] {
		f.fail(w, 409, "version_conflict", "", "The record was changed by someone else; reload it and try again.")
		return
	}
	if name, ok := body["username"].(string); ok {
		if name != strings.ToLower(name) || len(name) < 3 {
			f.fail(w, 422, "invalid_input", "username", "Use 3 to 64 lower-case letters, digits, dots, dashes or underscores.")
			return
		}
		for _, other := range f.users {
			if other["username"] == name && other["id"] != u["id"] {
				f.fail(w, 409, "username_taken", "username", "That username is already in use.")
				return
			}
		}
	}
	for k, v := range body {
		if k != "version" {
			u[k] = v
		}
	}
	u["version"] = u["version"].(int) + 1
	u["updatedAt"] = time.Now().UTC().Format(time.RFC3339)
	f.writeJSON(w, 200, u)
}

func (f *fakeAPI) startTask(w http.ResponseWriter, body map[string]any) {
	sel, _ := body["selection"].(map[string]any)
	mode, _ := sel["mode"].(string)
	role, _ := sel["role"].(string)
	school, _ := sel["schoolId"].(string)
	grade, _ := sel["grade"].(string)
	if mode == "without_role" {
		role = "student"
	}
	var ids []string
	listed := map[string]bool{}
	if raw, ok := sel["userIds"].([]any); ok {
		for _, id := range raw {
			listed[id.(string)] = true
		}
	}
	for _, u := range f.matching("", role, school, grade) {
		id := u["id"].(string)
		if mode == "selected" && !listed[id] || mode == "all_except" && listed[id] {
			continue
		}
		ids = append(ids, id)
	}
	f.seq++
	t := &fakeTask{started: time.Now(), ids: ids, m: map[string]any{
		"id": fmt.Sprintf("t%d", f.seq), "kind": "bulk_reset", "status": "queued", "total": len(ids),
		"createdBy": "u0001", "createdAt": time.Now().UTC().Format(time.RFC3339),
	}}
	f.tasks = append(f.tasks, t)
	f.writeJSON(w, 202, map[string]any{"taskId": t.m["id"]})
}

// progress advances a task by the time since it started: 8 users a second.
func (f *fakeAPI) progress(t *fakeTask) map[string]any {
	m := t.m
	if m["status"] == "cancelled" {
		return m
	}
	done := min(int(time.Since(t.started).Seconds()*8), len(t.ids))
	failed := done / 40
	noEmail := 0
	for _, id := range t.ids[:done] {
		if f.user(id)["email"] == "" {
			noEmail++
		}
	}
	m["processed"], m["failed"], m["noEmail"], m["emailed"], m["succeeded"] = done, failed, noEmail, done-noEmail-failed, done-failed
	switch {
	case time.Since(t.started) < time.Second:
		m["status"], m["processed"] = "queued", 0
	case done < len(t.ids):
		m["status"] = "running"
	case failed > 0:
		m["status"], m["finishedAt"] = "completed_with_errors", time.Now().UTC().Format(time.RFC3339)
	default:
		m["status"], m["finishedAt"] = "completed", time.Now().UTC().Format(time.RFC3339)
	}
	return m
}

func (f *fakeAPI) task(w http.ResponseWriter, r *http.Request, parts []string) {
	i := slices.IndexFunc(f.tasks, func(t *fakeTask) bool { return t.m["id"] == parts[2] })
	if i < 0 {
		f.fail(w, 404, "not_found", "", "Not found.")
		return
	}
	t := f.tasks[i]
	m := f.progress(t)
	switch {
	case len(parts) == 3:
		f.writeJSON(w, 200, m)
	case parts[3] == "cancel":
		m["status"], m["finishedAt"] = "cancelled", time.Now().UTC().Format(time.RFC3339)
		f.writeJSON(w, 202, m)
	case parts[3] == "results" || parts[3] == "results.csv":
		var rows []map[string]any
		for n, id := range t.ids[:m["processed"].(int)] {
			u := f.user(id)
			outcome, errText := "emailed", ""
			if u["email"] == "" {
				outcome = "no_email"
			}
			if n%40 == 39 {
				outcome, errText = "failed", "SES throttled after 3 attempts"
			}
			rows = append(rows, map[string]any{"userId": id, "username": u["username"], "outcome": outcome, "attempts": 1, "error": errText})
		}
		if parts[3] == "results.csv" {
			w.Header().Set("Content-Type", "text/csv")
			w.Header().Set("Content-Disposition", `attachment; filename="results.csv"`)
			fmt.Fprintln(w, "username,outcome")
			for _, row := range rows {
				fmt.Fprintf(w, "%s,%s\n", row["username"], row["outcome"])
			}
			return
		}
		f.writeJSON(w, 200, map[string]any{"items": rows, "nextCursor": ""})
	}
}

// TestServeWithFakeAPI serves the console and the fake API for manual or
// browser smoke tests. It runs only when REKEY_CONSOLE_FAKE_ADDR is set,
// e.g. REKEY_CONSOLE_FAKE_ADDR=127.0.0.1:8099 go test -run FakeAPI -timeout 0
// ./shared/console; sign in as district.admin (or teacher.temp, who must
// change password) with "correct horse battery staple".
func TestServeWithFakeAPI(t *testing.T) {
	addr := os.Getenv("REKEY_CONSOLE_FAKE_ADDR")
	if addr == "" {
		t.Skip("set REKEY_CONSOLE_FAKE_ADDR to serve the console with a fake API")
	}
	t.Logf("console with fake API on http://%s", addr)
	f := newFakeAPI()
	f.latency = 150 * time.Millisecond
	if err := http.ListenAndServe(addr, f.serve(Handler())); err != nil {
		t.Fatal(err)
	}
}

// TestFakeAPIAnswersTheConsolesCalls keeps the fake honest enough to be
// useful: sign-in sets a cookie, CSRF is enforced, listing pages.
func TestFakeAPIAnswersTheConsolesCalls(t *testing.T) {
	srv := newFakeAPI().serve(Handler())
	login := httptestRequest(t, srv, "POST", "/api/auth/login", `{"username":"district.admin","password":"`+fakePassword+`"}`, nil)
	if login.Code != 200 {
		t.Fatalf("login = %d, want 200", login.Code)
	}
	var out struct{ CSRFToken string }
	json.Unmarshal(login.Body.Bytes(), &out)
	cookie := login.Result().Cookies()[0]
	for _, test := range []struct {
		method, path, csrf string
		want               int
	}{
		{"GET", "/api/users?role=student&limit=10", "", 200},
		{"GET", "/api/users?cursor=bogus", "", 400},
		{"POST", "/api/users/u0003/password-reset", "", 403},
		{"POST", "/api/users/u0003/password-reset", out.CSRFToken, 200},
		{"GET", "/", "", 200},
	} {
		res := httptestRequest(t, srv, test.method, test.path, `{"mode":"temporary"}`, func(r *http.Request) {
			r.AddCookie(cookie)
			if test.csrf != "" {
				r.Header.Set("X-CSRF-Token", test.csrf)
			}
		})
		if res.Code != test.want {
			t.Errorf("%s %s = %d, want %d", test.method, test.path, res.Code, test.want)
		}
		if res.Header().Get("Content-Security-Policy") != fakeCSP {
			t.Errorf("%s %s: no CSP header", test.method, test.path)
		}
	}
}

func httptestRequest(t *testing.T, h http.Handler, method, target, body string, edit func(*http.Request)) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if edit != nil {
		edit(req)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
