package bulk_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/rekey"
)

const defaultPassword = "purple otters juggle quietly"

// TestEverySelectionAndDelivery runs each of the four selections with each
// of the three deliveries as the district admin and checks who was reached
// and what happened to them, the counters, and the users' records.
func TestEverySelectionAndDelivery(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	selections := []struct {
		name string
		sel  rekey.Selection
		want []string // user ids reached
	}{
		{"all of a school", rekey.Selection{Mode: rekey.SelectAll, SchoolID: "s1"},
			[]string{"sa1", "t1", "st1", "st2", "st3", "st4", "st5", "st6"}},
		{"all except one", rekey.Selection{Mode: rekey.SelectAllExcept, SchoolID: "s1", UserIDs: []string{"st2"}},
			[]string{"sa1", "t1", "st1", "st3", "st4", "st5", "st6"}},
		{"without role", rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s1"},
			[]string{"st1", "st2", "st3", "st4", "st5", "st6"}},
		{"without role of a grade", rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s1", Grade: "8"},
			[]string{"st3", "st4"}},
		{"all except, of a role", rekey.Selection{Mode: rekey.SelectAllExcept, Role: rekey.RoleTeacher, UserIDs: []string{"t2"}},
			[]string{"t1"}},
		{"selected, with a foreign id", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1", "st7", "x1", "st6", "nobody"}},
			[]string{"st1", "st7", "x1", "st6", "nobody"}},
	}
	deliveries := []rekey.Delivery{
		{Mode: rekey.DeliverEmailLink},
		{Mode: rekey.DeliverDefaultPassword, DefaultPassword: defaultPassword},
		{Mode: rekey.DeliverGeneratedPasswords},
	}
	for _, s := range selections {
		for _, del := range deliveries {
			t.Run(s.name+"/"+string(del.Mode), func(t *testing.T) {
				before := w.snapshot(t)
				emailsBefore := w.allEmails(t)
				task := w.start(t, "dana.admin", s.sel, del)
				w.run(t)
				results := w.results(t, "dana.admin", task.ID)
				if diff := cmp.Diff(sorted(s.want), sorted(slices.Collect(maps.Keys(results)))); diff != "" {
					t.Fatalf("users reached (-want +got):\n%s", diff)
				}
				emailsAfter := w.allEmails(t)
				redeemed := false
				var generated map[string]string
				if del.Mode == rekey.DeliverGeneratedPasswords {
					generated = w.csvPasswords(t, "dana.admin", task.ID)
				}
				counts := map[rekey.Outcome]int{}
				afterAll := w.snapshot(t)
				for id, r := range results {
					counts[r.Outcome]++
					want := expectedOutcome(id, w.byIDOrZero(id), del.Mode)
					if r.Outcome != want {
						t.Errorf("%s: outcome %s (%s), want %s", id, r.Outcome, r.Error, want)
					}
					if id == "nobody" || id == "x1" {
						if r.Username != "" || r.Email != "" {
							t.Errorf("%s: result %+v shows data of a user outside the scope", id, r)
						}
						continue
					}
					u := w.byID(t, id)
					after := afterAll[id]
					audits := w.auditOfTask(t, id, task.ID)
					switch wantAction := map[rekey.Outcome]string{rekey.OutcomeEmailed: rekey.ActionResetLink, rekey.OutcomePasswordSet: rekey.ActionResetTemporary}[r.Outcome]; {
					case wantAction == "" && len(audits) != 0:
						t.Errorf("%s %s: audit entries %+v, want none", id, r.Outcome, audits)
					case wantAction != "" && (len(audits) != 1 || audits[0].Action != wantAction || audits[0].ActorID != "da1" || audits[0].Outcome != rekey.OutcomeSuccess):
						t.Errorf("%s %s: audit entries %+v, want one %s by da1", id, r.Outcome, audits, wantAction)
					}
					sent := emailsAfter[strings.ToLower(u.Email)] - emailsBefore[strings.ToLower(u.Email)]
					switch r.Outcome {
					case rekey.OutcomeEmailed:
						if sent != 1 || after.Status != rekey.StatusResetRequired || after.PasswordHash != "" || after.ResetID != "task-"+task.ID || after.SessionGen != before[id].SessionGen+1 {
							t.Errorf("%s emailed: %d emails, status %s, hash %q, reset %q; want 1 email, reset_required, no password, the task's reset", id, sent, after.Status, after.PasswordHash, after.ResetID)
						}
						if !redeemed {
							// The bulk link works with the single-user redemption.
							mails := w.sentTo(u.Username)
							token := tokenIn(t, mails[len(mails)-1].HTML)
							if err := w.resetsService(t).ResetWithToken(w.ctx, token, "a brand new passphrase", "req"); err != nil {
								t.Errorf("%s: redeeming the bulk link = %v, want success", id, err)
							}
							redeemed = true
						}
					case rekey.OutcomePasswordSet:
						pw := defaultPassword
						if generated != nil {
							pw = generated[u.Username]
						}
						ok, _, _ := fastHasher.Verify(after.PasswordHash, pw)
						if !ok || !after.MustChangePassword || after.Status != rekey.StatusActive || sent != 0 || after.ResetID != "" {
							t.Errorf("%s password_set: verifies %v, must change %v, status %s, %d emails; want true, true, active, 0", id, ok, after.MustChangePassword, after.Status, sent)
						}
						if r.Notified != (u.Email != "") {
							t.Errorf("%s password_set: notified %v, want %v (has email: %q)", id, r.Notified, u.Email != "", u.Email)
						}
					default:
						if diff := cmp.Diff(before[id], after); diff != "" || sent != 0 {
							t.Errorf("%s %s: %d emails and record changed (-before +after):\n%s", id, r.Outcome, sent, diff)
						}
					}
				}
				for id, u := range afterAll {
					if !slices.Contains(s.want, id) && u.Version != before[id].Version {
						t.Errorf("%s is outside the selection but was changed", id)
					}
				}
				notified := 0
				for id, r := range results {
					if r.Notified {
						notified++
						if r.Outcome != rekey.OutcomePasswordSet {
							t.Errorf("%s %s: notified, want a notice only for a password set", id, r.Outcome)
						}
					}
				}
				got := w.task(t, "dana.admin", task.ID)
				if got.Notified != notified {
					t.Errorf("task notified = %d, want %d (the results marked notified)", got.Notified, notified)
				}
				wantStatus := rekey.TaskCompleted
				if counts[rekey.OutcomeFailed] > 0 {
					wantStatus = rekey.TaskCompletedWithErrors
				}
				if got.Status != wantStatus || got.Total != len(s.want) || got.Processed != got.Total ||
					got.Emailed != counts[rekey.OutcomeEmailed] || got.NoEmail != counts[rekey.OutcomeNoEmail] ||
					got.Failed != counts[rekey.OutcomeFailed] || got.Succeeded != counts[rekey.OutcomeEmailed]+counts[rekey.OutcomePasswordSet] ||
					got.Skipped != counts[rekey.OutcomeSkipped] || got.FinishedAt.IsZero() {
					t.Errorf("task = %+v, want %s with counters matching %v", got, wantStatus, counts)
				}
			})
		}
	}
}

