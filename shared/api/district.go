package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/rekey/rekey/shared/district"
	"github.com/rekey/rekey/shared/rekey"
)

// DistrictService reads and changes the caller's district settings;
// *district.Service implements it.
type DistrictService interface {
	Settings(ctx context.Context, actor rekey.User) (rekey.DistrictSettings, error)
	Update(ctx context.Context, actor rekey.User, patch district.Patch, requestID string) (district.Result, error)
}

// districtSettings is GET /api/district/settings: the caller's district
// settings (district admins only).
func (s *Server) districtSettings(w http.ResponseWriter, r *http.Request, p principal) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	settings, err := s.district.Settings(r.Context(), p.user)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, settings)
	return nil
}

// patchDistrictSettings is PATCH /api/district/settings with any settings,
// the version that was read and, to only count the users a raised minimum
// length would bind to a new password, dryRun: true.
func (s *Server) patchDistrictSettings(w http.ResponseWriter, r *http.Request, p principal) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	var patch district.Patch
	body, err := decodeJSONBody(r, &patch)
	if err != nil {
		return err
	}
	if name, ok := nullMember(body); ok {
		return rekey.FieldError(rekey.ECodeInvalidInput, name,
			fmt.Sprintf("Field %q cannot be null: leave it out to keep its value.", name))
	}
	ctx := r.Context()
	res, err := s.district.Update(ctx, p.user, patch, RequestID(ctx))
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, res)
	return nil
}
