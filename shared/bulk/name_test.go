package bulk_test

import (
	"testing"

	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/rekey"
)

func TestTaskName(t *testing.T) {
	link, generated := rekey.Delivery{Mode: rekey.DeliverEmailLink}, rekey.Delivery{Mode: rekey.DeliverGeneratedPasswords}
	for _, test := range []struct {
		sel              rekey.Selection
		del              rekey.Delivery
		school, schedule string
		want             string
	}{
		{rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s1"}, link, "Lakeview Middle School", "", "Email reset links · Lakeview Middle School · students"},
		{rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"a", "b", "c"}}, link, "", "", "Email reset links · 3 selected users"},
		{rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"a"}}, generated, "", "", "Generated passwords · 1 selected user"},
		{rekey.Selection{Mode: rekey.SelectAll, Role: rekey.RoleTeacher}, rekey.Delivery{Mode: rekey.DeliverDefaultPassword}, "", "", "Default password · all schools · teachers"},
		{rekey.Selection{Mode: rekey.SelectAll, Grade: "7"}, link, "Hillcrest High", "Nightly grade 7", "Nightly grade 7 · Email reset links · Hillcrest High · everyone, grade 7"},
		{rekey.Selection{Mode: rekey.SelectAllExcept, UserIDs: []string{"a", "b"}}, link, "", "", "Email reset links · all schools · everyone except 2 users"},
		{rekey.Selection{Mode: rekey.SelectFollowUp, FollowUp: &rekey.FollowUpOf{TaskID: "t1", Action: bulk.FollowUpResendUnfinished, Count: 30000}}, link, "", "", "Email reset links · 30000 unfinished users"},
		{rekey.Selection{Mode: rekey.SelectFollowUp, FollowUp: &rekey.FollowUpOf{TaskID: "t1", Action: bulk.FollowUpGeneratedForNoEmail, Count: 1}}, generated, "", "", "Generated passwords · 1 user without email"},
	} {
		if got := bulk.TaskName(test.sel, test.del, test.school, test.schedule); got != test.want {
			t.Errorf("TaskName(%+v, %s, %q, %q) = %q, want %q", test.sel, test.del.Mode, test.school, test.schedule, got, test.want)
		}
	}
}
