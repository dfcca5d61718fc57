package api

import (
	"context"
	"net/http"

	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/schedule"
)

// ScheduleService saves, lists, reads, edits and deletes scheduled bulk
// resets; *schedule.Service implements it.
type ScheduleService interface {
	Create(ctx context.Context, actor rekey.User, in schedule.Input, requestID string) (rekey.Schedule, error)
	List(ctx context.Context, actor rekey.User, limit int, cursor string) (rekey.SchedulePage, error)
	Get(ctx context.Context, actor rekey.User, id string) (rekey.Schedule, error)
	Update(ctx context.Context, actor rekey.User, id string, patch schedule.Patch, requestID string) (rekey.Schedule, error)
	Delete(ctx context.Context, actor rekey.User, id, requestID string) error
	Approve(ctx context.Context, actor rekey.User, id, requestID string) (rekey.Schedule, error)
}

// createSchedule is POST /api/schedules {name, expression, timezone,
// selection, delivery, enabled?}: 201 with the schedule.
func (s *Server) createSchedule(w http.ResponseWriter, r *http.Request, p principal) error {
	var in schedule.Input
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	sc, err := s.schedules.Create(ctx, p.user, in, RequestID(ctx))
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusCreated, sc)
	return nil
}

// listSchedules is GET /api/schedules?limit=&cursor=: the schedules the
// caller may see.
func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request, p principal) error {
	ctx := r.Context()
	q, limit, err := pageQuery(r)
	if err != nil {
		return err
	}
	return writePage(s, w, r, q.Get("cursor"), []string{"schedules", p.user.ID}, func(cursor string) ([]rekey.Schedule, string, error) {
		page, err := s.schedules.List(ctx, p.user, limit, cursor)
		return page.Items, page.Next, err
	})
}

// getSchedule is GET /api/schedules/{id}: 404 for schedules the caller may
// not see.
func (s *Server) getSchedule(w http.ResponseWriter, r *http.Request, p principal) error {
	return byID(s, w, r, http.StatusOK, func(ctx context.Context, id string) (rekey.Schedule, error) {
		return s.schedules.Get(ctx, p.user, id)
	})
}

// patchSchedule is PATCH /api/schedules/{id} with any of name, expression,
// timezone, selection, delivery, enabled, and the version that was read.
func (s *Server) patchSchedule(w http.ResponseWriter, r *http.Request, p principal) error {
	return patchByID(s, w, r, func(ctx context.Context, id string, patch schedule.Patch) (rekey.Schedule, error) {
		return s.schedules.Update(ctx, p.user, id, patch, RequestID(ctx))
	})
}

// approveSchedule is POST /api/schedules/{id}/approve: another admin's
// approval of a schedule above the approval threshold; 200 with the
// schedule, whose runs now start without asking again.
func (s *Server) approveSchedule(w http.ResponseWriter, r *http.Request, p principal) error {
	return byID(s, w, r, http.StatusOK, func(ctx context.Context, id string) (rekey.Schedule, error) {
		return s.schedules.Approve(ctx, p.user, id, RequestID(ctx))
	})
}

// deleteSchedule is DELETE /api/schedules/{id}: 204. Tasks already started
// by the schedule carry on.
func (s *Server) deleteSchedule(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := s.schedules.Delete(ctx, p.user, id, RequestID(ctx)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
