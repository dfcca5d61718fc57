package guardians

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"

	"github.com/rekey/rekey/shared/authz"
	"github.com/rekey/rekey/shared/csvcell"
	"github.com/rekey/rekey/shared/rekey"
)

// SchoolCodesCSV writes the parent codes of a school's students that the
// actor may reset (GET /api/schools/{id}/parent-codes.csv), for the
// school's information system or a mail merge: externalId, username,
// firstName, lastName, grade, parentCode, every cell formula-safe. A
// student without a valid code gets one (audited as any new code). A school
// the actor may not list is rekey.ErrNotFound.
func (s *Service) SchoolCodesCSV(ctx context.Context, actor rekey.User, schoolID, requestID string, w io.Writer) error {
	if !rekey.ValidID(schoolID) {
		return rekey.ErrNotFound
	}
	school, err := s.store.GetSchool(ctx, schoolID)
	if rekey.ErrorCode(err) == rekey.ECodeNotFound {
		return rekey.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("guardians: read school: %w", err)
	}
	scope, ok := authz.ListScope(actor)
	if !ok {
		return rekey.ErrNotFound
	}
	filter, ok := scope.Restrict(rekey.UserFilter{DistrictID: school.DistrictID, SchoolID: school.ID, Role: rekey.RoleStudent})
	if !ok {
		return rekey.ErrNotFound
	}
	out := csv.NewWriter(w)
	if err := out.Write([]string{"externalId", "username", "firstName", "lastName", "grade", "parentCode"}); err != nil {
		return err
	}
	for cursor := ""; ; {
		filter.Cursor, filter.Limit = cursor, rekey.UserPaging.Max
		page, err := s.store.ListUsers(ctx, filter)
		if err != nil {
			return fmt.Errorf("guardians: list students: %w", err)
		}
		for _, u := range page.Items {
			if u.Role != rekey.RoleStudent || !scope.Contains(u) || !authz.Allowed(actor, u, authz.ActionReset) {
				continue
			}
			code, err := s.showOrIssue(ctx, actor, u.ID, false, requestID)
			if err != nil {
				return err
			}
			row := []string{u.ExternalID, u.Username, u.FirstName, u.LastName, u.Grade, code.Code}
			for i := range row {
				row[i] = csvcell.Safe(row[i])
			}
			if err := out.Write(row); err != nil {
				return err
			}
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	out.Flush()
	return out.Error()
}
