package devstack

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/rekey/rekey/shared/rekey"
)

// patchUser changes user id's fields as admin, after reading its version.
func patchUser(t *testing.T, admin *client, id string, fields map[string]any) {
	t.Helper()
	var u rekey.User
	if status, e := admin.do("GET", "/api/users/"+id, nil, &u); status != 200 {
		t.Fatalf("GET user %s = %d %+v", id, status, e)
	}
	body := map[string]any{"version": u.Version}
	for k, v := range fields {
		body[k] = v
	}
	if status, e := admin.do("PATCH", "/api/users/"+id, body, nil); status != 200 {
		t.Fatalf("PATCH user %s %v = %d %+v", id, fields, status, e)
	}
}

// checkOutOfScopeResults reads task id's results as viewer, over HTTP, and
// fails the test for anything of gone — users moved out of viewer's scope —
// beyond their id and outcome: a username, a name, an email or a password,
// in the JSON pages or the CSV. A password that leaks anyway is tried, as
// the attacker would, to show what it opens.
func checkOutOfScopeResults(t *testing.T, s *Stack, viewer *client, taskID string, gone []rekey.User) {
	t.Helper()
	personal := func(u rekey.User) []string { return []string{u.Username, u.FirstName, u.LastName, u.Email} }

	var page struct {
		Items []map[string]any
	}
	if status, e := viewer.do("GET", "/api/tasks/"+taskID+"/results?limit=500", nil, &page); status != 200 {
		t.Fatalf("GET results = %d %+v", status, e)
	}
	for _, u := range gone {
		i := slices.IndexFunc(page.Items, func(r map[string]any) bool { return r["userId"] == u.ID })
		if i < 0 {
			t.Errorf("results JSON has no row for %s: the rows no longer add up to the task's counts", u.ID)
			continue
		}
		row := page.Items[i]
		for _, field := range []string{"username", "firstName", "lastName", "email", "externalId", "schoolId", "grade", "password"} {
			if v, _ := row[field].(string); v != "" {
				t.Errorf("results JSON row of moved user %s shows %s %q: %v", u.ID, field, v, row)
			}
		}
		if row["outcome"] != string(rekey.OutcomePasswordSet) {
			t.Errorf("results JSON row of %s = %v, want its outcome password_set", u.ID, row)
		}
	}

	rows := resultsCSV(t, viewer, taskID)
	header := rows[0]
	col := func(name string) int { return slices.Index(header, name) }
	if col("password") < 0 || col("username") < 0 {
		t.Fatalf("CSV header = %v, want username and password columns", header)
	}
	if len(rows)-1 < len(gone) {
		t.Errorf("CSV has %d rows, want one per user the task reached (%d)", len(rows)-1, len(gone))
	}
	for _, row := range rows[1:] {
		// Messages quote the row without its password cell.
		line := strings.Join(slices.Delete(slices.Clone(row), col("password"), col("password")+1), ",")
		for _, u := range gone {
			for _, v := range personal(u) {
				if v != "" && strings.Contains(line, v) {
					t.Errorf("CSV row %q holds %q of moved user %s", line, v, u.ID)
				}
			}
		}
		if pw := row[col("password")]; pw != "" {
			t.Errorf("CSV row %q carries a password (not shown) for a user out of the viewer's scope", line)
			for _, u := range gone {
				if _, status, _, _ := signInWith(t, s, u.Username, pw); status == 200 {
					t.Errorf("the leaked password signs in as %s: account takeover", u.Username)
				}
			}
		}
	}
}

