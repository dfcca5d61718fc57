package api

import (
	"bytes"
	"context"
	"io"
	"net/http"

	"github.com/rekey/rekey/shared/guardians"
	"github.com/rekey/rekey/shared/rekey"
)

// GuardianService is parent codes and the guardian's side of Rekey;
// *guardians.Service implements it.
type GuardianService interface {
	MyCode(ctx context.Context, actor rekey.User, requestID string) (guardians.Code, error)
	StudentCode(ctx context.Context, actor rekey.User, studentID string, regenerate bool, requestID string) (guardians.Code, error)
	SchoolCodesCSV(ctx context.Context, actor rekey.User, schoolID, requestID string, w io.Writer) error
	Register(ctx context.Context, r guardians.Registration, clientIP, requestID string) (rekey.User, error)
	AddChild(ctx context.Context, actor rekey.User, parentCode, clientIP, requestID string) (rekey.User, error)
	Children(ctx context.Context, actor rekey.User) ([]rekey.User, error)
	ResetChild(ctx context.Context, actor rekey.User, childID, requestID string) (string, error)
}

// myParentCode is GET /api/me/parent-code (students): {code, expiresAt}.
func (s *Server) myParentCode(w http.ResponseWriter, r *http.Request, p principal) error {
	code, err := s.guardians.MyCode(r.Context(), p.user, RequestID(r.Context()))
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, code)
	return nil
}

// studentParentCode is GET /api/users/{id}/parent-code (the pending code,
// or a new one) and POST (a new one; the old one dies), for staff who may
// reset the student.
func (s *Server) studentParentCode(regenerate bool) func(http.ResponseWriter, *http.Request, principal) error {
	return func(w http.ResponseWriter, r *http.Request, p principal) error {
		return byID(s, w, r, http.StatusOK, func(ctx context.Context, id string) (guardians.Code, error) {
			return s.guardians.StudentCode(ctx, p.user, id, regenerate, RequestID(ctx))
		})
	}
}

// schoolParentCodes is GET /api/schools/{id}/parent-codes.csv.
func (s *Server) schoolParentCodes(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := s.guardians.SchoolCodesCSV(r.Context(), p.user, id, RequestID(r.Context()), &buf); err != nil {
		return err
	}
	writeAttachment(w, "text/csv; charset=utf-8", "parent-codes-"+id+".csv", buf.Bytes())
	return nil
}

// registerGuardian is POST /api/guardians/register (public): 201 user.
func (s *Server) registerGuardian(w http.ResponseWriter, r *http.Request) error {
	var req guardians.Registration
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	u, err := s.guardians.Register(r.Context(), req, clientIP(r), RequestID(r.Context()))
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusCreated, u)
	return nil
}

type childRequest struct {
	ParentCode string `json:"parentCode"`
}

// addChild is POST /api/me/children {parentCode}: 201 the linked child.
func (s *Server) addChild(w http.ResponseWriter, r *http.Request, p principal) error {
	var req childRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	child, err := s.guardians.AddChild(r.Context(), p.user, req.ParentCode, clientIP(r), RequestID(r.Context()))
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusCreated, child)
	return nil
}

// myChildren is GET /api/me/children: {items: [user]}.
func (s *Server) myChildren(w http.ResponseWriter, r *http.Request, p principal) error {
	kids, err := s.guardians.Children(r.Context(), p.user)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, map[string][]rekey.User{"items": kids})
	return nil
}

// resetChild is POST /api/me/children/{id}/password-reset {mode:
// "temporary"}: 200 {mode, temporaryPassword}.
func (s *Server) resetChild(w http.ResponseWriter, r *http.Request, p principal) error {
	return byID(s, w, r, http.StatusOK, func(ctx context.Context, id string) (resetResponse, error) {
		var req resetRequest
		if err := decodeJSON(r, &req); err != nil {
			return resetResponse{}, err
		}
		if req.Mode != resetModeTemporary || req.TemporaryPassword != "" {
			return resetResponse{}, rekey.FieldError(rekey.ECodeInvalidInput, "mode", "A guardian sets a generated temporary password: send {\"mode\": \"temporary\"}.")
		}
		pw, err := s.guardians.ResetChild(ctx, p.user, id, RequestID(ctx))
		return resetResponse{Mode: resetModeTemporary, TemporaryPassword: pw}, err
	})
}
