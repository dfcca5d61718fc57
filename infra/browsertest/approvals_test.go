package browsertest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/rekey/rekey/shared/rekey"
)

// TestBulkPreviewBeforeConfirm: nothing is chosen in advance on the bulk
// screen; the review shows the dry run (how many, by school, left out)
// above the confirm button; "all users except selected" keeps the Users
// screen's school and role.
func TestBulkPreviewBeforeConfirm(t *testing.T) {
	t.Parallel()
	const school = "demo-school-3"
	students := demoUsers(func(u rekey.User) bool { return u.Role == rekey.RoleStudent && u.SchoolID == school })
	tb := newTab(t)
	tb.signInAdmin()
	tb.goHash("#/bulk")
	tb.waitVisible("#bulk-form")
	if n := evalT[int](tb, `document.querySelectorAll('#bulk-form input[type=radio]:checked').length`); n != 0 {
		t.Errorf("the bulk screen opens with %d choices made, want none", n)
	}
	tb.screenshot("bulk-nothing-chosen")
	tb.click("#bulk-review")
	tb.waitText("#bulk-error", "Choose whose passwords")
	tb.click("#bulk-filter-without_role")
	tb.choose("#bulk-school", school)
	tb.click("#bulk-review")
	tb.waitText("#bulk-error", "Choose how")
	tb.click("#bulk-delivery-email_link")
	tb.click("#bulk-review")
	tb.waitVisible("dialog#confirm-dialog #bulk-preview")
	if got := tb.text("#preview-total"); !strings.HasPrefix(got, fmt.Sprint(len(students))+" ") {
		t.Errorf("the preview says %q, want %d users", got, len(students))
	}
	name := ""
	for _, sc := range stack.Demo.Schools {
		if sc.ID == school {
			name = sc.Name
		}
	}
	if got := tb.text("#preview-by-school"); name == "" || !strings.Contains(got, name+fmt.Sprint(len(students))) {
		t.Errorf("the preview by school says %q, want %s with %d", got, name, len(students))
	}
	if title := tb.text("dialog#confirm-dialog .dialog-title"); title != fmt.Sprintf("Reset %d passwords?", len(students)) {
		t.Errorf("the confirmation asks %q", title)
	}
	// The preview comes before the confirm button.
	if !evalT[bool](tb, `!!(document.getElementById('bulk-preview').compareDocumentPosition(document.getElementById('confirm-ok')) & Node.DOCUMENT_POSITION_FOLLOWING)`) {
		t.Errorf("the confirm button comes before the preview")
	}
	tb.screenshot("bulk-preview")
	tb.click("#confirm-cancel")
	tb.waitGone("dialog#confirm-dialog")

	// "All users except selected" keeps the Users screen's narrowing.
	tb.goHash("#/users?tab=students&school=" + school)
	tb.waitUsersLoaded()
	tb.click("#users-table tbody tr[data-user-id] input.row-select")
	tb.click("#bulk-reset-selected")
	tb.waitVisible("#bulk-form")
	tb.click("#bulk-filter-all_except")
	tb.waitFor("the Users screen's school", fmt.Sprintf(`document.getElementById('bulk-school').value === %q`, school))
	if role := tb.value("#bulk-role"); role != "student" {
		t.Errorf("all except selected keeps role %q, want student", role)
	}
	tb.click("#bulk-delivery-email_link")
	tb.click("#bulk-review")
	tb.waitVisible("dialog#confirm-dialog #bulk-preview")
	if got := tb.text("#preview-total"); !strings.HasPrefix(got, fmt.Sprint(len(students)-1)+" ") {
		t.Errorf("all except one of %d says %q, want %d users", len(students), got, len(students)-1)
	}
	tb.screenshot("bulk-all-except-preview")
	tb.click("#confirm-cancel")
	tb.waitGone("dialog#confirm-dialog")
}

