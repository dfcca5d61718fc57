package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"

	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/console"
	"github.com/rekey/rekey/shared/rekey"
)

// BulkService starts bulk resets and serves the task centre;
// *bulk.Service implements it.
type BulkService interface {
	Start(ctx context.Context, initiator rekey.User, sel rekey.Selection, del rekey.Delivery, idempotencyKey, requestID string) (rekey.Task, error)
	Preview(ctx context.Context, initiator rekey.User, sel rekey.Selection, del rekey.Delivery) (bulk.Preview, error)
	Approve(ctx context.Context, approver rekey.User, id, requestID string) (rekey.Task, error)
	Reject(ctx context.Context, actor rekey.User, id, requestID string) (rekey.Task, error)
	ListWhere(ctx context.Context, actor rekey.User, q bulk.TaskQuery, limit int, cursor string) (bulk.TaskPage, error)
	Get(ctx context.Context, actor rekey.User, id string) (rekey.Task, error)
	Cancel(ctx context.Context, actor rekey.User, id, requestID string) (rekey.Task, error)
	ResultsIn(ctx context.Context, actor rekey.User, id, state string, limit int, cursor string) (bulk.ResultPage, error)
	ResultsCSV(ctx context.Context, actor rekey.User, id string, w io.Writer) error
	LettersPDF(ctx context.Context, actor rekey.User, id, signInURL string, w io.Writer) error
	FollowUp(ctx context.Context, actor rekey.User, id, action, idempotencyKey, requestID string) (bulk.FollowUpResult, error)
}

// bulkHandlers are the handlers of the bulk reset and task routes
// (functions api-bulk and api-tasks), served by svc.
type bulkHandlers struct {
	s   *Server
	svc BulkService
}

// bulkResetRequest is the body of POST /api/bulk-resets. DryRun asks for
// the preview of what the reset would do, writing nothing.
type bulkResetRequest struct {
	Selection rekey.Selection `json:"selection"`
	Delivery  rekey.Delivery  `json:"delivery"`
	DryRun    bool            `json:"dryRun"`
}

// bulkResetResponse is the answer to POST /api/bulk-resets.
type bulkResetResponse struct {
	TaskID string `json:"taskId"`
}

// start is POST /api/bulk-resets {selection, delivery} with an optional
// Idempotency-Key header: 202 {taskId} at once; a repeat of the key by the
// same user answers the task it started. With dryRun it is 200 with the
// preview (bulk.Preview) and writes nothing.
func (b bulkHandlers) start(w http.ResponseWriter, r *http.Request, p principal) error {
	var req bulkResetRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	if req.DryRun {
		preview, err := b.svc.Preview(ctx, p.user, req.Selection, req.Delivery)
		if err != nil {
			return err
		}
		b.s.writeJSON(w, r, http.StatusOK, preview)
		return nil
	}
	task, err := b.svc.Start(ctx, p.user, req.Selection, req.Delivery, r.Header.Get("Idempotency-Key"), RequestID(ctx))
	if err != nil {
		return err
	}
	b.s.writeJSON(w, r, http.StatusAccepted, bulkResetResponse{TaskID: task.ID})
	return nil
}

// list is GET /api/tasks?status=&createdBy=&scheduleId=&limit=&cursor=:
// the tasks the caller may see, newest first, narrowed by the filters.
func (b bulkHandlers) list(w http.ResponseWriter, r *http.Request, p principal) error {
	ctx := r.Context()
	q, limit, err := pageQuery(r, "status", "createdBy", "scheduleId")
	if err != nil {
		return err
	}
	createdBy, err := queryID(q, "createdBy")
	if err != nil {
		return err
	}
	scheduleID, err := queryID(q, "scheduleId")
	if err != nil {
		return err
	}
	query := bulk.TaskQuery{Status: rekey.TaskStatus(q.Get("status")), CreatedBy: createdBy, ScheduleID: scheduleID}
	// A cursor pages the listing it came from: the filters are part of it.
	return writePage(b.s, w, r, q.Get("cursor"), []string{"tasks", p.user.ID, string(query.Status), query.CreatedBy, query.ScheduleID}, func(cursor string) ([]rekey.Task, string, error) {
		page, err := b.svc.ListWhere(ctx, p.user, query, limit, cursor)
		return page.Items, page.Next, err
	})
}

// get is GET /api/tasks/{id}: the task with its live counters; 404 for a
// task the caller may not see.
func (b bulkHandlers) get(w http.ResponseWriter, r *http.Request, p principal) error {
	return byID(b.s, w, r, http.StatusOK, func(ctx context.Context, id string) (rekey.Task, error) {
		return b.svc.Get(ctx, p.user, id)
	})
}

// cancel is POST /api/tasks/{id}/cancel: 202 with the cancelled task.
func (b bulkHandlers) cancel(w http.ResponseWriter, r *http.Request, p principal) error {
	return byID(b.s, w, r, http.StatusAccepted, func(ctx context.Context, id string) (rekey.Task, error) {
		return b.svc.Cancel(ctx, p.user, id, RequestID(ctx))
	})
}

