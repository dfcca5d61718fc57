package devstack

import (
	"context"
	"strings"
	"testing"

	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/rekey"
)

// fixedThreshold is every district's approval threshold.
type fixedThreshold int

func (f fixedThreshold) ApprovalThreshold(context.Context, string) (int, error) { return int(f), nil }

// TestDryRunApprovalAndTeacherNoticeEndToEnd, on DynamoDB (moto): the dry
// run counts a school through the index and writes nothing; a reset above
// the threshold waits, is refused to its creator, another district's
// nobody and a second approval, and runs once approved; a rejected one
// sends nothing; a teacher's reset of their school's students, and their
// follow-up of it, tell the school's admin by email.
func TestDryRunApprovalAndTeacherNoticeEndToEnd(t *testing.T) {
	s, err := Start(context.Background(), recordIAM(Options{
		Addr: "127.0.0.1:0", DemoPassword: demoPassword, StudentsPerSchool: 12, SendRate: 500,
		Hasher:    password.Hasher{Params: password.Params{Memory: 64, Iterations: 1, Parallelism: 1}},
		Approvals: fixedThreshold(10),
	}))
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	nameResources(s)
	t.Cleanup(func() { s.Close() })
	school := s.Demo.Schools[0]
	students := 0
	for _, u := range s.Demo.Users {
		if u.Role == rekey.RoleStudent && u.SchoolID == school.ID {
			students++
		}
	}
	admin := signIn(t, s, "district.admin")
	principal := demoUser(t, s, func(u rekey.User) bool { return u.Role == rekey.RoleSchoolAdmin && u.SchoolID == school.ID })
	teacher := demoUser(t, s, func(u rekey.User) bool { return u.Role == rekey.RoleTeacher && u.SchoolID == school.ID })
	link := map[string]any{"mode": "email_link"}

	// The dry run.
	var preview bulk.Preview
	if status, e := admin.do("POST", "/api/bulk-resets", map[string]any{"selection": map[string]any{"mode": "all", "schoolId": school.ID}, "delivery": link, "dryRun": true}, &preview); status != 200 {
		t.Fatalf("dry run = %d %+v", status, e)
	}
	if preview.ByRole[rekey.RoleStudent] != students || preview.Total <= students || len(preview.BySchool) != 1 || preview.BySchool[0].Name != school.Name ||
		preview.ApprovalThreshold != 10 || !preview.NeedsApproval {
		t.Errorf("dry run of %s = %+v, want its %d students and its staff", school.Name, preview, students)
	}
	var all bulk.Preview
	admin.do("POST", "/api/bulk-resets", map[string]any{"selection": map[string]any{"mode": "all"}, "delivery": link, "dryRun": true}, &all)
	adminID := demoUser(t, s, func(u rekey.User) bool { return u.Role == rekey.RoleDistrictAdmin }).ID
	if len(all.Excluded) != 1 || all.Excluded[0] != (bulk.Exclusion{UserID: adminID, Reason: bulk.ExcludedSelf}) || all.Total != len(s.Demo.Users)-1 {
		t.Errorf("dry run of everyone = total %d, excluded %+v; want %d and the caller as self", all.Total, all.Excluded, len(s.Demo.Users)-1)
	}
	var tasks struct{ Items []rekey.Task }
	if admin.do("GET", "/api/tasks", nil, &tasks); len(tasks.Items) != 0 {
		t.Errorf("dry runs recorded tasks: %+v", tasks.Items)
	}

	// Above the threshold: it waits; its creator cannot approve it.
	mailBefore := len(s.Mail())
	var started struct{ TaskID string }
	body := map[string]any{"selection": map[string]any{"mode": "without_role", "schoolId": school.ID}, "delivery": link}
	if status, e := admin.do("POST", "/api/bulk-resets", body, &started); status != 202 {
		t.Fatalf("start = %d %+v", status, e)
	}
	var task rekey.Task
	admin.do("GET", "/api/tasks/"+started.TaskID, nil, &task)
	if task.Status != rekey.TaskAwaitingApproval {
		t.Fatalf("a reset of %d students under a threshold of 10 is %s, want awaiting_approval", students, task.Status)
	}
	if status, e := admin.do("POST", "/api/tasks/"+started.TaskID+"/approve", nil, nil); status != 403 || e.Code != rekey.ECodeSelfApproval {
		t.Errorf("self approval = %d %+v, want 403 self_approval", status, e)
	}
	second := signIn(t, s, principal.Username)
	if status, e := second.do("POST", "/api/tasks/"+started.TaskID+"/approve", nil, nil); status != 404 {
		t.Errorf("a school admin approving a district admin's task = %d %+v, want 404", status, e)
	}
	var reject struct{ TaskID string }
	admin.do("POST", "/api/bulk-resets", map[string]any{"selection": map[string]any{"mode": "without_role"}, "delivery": link}, &reject)
	var rejected rekey.Task
	if status, e := admin.do("POST", "/api/tasks/"+reject.TaskID+"/reject", nil, &rejected); status != 200 || rejected.Status != rekey.TaskCancelled {
		t.Errorf("the creator withdrawing = %d %+v %+v, want 200 cancelled", status, e, rejected)
	}
	if status, e := admin.do("POST", "/api/tasks/"+reject.TaskID+"/approve", nil, nil); status != 403 && status != 409 {
		t.Errorf("approving a rejected task = %d %+v, want a refusal", status, e)
	}
	if sent := s.Mail()[mailBefore:]; len(sent) != 0 {
		t.Errorf("%d emails left before any approval", len(sent))
	}

	// A teacher's reset of their school's students (over ten) tells the
	// school's admin at once, though it waits for approval; the school's
	// admin approves it and it runs.
	teacherClient := signIn(t, s, teacher.Username)
	if status, e := teacherClient.do("POST", "/api/bulk-resets", map[string]any{"selection": map[string]any{"mode": "all", "schoolId": s.Demo.Schools[1].ID}, "delivery": link, "dryRun": true}, nil); status != 422 || e.Field != "selection.schoolId" {
		t.Errorf("a teacher naming another school = %d %+v, want 422 on selection.schoolId", status, e)
	}
	var teacherTask struct{ TaskID string }
	if status, e := teacherClient.do("POST", "/api/bulk-resets", map[string]any{"selection": map[string]any{"mode": "all"}, "delivery": link}, &teacherTask); status != 202 {
		t.Fatalf("the teacher's reset = %d %+v", status, e)
	}
	notice := waitForMail(t, s, principal.Email, mailBefore)
	if !strings.Contains(notice.Subject, "A teacher reset") || !strings.Contains(notice.Text, teacherTask.TaskID) {
		t.Errorf("the school admin's notice = %q\n%s", notice.Subject, notice.Text)
	}
	var approved rekey.Task
	if status, e := second.do("POST", "/api/tasks/"+teacherTask.TaskID+"/approve", nil, &approved); status != 200 || approved.Status != rekey.TaskQueued || approved.ApprovedBy != principal.ID {
		t.Fatalf("the school admin's approval = %d %+v %+v", status, e, approved)
	}
	if done := waitForTask(t, teacherClient, teacherTask.TaskID); done.Total != students || done.Status != rekey.TaskCompleted && done.Status != rekey.TaskCompletedWithErrors {
		t.Errorf("the teacher's approved reset ended %+v, want %d students reached", done, students)
	}
	// The teacher's follow-up (every student is still unfinished) is a new
	// reset of over ten students: the school's admin is told again, now by
	// api-tasks, the function serving follow-ups.
	noticesBefore := len(s.Mail())
	var followUp struct{ TaskID string }
	if status, e := teacherClient.do("POST", "/api/tasks/"+teacherTask.TaskID+"/follow-ups", map[string]any{"action": "resend_unfinished"}, &followUp); status != 202 {
		t.Fatalf("the teacher's follow-up = %d %+v", status, e)
	}
	if notice := waitForMail(t, s, principal.Email, noticesBefore); !strings.Contains(notice.Subject, "A teacher reset") || !strings.Contains(notice.Text, followUp.TaskID) {
		t.Errorf("the school admin's notice of the follow-up = %q\n%s", notice.Subject, notice.Text)
	}

	// The school admin's own reset above the threshold is approved by the
	// district admin, once.
	var saTask struct{ TaskID string }
	if status, e := second.do("POST", "/api/bulk-resets", map[string]any{"selection": map[string]any{"mode": "without_role"}, "delivery": link}, &saTask); status != 202 {
		t.Fatalf("the school admin's reset = %d %+v", status, e)
	}
	if status, e := admin.do("POST", "/api/tasks/"+saTask.TaskID+"/approve", nil, &approved); status != 200 || approved.Status != rekey.TaskQueued || approved.ApprovedBy != adminID {
		t.Fatalf("the district admin's approval = %d %+v %+v", status, e, approved)
	}
	if status, e := admin.do("POST", "/api/tasks/"+saTask.TaskID+"/approve", nil, nil); status != 409 || e.Code != rekey.ECodeNotAwaitingApproval {
		t.Errorf("approving twice = %d %+v, want 409 not_awaiting_approval", status, e)
	}
	if ran := waitForTask(t, second, saTask.TaskID); ran.Total != students || ran.Status != rekey.TaskCompleted && ran.Status != rekey.TaskCompletedWithErrors {
		t.Errorf("the approved task ended %+v", ran)
	}
	if status, e := second.do("POST", "/api/tasks/"+saTask.TaskID+"/reject", nil, nil); status != 409 || e.Code != rekey.ECodeNotAwaitingApproval {
		t.Errorf("rejecting a task that ran = %d %+v, want 409 not_awaiting_approval", status, e)
	}
}
