package browsertest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// setValue sets a date or time input as a picker would (typing into them
// differs between browsers), announcing input and change.
func (tb *tab) setValue(sel, value string) {
	tb.t.Helper()
	tb.waitVisible(sel)
	ok := evalT[bool](tb, fmt.Sprintf(`(() => {
  const el = document.querySelector(%q);
  el.focus();
  el.value = %q;
  el.dispatchEvent(new Event('input', { bubbles: true }));
  el.dispatchEvent(new Event('change', { bubbles: true }));
  return el.value === %q;
})()`, sel, value, value))
	if !ok {
		tb.t.Fatalf("%s did not take the value %q", sel, value)
	}
}

// TestWeeklyScheduleWithTheBuilderThenEdit: a weekly schedule made with the
// builder (days and a time, in the district's time zone by default) saves
// the cron() expression the builder shows; editing it opens the builder as
// it was saved, refuses a moment already past next to the date, and saves
// new days, name and zone under the schedule's version, keeping its users.
func TestWeeklyScheduleWithTheBuilderThenEdit(t *testing.T) {
	t.Parallel()
	admin := apiAdmin(t)
	var settings rekey.DistrictSettings
	admin.must(http.StatusOK, "GET", "/api/district/settings", nil, &settings)
	name := fmt.Sprintf("Weekly check %d", time.Now().UnixNano())

	tb := newTab(t)
	tb.signInAdmin()
	tb.goHash("#/schedules")
	tb.waitVisible("#schedules-new")
	tb.click("#schedules-new")
	tb.waitVisible("dialog#schedule-dialog #schedule-form")
	// A new schedule starts as a weekly one, in the district's time zone.
	if !evalT[bool](tb, `document.querySelector('#schedule-when-weekly').checked`) {
		t.Error("the builder does not start on Every week")
	}
	tb.waitFor("the district's time zone to be chosen", fmt.Sprintf(`document.querySelector('#schedule-timezone').value === %q`, settings.Timezone))

	tb.fill("#schedule-name", name)
	tb.click("#schedule-day-WED")
	tb.setValue("#schedule-time", "06:30")
	tb.waitText("#schedule-expression-preview", "cron(30 6 ? * MON,WED *)")
	if words := tb.text("#schedule-when-words"); !strings.Contains(words, "Monday and Wednesday at 06:30") {
		t.Errorf("the builder says %q, want Monday and Wednesday at 06:30", words)
	}
	tb.screenshot("schedule-builder-weekly")
	// Unticking every day is caught before anything is sent.
	tb.click("#schedule-day-MON")
	tb.click("#schedule-day-WED")
	tb.click("#schedule-save")
	tb.waitText("#schedule-days-error", "at least one day")
	tb.click("#schedule-day-MON")
	tb.click("#schedule-day-WED")
	tb.choose("#schedule-school", "demo-school-1")
	// Saved paused: it must never run and reset the school's students under
	// the other tests (TestAScheduleShowsTheTasksItStarted runs the
	// dispatcher).
	tb.click("#schedule-enabled")
	tb.click("#schedule-save")
	tb.waitGone("dialog#schedule-dialog")
	tb.waitText("#toast-region", "Saved")

	created := scheduleNamed(t, admin, name)
	if created.Expression != "cron(30 6 ? * MON,WED *)" || created.Timezone != settings.Timezone || created.Selection.SchoolID != "demo-school-1" || created.Version != 1 || created.Enabled {
		t.Fatalf("the saved schedule is %+v, want cron(30 6 ? * MON,WED *) in %s for demo-school-1, paused", created, settings.Timezone)
	}
	row := fmt.Sprintf(`tr[data-schedule-id=%q]`, created.ID)
	tb.waitText(row, "Every Monday and Wednesday at 06:30")

	// Edit: the builder opens as saved.
	tb.click("#schedule-edit-" + created.ID)
	tb.waitVisible("dialog#schedule-dialog #schedule-form")
	if got := evalT[string](tb, `['MON','TUE','WED','THU','FRI','SAT','SUN'].filter((d) => document.querySelector('#schedule-day-' + d).checked).join(',') + ' ' + document.querySelector('#schedule-time').value`); got != "MON,WED 06:30" {
		t.Errorf("the edit form's builder shows %q, want MON,WED 06:30", got)
	}
	tb.waitText("#schedule-tasks-status", "not started any task")

	// A once in the past: the server's refusal shows next to the date, and
	// nothing changes.
	tb.click("#schedule-when-once")
	tb.setValue("#schedule-date", "2020-01-06")
	tb.waitText("#schedule-expression-preview", "cron(30 6 6 1 ? 2020)")
	stop := tb.expectHTTP(http.StatusUnprocessableEntity)
	tb.click("#schedule-save")
	tb.waitText("#schedule-date-error", "never runs")
	stop()
	tb.screenshot("schedule-builder-past")
	if now := admin.schedule(created.ID); now.Version != 1 || now.Expression != created.Expression {
		t.Errorf("a refused edit changed the schedule: %+v", now)
	}

	// Back to weekly: Wednesday and Friday, a new name, Chicago time.
	tb.click("#schedule-when-weekly")
	tb.click("#schedule-day-MON")
	tb.click("#schedule-day-FRI")
	tb.fill("#schedule-name", name+" (edited)")
	tb.choose("#schedule-timezone", "America/Chicago")
	tb.waitText("#schedule-expression-preview", "cron(30 6 ? * WED,FRI *)")
	tb.click("#schedule-save")
	tb.waitGone("dialog#schedule-dialog")
	tb.waitText(row, "Every Wednesday and Friday at 06:30")
	edited := admin.schedule(created.ID)
	if edited.Name != name+" (edited)" || edited.Expression != "cron(30 6 ? * WED,FRI *)" || edited.Timezone != "America/Chicago" || edited.Version != 2 ||
		edited.Selection.SchoolID != "demo-school-1" || edited.Selection.Mode != created.Selection.Mode || edited.Enabled {
		t.Errorf("after the edit the schedule is %+v; want the new name, days and zone at version 2, the same users", edited)
	}
	tb.screenshot("schedules-edited")

	// A stale form is told so.
	admin.must(http.StatusOK, "PATCH", "/api/schedules/"+created.ID, map[string]any{"name": name + " (elsewhere)", "version": 2}, nil)
	tb.click("#schedule-edit-" + created.ID)
	tb.waitVisible("dialog#schedule-dialog #schedule-form")
	admin.must(http.StatusOK, "PATCH", "/api/schedules/"+created.ID, map[string]any{"name": name + " (again)", "version": 3}, nil)
	stop = tb.expectHTTP(http.StatusConflict)
	tb.fill("#schedule-name", name+" (stale)")
	tb.click("#schedule-save")
	tb.waitText("#schedule-error", "open the schedule again")
	stop()
	if now := admin.schedule(created.ID); now.Name != name+" (again)" {
		t.Errorf("a stale edit was saved: %+v", now)
	}
	tb.click("#schedule-cancel")
	tb.waitGone("dialog#schedule-dialog")
	admin.must(http.StatusNoContent, "DELETE", "/api/schedules/"+created.ID, nil, nil)
}

