package bulk

import (
	"context"
	"math"
	"slices"

	"github.com/rekey/rekey/shared/authz"
	"github.com/rekey/rekey/shared/rekey"
)

// TeacherNoticeThreshold is how many students a teacher may reset at once
// before their school's admins are told (by email): more than this is
// more than "a handful" — a class's worth, not a forgotten password or two.
const TeacherNoticeThreshold = 10

// noticeTeacherBulk queues the email that tells the admins of a teacher's
// school about the teacher's bulk reset taskID, when it reaches more than
// TeacherNoticeThreshold students. The task is recorded already, so a
// failure here is logged, not returned: the reset itself is audited and
// visible to those admins in their task list either way.
func (s *Service) noticeTeacherBulk(ctx context.Context, teacher rekey.User, scope authz.Scope, sel rekey.Selection, taskID, requestID string) {
	if teacher.Role != rekey.RoleTeacher || s.notices == nil {
		return
	}
	// A teacher's scope is one school: counting it reads at most that
	// school's users (GSI2), or the selected ids.
	n, err := s.reachCount(ctx, teacher, scope, sel, math.MaxInt)
	if err != nil {
		s.log.ErrorContext(ctx, "bulk: count a teacher's reset for the admins' notice", "task", taskID, "error", err)
		return
	}
	if n <= TeacherNoticeThreshold {
		return
	}
	admins, err := s.schoolAdmins(ctx, teacher)
	if err != nil {
		s.log.ErrorContext(ctx, "bulk: list the school's admins for the notice", "task", taskID, "error", err)
		return
	}
	for chunk := range slices.Chunk(admins, rekey.MaxJobUsers) {
		job := rekey.MailJob{Kind: rekey.JobTeacherBulkNotice, ID: "teacher-bulk#" + taskID, UserIDs: chunk,
			TaskID: taskID, ActorID: teacher.ID, Count: n, RequestID: requestID}
		if err := s.notices.Send(ctx, job); err != nil {
			s.log.ErrorContext(ctx, "bulk: queue the school admins' notice", "task", taskID, "error", err)
			return
		}
	}
	s.log.InfoContext(ctx, "bulk: school admins told of a teacher's bulk reset", "task", taskID, "admins", len(admins), "students", n)
}

// schoolAdmins lists the active school admins of teacher's school.
func (s *Service) schoolAdmins(ctx context.Context, teacher rekey.User) ([]string, error) {
	filter := rekey.UserFilter{DistrictID: teacher.DistrictID, SchoolID: teacher.SchoolID, Role: rekey.RoleSchoolAdmin}
	var ids []string
	cursor := ""
	for {
		users, next, err := s.store.SelectUsers(ctx, filter, cursor, planPageSize)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			if u.Role == rekey.RoleSchoolAdmin && u.SchoolID == teacher.SchoolID && u.Status != rekey.StatusDisabled {
				ids = append(ids, u.ID)
			}
		}
		if next == "" {
			return ids, nil
		}
		cursor = next
	}
}
