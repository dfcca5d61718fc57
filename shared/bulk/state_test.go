package bulk_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/rekey"
)

// TestResultStatesAndFunnel: results say where each user stands — sent,
// completed once the user set a password with the link, expired once the
// link lapsed unused — the filter works on the server, and the task's
// funnel counts them.
func TestResultStatesAndFunnel(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	ids := []string{"st1", "st2", "st3", "st4", "st5"}
	task := w.start(t, "dana.admin", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: ids}, rekey.Delivery{Mode: rekey.DeliverEmailLink})
	w.run(t)

	states := func(filter string) map[string]string {
		t.Helper()
		page, err := w.svc.ResultsIn(w.ctx, w.current(t, "dana.admin"), task.ID, filter, 100, "")
		if err != nil {
			t.Fatalf("ResultsIn(%q): %v", filter, err)
		}
		out := map[string]string{}
		for _, r := range page.Items {
			out[r.UserID] = r.State
		}
		return out
	}
	if diff := cmp.Diff(map[string]string{"st1": "sent", "st2": "sent", "st3": "sent", "st4": "sent", "st5": "no_email"}, states("")); diff != "" {
		t.Errorf("states after sending (-want +got):\n%s", diff)
	}

	w.clock.Add(time.Minute)
	mails := w.sentTo("jo.quill")
	if len(mails) != 1 {
		t.Fatalf("%d emails to jo.quill, want 1", len(mails))
	}
	if err := w.resetsService(t).ResetWithToken(w.ctx, tokenIn(t, mails[0].HTML), "a brand new passphrase", "req"); err != nil {
		t.Fatalf("redeem the link: %v", err)
	}
	w.clock.Add(w.cfg.LinkExpiry + time.Hour)

	for _, test := range []struct {
		filter string
		want   map[string]string
	}{
		{"", map[string]string{"st1": "completed", "st2": "expired", "st3": "expired", "st4": "expired", "st5": "no_email"}},
		{"completed", map[string]string{"st1": "completed"}},
		{"unfinished", map[string]string{"st2": "expired", "st3": "expired", "st4": "expired", "st5": "no_email"}},
		{"no_email", map[string]string{"st5": "no_email"}},
		{"bounced", map[string]string{}},
	} {
		if diff := cmp.Diff(test.want, states(test.filter)); diff != "" {
			t.Errorf("ResultsIn(state=%q) (-want +got):\n%s", test.filter, diff)
		}
	}
	if _, err := w.svc.ResultsIn(w.ctx, w.current(t, "dana.admin"), task.ID, "lost", 100, ""); rekey.ErrorCode(err) != rekey.ECodeInvalidInput {
		t.Errorf("ResultsIn(state=lost) = %v, want invalid_input", err)
	}
	got := w.task(t, "dana.admin", task.ID)
	want := &rekey.Funnel{Sent: 4, Delivered: 1, Completed: 1, Expired: 3}
	if diff := cmp.Diff(want, got.Funnel); diff != "" {
		t.Errorf("funnel (-want +got):\n%s", diff)
	}

	admin := w.current(t, "dana.admin")
	for _, test := range []struct {
		q    bulk.TaskQuery
		want int
	}{
		{bulk.TaskQuery{}, 1},
		{bulk.TaskQuery{Status: rekey.TaskCompleted}, 1},
		{bulk.TaskQuery{Status: rekey.TaskCancelled}, 0},
		{bulk.TaskQuery{CreatedBy: admin.ID}, 1},
		{bulk.TaskQuery{CreatedBy: "da2"}, 0},
	} {
		page, err := w.svc.ListWhere(w.ctx, admin, test.q, 50, "")
		if err != nil || len(page.Items) != test.want {
			t.Errorf("ListWhere(%+v) = %d tasks, %v; want %d", test.q, len(page.Items), err, test.want)
		}
	}
	if _, err := w.svc.ListWhere(w.ctx, admin, bulk.TaskQuery{Status: "lost"}, 50, ""); rekey.ErrorCode(err) != rekey.ECodeInvalidInput {
		t.Errorf("ListWhere(status=lost) = %v, want invalid_input", err)
	}

	// Follow-ups: new tasks with the parent's id, for the users the action picks.
	for _, test := range []struct {
		action string
		users  []string
		mode   rekey.DeliveryMode
	}{
		{bulk.FollowUpResendUnfinished, []string{"st2", "st3", "st4"}, rekey.DeliverEmailLink},
		{bulk.FollowUpGeneratedForNoEmail, []string{"st5"}, rekey.DeliverGeneratedPasswords},
	} {
		res, err := w.svc.FollowUp(w.ctx, admin, task.ID, test.action, "", "req-follow")
		if err != nil {
			t.Fatalf("FollowUp(%s): %v", test.action, err)
		}
		rec, err := w.store.GetTask(w.ctx, res.Task.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(test.users, w.plannedUsers(t, res.Task.ID)); diff != "" || rec.Task.ParentTaskID != task.ID || rec.Task.Delivery.Mode != test.mode {
			t.Errorf("FollowUp(%s) = parent %q, delivery %s, users (-want +got):\n%s", test.action, rec.Task.ParentTaskID, rec.Task.Delivery.Mode, diff)
		}
	}
	if _, err := w.svc.FollowUp(w.ctx, admin, task.ID, bulk.FollowUpRetryFailed, "", "req"); rekey.ErrorCode(err) != rekey.ECodeNothingToFollowUp {
		t.Errorf("retry_failed with no failed user = %v, want nothing_to_follow_up", err)
	}
	if _, err := w.svc.FollowUp(w.ctx, admin, task.ID, "dance", "", "req"); rekey.ErrorCode(err) != rekey.ECodeUnknownAction {
		t.Errorf("unknown action = %v, want unknown_action", err)
	}
	if _, err := w.svc.FollowUp(w.ctx, w.current(t, "ted.teach"), task.ID, bulk.FollowUpResendUnfinished, "", "req"); rekey.ErrorCode(err) != rekey.ECodeNotFound {
		t.Errorf("a follow-up of a task the actor cannot see = %v, want not_found", err)
	}
}
