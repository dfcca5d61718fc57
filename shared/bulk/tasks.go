package bulk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rekey/rekey/shared/authz"
	"github.com/rekey/rekey/shared/rekey"
)

// TaskPage is one page of the task centre, newest first; Next is empty on
// the last page.
type TaskPage struct {
	Items []rekey.Task
	Next  string
}

// List returns the tasks actor may see, newest first: their own, and those
// of users whose scope theirs covers — every task of the district for a
// district admin, of the school's staff for a school admin, every task for
// support. Others see none.
func (s *Service) List(ctx context.Context, actor rekey.User, limit int, cursor string) (TaskPage, error) {
	return s.list(ctx, actor, limit, cursor, "")
}

// list is List narrowed, when scheduleID is not empty, to the tasks that
// schedule started.
func (s *Service) list(ctx context.Context, actor rekey.User, limit int, cursor, scheduleID string) (TaskPage, error) {
	f, ok := taskFilterFor(actor)
	if !ok {
		return TaskPage{Items: []rekey.Task{}}, nil
	}
	limit, err := rekey.TaskPaging.Limit(limit)
	if err != nil {
		return TaskPage{}, err
	}
	f.Limit, f.Cursor, f.ScheduleID = limit, cursor, scheduleID
	records, next, err := s.store.ListTasks(ctx, f)
	if err != nil {
		return TaskPage{}, fmt.Errorf("bulk: list tasks: %w", err)
	}
	now := s.now()
	page := TaskPage{Items: make([]rekey.Task, 0, len(records)), Next: next}
	for _, rec := range records {
		if canSee(actor, rec) {
			page.Items = append(page.Items, taskView(rec, now))
		}
	}
	return page, nil
}

// Get returns one task with its live counters and its funnel; a task
// actor may not see is rekey.ErrNotFound. The counters are read from the
// task item; the funnel is the one remembered on it while that is fresh
// (see funnelFresh), else worked out again and remembered.
func (s *Service) Get(ctx context.Context, actor rekey.User, id string) (rekey.Task, error) {
	rec, err := s.visible(ctx, actor, id)
	if err != nil {
		return rekey.Task{}, err
	}
	now := s.now()
	view := taskView(rec, now)
	if view.Funnel, err = s.currentFunnel(ctx, rec, view, now); err != nil {
		return rekey.Task{}, err
	}
	return view, nil
}

// Cancel stops a task that has not finished: its creator, or someone above
// the creator who can see the task, may cancel it. Workers skip the users
// they have not reached (outcome skipped, password kept); what is done
// stays done. A running task's cancel answers only once the workers'
// cancel window (Config.CancelWait) has passed, so that no email of it
// leaves afterwards but those already being handed to SES (see
// worker_cancel.go).
// Cancelling a cancelled task returns it as it is; a finished one is
// rekey.ErrConflict.
func (s *Service) Cancel(ctx context.Context, actor rekey.User, id, requestID string) (rekey.Task, error) {
	rec, err := s.visible(ctx, actor, id)
	if err != nil {
		return rekey.Task{}, err
	}
	if !canCancel(actor, rec) {
		return rekey.Task{}, rekey.ErrForbidden
	}
	now := s.now()
	if view := taskView(rec, now); view.Status == rekey.TaskCancelled {
		return view, nil
	} else if view.Status.Finished() {
		return rekey.Task{}, errTaskFinished
	}
	wasRunning := rec.Task.Status == rekey.TaskRunning
	reason := fmt.Sprintf("cancelled by %s (%s)", actor.FullName(), actor.ID)
	audit := rekey.AuditEntry{
		ID: rekey.NewID(), At: now, DistrictID: rec.Task.DistrictID, ActorID: actor.ID, ActorName: actor.FullName(),
		TargetID: rec.Task.ID, Action: rekey.ActionBulkCancel, Outcome: rekey.OutcomeSuccess, RequestID: requestID,
		Detail: fmt.Sprintf("bulk reset cancelled after %d of %d users", rec.Task.Processed, rec.Task.Total),
	}
	rec, err = s.store.CancelTask(ctx, id, reason, audit)
	if errors.Is(err, rekey.ErrConflict) {
		return rekey.Task{}, errTaskFinished
	}
	if err != nil {
		return rekey.Task{}, fmt.Errorf("bulk: cancel task: %w", err)
	}
	s.log.InfoContext(ctx, "bulk: task cancelled", "task", id, "by", actor.ID)
	if wasRunning {
		if err := sleep(ctx, s.cancelWait); err != nil {
			return rekey.Task{}, fmt.Errorf("bulk: wait for the workers to stop: %w", err)
		}
		if fresh, err := s.store.GetTask(ctx, id); err == nil {
			rec = fresh
		}
	}
	return taskView(rec, now), nil
}

