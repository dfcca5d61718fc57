package browsertest

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/rekey/rekey/shared/rekey"

	"github.com/rekey/rekey/infra/testwait"
)

// taskView is what the task detail screen shows.
type taskView struct {
	Status, Processed, Total, Emailed, NoEmail, Failed string
	Value, Max                                         float64
}

func (tb *tab) taskView() taskView {
	tb.t.Helper()
	return evalT[taskView](tb, `(() => {
  const text = (id) => (document.getElementById(id)?.textContent || '').trim();
  const bar = document.getElementById('task-progress');
  return { status: text('task-status'), processed: text('task-processed'), total: text('task-total'), emailed: text('task-emailed'),
    noEmail: text('task-noEmail'), failed: text('task-failed'), value: bar ? bar.value : -1, max: bar ? bar.max : -1 };
})()`)
}

func TestBulkResetOfASchoolWithLiveProgressAndCSV(t *testing.T) {
	t.Parallel()
	students := demoUsers(func(u rekey.User) bool { return u.Role == rekey.RoleStudent && u.SchoolID == bulkSchool })
	admin := apiAdmin(t)
	tb := newTab(t)
	tb.signInAdmin()
	tb.goHash("#/bulk")
	tb.waitVisible("#bulk-form")
	tb.click("#bulk-filter-all") // nothing is chosen in advance
	tb.choose("#bulk-school", bulkSchool)
	tb.choose("#bulk-role", "student")

	// The default password is checked while it is typed.
	tb.click("#bulk-delivery-default_password")
	tb.fill("#bulk-default-password", "short")
	tb.waitText("#bulk-password-check", "Too short")
	tb.click("#bulk-delivery-email_link")
	tb.waitGone("#bulk-default-password")

	mailBefore := len(stack.Mail())
	tb.click("#bulk-review")
	tb.waitVisible("dialog#confirm-dialog")
	want := fmt.Sprintf("Reset %d passwords?", len(students))
	if title := tb.text("dialog#confirm-dialog .dialog-title"); title != want {
		t.Errorf("the confirmation asks %q, want %q", title, want)
	}
	if focused := evalT[string](tb, `document.activeElement?.id`); focused != "confirm-cancel" {
		t.Errorf("the confirmation opens with the focus on #%s, want #confirm-cancel", focused)
	}
	tb.screenshot("bulk-school-confirm")
	tb.click("#confirm-ok")

	// The console goes to the new task, or says why it could not start it.
	tb.waitFor("the task page or an error", `location.hash.startsWith('#/tasks/') || document.querySelector('#bulk-error')?.textContent.trim()`)
	hash := evalT[string](tb, `location.hash`)
	if !strings.HasPrefix(hash, "#/tasks/") {
		msg := tb.text("#bulk-error")
		tb.screenshot("bulk-error")
		status, raw := admin.call("GET", "/api/tasks", nil, nil)
		t.Fatalf("starting the bulk reset failed: the console says %q; GET /api/tasks answers %d %s", msg, status, raw)
	}
	taskID := strings.TrimPrefix(hash, "#/tasks/")

	// Progress arrives by itself: the page is never reloaded.
	evalT[chromedp.Void](tb, `window.__sameDocument = true`)
	tb.waitVisible("#task-progress")
	var seen []string
	start, deadline := time.Now(), testwait.Deadline(t)
	var v taskView
	for {
		v = tb.taskView()
		if step := v.Status + " " + v.Processed + "/" + v.Total; len(seen) == 0 || seen[len(seen)-1] != step {
			seen = append(seen, step)
		}
		if strings.HasPrefix(v.Status, "Completed") || v.Status == "Failed" || v.Status == "Cancelled" {
			break
		}
		if time.Now().After(deadline) {
			tb.screenshot("bulk-task-stuck")
			t.Fatalf("the task did not finish within %s; the screen went through %v", time.Since(start).Round(time.Second), seen)
		}
		time.Sleep(testwait.Interval)
	}
	t.Logf("the task screen showed: %s", strings.Join(seen, " → "))
	if !evalT[bool](tb, `window.__sameDocument === true`) {
		t.Errorf("the task page was reloaded to show progress")
	}
	n := fmt.Sprint(len(students))
	if v.Status != "Completed" || v.Total != n || v.Processed != n || v.Failed != "0" || v.Value != v.Max {
		t.Errorf("the finished task shows %+v, want Completed with %s of %s processed, none failed and a full bar", v, n, n)
	}
	var task rekey.Task
	admin.must(http.StatusOK, "GET", "/api/tasks/"+taskID, nil, &task)
	if fmt.Sprint(task.Emailed) != v.Emailed || fmt.Sprint(task.NoEmail) != v.NoEmail || task.Emailed+task.NoEmail != len(students) {
		t.Errorf("the screen shows emailed %s, no email %s; the API says %d and %d of %d", v.Emailed, v.NoEmail, task.Emailed, task.NoEmail, len(students))
	}
	tb.waitText("#task-results-status", "results shown")
	if evalT[bool](tb, `!document.getElementById('task-notice-note').hidden`) {
		t.Errorf("an email-link task shows the password-changed notice line")
	}
	tb.screenshot("bulk-task-finished")

	// The CSV downloads through the browser, with the session cookie.
	downloads := t.TempDir()
	if _, err := chromedp.CallBrowser(tb.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, BrowserContextID: tb.browserContextID(), DownloadPath: downloads,
	}); err != nil {
		t.Fatalf("allow downloads: %v", err)
	}
	tb.click("#task-csv")
	file := waitForDownload(t, downloads)
	rows := readCSV(t, file)
	if len(rows) == 0 || rows[0][0] != "username" {
		t.Fatalf("the CSV starts with %v, want a header starting with username", rows[:min(1, len(rows))])
	}
	var got, wantNames []string
	for _, r := range rows[1:] {
		got = append(got, r[0])
	}
	for _, s := range students {
		wantNames = append(wantNames, s.Username)
	}
	slices.Sort(got)
	slices.Sort(wantNames)
	if !slices.Equal(got, wantNames) {
		t.Errorf("the CSV lists %d users %v, want the %d students of %s", len(got), got, len(wantNames), bulkSchool)
	}

	// Every student with an email address got a reset link.
	for _, s := range students {
		if s.Email != "" {
			resetLinkIn(t, newestMailTo(t, s.Email, mailBefore))
		}
	}

	// The task centre lists it.
	tb.goHash("#/tasks")
	tb.waitVisible(fmt.Sprintf(`tr[data-task-id=%q]`, taskID))
	tb.waitText(fmt.Sprintf(`tr[data-task-id=%q]`, taskID), "Completed")
	tb.screenshot("bulk-task-in-list")
}

// waitForDownload waits for one finished file in dir.
func waitForDownload(t *testing.T, dir string) string {
	t.Helper()
	var file string
	testwait.Until(t, "a finished download in "+dir, func() (bool, string) {
		entries, err := os.ReadDir(dir)
		var names []string
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".crdownload") && !e.IsDir() {
				file = filepath.Join(dir, e.Name())
				return true, ""
			}
			names = append(names, e.Name())
		}
		return false, fmt.Sprintf("the folder holds %v (read error: %v)", names, err)
	})
	return file
}

func readCSV(t *testing.T, file string) [][]string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("read the downloaded CSV %s: %v", filepath.Base(file), err)
	}
	return rows
}