// expectedOutcome is what the matrix expects for user id (zero u for ids
// that do not exist) under delivery mode.
func expectedOutcome(id string, u rekey.User, mode rekey.DeliveryMode) rekey.Outcome {
	switch {
	case u.ID == "" || u.DistrictID != "d1":
		return rekey.OutcomeFailed
	case u.Status == rekey.StatusDisabled:
		return rekey.OutcomeSkipped
	case mode != rekey.DeliverEmailLink:
		return rekey.OutcomePasswordSet
	case u.Email == "":
		return rekey.OutcomeNoEmail
	default:
		return rekey.OutcomeEmailed
	}
}

func (w *world) byIDOrZero(id string) rekey.User {
	for _, u := range w.users {
		if u.ID == id {
			return u
		}
	}
	return rekey.User{}
}

func sorted(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// csvPasswords reads the results CSV as viewer and returns the password
// column by username.
func (w *world) csvPasswords(t *testing.T, viewer, taskID string) map[string]string {
	t.Helper()
	rows := w.csv(t, viewer, taskID)
	col := slices.Index(rows[0], "password")
	if col < 0 {
		t.Fatalf("CSV header %v has no password column", rows[0])
	}
	out := map[string]string{}
	for _, row := range rows[1:] {
		out[row[0]] = row[col]
	}
	return out
}

func (w *world) csv(t *testing.T, viewer, taskID string) [][]string {
	t.Helper()
	var buf bytes.Buffer
	if err := w.svc.ResultsCSV(w.ctx, w.current(t, viewer), taskID, &buf); err != nil {
		t.Fatalf("ResultsCSV: %v", err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("parse CSV: %v", err)
	}
	return rows
}

// TestScopeIntersection: a school admin's and a teacher's "all users"
// reach only what they may reset in their own school, never another
// school or district, and never themselves.
func TestScopeIntersection(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	for _, test := range []struct {
		actor string
		want  []string
	}{
		{"sam.head", []string{"t1", "st1", "st2", "st3", "st4", "st5", "st6"}},
		{"tia.teach", []string{"st1", "st2", "st3", "st4", "st5", "st6"}},
		{"sol.head", []string{"t2", "st7", "st8"}},
	} {
		t.Run(test.actor, func(t *testing.T) {
			task := w.start(t, test.actor, rekey.Selection{Mode: rekey.SelectAll}, rekey.Delivery{Mode: rekey.DeliverDefaultPassword, DefaultPassword: defaultPassword})
			w.run(t)
			results := w.results(t, test.actor, task.ID)
			if diff := cmp.Diff(sorted(test.want), sorted(slices.Collect(maps.Keys(results)))); diff != "" {
				t.Errorf("users reached by %s's \"all\" (-want +got):\n%s", test.actor, diff)
			}
		})
	}
	// A school filter outside the actor's scope is refused outright.
	_, err := w.svc.Start(w.ctx, w.current(t, "sam.head"), rekey.Selection{Mode: rekey.SelectAll, SchoolID: "s2"},
		rekey.Delivery{Mode: rekey.DeliverEmailLink}, "", "req")
	if e := asError(err); e == nil || e.Field != "selection.schoolId" {
		t.Errorf("school admin selecting another school = %v, want invalid_input on selection.schoolId", err)
	}
}

// TestForeignIDFailsOnlyThatItem: among a hundred selected users, one of
// another district fails with a reason and the others are reset.
func TestForeignIDFailsOnlyThatItem(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{extraStudents: map[string]int{"s1": 99}})
	ids := []string{"x1"}
	for i := range 99 {
		ids = append(ids, w.users[pupil("s1", i)].ID)
	}
	task := w.start(t, "sam.head", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: ids}, rekey.Delivery{Mode: rekey.DeliverDefaultPassword, DefaultPassword: defaultPassword})
	w.run(t)
	results := w.results(t, "sam.head", task.ID)
	if r := results["x1"]; r.Outcome != rekey.OutcomeFailed || r.Error == "" {
		t.Errorf("foreign id result = %+v, want failed with a reason", r)
	}
	got := w.task(t, "sam.head", task.ID)
	if got.Total != 100 || got.Succeeded != 99 || got.Failed != 1 || got.Status != rekey.TaskCompletedWithErrors {
		t.Errorf("task = %+v, want 99 succeeded, 1 failed of 100", got)
	}
	if u := w.current(t, "far.away"); u.Version != 1 {
		t.Errorf("the foreign user was changed: %+v", u)
	}
	// The refusal is in the foreign user's activity too, not only in the
	// task's results.
	if entries := w.auditOfTask(t, "x1", task.ID); len(entries) != 1 || entries[0].Outcome != rekey.OutcomeDenied || entries[0].ActorID != "sa1" {
		t.Errorf("audit of the task in x1's activity = %+v, want one denied entry by sa1", entries)
	}
}