// TestTeacherBulkResetWaitsForApproval: a teacher's bulk reset of their
// own students goes through the console; above the district's threshold
// it waits, sending nothing; the teacher sees it in their task list and may
// not approve it; the school's admin rejects one and approves another,
// which then runs. It raises the threshold, so it does not run in
// parallel with the other tests.
func TestTeacherBulkResetWaitsForApproval(t *testing.T) {
	approvalThreshold.Store(2)
	defer approvalThreshold.Store(0)
	var students []rekey.User
	for range 3 {
		students = append(students, claimStudent(t, true))
	}
	inSchool1 := func(role rekey.Role) rekey.User {
		return demoUsers(func(u rekey.User) bool { return u.Role == role && u.SchoolID == "demo-school-1" })[0]
	}
	teacher, principal := inSchool1(rekey.RoleTeacher), inSchool1(rekey.RoleSchoolAdmin)
	teacherAPI := apiAs(t, teacher.Username, demoPassword)
	mailBefore := len(stack.Mail())

	// A teacher naming another school is refused, by field.
	status, body := teacherAPI.call("POST", "/api/bulk-resets", map[string]any{
		"selection": map[string]any{"mode": "without_role", "schoolId": "demo-school-2"}, "delivery": map[string]any{"mode": "email_link"}, "dryRun": true,
	}, nil)
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, `"field":"selection.schoolId"`) {
		t.Errorf("a teacher's dry run of another school = %d %s, want 422 on selection.schoolId", status, body)
	}

	tb := newTab(t)
	tb.signIn(teacher.Username, demoPassword)
	tb.waitUsersLoaded()
	tb.waitVisible("#nav-bulk")
	tb.waitVisible("#nav-tasks")
	for _, s := range students {
		tb.goHash("#/users?tab=students&q=" + s.Username)
		tb.waitUsersLoaded()
		tb.click("#select-" + s.ID)
	}
	tb.click("#bulk-reset-selected")
	tb.waitVisible("#bulk-form") // the button no longer bounces a teacher back
	if !evalT[bool](tb, `document.getElementById('bulk-filter-selected').checked`) {
		t.Errorf("coming from the ticked users, the bulk screen does not start at the selected users")
	}
	tb.click("#bulk-delivery-email_link")
	tb.click("#bulk-review")
	tb.waitVisible("dialog#confirm-dialog #preview-approval")
	if got := tb.text("#preview-total"); !strings.HasPrefix(got, "3 ") {
		t.Errorf("the teacher's preview says %q, want 3 users", got)
	}
	if got := tb.text("#confirm-ok"); !strings.Contains(got, "Ask for approval") {
		t.Errorf("the confirm button says %q, want it to ask for approval", got)
	}
	tb.screenshot("teacher-bulk-preview-approval")
	tb.click("#confirm-ok")
	tb.waitFor("the new task", `location.hash.startsWith('#/tasks/')`)
	taskID := strings.TrimPrefix(evalT[string](tb, `location.hash`), "#/tasks/")
	tb.waitText("#task-status", "Awaiting approval")
	tb.screenshot("teacher-task-awaiting")

	// Its creator may not approve it.
	status, body = teacherAPI.call("POST", "/api/tasks/"+taskID+"/approve", nil, nil)
	if status != http.StatusForbidden || !strings.Contains(body, "self_approval") {
		t.Errorf("the teacher's own approval = %d %s, want 403 self_approval", status, body)
	}
	tb.goHash("#/tasks")
	tb.waitVisible("#approvals")
	tb.waitVisible(`#tasks-table tr[data-task-id="` + taskID + `"]`)
	if got := tb.text("#approvals"); !strings.Contains(got, "another administrator must approve") {
		t.Errorf("the teacher's approvals panel says %q", got)
	}
	tb.screenshot("teacher-tasks-awaiting")

	// A second one, which the school's admin rejects.
	var second struct {
		TaskID string `json:"taskId"`
	}
	ids := []string{students[0].ID, students[1].ID, students[2].ID}
	teacherAPI.must(http.StatusAccepted, "POST", "/api/bulk-resets", map[string]any{
		"selection": map[string]any{"mode": "selected", "userIds": ids}, "delivery": map[string]any{"mode": "email_link"},
	}, &second)

	admin := newTab(t)
	admin.signIn(principal.Username, demoPassword)
	admin.waitUsersLoaded()
	admin.goHash("#/tasks")
	admin.waitVisible("#approve-" + taskID)
	admin.waitVisible("#approve-" + second.TaskID)
	admin.waitText("#approval-by-"+taskID, teacher.LastName)
	admin.screenshot("approvals-pending")
	admin.click("#reject-" + second.TaskID)
	admin.waitVisible("dialog#confirm-dialog")
	admin.click("#confirm-ok")
	admin.waitGone("#approve-" + second.TaskID)
	var rejected rekey.Task
	teacherAPI.must(http.StatusOK, "GET", "/api/tasks/"+second.TaskID, nil, &rejected)
	if rejected.Status != rekey.TaskCancelled {
		t.Errorf("the rejected task is %s, want cancelled", rejected.Status)
	}
	if sent := stack.Mail()[mailBefore:]; len(sent) != 0 {
		t.Errorf("%d emails left before any approval, want none", len(sent))
	}

	admin.click("#approve-" + taskID)
	admin.waitVisible("dialog#confirm-dialog")
	admin.screenshot("approval-confirm")
	admin.click("#confirm-ok")
	admin.waitGone("#approvals:not([hidden])")
	admin.screenshot("approvals-approved")
	for _, s := range students {
		newestMailTo(t, s.Email, mailBefore)
	}
	var approved rekey.Task
	teacherAPI.must(http.StatusOK, "GET", "/api/tasks/"+taskID, nil, &approved)
	if approved.ApprovedBy != principal.ID {
		t.Errorf("the approved task names approver %q, want %s", approved.ApprovedBy, principal.ID)
	}
	// Approving it again changes nothing.
	status, body = apiAs(t, principal.Username, demoPassword).call("POST", "/api/tasks/"+taskID+"/approve", nil, nil)
	if status != http.StatusConflict || !strings.Contains(body, "not_awaiting_approval") {
		t.Errorf("approving twice = %d %s, want 409 not_awaiting_approval", status, body)
	}
}
