package browsertest

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/rekey/rekey/infra/seed"
	"github.com/rekey/rekey/shared/rekey"
)

// The screen walk visits every screen of the console once, in one tab, and
// calls visit on each: the accessibility audit and the layout checks both
// walk it, so neither can forget a screen.

// auditTask is a small finished-or-running bulk task for the task detail
// screen, made once per package through the API.
var auditTask struct {
	once sync.Once
	id   string
	err  string
}

// taskForScreens returns the id of a bulk task, or why there is none.
func taskForScreens(t *testing.T) (string, string) {
	auditTask.once.Do(func() {
		a, b := claimStudent(t, true), claimStudent(t, true)
		var out struct{ TaskID string }
		status, raw := apiAdmin(t).call("POST", "/api/bulk-resets", map[string]any{
			"selection": map[string]any{"mode": "selected", "userIds": []string{a.ID, b.ID}},
			"delivery":  map[string]any{"mode": "generated_passwords"},
		}, &out)
		if status != http.StatusAccepted || out.TaskID == "" {
			auditTask.err = fmt.Sprintf("POST /api/bulk-resets answered %d %s (want 202 {taskId})", status, raw)
			return
		}
		auditTask.id = out.TaskID
	})
	return auditTask.id, auditTask.err
}

// walks are the two halves of the walk, which can run side by side: the
// pages anyone can open, and the signed-in console.
var walks = []struct {
	name string
	walk func(t *testing.T, tb *tab, visit func(name string))
}{
	{"public", walkPublic},
	{"console", walkConsole},
}

// walkPublic shows the public pages and the forced password change.
func walkPublic(t *testing.T, tb *tab, visit func(name string)) {
	t.Helper()
	// A real link: the reset page checks it (consuming nothing) before it
	// shows the form.
	linked := claimStudent(t, true)
	mailBefore := len(stack.Mail())
	apiAdmin(t).must(http.StatusAccepted, "POST", "/api/users/"+linked.ID+"/password-reset", map[string]string{"mode": "link"}, nil)
	link := strings.TrimPrefix(resetLinkIn(t, newestMailTo(t, linked.Email, mailBefore)), stack.URL)
	for _, p := range []struct {
		name, path, ready string
		status            int // an answer the page expects, besides 2xx
	}{
		{"signin", "/", "#signin-form", 0},
		{"forgot", "/forgot-password", "#forgot-form", 0},
		{"reset-page", link, "#newpw-form", 0},
		// A link that was used, expired or never existed says so at once.
		{"reset-page-spent", "/reset-password?token=screen-walk-token", "#newpw-spent", http.StatusBadRequest},
		{"reset-page-no-token", "/reset-password", "#newpw-missing", 0},
		{"not-found", "/no-such-page", "#notfound-home", http.StatusNotFound},
	} {
		if p.path == "/reset-password" {
			// The page remembers a token for this tab; start afresh.
			tb.open("/forgot-password")
			evalT[chromedp.Void](tb, `sessionStorage.clear()`)
		}
		var stop func()
		if p.status != 0 {
			stop = tb.expectHTTP(p.status)
		}
		tb.open(p.path)
		tb.waitVisible(p.ready)
		if stop != nil {
			stop()
		}
		visit(p.name)
	}

	// The forced change after a temporary password.
	student := claimStudent(t, true)
	var temp struct{ TemporaryPassword string }
	apiAdmin(t).must(http.StatusOK, "POST", "/api/users/"+student.ID+"/password-reset", map[string]string{"mode": "temporary"}, &temp)
	tb.open("/")
	tb.fill("#signin-username", student.Username)
	tb.fill("#signin-password", temp.TemporaryPassword)
	tb.click("#signin-submit")
	tb.waitVisible("#change-form")
	visit("forced-change")
	tb.click("#change-signout")
	tb.waitVisible("#signin-form")
}

