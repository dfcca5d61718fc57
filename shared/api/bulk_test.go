package api

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/rekey/rekey/shared/auth"
	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/users"
)

// fakeBulk records what the handlers ask of the bulk service.
type fakeBulk struct {
	starts []struct {
		actor, key string
		sel        rekey.Selection
		del        rekey.Delivery
	}
	queries []bulk.TaskQuery
	err     error
	// previews counts Preview calls; decisions lists "approve:<id>" and
	// "reject:<id>" by actor.
	previews  int
	decisions []string
	// followUpKeys lists the Idempotency-Key of each follow-up.
	followUpKeys []string
}

func (f *fakeBulk) Preview(_ context.Context, actor rekey.User, sel rekey.Selection, _ rekey.Delivery) (bulk.Preview, error) {
	if f.err != nil {
		return bulk.Preview{}, f.err
	}
	f.previews++
	return bulk.Preview{Total: 2, BySchool: []bulk.SchoolCount{{SchoolID: "s1", Name: "Northfield", Count: 2}}, ByRole: map[rekey.Role]int{rekey.RoleStudent: 2},
		Excluded: []bulk.Exclusion{{UserID: actor.ID, Reason: bulk.ExcludedSelf}}, ExcludedTotal: 1}, nil
}

// decide answers the fake's tasks: task1 awaits approval by anyone but
// "dadmin" (its creator); done is no longer awaiting; others are not found.
func (f *fakeBulk) decide(actor rekey.User, verb, id string) (rekey.Task, error) {
	switch {
	case id == "done":
		return rekey.Task{}, &rekey.Error{Code: rekey.ECodeNotAwaitingApproval, Message: "This task is not waiting for approval."}
	case id != "task1":
		return rekey.Task{}, rekey.ErrNotFound
	case verb == "approve" && actor.ID == "dadmin":
		return rekey.Task{}, &rekey.Error{Code: rekey.ECodeSelfApproval, Message: "You started this bulk reset."}
	}
	f.decisions = append(f.decisions, verb+":"+id+":"+actor.ID)
	if verb == "approve" {
		return rekey.Task{ID: id, Status: rekey.TaskQueued, ApprovedBy: actor.ID}, nil
	}
	return rekey.Task{ID: id, Status: rekey.TaskCancelled}, nil
}

func (f *fakeBulk) Approve(_ context.Context, actor rekey.User, id, _ string) (rekey.Task, error) {
	return f.decide(actor, "approve", id)
}

func (f *fakeBulk) Reject(_ context.Context, actor rekey.User, id, _ string) (rekey.Task, error) {
	return f.decide(actor, "reject", id)
}

func (f *fakeBulk) Start(_ context.Context, actor rekey.User, sel rekey.Selection, del rekey.Delivery, key, _ string) (rekey.Task, error) {
	if f.err != nil {
		return rekey.Task{}, f.err
	}
	f.starts = append(f.starts, struct {
		actor, key string
		sel        rekey.Selection
		del        rekey.Delivery
	}{actor.ID, key, sel, del})
	return rekey.Task{ID: "task1", Status: rekey.TaskQueued}, nil
}

func (f *fakeBulk) ListWhere(_ context.Context, _ rekey.User, q bulk.TaskQuery, limit int, cursor string) (bulk.TaskPage, error) {
	f.queries = append(f.queries, q)
	if q.ScheduleID != "" {
		return bulk.TaskPage{Items: []rekey.Task{{ID: "task-of-" + q.ScheduleID, ScheduleID: q.ScheduleID}}}, nil
	}
	if cursor == "" {
		return bulk.TaskPage{Items: []rekey.Task{{ID: "task2"}}, Next: "page-2"}, nil
	}
	return bulk.TaskPage{Items: []rekey.Task{{ID: "task1"}}}, nil
}

func (f *fakeBulk) Get(_ context.Context, _ rekey.User, id string) (rekey.Task, error) {
	if id != "task1" {
		return rekey.Task{}, rekey.ErrNotFound
	}
	return rekey.Task{ID: id, Status: rekey.TaskRunning, Total: 10, Processed: 4}, nil
}

func (f *fakeBulk) Cancel(_ context.Context, _ rekey.User, id, _ string) (rekey.Task, error) {
	return rekey.Task{ID: id, Status: rekey.TaskCancelled}, nil
}

