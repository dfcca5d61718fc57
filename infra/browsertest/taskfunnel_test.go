package browsertest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/rekey/rekey/infra/testwait"
	"github.com/rekey/rekey/shared/rekey"
)

// TestTaskPageFunnelFilterAndFollowUp runs an email-link task for three
// students (two with email, one without), then checks on
// its page the name, the funnel, the state filter, a follow-up with nobody
// to reach (409 shown) and one that starts a new task the console opens.
func TestTaskPageFunnelFilterAndFollowUp(t *testing.T) {
	t.Parallel()
	reached, other, noEmail := claimStudent(t, true), claimStudent(t, true), claimStudent(t, false)
	admin := apiAdmin(t)
	var started struct{ TaskID string }
	admin.must(http.StatusAccepted, "POST", "/api/bulk-resets", map[string]any{
		"selection": map[string]any{"mode": "selected", "userIds": []string{reached.ID, other.ID, noEmail.ID}},
		"delivery":  map[string]any{"mode": "email_link"},
	}, &started)
	id := started.TaskID
	var task rekey.Task
	testwait.Until(t, "the email-link task to finish", func() (bool, string) {
		admin.must(http.StatusOK, "GET", "/api/tasks/"+id, nil, &task)
		return task.Status == rekey.TaskCompleted || task.Status == rekey.TaskCompletedWithErrors, "status " + string(task.Status)
	})
	if task.Name == "" {
		t.Fatalf("the task has no name: %+v", task)
	}

	// (No SES event is sent: the stores do not record mail events yet, so
	// POST /_local/ses-events answers 500; bounced counts stay 0 here.)
	var schools struct{ Items []struct{ ID, Name string } }
	admin.must(http.StatusOK, "GET", "/api/schools", nil, &schools)
	schoolName := reached.SchoolID
	for _, s := range schools.Items {
		if s.ID == reached.SchoolID {
			schoolName = s.Name
		}
	}

	tb := newTab(t)
	tb.signInAdmin()
	// The task list calls it by its name.
	tb.goHash("#/tasks")
	tb.waitText(fmt.Sprintf(`tr[data-task-id=%q]`, id), task.Name)

	tb.goHash("#/tasks/" + id)
	tb.waitText("h1", task.Name)
	tb.waitText("#task-results-status", "results shown")
	funnel := evalT[map[string]string](tb, `Object.fromEntries([...document.querySelectorAll('#task-funnel dd')].map((dd) => [dd.id.replace('task-funnel-', ''), dd.textContent.trim()]))`)
	want := map[string]string{"sent": "2", "delivered": "0", "bounced": "0", "complained": "0", "completed": "0", "expired": "0"}
	if fmt.Sprint(funnel) != fmt.Sprint(want) {
		t.Errorf("the funnel shows %v, want %v", funnel, want)
	}

	// The state filter asks the server for one state at a time.
	type row struct{ Name, Username, School, State string }
	rows := func(filter, wantStatus string) []row {
		tb.choose("#task-results-state", filter)
		tb.waitText("#task-results-status", wantStatus)
		return evalT[[]row](tb, `[...document.querySelectorAll('#task-results tbody tr')].map((tr) => {
  const cell = (label) => (tr.querySelector('td[data-label="' + label + '"]')?.textContent || '').trim();
  return { name: cell('Name'), username: cell('Username'), school: cell('School'), state: cell('State') };
})`)
	}
	got := rows("sent", "2 results shown")
	wantRow := row{reached.FirstName + " " + reached.LastName, reached.Username, schoolName, "Sent"}
	if len(got) != 2 || (got[0] != wantRow && got[1] != wantRow) {
		t.Errorf("filtered on sent, the results are %+v, want two, one of them %+v", got, wantRow)
	}
	tb.screenshot("task-funnel-filtered")
	if got := rows("no_email", "1 result shown"); len(got) != 1 || got[0].Username != noEmail.Username || !strings.HasPrefix(got[0].State, "No email") {
		t.Errorf("filtered on no email, the results are %+v, want only %s", got, noEmail.Username)
	}
	if got := rows("unfinished", "3 results shown"); len(got) != 3 {
		t.Errorf("filtered on unfinished, the results are %+v, want all three users", got)
	}
	if got := rows("completed", "No user of this task is in that state"); len(got) != 0 {
		t.Errorf("filtered on completed, the results are %+v, want none", got)
	}

	// Nothing failed: retrying says so and starts nothing.
	stop := tb.expectHTTP(http.StatusConflict)
	tb.click("#task-follow-up-retry_failed")
	tb.waitVisible("dialog#confirm-dialog")
	tb.click("#confirm-ok")
	tb.waitText("#task-follow-up-error", "Nobody is left")
	stop()

	// Resending to the unfinished opens the new task and says none was left out.
	tb.click("#task-follow-up-resend_unfinished")
	tb.waitVisible("dialog#confirm-dialog")
	tb.click("#confirm-ok")
	tb.waitFor("the follow-up task's page", fmt.Sprintf(`location.hash.startsWith('#/tasks/') && location.hash !== %q`, "#/tasks/"+id))
	tb.waitText("#toast-region", "No address was left out")
	newID := strings.TrimPrefix(evalT[string](tb, `location.hash`), "#/tasks/")
	// Its users are picked from the parent's results when it is planned.
	var follow rekey.Task
	testwait.Until(t, "the follow-up task to be planned", func() (bool, string) {
		admin.must(http.StatusOK, "GET", "/api/tasks/"+newID, nil, &follow)
		return follow.Total > 0 || follow.Status.Finished(), fmt.Sprintf("%+v", follow)
	})
	if follow.ParentTaskID != id || follow.Total != 2 || follow.Selection.Mode != rekey.SelectFollowUp {
		t.Errorf("the follow-up task is %+v, want parent %s, a follow-up selection and the two users with email", follow, id)
	}
	tb.waitText("h1", follow.Name)
	tb.waitVisible("#task-parent-link")
	tb.waitText("#task-results-status", "results shown")
	tb.screenshot("task-follow-up-started")
}