// TestAScheduleShowsTheTasksItStarted: once the dispatcher runs a schedule,
// the task records it (GET /api/tasks?scheduleId=) and the schedule shows
// its last run and the task.
func TestAScheduleShowsTheTasksItStarted(t *testing.T) {
	t.Parallel()
	admin := apiAdmin(t)
	student := claimStudent(t, true)
	// Once, a few minutes from now (UTC): the dispatcher is run at that
	// moment below, so nothing else of the stack is due with it but what
	// any other test left due by then.
	at := time.Now().UTC().Add(5 * time.Minute).Truncate(time.Minute)
	var sc rekey.Schedule
	admin.must(http.StatusCreated, "POST", "/api/schedules", map[string]any{
		"name": fmt.Sprintf("One student %d", time.Now().UnixNano()), "timezone": "UTC",
		"expression": fmt.Sprintf("cron(%d %d %d %d ? %d)", at.Minute(), at.Hour(), at.Day(), int(at.Month()), at.Year()),
		"selection":  map[string]any{"mode": "selected", "userIds": []string{student.ID}},
		"delivery":   map[string]any{"mode": "email_link"},
	}, &sc)
	t.Cleanup(func() { admin.call("DELETE", "/api/schedules/"+sc.ID, nil, nil) })
	if started, err := stack.App.Dispatcher.Run(context.Background(), sc.NextRunAt); err != nil || started < 1 {
		t.Fatalf("dispatching at %s = %d, %v; want the schedule started", sc.NextRunAt, started, err)
	}
	var tasks struct{ Items []rekey.Task }
	admin.must(http.StatusOK, "GET", "/api/tasks?scheduleId="+sc.ID, nil, &tasks)
	if len(tasks.Items) != 1 || tasks.Items[0].ScheduleID != sc.ID {
		t.Fatalf("GET /api/tasks?scheduleId= = %+v, want the one task the schedule started", tasks.Items)
	}
	taskID := tasks.Items[0].ID

	tb := newTab(t)
	tb.signInAdmin()
	tb.goHash("#/schedules")
	tb.waitVisible("#schedule-edit-" + sc.ID)
	tb.waitVisible("#schedule-last-" + sc.ID)
	tb.click("#schedule-edit-" + sc.ID)
	tb.waitVisible(fmt.Sprintf(`#schedule-tasks li[data-task-id=%q] a`, taskID))
	if last := tb.text("#schedule-form-last"); last == "Never" {
		t.Errorf("the schedule's last run shows %q after it ran", last)
	}
	evalT[bool](tb, `(document.querySelector('#schedule-runs-title').scrollIntoView({ block: 'start' }), true)`)
	tb.screenshot("schedule-tasks-started")
	tb.click(fmt.Sprintf(`#schedule-tasks li[data-task-id=%q] a`, taskID))
	tb.waitVisible("#task-progress")
}

// scheduleNamed finds a schedule by name through the API.
func scheduleNamed(t *testing.T, c *apiClient, name string) rekey.Schedule {
	t.Helper()
	var list struct{ Items []rekey.Schedule }
	c.must(http.StatusOK, "GET", "/api/schedules?limit=200", nil, &list)
	for _, s := range list.Items {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("GET /api/schedules has no schedule named %q", name)
	return rekey.Schedule{}
}

// schedule reads one schedule.
func (c *apiClient) schedule(id string) rekey.Schedule {
	c.t.Helper()
	var s rekey.Schedule
	c.must(http.StatusOK, "GET", "/api/schedules/"+id, nil, &s)
	return s
}