func (f *fakeBulk) ResultsIn(_ context.Context, _ rekey.User, _, state string, _ int, _ string) (bulk.ResultPage, error) {
	if state != "" && state != rekey.StatePasswordSet {
		return bulk.ResultPage{Items: []rekey.TaskResult{}}, nil
	}
	return bulk.ResultPage{Items: []rekey.TaskResult{{UserID: "st1", Username: "student.1", Outcome: rekey.OutcomePasswordSet, Attempts: 1, Password: "never shown"}}}, nil
}

func (f *fakeBulk) FollowUp(_ context.Context, _ rekey.User, id, action, key, _ string) (bulk.FollowUpResult, error) {
	f.followUpKeys = append(f.followUpKeys, key)
	switch {
	case id != "task1":
		return bulk.FollowUpResult{}, rekey.ErrNotFound
	case action == "retry_failed":
		return bulk.FollowUpResult{}, &rekey.Error{Code: rekey.ECodeNothingToFollowUp, Message: "Nobody is left for this follow-up."}
	case action != "resend_unfinished":
		return bulk.FollowUpResult{}, rekey.FieldError(rekey.ECodeUnknownAction, "action", "Unknown follow-up.")
	}
	return bulk.FollowUpResult{Task: rekey.Task{ID: "task3", ParentTaskID: id}, LeftOut: 2}, nil
}

func (f *fakeBulk) ResultsCSV(_ context.Context, _ rekey.User, id string, w io.Writer) error {
	if id != "task1" {
		return rekey.ErrNotFound
	}
	_, err := io.WriteString(w, "username,outcome\nstudent.1,password_set\n")
	return err
}

func (f *fakeBulk) LettersPDF(_ context.Context, _ rekey.User, id, signInURL string, w io.Writer) error {
	if id != "task1" {
		return rekey.ErrNotFound
	}
	_, err := io.WriteString(w, "%PDF-1.4 "+signInURL)
	return err
}

// bulkAPI serves the bulk routes over the test world's sessions.
type bulkAPI struct {
	*testAPI
	h    http.Handler
	fake *fakeBulk
}

func newBulkAPI(t *testing.T) *bulkAPI {
	t.Helper()
	a := newTestAPI(t)
	fake := &fakeBulk{}
	s := New(Deps{
		Auth:    auth.NewService(auth.Config{}, auth.Deps{Store: a.store, Throttles: a.store, Hasher: fastHasher{}, Now: a.clock.Now}),
		Users:   users.NewService(a.store, a.clock.Now),
		Secrets: a.store,
		Bulk:    fake,
	})
	return &bulkAPI{testAPI: a, h: s.Handler(FunctionBulk, FunctionTasks), fake: fake}
}

func (b *bulkAPI) call(method, path, body string, headers ...string) *httptest.ResponseRecorder {
	b.t.Helper()
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, testRequest(method, path, body, headers...))
	if !strings.HasPrefix(rec.Header().Get("Content-Disposition"), "attachment") {
		checkCommonHeaders(b.t, method+" "+path, rec)
	} else if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("X-Request-Id") == "" {
		b.t.Errorf("%s %s: file answer lacks no-store or its request id: %v", method, path, rec.Header())
	}
	return rec
}

