package bulk

import (
	"context"
	"fmt"
	"strings"

	"github.com/rekey/rekey/shared/rekey"
)

// TaskName is what a task is called in the task centre and in emails
// about it: what it does, to whom and how, e.g. "Email reset links ·
// Lakeview Middle School · students". schoolName is the name of the
// selection's school ("" when it has none: all schools in scope);
// scheduleName, when set, names the schedule that started it and comes
// first, so that a district's nightly tasks read as such.
func TaskName(sel rekey.Selection, del rekey.Delivery, schoolName, scheduleName string) string {
	var parts []string
	if scheduleName != "" {
		parts = append(parts, scheduleName)
	}
	switch del.Mode {
	case rekey.DeliverEmailLink:
		parts = append(parts, "Email reset links")
	case rekey.DeliverDefaultPassword:
		parts = append(parts, "Default password")
	case rekey.DeliverGeneratedPasswords:
		parts = append(parts, "Generated passwords")
	default:
		parts = append(parts, "Password reset")
	}
	switch {
	case schoolName != "":
		parts = append(parts, schoolName)
	case sel.Mode != rekey.SelectSelected && sel.Mode != rekey.SelectFollowUp:
		parts = append(parts, "all schools")
	}
	var who string
	switch {
	case sel.Mode == rekey.SelectFollowUp && sel.FollowUp != nil:
		who = followUpWho(*sel.FollowUp)
	case sel.Mode == rekey.SelectSelected:
		who = plural(len(sel.UserIDs), "selected user", "selected users")
	case sel.Role != "":
		who = roleNames[sel.Role]
	case sel.Mode == rekey.SelectWithoutRole:
		who = "students"
	case sel.Mode == rekey.SelectAllExcept:
		who = "everyone except " + plural(len(sel.UserIDs), "user", "users")
	default:
		who = "everyone"
	}
	if who == "" {
		who = strings.ReplaceAll(string(sel.Role), "_", " ") + "s"
	}
	if sel.Grade != "" && sel.Mode != rekey.SelectSelected && sel.Mode != rekey.SelectFollowUp {
		who += ", grade " + sel.Grade
	}
	return strings.Join(append(parts, who), " · ")
}

// followUpWho says whom follow-up f reaches, e.g. "1100 failed users".
func followUpWho(f rekey.FollowUpOf) string {
	switch f.Action {
	case FollowUpResendUnfinished:
		return plural(f.Count, "unfinished user", "unfinished users")
	case FollowUpRetryFailed:
		return plural(f.Count, "failed user", "failed users")
	case FollowUpGeneratedForNoEmail:
		return plural(f.Count, "user without email", "users without email")
	}
	return plural(f.Count, "user", "users")
}

// roleNames are the roles as a task's name says them.
var roleNames = map[rekey.Role]string{
	rekey.RoleStudent: "students", rekey.RoleTeacher: "teachers", rekey.RoleSchoolAdmin: "school admins",
	rekey.RoleDistrictAdmin: "district admins", rekey.RoleSupport: "support staff",
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// nameTask names a new task (TaskName), reading its school's name; a
// school that cannot be read is named by its id rather than failing the
// task.
func (s *Service) nameTask(ctx context.Context, sel rekey.Selection, del rekey.Delivery, scheduleName string) string {
	school := ""
	if sel.SchoolID != "" {
		school = sel.SchoolID
		if sc, err := s.store.GetSchool(ctx, sel.SchoolID); err == nil && sc.Name != "" {
			school = sc.Name
		}
	}
	return TaskName(sel, del, school, scheduleName)
}