// TestCreatorMovedOutOfScopeEndToEnd is the reported attack, over HTTP on
// moto (SECURITY.md 21–22): a school admin runs generated_passwords for
// three students, a district admin moves them to another school, and the
// school admin — who now gets 404 on them — must not read them, nor their
// passwords, from the task's results. The same holds for a task a schedule
// started; and a school admin moved to another school loses their schedule
// and its runs.
func TestCreatorMovedOutOfScopeEndToEnd(t *testing.T) {
	s := startStack(t)
	district := signIn(t, s, "district.admin")
	principal := demoUser(t, s, func(u rekey.User) bool { return u.Role == rekey.RoleSchoolAdmin && u.SchoolID == "demo-school-1" })
	head := signIn(t, s, principal.Username)

	var students []rekey.User
	for _, u := range s.Demo.Users {
		if u.Role == rekey.RoleStudent && u.SchoolID == "demo-school-1" {
			students = append(students, u)
		}
	}
	ids := func(us []rekey.User) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.ID)
		}
		return out
	}
	moveAll := func(us []rekey.User) {
		for _, u := range us {
			patchUser(t, district, u.ID, map[string]any{"schoolId": "demo-school-2"})
			if status, _ := head.do("GET", "/api/users/"+u.ID, nil, nil); status != 404 {
				t.Fatalf("school admin reading moved student %s = %d, want 404", u.ID, status)
			}
		}
	}

	t.Run("bulk task", func(t *testing.T) {
		three := students[:3]
		task := startBulk(t, head, map[string]any{
			"selection": map[string]any{"mode": "selected", "userIds": ids(three)},
			"delivery":  map[string]any{"mode": "generated_passwords"},
		})
		if task.Succeeded != 3 {
			t.Fatalf("task = %+v, want 3 passwords set", task)
		}
		moveAll(three)

		// Seeing one's own task's counts is fine; its rows are not.
		var got rekey.Task
		if status, e := head.do("GET", "/api/tasks/"+task.ID, nil, &got); status != 200 || got.Succeeded != 3 {
			t.Errorf("creator reading the task = %d %+v %+v, want 200 with its counts", status, e, got)
		}
		checkOutOfScopeResults(t, s, head, task.ID, three)

		// The district admin, whose scope still holds the students, sees
		// their rows, but never the creator's passwords.
		rows := resultsCSV(t, district, task.ID)
		col := slices.Index(rows[0], "password")
		seen := 0
		for _, row := range rows[1:] {
			if row[col] != "" {
				t.Errorf("district admin's CSV carries a password: %q", row)
			}
			for _, u := range three {
				if row[0] == u.Username {
					seen++
				}
			}
		}
		if seen != 3 {
			t.Errorf("district admin's CSV names %d of the 3 students, want 3:\n%q", seen, rows)
		}
	})

	t.Run("schedule", func(t *testing.T) {
		three := students[3:6]
		var sc rekey.Schedule
		if status, e := head.do("POST", "/api/schedules", map[string]any{
			"name": "New pupils", "expression": "cron(0 7 1 9 ? *)", "timezone": "UTC",
			"selection": map[string]any{"mode": "selected", "userIds": ids(three)},
			"delivery":  map[string]any{"mode": "generated_passwords"},
		}, &sc); status != 201 {
			t.Fatalf("POST /api/schedules = %d %+v", status, e)
		}
		ctx := context.Background()
		if started, err := s.App.Dispatcher.Run(ctx, sc.NextRunAt); started != 1 || err != nil {
			t.Fatalf("dispatching the schedule = %d, %v; want 1 task", started, err)
		}
		if status, e := head.do("GET", "/api/schedules/"+sc.ID, nil, &sc); status != 200 || sc.LastTaskID == "" {
			t.Fatalf("GET schedule = %d %+v %+v, want its last task", status, e, sc)
		}
		if task := waitForTask(t, head, sc.LastTaskID); task.Succeeded != 3 {
			t.Fatalf("scheduled task = %+v, want 3 passwords set", task)
		}
		moveAll(three)
		checkOutOfScopeResults(t, s, head, sc.LastTaskID, three)

		// The school admin moves to another school: the schedule, bound to
		// their old one, is no longer theirs to see or run.
		patchUser(t, district, principal.ID, map[string]any{"schoolId": "demo-school-3"})
		moved := signIn(t, s, principal.Username)
		if status, _ := moved.do("GET", "/api/schedules/"+sc.ID, nil, nil); status != 404 {
			t.Errorf("moved creator reading the schedule = %d, want 404", status)
		}
		if status, _ := moved.do("PATCH", "/api/schedules/"+sc.ID, map[string]any{"name": "Still mine", "version": sc.Version}, nil); status != 404 {
			t.Errorf("moved creator editing the schedule = %d, want 404", status)
		}
		lastTask := sc.LastTaskID
		if status, e := district.do("GET", "/api/schedules/"+sc.ID, nil, &sc); status != 200 {
			t.Fatalf("district admin reading the schedule = %d %+v", status, e)
		}
		if started, err := s.App.Dispatcher.Run(ctx, sc.NextRunAt); started != 0 || err != nil {
			t.Errorf("dispatching the moved creator's schedule = %d, %v; want no task", started, err)
		}
		if status, e := district.do("GET", "/api/schedules/"+sc.ID, nil, &sc); status != 200 || sc.LastTaskID != lastTask {
			t.Errorf("schedule after the refused run = %d %+v, last task %q; want still %q", status, e, sc.LastTaskID, lastTask)
		}
		checkOutOfScopeResults(t, s, moved, lastTask, three)
	})
}