func TestStartBulkReset(t *testing.T) {
	b := newBulkAPI(t)
	admin := b.login("district.admin")
	body := `{"selection":{"mode":"selected","userIds":["st1","st2"],"schoolId":"s1"},"delivery":{"mode":"default_password","defaultPassword":"purple otters juggle quietly"}}`
	rec := b.call("POST", "/api/bulk-resets", body, append(admin.bearer(), "Idempotency-Key", "abc-123")...)
	if rec.Code != http.StatusAccepted || strings.TrimSpace(rec.Body.String()) != `{"taskId":"task1"}` {
		t.Fatalf("POST /api/bulk-resets = %d %s, want 202 {taskId}", rec.Code, rec.Body)
	}
	got := b.fake.starts[0]
	if got.actor != "dadmin" || got.key != "abc-123" || got.sel.Mode != rekey.SelectSelected || len(got.sel.UserIDs) != 2 ||
		got.del.Mode != rekey.DeliverDefaultPassword || got.del.DefaultPassword != "purple otters juggle quietly" {
		t.Errorf("Start got %+v", got)
	}

	for _, test := range []struct {
		body          string
		status        int
		code, field   string
		contentHeader []string
	}{
		{`{"selection":{"mode":"all"},"delivery":{"mode":"email_link"},"extra":1}`, 400, rekey.ECodeUnknownField, "extra", nil},
		{`{"selection":{"mode":"all","everyone":true},"delivery":{"mode":"email_link"}}`, 400, rekey.ECodeUnknownField, "everyone", nil},
		{`{"selection":`, 400, rekey.ECodeInvalidJSON, "", nil},
		{`{"selection":{"mode":"all"},"delivery":{"mode":"email_link"}}`, 415, rekey.ECodeUnsupportedMedia, "", []string{"Content-Type", "text/plain"}},
	} {
		headers := append(admin.bearer(), test.contentHeader...)
		wantError(t, b.call("POST", "/api/bulk-resets", test.body, headers...), test.status, test.code, test.field)
	}
	b.fake.err = rekey.FieldError(rekey.ECodeWeakPassword, "delivery.defaultPassword", "Password is on the list of commonly used passwords.")
	wantError(t, b.call("POST", "/api/bulk-resets", `{"selection":{"mode":"all"},"delivery":{"mode":"default_password","defaultPassword":"password123"}}`, admin.bearer()...),
		422, rekey.ECodeWeakPassword, "delivery.defaultPassword")
	wantError(t, b.call("POST", "/api/bulk-resets", body), 401, rekey.ECodeUnauthenticated, "")
}

// TestDryRun: dryRun answers 200 with the preview and starts nothing.
func TestDryRun(t *testing.T) {
	b := newBulkAPI(t)
	admin := b.login("district.admin")
	rec := b.call("POST", "/api/bulk-resets", `{"selection":{"mode":"all"},"delivery":{"mode":"email_link"},"dryRun":true}`, admin.bearer()...)
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); rec.Code != 200 || err != nil {
		t.Fatalf("dry run = %d %s", rec.Code, rec.Body)
	}
	for _, field := range []string{"total", "bySchool", "byRole", "noEmail", "sso", "excluded", "excludedTotal", "approvalThreshold", "needsApproval"} {
		if _, ok := got[field]; !ok {
			t.Errorf("dry run answer lacks %s: %s", field, rec.Body)
		}
	}
	if !strings.Contains(rec.Body.String(), `"excluded":[{"userId":"dadmin","reason":"self"}]`) {
		t.Errorf("dry run answer %s does not exclude the caller as self", rec.Body)
	}
	if b.fake.previews != 1 || len(b.fake.starts) != 0 {
		t.Errorf("dry run: %d previews, %d starts; want 1, 0", b.fake.previews, len(b.fake.starts))
	}
	b.fake.err = rekey.FieldError(rekey.ECodeInvalidInput, "selection.schoolId", "Pick a school you manage.")
	wantError(t, b.call("POST", "/api/bulk-resets", `{"selection":{"mode":"all","schoolId":"s2"},"delivery":{"mode":"email_link"},"dryRun":true}`, admin.bearer()...),
		422, rekey.ECodeInvalidInput, "selection.schoolId")
}

// TestApprovalRoutes: approve and reject answer the task, and their
// refusals have their own statuses.
func TestApprovalRoutes(t *testing.T) {
	b := newBulkAPI(t)
	admin, other := b.login("district.admin"), b.login("teacher.one") // the fake judges only the creator
	wantError(t, b.call("POST", "/api/tasks/task1/approve", "", admin.bearer()...), 403, rekey.ECodeSelfApproval, "")
	wantError(t, b.call("POST", "/api/tasks/done/approve", "", other.bearer()...), 409, rekey.ECodeNotAwaitingApproval, "")
	wantError(t, b.call("POST", "/api/tasks/done/reject", "", other.bearer()...), 409, rekey.ECodeNotAwaitingApproval, "")
	wantError(t, b.call("POST", "/api/tasks/elsewhere/approve", "", other.bearer()...), 404, rekey.ECodeNotFound, "")
	wantError(t, b.call("POST", "/api/tasks/bad%20id/reject", "", other.bearer()...), 400, rekey.ECodeInvalidID, "")
	wantError(t, b.call("POST", "/api/tasks/task1/approve", ""), 401, rekey.ECodeUnauthenticated, "")
	if len(b.fake.decisions) != 0 {
		t.Fatalf("refusals reached the service as decisions: %v", b.fake.decisions)
	}
	rec := b.call("POST", "/api/tasks/task1/approve", "", other.bearer()...)
	if task := decode[rekey.Task](t, rec); rec.Code != 200 || task.Status != rekey.TaskQueued || task.ApprovedBy == "" {
		t.Errorf("approve = %d %s, want 200 queued with approvedBy", rec.Code, rec.Body)
	}
	rec = b.call("POST", "/api/tasks/task1/reject", "", admin.bearer()...)
	if task := decode[rekey.Task](t, rec); rec.Code != 200 || task.Status != rekey.TaskCancelled {
		t.Errorf("reject = %d %s, want 200 cancelled", rec.Code, rec.Body)
	}
}

