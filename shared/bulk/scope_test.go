package bulk

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/rekey/rekey/shared/bulk/envelope/kmskeys"
	"github.com/rekey/rekey/shared/rekey"
)

// scopeWorld is a finished generated_passwords task that school admin sa1
// of s1 ran for student st1 and teacher tc1 of s1, read back through the
// Service on the fake store, so that users can be moved between the run
// and the reading.
type scopeWorld struct {
	svc       *Service
	store     *testStore
	taskID    string
	passwords map[string]string // by user id
}

func newScopeWorld(t *testing.T) scopeWorld {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	later := func() time.Time { return now.Add(time.Hour) }
	store := newTestStore(later)
	keys := kmskeys.New(fakeKMS{}, "key")
	svc, err := NewService(ServiceDeps{Store: store, Plans: &fakeQueue{}, Keys: keys, Now: later})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []rekey.User{
		{ID: "sa1b", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleSchoolAdmin},
		{ID: "sa2", DistrictID: "d1", SchoolID: "s2", Role: rekey.RoleSchoolAdmin},
		{ID: "da2", DistrictID: "d2", Role: rekey.RoleDistrictAdmin},
		{ID: "tc1", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleTeacher, Username: "ty.chalk", FirstName: "Ty", Email: "ty@example.org"},
	} {
		u.Status = rekey.StatusActive
		store.put(u)
	}
	st1 := store.user("st1")
	st1.Email = "jo@example.org"
	store.put(st1)

	w := scopeWorld{svc: svc, store: store, taskID: rekey.NewID(), passwords: map[string]string{"st1": "amber-otter-42", "tc1": "quiet-harbour-97"}}
	del := rekey.Delivery{Mode: rekey.DeliverGeneratedPasswords}
	secrets, err := NewSecrets(ctx, keys, w.taskID, del, now)
	if err != nil {
		t.Fatal(err)
	}
	key, err := keys.OpenKey(ctx, w.taskID, secrets.SealedKey)
	if err != nil {
		t.Fatal(err)
	}
	creator := store.user("sa1")
	rec := rekey.TaskRecord{
		Task: rekey.Task{ID: w.taskID, Kind: rekey.TaskKindBulkReset, Status: rekey.TaskRunning, DistrictID: "d1",
			Selection: rekey.Selection{Mode: rekey.SelectSelected, UserIDs: []string{"st1", "tc1"}}, Delivery: del,
			Total: 2, Processed: 2, Succeeded: 2, CreatedBy: creator.ID, CreatedAt: now},
		CreatorRole: creator.Role, CreatorSchoolID: creator.SchoolID,
		StartedAt: now, LastProcessedAt: now, Plan: rekey.TaskPlan{Chunks: 1, Enqueued: 1, Done: true},
	}
	chunk := rekey.Chunk{TaskID: w.taskID, Index: 0, UserIDs: []string{"st1", "tc1"}, Done: true}
	for _, id := range chunk.UserIDs {
		u := store.user(id)
		chunk.Entries = append(chunk.Entries, rekey.ChunkEntry{
			Result: rekey.TaskResult{UserID: id, Username: u.Username, FirstName: u.FirstName, SchoolID: u.SchoolID,
				Email: u.Email, Outcome: rekey.OutcomePasswordSet, Attempts: 1},
			SealedPassword: key.Seal([]byte(w.passwords[id]), passwordBinding(w.taskID, id)),
		})
	}
	store.SeedTask(rec, secrets, chunk)
	return w
}

// move changes user id's record as an administrator would.
func (w scopeWorld) move(id string, change func(*rekey.User)) {
	u := w.store.user(id)
	change(&u)
	w.store.put(u)
}

// The changes a test makes to the creator or the target between the run
// and the reading.
var (
	stay             = func(*rekey.User) {}
	toSchool2        = func(u *rekey.User) { u.SchoolID = "s2" }
	toDistrict2      = func(u *rekey.User) { u.DistrictID, u.SchoolID = "d2", "x1" }
	demotedToTeacher = func(u *rekey.User) { u.Role = rekey.RoleTeacher }
	demotedToStudent = func(u *rekey.User) { u.Role = rekey.RoleStudent }
	disabled         = func(u *rekey.User) { u.Status = rekey.StatusDisabled }
)