// errTaskFinished refuses to cancel a task that has ended.
var errTaskFinished = &rekey.Error{Code: rekey.ECodeConflict, Message: "The task has already finished."}

// visible reads task id if actor may see it, else rekey.ErrNotFound.
func (s *Service) visible(ctx context.Context, actor rekey.User, id string) (rekey.TaskRecord, error) {
	if !rekey.ValidID(id) {
		return rekey.TaskRecord{}, rekey.ErrNotFound
	}
	rec, err := s.store.GetTask(ctx, id)
	if rekey.ErrorCode(err) == rekey.ECodeNotFound {
		return rekey.TaskRecord{}, rekey.ErrNotFound
	}
	if err != nil {
		return rekey.TaskRecord{}, fmt.Errorf("bulk: read task: %w", err)
	}
	if !canSee(actor, rec) {
		return rekey.TaskRecord{}, rekey.ErrNotFound
	}
	return rec, nil
}

// canSee reports whether actor, as they are now, may see task rec: its
// creator, support, a district admin of its district, or a school admin of
// the school of its (school-scoped) creator. A creator who may still act
// keeps their task (its counts, and cancelling it, which only stops work)
// wherever they were moved; its rows are judged one by one against their
// current scope (rowScope), so being the creator reveals no user.
func canSee(actor rekey.User, rec rekey.TaskRecord) bool {
	if _, ok := authz.ListScope(actor); !ok {
		return false
	}
	switch {
	case actor.ID == rec.Task.CreatedBy:
		return true
	case actor.Role == rekey.RoleSupport:
		return true
	case rec.CreatorRole == rekey.RoleSupport || actor.DistrictID != rec.Task.DistrictID:
		return false
	case actor.Role == rekey.RoleDistrictAdmin:
		return true
	case actor.Role == rekey.RoleSchoolAdmin:
		return rec.CreatorRole.SchoolScoped() && rec.CreatorSchoolID == actor.SchoolID
	default:
		return false
	}
}

// canCancel reports whether actor may cancel a task they can see: its
// creator, or someone of a higher role.
func canCancel(actor rekey.User, rec rekey.TaskRecord) bool {
	return actor.ID == rec.Task.CreatedBy || actor.Role.Rank() > rec.CreatorRole.Rank()
}

// taskFilterFor is the listing that holds every task actor may see (and,
// for school staff, little more); ok is false when they may see none.
func taskFilterFor(actor rekey.User) (rekey.TaskFilter, bool) {
	if _, ok := authz.ListScope(actor); !ok {
		return rekey.TaskFilter{}, false
	}
	switch actor.Role {
	case rekey.RoleSupport:
		return rekey.TaskFilter{AllDistricts: true}, true
	case rekey.RoleDistrictAdmin:
		return rekey.TaskFilter{DistrictID: actor.DistrictID}, true
	case rekey.RoleSchoolAdmin:
		return rekey.TaskFilter{DistrictID: actor.DistrictID, CreatedBy: actor.ID, CreatorSchoolID: actor.SchoolID}, true
	default:
		return rekey.TaskFilter{DistrictID: actor.DistrictID, CreatedBy: actor.ID}, true
	}
}

// taskView is the task as the task centre shows it at now. A task that is
// fully planned and processed is completed (with errors when any user
// failed) as of its last chunk; a running one gets an estimate of when it
// will finish from its pace so far. The default password is never shown.
func taskView(rec rekey.TaskRecord, now time.Time) rekey.Task {
	t := rec.Task
	t.Delivery.DefaultPassword = ""
	active := t.Status == rekey.TaskQueued || t.Status == rekey.TaskRunning
	if active && rec.Plan.Done && t.Processed >= t.Total {
		t.Status = rekey.TaskCompleted
		if t.Failed > 0 {
			t.Status = rekey.TaskCompletedWithErrors
		}
		t.FinishedAt = rec.LastProcessedAt
		if t.FinishedAt.IsZero() {
			t.FinishedAt = rec.StartedAt
		}
		t.Waiting, t.EstimatedFinishAt = "", time.Time{}
		return t
	}
	if !active {
		t.Waiting, t.EstimatedFinishAt = "", time.Time{}
		return t
	}
	if t.Waiting == "" && t.Processed > 0 && !rec.StartedAt.IsZero() && now.After(rec.StartedAt) {
		perUser := now.Sub(rec.StartedAt) / time.Duration(t.Processed)
		t.EstimatedFinishAt = now.Add(perUser * time.Duration(max(t.Total-t.Processed, 0))).Truncate(time.Second)
	}
	return t
}
