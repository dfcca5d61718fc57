package devstack

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rekey/rekey/infra/testwait"
	"github.com/rekey/rekey/shared/rekey"
)

// waitForTask polls the task centre until the task has finished.
func waitForTask(t *testing.T, c *client, id string) rekey.Task {
	t.Helper()
	var task rekey.Task
	testwait.Until(t, "task "+id+" to finish", func() (bool, string) {
		if status, e := c.do("GET", "/api/tasks/"+id, nil, &task); status != 200 {
			t.Fatalf("GET task = %d %+v", status, e)
		}
		return task.Status.Finished(), fmt.Sprintf("%+v", task)
	})
	return task
}

func startBulk(t *testing.T, c *client, body map[string]any) rekey.Task {
	t.Helper()
	var started struct{ TaskID string }
	if status, e := c.do("POST", "/api/bulk-resets", body, &started); status != 202 || started.TaskID == "" {
		t.Fatalf("POST /api/bulk-resets %v = %d %+v, want 202 with a task id", body, status, e)
	}
	return waitForTask(t, c, started.TaskID)
}

func resultsCSV(t *testing.T, c *client, id string) [][]string {
	t.Helper()
	req, _ := http.NewRequest("GET", c.base+"/api/tasks/"+id+"/results.csv", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("results.csv = %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestBulkResetsEndToEnd(t *testing.T) {
	s := startStack(t)
	admin := signIn(t, s, "district.admin")

	var school1 []rekey.User
	for _, u := range s.Demo.Users {
		if u.Role == rekey.RoleStudent && u.SchoolID == "demo-school-1" {
			school1 = append(school1, u)
		}
	}

	t.Run("email links to one school's students", func(t *testing.T) {
		before := len(s.Mail())
		task := startBulk(t, admin, map[string]any{
			"selection": map[string]any{"mode": "without_role", "userIds": []string{}, "schoolId": "demo-school-1"},
			"delivery":  map[string]any{"mode": "email_link"},
		})
		if task.Total != len(school1) || task.Emailed+task.NoEmail != task.Total || task.Status != rekey.TaskCompleted {
			t.Errorf("task = %+v, want %d users, emailed + noEmail = total, completed", task, len(school1))
		}
		// Besides the students' links, the admin may get the "task
		// finished" email (a task that ran a minute or more: on a busy
		// machine this one can), never anything else.
		var sent []SentEmail
		finished := 0
		for _, m := range s.Mail()[before:] {
			if strings.HasPrefix(m.Subject, "Your bulk task finished") {
				finished++
				continue
			}
			sent = append(sent, m)
		}
		if finished > 1 {
			t.Errorf("the admin got %d \"task finished\" emails, want at most one", finished)
		}
		perAddress := map[string]int{}
		for _, m := range sent {
			perAddress[strings.ToLower(m.To)]++
		}
		for _, u := range school1 {
			want := 0
			if u.Email != "" {
				want = 1
			}
			if got := perAddress[strings.ToLower(u.Email)]; u.Email != "" && got != want {
				t.Errorf("%s got %d emails, want %d", u.Username, got, want)
			}
		}
		if len(sent) != task.Emailed {
			t.Errorf("%d emails sent, task says %d emailed", len(sent), task.Emailed)
		}
		// SES's delivery event of one of them is recorded against its
		// result, as the mail-events function does.
		if len(sent) > 0 {
			event := fmt.Sprintf(`{"version":"0","id":"e-1","detail-type":"Email Delivered","source":"aws.ses","time":"2026-09-01T06:02:15Z",
				"detail":{"eventType":"Delivery","mail":{"timestamp":"2026-09-01T06:02:12.915Z","messageId":%q},"delivery":{"timestamp":"2026-09-01T06:02:14Z"}}}`, sent[0].MessageID)
			resp, err := http.Post(s.URL+"/_local/ses-events", "application/json", strings.NewReader(event))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Errorf("POST /_local/ses-events (a delivery) = %d, want 204", resp.StatusCode)
			}
		}
	})

	pick := school1[:3]
	t.Run("selected users with a default password", func(t *testing.T) {
		const shared = "river stones and autumn leaves"
		ids := []string{pick[0].ID, pick[1].ID}
		task := startBulk(t, admin, map[string]any{
			"selection": map[string]any{"mode": "selected", "userIds": ids},
			"delivery":  map[string]any{"mode": "default_password", "defaultPassword": shared},
		})
		if task.Total != 2 || task.Succeeded != 2 {
			t.Errorf("task = %+v, want 2 succeeded", task)
		}
		for _, u := range pick[:2] {
			if _, status, e, mustChange := signInWith(t, s, u.Username, shared); status != 200 || !mustChange {
				t.Errorf("%s signing in with the default password = %d %+v mustChange=%v, want 200 and a forced change", u.Username, status, e, mustChange)
			}
		}
	})

	t.Run("a default password sends each user with email one password-changed notice", func(t *testing.T) {
		const shared = "harbour lights over quiet water"
		var ids, withEmail []string
		var without *rekey.User
		for _, u := range school1[3:] {
			switch {
			case u.Email != "" && len(withEmail) < 3:
				ids, withEmail = append(ids, u.ID), append(withEmail, u.Email)
			case u.Email == "" && without == nil:
				ids, without = append(ids, u.ID), &u
			}
		}
		if len(withEmail) != 3 || without == nil {
			t.Fatalf("the demo school has no 3 students with email and one without")
		}
		before := len(s.Mail())
		task := startBulk(t, admin, map[string]any{
			"selection": map[string]any{"mode": "selected", "userIds": ids},
			"delivery":  map[string]any{"mode": "default_password", "defaultPassword": shared},
		})
		if task.Succeeded != 4 || task.Notified != 3 {
			t.Errorf("task = %+v, want 4 passwords set and 3 notified", task)
		}
		var page struct{ Items []rekey.TaskResult }
		if status, e := admin.do("GET", "/api/tasks/"+task.ID+"/results", nil, &page); status != 200 || len(page.Items) != 4 {
			t.Fatalf("GET results = %d %+v, %d items; want 4", status, e, len(page.Items))
		}
		for _, r := range page.Items {
			if r.Notified != (r.Email != "") {
				t.Errorf("%s: notified %v, want %v", r.Username, r.Notified, r.Email != "")
			}
		}
		for _, address := range withEmail {
			waitForMail(t, s, address, before)
		}
		// Time for a second notice to show up, if one were sent.
		time.Sleep(3 * time.Second)
		notices := map[string]int{}
		for _, m := range s.Mail()[before:] {
			if !slices.ContainsFunc(withEmail, func(a string) bool { return strings.EqualFold(a, m.To) }) {
				continue
			}
			if m.Subject != "Your password was changed" {
				t.Errorf("email %q to %s, want only password-changed notices", m.Subject, m.To)
			}
			if strings.Contains(m.Text, shared) || strings.Contains(m.HTML, shared) {
				t.Errorf("the notice to %s contains the password", m.To)
			}
			notices[strings.ToLower(m.To)]++
		}
		for _, address := range withEmail {
			if n := notices[strings.ToLower(address)]; n != 1 {
				t.Errorf("%s got %d notices, want 1", address, n)
			}
		}
		// (The earlier subtest's two users get their notices too, maybe in
		// this window; the user without email cannot be sent to: the task
		// and results above show none was queued for them.)
		if n := notices[""]; n != 0 {
			t.Errorf("%d notices without an address", n)
		}
	})

	t.Run("all except one, generated passwords in the CSV", func(t *testing.T) {
		excluded := pick[2]
		task := startBulk(t, admin, map[string]any{
			"selection": map[string]any{"mode": "all_except", "userIds": []string{excluded.ID}, "schoolId": "demo-school-1", "role": "student"},
			"delivery":  map[string]any{"mode": "generated_passwords"},
		})
		if task.Total != len(school1)-1 || task.Succeeded != task.Total {
			t.Errorf("task = %+v, want %d users all succeeded", task, len(school1)-1)
		}
		rows := resultsCSV(t, admin, task.ID)
		header := rows[0]
		col := func(name string) int { return slices.Index(header, name) }
		if col("username") < 0 || col("password") < 0 || col("outcome") < 0 {
			t.Fatalf("CSV header = %v, want username, outcome and password columns", header)
		}
		passwords := map[string]string{}
		for _, row := range rows[1:] {
			passwords[row[col("username")]] = row[col("password")]
		}
		if _, ok := passwords[excluded.Username]; ok {
			t.Errorf("excluded user %s is in the results", excluded.Username)
		}
		if len(passwords) != task.Total {
			t.Errorf("CSV has %d users, want %d", len(passwords), task.Total)
		}
		u := pick[0]
		if _, status, e, mustChange := signInWith(t, s, u.Username, passwords[u.Username]); status != 200 || !mustChange {
			t.Errorf("%s signing in with the generated password = %d %+v mustChange=%v", u.Username, status, e, mustChange)
		}
		// Only the task's creator reads the passwords.
		other := signIn(t, s, demoUser(t, s, func(u rekey.User) bool { return u.Role == rekey.RoleSchoolAdmin && u.SchoolID == "demo-school-2" }).Username)
		if status, _ := other.do("GET", "/api/tasks/"+task.ID, nil, nil); status != 404 {
			t.Errorf("another school's admin reading the task = %d, want 404", status)
		}
	})

	t.Run("bad requests are refused", func(t *testing.T) {
		for _, test := range []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"unknown selection mode", map[string]any{"selection": map[string]any{"mode": "everyone", "userIds": []string{}}, "delivery": map[string]any{"mode": "email_link"}}, "selection.mode"},
			{"unknown delivery mode", map[string]any{"selection": map[string]any{"mode": "all", "userIds": []string{}}, "delivery": map[string]any{"mode": "carrier_pigeon"}}, "delivery.mode"},
			{"weak default password", map[string]any{"selection": map[string]any{"mode": "all", "userIds": []string{}}, "delivery": map[string]any{"mode": "default_password", "defaultPassword": "password1"}}, "delivery.defaultPassword"},
		} {
			status, e := admin.do("POST", "/api/bulk-resets", test.body, nil)
			if status != 422 || e.Field != test.field {
				t.Errorf("%s = %d %+v, want 422 naming %s", test.name, status, e, test.field)
			}
		}
	})

	// SECURITY.md 19: a repeat returns the original task; the same key
	// with a different body is 422 idempotency_key_reused.
	t.Run("an Idempotency-Key is bound to its request", func(t *testing.T) {
		one, two := school1[0].ID, school1[1].ID
		post := func(body string) (int, string, apiError) {
			t.Helper()
			req, _ := http.NewRequest("POST", s.URL+"/api/bulk-resets", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+admin.token)
			req.Header.Set("Idempotency-Key", "devstack-idem-1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct {
				TaskID string
				Error  apiError
			}
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				t.Fatalf("POST /api/bulk-resets = %d, body not JSON: %v", resp.StatusCode, err)
			}
			return resp.StatusCode, out.TaskID, out.Error
		}
		first := `{"selection":{"mode":"selected","userIds":["` + one + `","` + two + `"]},"delivery":{"mode":"email_link"}}`
		status, id, e := post(first)
		if status != 202 || id == "" {
			t.Fatalf("first POST = %d %+v, want 202", status, e)
		}
		defer waitForTask(t, admin, id)
		for _, test := range []struct {
			name   string
			body   string
			status int
		}{
			{"the same body", first, 202},
			{"the same request, other spacing, field order and id order", `{ "delivery": {"mode": "email_link"},
				"selection": {"userIds": ["` + two + `", "` + one + `"], "mode": "selected"} }`, 202},
			{"another selection", `{"selection":{"mode":"selected","userIds":["` + one + `"]},"delivery":{"mode":"email_link"}}`, 422},
			{"another delivery", `{"selection":{"mode":"selected","userIds":["` + one + `","` + two + `"]},"delivery":{"mode":"generated_passwords"}}`, 422},
		} {
			status, got, e := post(test.body)
			switch {
			case status != test.status:
				t.Errorf("%s = %d %+v, want %d", test.name, status, e, test.status)
			case status == 202 && got != id:
				t.Errorf("%s = task %s, want the first task %s", test.name, got, id)
			case status == 422 && (e.Code != rekey.ECodeIdempotencyKeyReused || e.Field != "Idempotency-Key"):
				t.Errorf("%s = %+v, want idempotency_key_reused on Idempotency-Key", test.name, e)
			}
		}
	})
}
