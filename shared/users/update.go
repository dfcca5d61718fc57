package users

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/rekey/rekey/shared/authz"
	"github.com/rekey/rekey/shared/rekey"
)

// Patch is an edit of one user record, as PATCH /api/users/{id} receives it:
// each field is optional (nil leaves it unchanged) except Version, the
// version the caller read, which every edit must send. The JSON names are
// the API's, and the field names in error answers. The API refuses a
// field sent as null (422): "" clears an optional text field.
type Patch struct {
	FirstName  *string       `json:"firstName"`
	LastName   *string       `json:"lastName"`
	Email      *string       `json:"email"`
	Username   *string       `json:"username"`
	SchoolID   *string       `json:"schoolId"`
	DistrictID *string       `json:"districtId"`
	Grade      *string       `json:"grade"`
	Title      *string       `json:"title"`
	ExternalID *string       `json:"externalId"`
	Role       *rekey.Role   `json:"role"`
	Status     *rekey.Status `json:"status"`
	// GuardianOf (of a guardian) and Guardians (of a student) replace the
	// user's links; the other side of each changed link is updated in the
	// same write.
	GuardianOf *[]string `json:"guardianOf"`
	Guardians  *[]string `json:"guardians"`
	Version    *int      `json:"version"`
}

// normalise checks every field that is present and returns the patch with
// values in their stored form (trimmed; email and username lower-cased).
func (p Patch) normalise() (Patch, error) {
	if p.Version == nil {
		return p, invalid("version", "Send the version of the record you edited.")
	}
	var err error
	set := func(v **string, f func(string) (string, error)) {
		if err != nil || *v == nil {
			return
		}
		var s string
		if s, err = f(**v); err == nil {
			*v = &s
		}
	}
	textField := func(field string, required bool, maxLen int) func(string) (string, error) {
		return func(v string) (string, error) { return text(field, v, required, maxLen) }
	}
	idField := func(field string) func(string) (string, error) {
		return func(v string) (string, error) { return v, checkID(field, v, true) }
	}
	set(&p.FirstName, textField("firstName", true, maxNameLen))
	set(&p.LastName, textField("lastName", true, maxNameLen))
	set(&p.Email, normaliseEmail)
	set(&p.Username, normaliseUsername)
	set(&p.SchoolID, idField("schoolId"))
	set(&p.DistrictID, idField("districtId"))
	set(&p.Grade, textField("grade", false, maxGradeLen))
	set(&p.Title, textField("title", false, maxTitleLen))
	set(&p.ExternalID, textField("externalId", false, maxExternalIDLen))
	if err != nil {
		return p, err
	}
	if p.Role != nil && !p.Role.Valid() {
		return p, invalid("role", "Unknown role.")
	}
	if p.Status != nil && !p.Status.Valid() {
		return p, invalid("status", "Unknown status.")
	}
	for field, links := range map[string]**[]string{"guardianOf": &p.GuardianOf, "guardians": &p.Guardians} {
		if *links == nil {
			continue
		}
		ids, err := normaliseLinks(field, **links)
		if err != nil {
			return p, err
		}
		*links = &ids
	}
	return p, nil
}

// applyTo returns u with the patch's fields set.
func (p Patch) applyTo(u rekey.User) rekey.User {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&u.FirstName, p.FirstName)
	set(&u.LastName, p.LastName)
	set(&u.Email, p.Email)
	set(&u.Username, p.Username)
	set(&u.SchoolID, p.SchoolID)
	set(&u.DistrictID, p.DistrictID)
	set(&u.Grade, p.Grade)
	set(&u.Title, p.Title)
	set(&u.ExternalID, p.ExternalID)
	if p.Role != nil {
		u.Role = *p.Role
	}
	if p.Status != nil {
		u.Status = *p.Status
	}
	if p.GuardianOf != nil {
		u.GuardianOf = *p.GuardianOf
	}
	if p.Guardians != nil {
		u.Guardians = *p.Guardians
	}
	return u
}

