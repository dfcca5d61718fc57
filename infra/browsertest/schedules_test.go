package browsertest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

func TestCreateAndPauseASchedule(t *testing.T) {
	t.Parallel()
	admin := apiAdmin(t)
	name := fmt.Sprintf("First day of term %d", time.Now().UnixNano())
	tb := newTab(t)
	tb.signInAdmin()
	tb.goHash("#/schedules")
	tb.waitVisible("#schedules-new")
	tb.waitFor("the schedules list to load", `document.querySelector('#schedules-status')?.textContent !== 'Loading schedules…'`)

	tb.click("#schedules-new")
	tb.waitVisible("dialog#schedule-dialog #schedule-form")
	// A schedule never keeps a password: the default password is offered
	// only as a disabled choice that says why.
	if !evalT[bool](tb, `document.querySelector('#schedule-delivery-default_password').disabled`) {
		t.Error("the schedule dialog lets a default password be chosen, which the API refuses for schedules")
	}
	tb.fill("#schedule-name", name)
	tb.click("#schedule-when-custom")
	tb.fill("#schedule-expression", "cron(0 7 1 9 ? *)")
	tb.choose("#schedule-timezone", "America/Chicago")
	tb.choose("#schedule-school", "demo-school-1")
	tb.screenshot("schedule-dialog-filled")
	tb.click("#schedule-save")
	tb.waitGone("dialog#schedule-dialog")
	tb.waitText("#toast-region", "Saved")

	var list struct{ Items []rekey.Schedule }
	admin.must(http.StatusOK, "GET", "/api/schedules", nil, &list)
	var created rekey.Schedule
	for _, s := range list.Items {
		if s.Name == name {
			created = s
		}
	}
	if created.ID == "" {
		t.Fatalf("GET /api/schedules has no schedule named %q", name)
	}
	if created.Timezone != "America/Chicago" || created.Selection.Mode != rekey.SelectWithoutRole || created.Selection.SchoolID != "demo-school-1" ||
		created.Delivery.Mode != rekey.DeliverEmailLink || !created.Enabled {
		t.Errorf("the saved schedule is %+v, want America/Chicago, students of demo-school-1 by email link, enabled", created)
	}
	row := fmt.Sprintf(`tr[data-schedule-id=%q]`, created.ID)
	tb.waitVisible(row)

	// The next run shows in the schedule's own zone: 07:00 Chicago time.
	next := tb.text("#schedule-next-" + created.ID)
	if created.NextRunAt.IsZero() {
		t.Errorf("the API gives no nextRunAt for an enabled schedule")
	} else {
		chicago, err := time.LoadLocation("America/Chicago")
		if err != nil {
			t.Fatal(err)
		}
		local := created.NextRunAt.In(chicago)
		if local.Hour() != 7 || local.Minute() != 0 || local.Day() != 1 || local.Month() != time.September {
			t.Errorf("nextRunAt = %s (%s in Chicago), want 1 September 07:00 Chicago time", created.NextRunAt, local)
		}
		if !strings.Contains(next, "07:00") || !strings.Contains(next, "Sep 1") || !strings.Contains(next, "C") {
			t.Errorf("#schedule-next = %q, want 1 September 07:00 in Central time", next)
		}
	}
	tb.screenshot("schedule-created")

	// Pause it.
	toggle := "#schedule-toggle-" + created.ID
	if label := tb.text(toggle); label != "Pause" {
		t.Errorf("%s says %q, want Pause", toggle, label)
	}
	tb.click(toggle)
	tb.waitText(toggle, "Resume")
	tb.waitText(row, "Paused")
	if got := admin.scheduleEnabled(created.ID); got {
		t.Errorf("after Pause the API says enabled = true")
	}
	tb.screenshot("schedules-paused")

	// The focus stays on the toggle, now Resume, after the list redraws.
	if focused := evalT[string](tb, `document.activeElement?.id`); focused != strings.TrimPrefix(toggle, "#") {
		t.Errorf("after pausing the focus is on #%s, want %s", focused, toggle)
	}
}

func (c *apiClient) scheduleEnabled(id string) bool {
	c.t.Helper()
	var s rekey.Schedule
	c.must(http.StatusOK, "GET", "/api/schedules/"+id, nil, &s)
	return s.Enabled
}

// TestScheduleWaitsForApproval: a school admin's schedule reaching more
// users than the district's threshold is saved waiting for approval; its
// creator may not approve it; the district admin sees "Waiting for
// approval" and an Approve button on the schedules screen, approves it,
// and the schedule then names its approver. It raises the threshold, so it
// does not run in parallel with the other tests.
func TestScheduleWaitsForApproval(t *testing.T) {
	approvalThreshold.Store(2)
	defer approvalThreshold.Store(0)
	principal := demoUsers(func(u rekey.User) bool { return u.Role == rekey.RoleSchoolAdmin && u.SchoolID == "demo-school-1" })[0]
	creator := apiAs(t, principal.Username, demoPassword)
	var sc rekey.Schedule
	creator.must(http.StatusCreated, "POST", "/api/schedules", map[string]any{
		"name": fmt.Sprintf("Whole school %d", time.Now().UnixNano()), "expression": "cron(0 7 1 9 ? *)", "timezone": "UTC",
		"selection": map[string]any{"mode": "without_role", "schoolId": "demo-school-1"}, "delivery": map[string]any{"mode": "email_link"},
	}, &sc)
	defer apiAdmin(t).call("DELETE", "/api/schedules/"+sc.ID, nil, nil)
	if !sc.NeedsApproval || sc.ApprovedBy != "" {
		t.Fatalf("a schedule of a whole school above threshold 2 = needsApproval %v, approvedBy %q; want waiting", sc.NeedsApproval, sc.ApprovedBy)
	}
	if status, body := creator.call("POST", "/api/schedules/"+sc.ID+"/approve", nil, nil); status != http.StatusForbidden || !strings.Contains(body, "self_approval") {
		t.Errorf("the creator's own approval = %d %s, want 403 self_approval", status, body)
	}

	tb := newTab(t)
	tb.signInAdmin()
	tb.goHash("#/schedules")
	tb.waitVisible("#schedule-waiting-" + sc.ID)
	tb.waitVisible("#schedule-approve-" + sc.ID)
	tb.screenshot("schedule-waiting-for-approval")
	tb.click("#schedule-approve-" + sc.ID)
	tb.waitVisible("dialog#confirm-dialog")
	tb.click("#confirm-ok")
	tb.waitGone("#schedule-approve-" + sc.ID)
	tb.waitGone("#schedule-waiting-" + sc.ID)
	tb.screenshot("schedule-approved")

	var approved rekey.Schedule
	apiAdmin(t).must(http.StatusOK, "GET", "/api/schedules/"+sc.ID, nil, &approved)
	if approved.ApprovedBy == "" || approved.ApprovedBy == principal.ID || approved.AwaitingApproval() {
		t.Errorf("after approval the schedule = approvedBy %q, waiting %v; want the district admin's approval", approved.ApprovedBy, approved.AwaitingApproval())
	}
	if status, body := apiAdmin(t).call("POST", "/api/schedules/"+sc.ID+"/approve", nil, nil); status != http.StatusConflict || !strings.Contains(body, "not_awaiting_approval") {
		t.Errorf("approving again = %d %s, want 409 not_awaiting_approval", status, body)
	}
}
