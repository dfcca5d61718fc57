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
