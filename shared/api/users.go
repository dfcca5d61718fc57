package api

import (
	"context"
	"net/http"

	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/users"
)

// listResponse is a page of a listing. Items is never null; NextCursor is
// null on the last page.
type listResponse[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

// listUsers is GET /api/users?role=&schoolId=&districtId=&grade=&q=&limit=&cursor=.
// The caller's scope always applies; a filter outside it gives an empty page.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, p principal) error {
	ctx := r.Context()
	q, limit, err := pageQuery(r, "role", "schoolId", "districtId", "grade", "q")
	if err != nil {
		return err
	}
	filter := rekey.UserFilter{
		Role: rekey.Role(q.Get("role")), SchoolID: q.Get("schoolId"), DistrictID: q.Get("districtId"),
		Grade: q.Get("grade"), Query: q.Get("q"), Limit: limit,
	}
	binding := []string{"users", p.user.ID, string(filter.Role), filter.SchoolID, filter.DistrictID, filter.Grade, filter.Query}
	return writePage(s, w, r, q.Get("cursor"), binding, func(cursor string) ([]rekey.User, string, error) {
		filter.Cursor = cursor
		page, err := s.users.List(ctx, p.user, filter)
		return page.Items, page.Next, err
	})
}

// getUser is GET /api/users/{id}: 404 for users outside the caller's view.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request, p principal) error {
	return byID(s, w, r, http.StatusOK, func(ctx context.Context, id string) (rekey.User, error) {
		return s.users.Get(ctx, p.user, id)
	})
}

// patchUser is PATCH /api/users/{id} with any editable fields and the
// version that was read.
func (s *Server) patchUser(w http.ResponseWriter, r *http.Request, p principal) error {
	return patchByID(s, w, r, func(ctx context.Context, id string, patch users.Patch) (rekey.User, error) {
		return s.users.Update(ctx, p.user, id, patch, RequestID(ctx))
	})
}

// userActivity is GET /api/users/{id}/activity?limit=&cursor=: the user's
// audit trail, newest first.
func (s *Server) userActivity(w http.ResponseWriter, r *http.Request, p principal) error {
	ctx := r.Context()
	id, err := pathID(r)
	if err != nil {
		return err
	}
	q, limit, err := pageQuery(r)
	if err != nil {
		return err
	}
	binding := []string{"activity", p.user.ID, id}
	return writePage(s, w, r, q.Get("cursor"), binding, func(cursor string) ([]rekey.AuditEntry, string, error) {
		page, err := s.users.Activity(ctx, p.user, id, limit, cursor)
		return page.Items, page.Next, err
	})
}

// writePage answers one page of a listing: it verifies the caller's cursor
// against binding (the listing and everything that shapes it), asks fetch
// for the page at the store's cursor, and signs the next cursor the same way.
func writePage[T any](s *Server, w http.ResponseWriter, r *http.Request, cursor string, binding []string, fetch func(storeCursor string) ([]T, string, error)) error {
	ctx := r.Context()
	storeCursor, err := s.openCursor(ctx, cursor, binding...)
	if err != nil {
		return err
	}
	items, next, err := fetch(storeCursor)
	if err != nil {
		return err
	}
	signed, err := s.signCursor(ctx, next, binding...)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, listResponse[T]{Items: nonNil(items), NextCursor: signed})
	return nil
}

// nonNil returns items, or an empty slice for nil, so JSON says [] not null.
func nonNil[T any](items []T) []T {
	if items == nil {
		return []T{}
	}
	return items
}

// listSchools is GET /api/schools?districtId=: the schools the caller may
// pick from in filters and the record editor.
func (s *Server) listSchools(w http.ResponseWriter, r *http.Request, p principal) error {
	q, err := queryParams(r, "districtId")
	if err != nil {
		return err
	}
	districtID, err := queryID(q, "districtId")
	if err != nil {
		return err
	}
	schools, err := s.users.Schools(r.Context(), p.user, districtID)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, listResponse[rekey.School]{Items: nonNil(schools)})
	return nil
}

// passwordPolicy is GET /api/password/policy: the caller's district policy,
// for live checks in forms.
func (s *Server) passwordPolicy(w http.ResponseWriter, r *http.Request, p principal) error {
	policy, err := s.users.PasswordPolicy(r.Context(), p.user)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, policy)
	return nil
}