// TestRefusalsOfAFullChunkAreAudited: a chunk of 96 selected users of whom
// 48 are outside the creator's scope: the 48 others are reset in one write
// (96 items with their audit entries), so the 48 refusals, each written in
// the refused user's activity with the chunk write that records it, must
// go in a write of their own to stay within 100 items per transaction.
func TestRefusalsOfAFullChunkAreAudited(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{extraStudents: map[string]int{"s1": 48, "s2": 48}})
	var ids, foreign []string
	for i := range 48 {
		own, other := w.users[pupil("s1", i)].ID, w.users[pupil("s2", i)].ID
		ids, foreign = append(ids, own, other), append(foreign, other)
	}
	task := w.start(t, "sam.head", rekey.Selection{Mode: rekey.SelectSelected, UserIDs: ids}, rekey.Delivery{Mode: rekey.DeliverDefaultPassword, DefaultPassword: defaultPassword})
	w.run(t)
	got := w.task(t, "sam.head", task.ID)
	if got.Total != 96 || got.Succeeded != 48 || got.Failed != 48 || got.Status != rekey.TaskCompletedWithErrors {
		t.Errorf("task = %+v, want 48 set and 48 failed of 96", got)
	}
	for _, id := range foreign {
		if u := w.byID(t, id); w.current(t, u.Username).Version != 1 {
			t.Errorf("%s outside the scope was changed", id)
		}
		entries := w.auditOfTask(t, id, task.ID)
		if len(entries) != 1 || entries[0].Outcome != rekey.OutcomeDenied || entries[0].ActorID != "sa1" || entries[0].Action != rekey.ActionResetTemporary {
			t.Errorf("%s: audit of the task = %+v, want one denied temporary-password entry by sa1", id, entries)
		}
	}
}

