package api

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/rekey/rekey/shared/imports"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/roster"
	"github.com/rekey/rekey/shared/users"
)

// ImportService runs dry runs, starts imports and hands out uploads;
// *imports.Service implements it.
type ImportService interface {
	Preview(ctx context.Context, actor rekey.User, src imports.Source) (roster.Summary, error)
	Start(ctx context.Context, actor rekey.User, src imports.Source, requestID string) (rekey.Task, error)
	NewUpload(ctx context.Context, actor rekey.User) (imports.Upload, error)
	Get(ctx context.Context, actor rekey.User, id string, chunk int) (imports.Details, error)
}

// UserCreator creates users; *users.Service implements it.
type UserCreator interface {
	Create(ctx context.Context, actor rekey.User, in users.NewUser, requestID string) (rekey.User, error)
}

// importsPath is the one route whose body may exceed MaxBodyBytes.
const importsPath = "/api/imports"

// bodyLimit is the largest body a request to path may send, and the error
// for a larger one.
func bodyLimit(path string) (int64, error) {
	if path == importsPath {
		return imports.MaxDirectBytes, imports.ErrTooLarge
	}
	return MaxBodyBytes, errBodyTooLarge
}

// createUser is POST /api/users: 201 with the new user.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request, p principal) error {
	var in users.NewUser
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	creator, ok := s.users.(UserCreator)
	if !ok {
		return errors.New("api: the user service cannot create users")
	}
	ctx := r.Context()
	u, err := creator.Create(ctx, p.user, in, RequestID(ctx))
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusCreated, u)
	return nil
}

// importRequest is POST /api/imports with a JSON body: a file uploaded
// before.
type importRequest struct {
	ImportID string `json:"importId"`
	DryRun   bool   `json:"dryRun"`
}

// startImport is POST /api/imports[?dryRun=true] with a text/csv or
// application/zip body (at most 5 MB), or application/json
// {importId, dryRun} for an uploaded file: 200 with the summary for a dry
// run, else 202 {taskId}; 422 import_invalid with every error when a row
// has one (nothing written).
func (s *Server) startImport(w http.ResponseWriter, r *http.Request, p principal) error {
	q, err := queryParams(r, "dryRun")
	if err != nil {
		return err
	}
	dryRun := false
	if v := q.Get("dryRun"); v != "" {
		if dryRun, err = strconv.ParseBool(v); err != nil {
			return rekey.FieldError(rekey.ECodeInvalidInput, "dryRun", "dryRun is true or false.")
		}
	}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var src imports.Source
	switch mediaType {
	case "application/json":
		var in importRequest
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
		if in.ImportID == "" {
			return rekey.FieldError(rekey.ECodeInvalidInput, "importId", "Send the importId of an upload, or the file itself as text/csv or application/zip.")
		}
		src.ImportID, dryRun = in.ImportID, dryRun || in.DryRun
	case imports.TypeCSV, imports.TypeZip:
		body, err := io.ReadAll(r.Body)
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return imports.ErrTooLarge
		}
		if err != nil {
			return decodeError(err)
		}
		src.Body, src.ContentType = body, mediaType
	default:
		return fail(rekey.ECodeUnsupportedMedia, "Send a users CSV as text/csv, a OneRoster bundle as application/zip, or {importId} as application/json.")
	}
	if s.imports == nil {
		return errors.New("api: no import service")
	}
	ctx := r.Context()
	if dryRun {
		summary, err := s.imports.Preview(ctx, p.user, src)
		if err != nil {
			return err
		}
		s.writeJSON(w, r, http.StatusOK, summary)
		return nil
	}
	task, err := s.imports.Start(ctx, p.user, src, RequestID(ctx))
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusAccepted, map[string]string{"taskId": task.ID})
	return nil
}

// newUpload is POST /api/imports/uploads: {uploadUrl, importId}.
func (s *Server) newUpload(w http.ResponseWriter, r *http.Request, p principal) error {
	if s.imports == nil {
		return errors.New("api: no import service")
	}
	up, err := s.imports.NewUpload(r.Context(), p.user)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusCreated, up)
	return nil
}

// importPage is GET /api/imports/{id}/results: the task, its plan's counts and a
// page of per-row results (one chunk a page; cursor for the next).
type importPage struct {
	imports.Details
	NextCursor *string `json:"nextCursor"`
}

// getImport is GET /api/imports/{id}/results?cursor=.
func (s *Server) getImport(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	q, err := queryParams(r, "cursor")
	if err != nil {
		return err
	}
	if s.imports == nil {
		return errors.New("api: no import service")
	}
	ctx := r.Context()
	binding := []string{"import", p.user.ID, id}
	chunk := 0
	if c := q.Get("cursor"); c != "" {
		opened, err := s.openCursor(ctx, c, binding...)
		if err != nil {
			return err
		}
		if chunk, err = strconv.Atoi(opened); err != nil {
			return fail(rekey.ECodeInvalidCursor, "The cursor is not valid for this listing.")
		}
	}
	d, err := s.imports.Get(ctx, p.user, id, chunk)
	if err != nil {
		return err
	}
	page := importPage{Details: d}
	if d.Next >= 0 {
		if page.NextCursor, err = s.signCursor(ctx, strconv.Itoa(d.Next), binding...); err != nil {
			return err
		}
	}
	s.writeJSON(w, r, http.StatusOK, page)
	return nil
}