// TestResultsFollowTheViewersCurrentScope is the matrix of SECURITY.md 21:
// viewer × action (the task, its JSON results, its CSV, the passwords) ×
// target role × whether the target and the creator were moved after the
// task ran. Being the task's creator grants nothing by itself: every row
// is judged against the viewer's current scope, and a password is shown
// only to the creator and only while the creator may still reset its user.
func TestResultsFollowTheViewersCurrentScope(t *testing.T) {
	for _, test := range []struct {
		name    string
		viewer  string
		creator func(*rekey.User) // what happened to sa1, the creator
		target  string            // st1 (student) or tc1 (teacher)
		moved   func(*rekey.User) // what happened to the target
		deleted bool              // the target no longer exists

		wantTask     bool // the task itself (counts only)
		wantRow      bool // the target's personal data in JSON and CSV
		wantPassword bool // the target's password in the CSV
	}{
		{name: "creator, student in scope", viewer: "sa1", creator: stay, target: "st1", moved: stay, wantTask: true, wantRow: true, wantPassword: true},
		{name: "creator, teacher in scope", viewer: "sa1", creator: stay, target: "tc1", moved: stay, wantTask: true, wantRow: true, wantPassword: true},
		{name: "creator, student moved to another school", viewer: "sa1", creator: stay, target: "st1", moved: toSchool2, wantTask: true},
		{name: "creator, teacher moved to another school", viewer: "sa1", creator: stay, target: "tc1", moved: toSchool2, wantTask: true},
		{name: "creator, student moved to another district", viewer: "sa1", creator: stay, target: "st1", moved: toDistrict2, wantTask: true},
		{name: "creator, student deleted", viewer: "sa1", creator: stay, target: "st1", moved: stay, deleted: true, wantTask: true},
		{name: "creator, student disabled", viewer: "sa1", creator: stay, target: "st1", moved: disabled, wantTask: true, wantRow: true},
		{name: "creator moved to another school, student", viewer: "sa1", creator: toSchool2, target: "st1", moved: stay, wantTask: true},
		{name: "creator moved to another school, teacher", viewer: "sa1", creator: toSchool2, target: "tc1", moved: stay, wantTask: true},
		{name: "creator moved to the student's new school", viewer: "sa1", creator: toSchool2, target: "st1", moved: toSchool2, wantTask: true, wantRow: true, wantPassword: true},
		{name: "creator moved to another district", viewer: "sa1", creator: toDistrict2, target: "st1", moved: stay, wantTask: true},
		{name: "creator demoted to teacher, student", viewer: "sa1", creator: demotedToTeacher, target: "st1", moved: stay, wantTask: true, wantRow: true, wantPassword: true},
		{name: "creator demoted to teacher, teacher", viewer: "sa1", creator: demotedToTeacher, target: "tc1", moved: stay, wantTask: true, wantRow: true},
		{name: "creator demoted to student", viewer: "sa1", creator: demotedToStudent, target: "st1", moved: stay},
		{name: "creator disabled", viewer: "sa1", creator: disabled, target: "st1", moved: stay},
		{name: "district admin, student in scope", viewer: "da1", creator: stay, target: "st1", moved: stay, wantTask: true, wantRow: true},
		{name: "district admin, student moved to another school", viewer: "da1", creator: stay, target: "st1", moved: toSchool2, wantTask: true, wantRow: true},
		{name: "district admin, student moved to another district", viewer: "da1", creator: stay, target: "st1", moved: toDistrict2, wantTask: true},
		{name: "district admin, creator moved away", viewer: "da1", creator: toDistrict2, target: "st1", moved: stay, wantTask: true, wantRow: true},
		{name: "other admin of the creator's school", viewer: "sa1b", creator: stay, target: "st1", moved: stay, wantTask: true, wantRow: true},
		{name: "other admin of the creator's school, student moved", viewer: "sa1b", creator: stay, target: "st1", moved: toSchool2, wantTask: true},
		{name: "teacher of the creator's school", viewer: "t1", creator: stay, target: "st1", moved: stay},
		{name: "admin of another school", viewer: "sa2", creator: stay, target: "st1", moved: stay},
		{name: "admin of the school the student moved to", viewer: "sa2", creator: stay, target: "st1", moved: toSchool2},
		{name: "district admin of the district the student moved to", viewer: "da2", creator: stay, target: "st1", moved: toDistrict2},
		{name: "support", viewer: "sup", creator: stay, target: "st1", moved: stay, wantTask: true, wantRow: true},
	} {
		t.Run(test.name, func(t *testing.T) {
			ctx := context.Background()
			w := newScopeWorld(t)
			w.move("sa1", test.creator)
			w.move(test.target, test.moved)
			original := w.store.user(test.target)
			if test.deleted {
				w.store.RemoveUser(test.target)
			}
			viewer := w.store.user(test.viewer)
			secret := w.passwords[test.target]
			personal := []string{original.Username, original.FirstName, original.Email, secret}

			// The task.
			task, err := w.svc.Get(ctx, viewer, w.taskID)
			if !test.wantTask {
				if rekey.ErrorCode(err) != rekey.ECodeNotFound {
					t.Errorf("Get = %+v, %v; want not_found", task, err)
				}
				if _, err := w.svc.Results(ctx, viewer, w.taskID, 0, ""); rekey.ErrorCode(err) != rekey.ECodeNotFound {
					t.Errorf("Results = %v, want not_found", err)
				}
				if err := w.svc.ResultsCSV(ctx, viewer, w.taskID, &bytes.Buffer{}); rekey.ErrorCode(err) != rekey.ECodeNotFound {
					t.Errorf("ResultsCSV = %v, want not_found", err)
				}
				return
			}
			if err != nil || task.Total != 2 || task.Succeeded != 2 {
				t.Fatalf("Get = %+v, %v; want the task with its counts", task, err)
			}

			// The JSON results: every row stays, so that they add up to the
			// counts, but only those in scope carry personal data.
			page, err := w.svc.Results(ctx, viewer, w.taskID, 0, "")
			if err != nil {
				t.Fatalf("Results: %v", err)
			}
			if len(page.Items) != task.Processed {
				t.Errorf("Results has %d rows, want %d (the task's processed count)", len(page.Items), task.Processed)
			}
			var row rekey.TaskResult
			for _, r := range page.Items {
				if r.UserID == test.target {
					row = r
				}
				if r.Password != "" {
					t.Errorf("Results row %s carries a password", r.UserID)
				}
			}
			if row.Outcome != rekey.OutcomePasswordSet {
				t.Errorf("Results row of %s = %+v, want its outcome", test.target, row)
			}
			if got := row.Username != "" || row.FirstName != "" || row.Email != "" || row.SchoolID != ""; got != test.wantRow {
				t.Errorf("Results row of %s = %+v; personal data shown = %v, want %v", test.target, row, got, test.wantRow)
			}

			// The CSV: the same rows; the password only where allowed.
			var buf bytes.Buffer
			if err := w.svc.ResultsCSV(ctx, viewer, w.taskID, &buf); err != nil {
				t.Fatalf("ResultsCSV: %v", err)
			}
			rows, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 3 || rows[0][len(rows[0])-1] != "password" {
				t.Fatalf("CSV = %q, want a header with a password column and 2 rows", rows)
			}
			line := rows[1+map[string]int{"st1": 0, "tc1": 1}[test.target]]
			if line[7] != string(rekey.OutcomePasswordSet) {
				t.Errorf("CSV row of %s = %q, want its outcome", test.target, line)
			}
			if got := line[0] != "" || line[1] != "" || line[4] != "" || line[6] != ""; got != test.wantRow {
				t.Errorf("CSV row of %s = %q; personal data shown = %v, want %v", test.target, line, got, test.wantRow)
			}
			if got := line[len(line)-1]; (got == secret) != test.wantPassword || got != "" && got != secret {
				t.Errorf("CSV password of %s = %q, want shown = %v", test.target, got, test.wantPassword)
			}
			if !test.wantRow {
				for _, s := range personal {
					if s != "" && strings.Contains(buf.String(), s) {
						t.Errorf("CSV holds %q of %s, out of the viewer's scope:\n%s", s, test.target, buf.String())
					}
				}
			}
		})
	}
}

// TestResultRowsAreReadInBatches: the rows' users are re-read with one
// batch read per page (per chunk read for the CSV), not one read per row.
func TestResultRowsAreReadInBatches(t *testing.T) {
	ctx := context.Background()
	w := newScopeWorld(t)
	viewer := w.store.user("sa1")
	if _, err := w.svc.Results(ctx, viewer, w.taskID, 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.ResultsCSV(ctx, viewer, w.taskID, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if w.store.userReads != 2 {
		t.Errorf("GetUsers called %d times for a page and a CSV of one chunk, want 2", w.store.userReads)
	}
}