// approve is POST /api/tasks/{id}/approve: the second person's approval of
// a task awaiting it; 200 with the task, now queued.
func (b bulkHandlers) approve(w http.ResponseWriter, r *http.Request, p principal) error {
	return byID(b.s, w, r, http.StatusOK, func(ctx context.Context, id string) (rekey.Task, error) {
		return b.svc.Approve(ctx, p.user, id, RequestID(ctx))
	})
}

// reject is POST /api/tasks/{id}/reject: a task awaiting approval ends
// cancelled, having sent nothing; 200 with the task.
func (b bulkHandlers) reject(w http.ResponseWriter, r *http.Request, p principal) error {
	return byID(b.s, w, r, http.StatusOK, func(ctx context.Context, id string) (rekey.Task, error) {
		return b.svc.Reject(ctx, p.user, id, RequestID(ctx))
	})
}

// followUpRequest is the body of POST /api/tasks/{id}/follow-ups.
type followUpRequest struct {
	Action string `json:"action"`
}

// followUpResponse is its answer: the new task and how many bounced or
// complained addresses were left out.
type followUpResponse struct {
	TaskID  string `json:"taskId"`
	LeftOut int    `json:"leftOut"`
}

// followUp is POST /api/tasks/{id}/follow-ups {action} with an optional
// Idempotency-Key header, as POST /api/bulk-resets: 202 {taskId, leftOut};
// 409 nothing_to_follow_up; 404 for a task the caller may not see.
func (b bulkHandlers) followUp(w http.ResponseWriter, r *http.Request, p principal) error {
	return byID(b.s, w, r, http.StatusAccepted, func(ctx context.Context, id string) (followUpResponse, error) {
		var req followUpRequest
		if err := decodeJSON(r, &req); err != nil {
			return followUpResponse{}, err
		}
		res, err := b.svc.FollowUp(ctx, p.user, id, req.Action, r.Header.Get("Idempotency-Key"), RequestID(ctx))
		return followUpResponse{TaskID: res.Task.ID, LeftOut: res.LeftOut}, err
	})
}

// results is GET /api/tasks/{id}/results?state=&limit=&cursor=: per-user
// results {userId, username, outcome, state, attempts, error?, …}, never a
// password; state (a result state or "unfinished") filters on the server.
func (b bulkHandlers) results(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	q, limit, err := pageQuery(r, "state")
	if err != nil {
		return err
	}
	state := q.Get("state")
	return writePage(b.s, w, r, q.Get("cursor"), []string{"task-results", p.user.ID, id, state}, func(cursor string) ([]rekey.TaskResult, string, error) {
		page, err := b.svc.ResultsIn(ctx, p.user, id, state, limit, cursor)
		return page.Items, page.Next, err
	})
}

// resultsCSV is GET /api/tasks/{id}/results.csv: the mail-merge file as an
// attachment, gzip-compressed for clients that accept it (a CSV shrinks
// about fourfold, which keeps a 100,000-user file well inside Lambda's
// 6 MB response limit). It is built before anything is sent, so a failure
// is still a JSON error; a file too large for one response is refused
// with results_too_large, naming the paged JSON results instead.
func (b bulkHandlers) resultsCSV(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	out := io.Writer(&buf)
	var zw *gzip.Writer
	if console.AcceptsGzip(r.Header.Get("Accept-Encoding")) {
		zw = gzip.NewWriter(&buf)
		out = zw
	}
	if err := b.svc.ResultsCSV(r.Context(), p.user, id, out); err != nil {
		return err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return err
		}
	}
	if buf.Len() > maxDownloadBytes {
		return rekey.Errorf(rekey.ECodeResultsTooLarge,
			"The results file is larger than %d MB and cannot be downloaded in one piece; read the results page by page from /api/tasks/%s/results.",
			maxDownloadBytes>>20, id)
	}
	w.Header().Add("Vary", "Accept-Encoding")
	if zw != nil {
		w.Header().Set("Content-Encoding", "gzip")
	}
	writeAttachment(w, "text/csv; charset=utf-8", "rekey-task-"+id+".csv", buf.Bytes())
	return nil
}

// lettersPDF is GET /api/tasks/{id}/letters.pdf: the login letters of a
// default- or generated-password task, with the console's address as the
// sign-in address.
func (b bulkHandlers) lettersPDF(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := b.svc.LettersPDF(r.Context(), p.user, id, b.s.publicBaseURL+"/", &buf); err != nil {
		return err
	}
	if buf.Len() > maxDownloadBytes {
		return rekey.Errorf(rekey.ECodeResultsTooLarge,
			"The letters are larger than %d MB and cannot be downloaded in one piece; start tasks for one school at a time.", maxDownloadBytes>>20)
	}
	writeAttachment(w, "application/pdf", "rekey-letters-"+id+".pdf", buf.Bytes())
	return nil
}

// maxDownloadBytes bounds a file answer: Lambda's response payload limit
// is 6 MB, and a compressed body travels base64-encoded (4/3 larger).
var maxDownloadBytes = 4 << 20