// Update applies patch to user id on behalf of actor and returns the stored
// result. It answers 422-style *rekey.Error values for invalid fields
// (Field set), rekey.ErrNotFound when the actor may not view the user,
// a forbidden *rekey.Error when it may view but not make this change,
// rekey.ErrVersionConflict for a stale version, and the store's
// username_taken / email_taken. A patch that changes nothing returns the
// user as it is, without a new version or an audit entry.
//
// Changing the email or disabling the account voids a pending reset link;
// disabling also ends every session. The audit entry (user.role_change,
// user.move or user.update) holds the changed fields before and after and
// is written in the same transaction as the change.
func (s *Service) Update(ctx context.Context, actor rekey.User, id string, patch Patch, requestID string) (rekey.User, error) {
	patch, err := patch.normalise()
	if err != nil {
		return rekey.User{}, err
	}
	before, err := s.Get(ctx, actor, id)
	if err != nil {
		return rekey.User{}, err
	}
	if !authz.Allowed(actor, before, authz.ActionEdit) {
		return rekey.User{}, &rekey.Error{Code: rekey.ECodeForbidden, Message: "You do not have permission to edit this user."}
	}
	if *patch.Version != before.Version {
		return rekey.User{}, rekey.ErrVersionConflict
	}
	after := patch.applyTo(before)
	oldView, newView := changedFields(before, after)
	if len(oldView) == 0 && len(newView) == 0 {
		return before, nil
	}
	if err := authz.CheckUpdate(actor, before, after); err != nil {
		return rekey.User{}, err
	}
	if err := s.checkPlace(ctx, before, after); err != nil {
		return rekey.User{}, err
	}

	if after.Email != before.Email || after.Status == rekey.StatusDisabled && before.Status != rekey.StatusDisabled {
		after.ResetTokenHash, after.SelfResetTokenHash = "", ""
	}
	if after.Status == rekey.StatusDisabled && before.Status != rekey.StatusDisabled {
		after.SessionGen = before.SessionGen + 1
	}
	now := s.now()
	after.Version = before.Version + 1
	after.UpdatedAt = now
	entry := rekey.AuditEntry{
		ID:         rekey.NewID(),
		At:         now,
		DistrictID: after.DistrictID,
		ActorID:    actor.ID,
		ActorName:  actor.FullName(),
		TargetID:   before.ID,
		Action:     auditAction(before, after),
		Outcome:    rekey.OutcomeSuccess,
		Before:     oldView,
		After:      newView,
		RequestID:  requestID,
	}
	if !slices.Equal(before.GuardianOf, after.GuardianOf) || !slices.Equal(before.Guardians, after.Guardians) {
		partners, err := s.linkPartners(ctx, actor, before, after)
		if err != nil {
			return rekey.User{}, err
		}
		writer, ok := s.store.(linksWriter)
		if !ok {
			return rekey.User{}, fmt.Errorf("users: the store cannot write links")
		}
		w := rekey.UsersWrite{Updates: append([]rekey.UserUpdate{{Before: before, After: after}}, partners...), Audit: []rekey.AuditEntry{entry}}
		for _, p := range partners {
			old, updated := changedFields(p.Before, p.After)
			w.Audit = append(w.Audit, rekey.AuditEntry{ID: rekey.NewID(), At: now, DistrictID: p.After.DistrictID, ActorID: actor.ID,
				ActorName: actor.FullName(), TargetID: p.After.ID, Action: rekey.ActionUserUpdate, Outcome: rekey.OutcomeSuccess,
				Before: old, After: updated, RequestID: requestID})
		}
		if err := writer.WriteUsers(ctx, w); err != nil {
			return rekey.User{}, fmt.Errorf("users: update %s: %w", id, err)
		}
		return after, nil
	}
	if err := s.store.UpdateUser(ctx, before, after, &entry); err != nil {
		return rekey.User{}, fmt.Errorf("users: update %s: %w", id, err)
	}
	return after, nil
}

// changedFields returns the public fields that differ between before and
// after, as they stood before and as they stand after.
func changedFields(before, after rekey.User) (old, updated map[string]any) {
	old, updated = before.AuditView(), after.AuditView()
	for k, v := range maps.Clone(old) {
		if reflect.DeepEqual(v, updated[k]) {
			delete(old, k)
			delete(updated, k)
		}
	}
	return old, updated
}

// auditAction names an edit for the audit log: a role change outranks a
// move, which outranks any other edit.
func auditAction(before, after rekey.User) string {
	switch {
	case before.Role != after.Role:
		return rekey.ActionUserRoleChange
	case before.DistrictID != after.DistrictID || before.SchoolID != after.SchoolID:
		return rekey.ActionUserMove
	default:
		return rekey.ActionUserUpdate
	}
}

// checkPlace checks that a changed district exists and that the school
// (when it or the district changed) exists in the user's district. Unknown
// and foreign schools get the same answer.
func (s *Service) checkPlace(ctx context.Context, before, after rekey.User) error {
	if after.DistrictID != before.DistrictID && after.DistrictID != "" {
		_, err := s.store.GetDistrict(ctx, after.DistrictID)
		if rekey.ErrorCode(err) == rekey.ECodeNotFound {
			return invalid("districtId", "No such district.")
		}
		if err != nil {
			return fmt.Errorf("users: read district %s: %w", after.DistrictID, err)
		}
	}
	if after.SchoolID == "" || after.SchoolID == before.SchoolID && after.DistrictID == before.DistrictID {
		return nil
	}
	school, err := s.store.GetSchool(ctx, after.SchoolID)
	if rekey.ErrorCode(err) == rekey.ECodeNotFound || err == nil && school.DistrictID != after.DistrictID {
		return invalid("schoolId", "No such school in the user's district.")
	}
	if err != nil {
		return fmt.Errorf("users: read school %s: %w", after.SchoolID, err)
	}
	return nil
}