func TestTaskRoutes(t *testing.T) {
	b := newBulkAPI(t)
	admin := b.login("district.admin")

	rec := b.call("GET", "/api/tasks?limit=1", "", admin.bearer()...)
	first := decode[listResponse[rekey.Task]](t, rec)
	if rec.Code != 200 || len(first.Items) != 1 || first.Items[0].ID != "task2" || first.NextCursor == nil {
		t.Fatalf("GET /api/tasks = %d %s", rec.Code, rec.Body)
	}
	rec = b.call("GET", "/api/tasks?cursor="+*first.NextCursor, "", admin.bearer()...)
	if second := decode[listResponse[rekey.Task]](t, rec); rec.Code != 200 || len(second.Items) != 1 || second.NextCursor != nil {
		t.Errorf("second page = %d %s", rec.Code, rec.Body)
	}
	teacher := b.login("teacher.one")
	wantError(t, b.call("GET", "/api/tasks?cursor="+*first.NextCursor, "", teacher.bearer()...), 400, rekey.ECodeInvalidCursor, "")
	wantError(t, b.call("GET", "/api/tasks?cursor=forged", "", admin.bearer()...), 400, rekey.ECodeInvalidCursor, "")
	b.fake.queries = nil
	if rec := b.call("GET", "/api/tasks?status=cancelled&createdBy=u1&scheduleId=sc1", "", admin.bearer()...); rec.Code != 200 ||
		len(b.fake.queries) != 1 || b.fake.queries[0] != (bulk.TaskQuery{Status: rekey.TaskCancelled, CreatedBy: "u1", ScheduleID: "sc1"}) {
		t.Errorf("GET /api/tasks with filters = %d %s, queries %+v", rec.Code, rec.Body, b.fake.queries)
	}

	rec = b.call("POST", "/api/tasks/task1/follow-ups", `{"action":"resend_unfinished"}`, append(admin.bearer(), "Idempotency-Key", "follow-1")...)
	if rec.Code != 202 || !strings.Contains(rec.Body.String(), `"taskId":"task3"`) || !strings.Contains(rec.Body.String(), `"leftOut":2`) {
		t.Errorf("POST follow-ups = %d %s, want 202 with the new task", rec.Code, rec.Body)
	}
	if !slices.Equal(b.fake.followUpKeys, []string{"follow-1"}) {
		t.Errorf("follow-up Idempotency-Keys passed on = %q, want [follow-1] (SECURITY.md 19)", b.fake.followUpKeys)
	}
	wantError(t, b.call("POST", "/api/tasks/task1/follow-ups", `{"action":"retry_failed"}`, admin.bearer()...), 409, rekey.ECodeNothingToFollowUp, "")
	wantError(t, b.call("POST", "/api/tasks/task1/follow-ups", `{"action":"dance"}`, admin.bearer()...), 400, rekey.ECodeUnknownAction, "action")
	wantError(t, b.call("POST", "/api/tasks/other/follow-ups", `{"action":"resend_unfinished"}`, admin.bearer()...), 404, rekey.ECodeNotFound, "")

	rec = b.call("GET", "/api/tasks?scheduleId=sched1", "", admin.bearer()...)
	if got := decode[listResponse[rekey.Task]](t, rec); rec.Code != 200 || len(got.Items) != 1 || got.Items[0].ScheduleID != "sched1" {
		t.Errorf("GET /api/tasks?scheduleId=sched1 = %d %s, want the schedule's tasks", rec.Code, rec.Body)
	}
	wantError(t, b.call("GET", "/api/tasks?scheduleId=bad~id", "", admin.bearer()...), 400, rekey.ECodeInvalidID, "scheduleId")
	// A cursor of the whole listing does not page a schedule's.
	wantError(t, b.call("GET", "/api/tasks?scheduleId=sched1&cursor="+*first.NextCursor, "", admin.bearer()...), 400, rekey.ECodeInvalidCursor, "")

	rec = b.call("GET", "/api/tasks/task1", "", admin.bearer()...)
	if task := decode[rekey.Task](t, rec); rec.Code != 200 || task.Processed != 4 || task.Total != 10 {
		t.Errorf("GET /api/tasks/task1 = %d %s", rec.Code, rec.Body)
	}
	wantError(t, b.call("GET", "/api/tasks/other", "", admin.bearer()...), 404, rekey.ECodeNotFound, "")
	wantError(t, b.call("GET", "/api/tasks/bad%20id", "", admin.bearer()...), 400, rekey.ECodeInvalidID, "")

	rec = b.call("POST", "/api/tasks/task1/cancel", "", admin.bearer()...)
	if task := decode[rekey.Task](t, rec); rec.Code != http.StatusAccepted || task.Status != rekey.TaskCancelled {
		t.Errorf("cancel = %d %s, want 202 cancelled", rec.Code, rec.Body)
	}

	rec = b.call("GET", "/api/tasks/task1/results?limit=50", "", admin.bearer()...)
	if rec.Code != 200 || strings.Contains(rec.Body.String(), "never shown") {
		t.Errorf("results = %d %s, want 200 without the password", rec.Code, rec.Body)
	}
	var results struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &results); err != nil || results.Items[0]["outcome"] != "password_set" || results.Items[0]["attempts"] != 1.0 {
		t.Errorf("results body %s, want userId, username, outcome, attempts", rec.Body)
	}

	rec = b.call("GET", "/api/tasks/task1/results.csv", "", admin.bearer()...)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/csv; charset=utf-8" ||
		!strings.Contains(rec.Header().Get("Content-Disposition"), `filename="rekey-task-task1.csv"`) || !strings.HasPrefix(rec.Body.String(), "username,outcome\n") {
		t.Errorf("CSV = %d %v %q", rec.Code, rec.Header(), rec.Body)
	}
	wantError(t, b.call("GET", "/api/tasks/other/results.csv", "", admin.bearer()...), 404, rekey.ECodeNotFound, "")

	// Compressed for clients that accept gzip; refused when too large for
	// one Lambda response.
	rec = b.call("GET", "/api/tasks/task1/results.csv", "", append(admin.bearer(), "Accept-Encoding", "br, gzip;q=0.8")...)
	zr, err := gzip.NewReader(rec.Body)
	if rec.Code != 200 || rec.Header().Get("Content-Encoding") != "gzip" || err != nil {
		t.Fatalf("gzip CSV = %d %v, %v", rec.Code, rec.Header(), err)
	}
	if plain, err := io.ReadAll(zr); err != nil || string(plain) != "username,outcome\nstudent.1,password_set\n" {
		t.Errorf("gzip CSV decompresses to %q, %v", plain, err)
	}
	rec = b.call("GET", "/api/tasks/task1/results.csv", "", append(admin.bearer(), "Accept-Encoding", "gzip;q=0")...)
	if rec.Header().Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 got Content-Encoding %q, want none", rec.Header().Get("Content-Encoding"))
	}
	rec = b.call("GET", "/api/tasks/task1/letters.pdf", "", admin.bearer()...)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/pdf" ||
		rec.Header().Get("Content-Disposition") != `attachment; filename="rekey-letters-task1.pdf"` || !strings.HasPrefix(rec.Body.String(), "%PDF-1.4 ") {
		t.Errorf("letters = %d %v %q", rec.Code, rec.Header(), rec.Body)
	}
	wantError(t, b.call("GET", "/api/tasks/other/letters.pdf", "", admin.bearer()...), 404, rekey.ECodeNotFound, "")
	defer func(old int) { maxDownloadBytes = old }(maxDownloadBytes)
	maxDownloadBytes = 10
	wantError(t, b.call("GET", "/api/tasks/task1/results.csv", "", admin.bearer()...), 422, rekey.ECodeResultsTooLarge, "")
}
