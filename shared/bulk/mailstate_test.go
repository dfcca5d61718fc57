package bulk_test

import (
	"testing"

	"github.com/rekey/rekey/shared/rekey"
)

// TestMailEventsReachResults: an SES event recorded against a sent email's
// message id (the lookup the worker's write left) shows in the task's
// results and funnel, though the event never wrote the chunk.
func TestMailEventsReachResults(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	task := w.start(t, "dana.admin", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1", "st2"}}, rekey.Delivery{Mode: rekey.DeliverEmailLink})
	w.run(t)
	chunks, err := w.store.ListChunks(w.ctx, task.ID, 0, 1)
	if err != nil || len(chunks) != 1 {
		t.Fatalf("ListChunks = %d, %v", len(chunks), err)
	}
	msg := map[string]string{}
	for _, e := range chunks[0].Entries {
		msg[e.Result.UserID] = e.MessageID
	}
	for _, ev := range []rekey.MailEvent{{MessageID: msg["st1"], Type: rekey.MailDelivered}, {MessageID: msg["st2"], Type: rekey.MailBounced}, {MessageID: msg["st2"], Type: rekey.MailDelivered}} {
		if err := w.store.RecordMailEvent(w.ctx, ev); err != nil {
			t.Fatalf("RecordMailEvent(%+v): %v", ev, err)
		}
	}
	page, err := w.svc.ResultsIn(w.ctx, w.current(t, "dana.admin"), task.ID, "", 100, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range page.Items {
		got[r.UserID] = r.State
	}
	if got["st1"] != rekey.StateDelivered || got["st2"] != rekey.StateBounced {
		t.Errorf("states = %v, want st1 delivered, st2 bounced", got)
	}
	f := w.task(t, "dana.admin", task.ID).Funnel
	if f == nil || f.Sent != 2 || f.Delivered != 1 || f.Bounced != 1 {
		t.Errorf("funnel = %+v, want sent 2, delivered 1, bounced 1", f)
	}
}