// TestUserMovedOutOfScopeIsAudited: a user the creator could reset when
// the task was planned, moved to another school before the worker reaches
// them, is refused (SECURITY.md 21) and the refusal shows in their
// activity.
func TestUserMovedOutOfScopeIsAudited(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	task := w.start(t, "sam.head", rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s1"}, rekey.Delivery{Mode: rekey.DeliverEmailLink})
	w.drain(t, w.planPoll)
	before := w.current(t, "jo.quill")
	moved := before
	moved.SchoolID, moved.Version = "s2", before.Version+1
	if err := w.store.UpdateUser(w.ctx, before, moved, nil); err != nil {
		t.Fatal(err)
	}
	w.run(t)
	if r := w.results(t, "dana.admin", task.ID)["st1"]; r.Outcome != rekey.OutcomeFailed {
		t.Errorf("result of the moved user = %+v, want failed", r)
	}
	if u := w.current(t, "jo.quill"); u.Version != moved.Version || u.PasswordHash != before.PasswordHash {
		t.Errorf("the moved user was reset: %+v", u)
	}
	entries := w.auditOfTask(t, "st1", task.ID)
	if len(entries) != 1 || entries[0].Outcome != rekey.OutcomeDenied || entries[0].ActorID != "sa1" ||
		entries[0].Action != rekey.ActionResetLink || !strings.Contains(entries[0].Detail, "scope") {
		t.Errorf("audit of the task in the moved user's activity = %+v, want one denied link entry by sa1", entries)
	}
	// Users still in scope are reset as usual, with no refusal.
	if entries := w.auditOfTask(t, "st2", task.ID); len(entries) != 1 || entries[0].Outcome != rekey.OutcomeSuccess {
		t.Errorf("audit of the task in st2's activity = %+v, want one success", entries)
	}
}

// pupil is the username of extra student i of school.
func pupil(school string, i int) string { return fmt.Sprintf("pupil.%s.%03d", school, i) }

func asError(err error) *rekey.Error {
	var e *rekey.Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