// walkConsole shows every screen of the signed-in console, as the district
// admin.
func walkConsole(t *testing.T, tb *tab, visit func(name string)) {
	t.Helper()
	tb.open("/")
	tb.fill("#signin-username", seed.DistrictAdminUsername)
	tb.fill("#signin-password", demoPassword)
	tb.click("#signin-submit")
	tb.waitUsersLoaded()
	visit("users-students")
	for _, tabName := range []string{"teachers", "admins"} {
		tb.click("#users-tab-" + tabName)
		tb.waitText("#users-status", tabName[:len(tabName)-1])
		tb.waitUsersLoaded()
		visit("users-" + tabName)
	}
	if narrow := evalT[bool](tb, `innerWidth < 700`); narrow {
		tb.click("#nav-toggle")
		tb.waitVisible("#nav-users")
		visit("nav-open")
		tb.click("#nav-toggle")
	}

	subject := demoUsers(func(u rekey.User) bool {
		return u.Role == rekey.RoleStudent && u.SchoolID == "demo-school-3" && u.Email != ""
	})[0]
	tb.findUser(subject)
	tb.click("#actions-" + subject.ID)
	tb.waitVisible("#row-menu")
	visit("row-menu")
	tb.keys("\x1b") // Escape closes the menu
	tb.waitGone("#row-menu")

	tb.click("#name-" + subject.ID)
	tb.waitVisible("dialog#editor #edit-form")
	visit("editor")
	tb.click("#edit-cancel")
	tb.waitGone("dialog#editor")

	tb.click("#actions-" + subject.ID)
	tb.click("#row-menu-reset")
	tb.waitVisible("dialog#reset-dialog")
	visit("reset-dialog")
	tb.click("#reset-mode-temporary")
	tb.click("#reset-temp-typed")
	tb.waitVisible("#reset-temp-password")
	visit("reset-dialog-temporary")
	tb.click("#reset-cancel")
	tb.waitGone("dialog#reset-dialog")

	tb.goHash("#/users/" + subject.ID + "/activity")
	tb.waitFor("the activity to load", `document.querySelector('#activity-empty')?.hidden === false || document.querySelectorAll('#activity-table tbody tr').length > 0`)
	visit("activity")

	tb.goHash("#/bulk")
	tb.waitVisible("#bulk-form")
	visit("bulk")
	tb.click("#bulk-filter-all")
	tb.click("#bulk-delivery-default_password")
	tb.fill("#bulk-default-password", "short")
	tb.waitText("#bulk-password-check", "Too short")
	visit("bulk-default-password")
	tb.fill("#bulk-default-password", "a long enough default passphrase")
	tb.choose("#bulk-school", "demo-school-3")
	tb.click("#bulk-review")
	tb.waitVisible("dialog#confirm-dialog")
	visit("bulk-confirm")
	tb.click("#confirm-cancel")
	tb.waitGone("dialog#confirm-dialog")

	taskID, why := taskForScreens(t)
	tb.goHash("#/tasks")
	tb.waitFor("the task list to load", `document.querySelector('#tasks-status')?.textContent !== 'Loading tasks…'`)
	visit("tasks")
	if taskID == "" {
		t.Errorf("the task detail screen cannot be shown: %s", why)
	} else {
		tb.goHash("#/tasks/" + taskID)
		tb.waitVisible("#task-progress")
		tb.waitFor("the task to finish", `/Completed|Failed|Cancelled/.test(document.querySelector('#task-status').textContent)`)
		tb.waitText("#task-results-status", "shown")
		// A password delivery says that users were told of the change.
		tb.waitText("#task-notice-note", "emailed that their password changed")
		visit("task-detail")
	}

	tb.goHash("#/schedules")
	tb.waitFor("the schedules to load", `document.querySelector('#schedules-status')?.textContent !== 'Loading schedules…'`)
	visit("schedules")
	tb.click("#schedules-new")
	tb.waitVisible("dialog#schedule-dialog #schedule-form")
	visit("schedule-dialog")
	tb.click("#schedule-cancel")
	tb.waitGone("dialog#schedule-dialog")

	tb.goHash("#/settings")
	tb.waitVisible("#settings-form")
	visit("settings")

	tb.goHash("#/account")
	tb.waitVisible("#account-details")
	visit("account")
}
