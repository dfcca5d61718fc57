package authz

import (
	"slices"

	"github.com/rekey/rekey/shared/rekey"
)

// CheckUpdate decides a whole record edit: before is the stored target, after
// is the proposed record (the stored record with the caller's changes
// applied). It returns nil, or a *rekey.Error naming the first offending
// field: Code rekey.ECodeForbidden for anything the actor may not do, and
// rekey.ECodeInvalidInput for a record whose shape is inconsistent (unknown
// role or status, missing district, a school where the role has none or none
// where it needs one).
//
// It enforces, in this order:
//   - the actor may edit before at all (Allowed with ActionEdit); the error
//     then names no field. Callers answer 404 instead when the actor may not
//     even view before;
//   - fields Rekey manages itself (id, version, createdAt, updatedAt,
//     passwordHash, mustChangePassword, passwordChangedAt, sessionGen,
//     resetTokenHash) are unchanged; the service compares the client's
//     version itself and sets these after the check;
//   - self-edit limits: staff change only their own firstName, lastName and
//     title (never their own role, school, district, status, email or
//     username);
//   - role grants: support grants student, teacher, school_admin or
//     district_admin to anyone but another support user; a district admin
//     switches a user between school_admin and district_admin only; nobody
//     grants support or a role above their own; every other change is
//     forbidden. (SECURITY.md 23 says "at or above their own"; PRODUCT.md
//     lets a district admin make another district admin, so that one
//     same-level grant is the only exception);
//   - moves, with authority over both the old and the new place: support
//     moves anyone but support users anywhere; a district admin moves users
//     between schools of their district; a school admin may only switch
//     another school admin to another school of the same district (the
//     service checks the school exists); teachers move nobody;
//   - status: school admins and up, to active or disabled only
//     (reset_required belongs to the reset flow);
//   - email, username, names, grade, title and externalId: anyone with edit
//     rights on the target;
//   - the shape of after.
func CheckUpdate(actor, before, after rekey.User) error {
	if !Allowed(actor, before, ActionEdit) {
		return &rekey.Error{Code: rekey.ECodeForbidden, Message: "You do not have permission to edit this user."}
	}
	if field, changed := changedManagedField(before, after); changed {
		return forbidden(field, "This field is managed by Rekey and cannot be edited.")
	}
	if isSelf(actor, before) {
		if err := checkSelfEdit(before, after); err != nil {
			return err
		}
	}
	if err := checkRoleChange(actor, before, after); err != nil {
		return err
	}
	if err := checkMove(actor, before, after); err != nil {
		return err
	}
	if err := checkStatusChange(actor, before, after); err != nil {
		return err
	}
	if err := CheckGuardianCredentials(actor, before, after); err != nil {
		return err
	}
	return checkShape(after)
}

// CheckGuardianCredentials refuses a change of a linked guardian's email or
// username by an actor who may not reset the guardian (holdsOtherChildren):
// either would hand the account, and so every child, to whoever then asks
// for a reset link. Imports, which judge guardians by scope instead of
// CheckUpdate, apply it too.
func CheckGuardianCredentials(actor, before, after rekey.User) error {
	if !holdsOtherChildren(actor, before) {
		return nil
	}
	switch {
	case before.Email != after.Email:
		return forbidden("email", "This parent is linked to children your role does not cover; a district admin changes their email address.")
	case before.Username != after.Username:
		return forbidden("username", "This parent is linked to children your role does not cover; a district admin changes their username.")
	}
	return nil
}

// forbidden is a 403 answer about one field.
func forbidden(field, message string) *rekey.Error {
	return rekey.FieldError(rekey.ECodeForbidden, field, message)
}

// invalid is a 422 answer about one field.
func invalid(field, message string) *rekey.Error {
	return rekey.FieldError(rekey.ECodeInvalidInput, field, message)
}

// changedManagedField reports the first field Rekey manages itself that
// differs between before and after, by its API (camelCase) name.
func changedManagedField(before, after rekey.User) (string, bool) {
	switch {
	case before.ID != after.ID:
		return "id", true
	case before.Version != after.Version:
		return "version", true
	case !before.CreatedAt.Equal(after.CreatedAt):
		return "createdAt", true
	case !before.UpdatedAt.Equal(after.UpdatedAt):
		return "updatedAt", true
	case before.PasswordHash != after.PasswordHash:
		return "passwordHash", true
	case before.MustChangePassword != after.MustChangePassword:
		return "mustChangePassword", true
	case !before.PasswordChangedAt.Equal(after.PasswordChangedAt):
		return "passwordChangedAt", true
	case before.SessionGen != after.SessionGen:
		return "sessionGen", true
	case before.ResetTokenHash != after.ResetTokenHash:
		return "resetTokenHash", true
	case before.SelfResetTokenHash != after.SelfResetTokenHash:
		return "selfResetTokenHash", true
	}
	return "", false
}

// checkSelfEdit allows staff to change only their own names and title.
// Students never reach it: they have no edit rights on their own record.
func checkSelfEdit(before, after rekey.User) error {
	switch {
	case before.Role != after.Role:
		return forbidden("role", "You cannot change your own role.")
	case before.DistrictID != after.DistrictID:
		return forbidden("districtId", "You cannot move yourself to another district.")
	case before.SchoolID != after.SchoolID:
		return forbidden("schoolId", "You cannot move yourself to another school.")
	case before.Status != after.Status:
		return forbidden("status", "You cannot change your own status.")
	case before.Email != after.Email:
		return forbidden("email", "You cannot change your own email address; ask an administrator.")
	case before.Username != after.Username:
		return forbidden("username", "You cannot change your own username; ask an administrator.")
	case before.Grade != after.Grade:
		return forbidden("grade", "You cannot change your own grade.")
	case before.ExternalID != after.ExternalID:
		return forbidden("externalId", "You cannot change your own external id; ask an administrator.")
	case !slices.Equal(before.GuardianOf, after.GuardianOf):
		return forbidden("guardianOf", "You cannot change your own guardian links; ask an administrator.")
	case !slices.Equal(before.Guardians, after.Guardians):
		return forbidden("guardians", "You cannot change your own guardian links; ask an administrator.")
	}
	return nil
}

// checkRoleChange enforces the role grants. Self role changes were already
// refused by checkSelfEdit.
func checkRoleChange(actor, before, after rekey.User) error {
	if before.Role == after.Role {
		return nil
	}
	switch {
	case !after.Role.Valid():
		return invalid("role", "Unknown role.")
	case before.Role == rekey.RoleSupport:
		return forbidden("role", "The role of a support user cannot be changed.")
	case after.Role == rekey.RoleSupport:
		return forbidden("role", "Nobody can grant the support role.")
	case before.Role == rekey.RoleGuardian || after.Role == rekey.RoleGuardian:
		// A guardian is a different person from any staff member or
		// student: such a change would carry links and authority across.
		return forbidden("role", "A user cannot be changed to or from guardian; create a separate account.")
	case after.Role.Rank() > actor.Role.Rank():
		return forbidden("role", "You cannot grant a role above your own.")
	}
	switch actor.Role {
	case rekey.RoleSupport:
		return nil
	case rekey.RoleDistrictAdmin:
		if isAdminSwitch(before.Role, after.Role) {
			return nil
		}
		if after.Role.IsAdmin() {
			return forbidden("role", "Only support can promote a teacher or student to an admin role.")
		}
		return forbidden("role", "A district admin may only switch a user between school admin and district admin.")
	default:
		return forbidden("role", "You do not have permission to change roles.")
	}
}

// isAdminSwitch reports whether a role change switches between school admin
// and district admin, the one role change district admins may make.
func isAdminSwitch(from, to rekey.Role) bool {
	admins := func(r rekey.Role) bool { return r == rekey.RoleSchoolAdmin || r == rekey.RoleDistrictAdmin }
	return admins(from) && admins(to)
}

// checkMove enforces authority over both the old place (already given by the
// edit right on before) and the new place of a user whose district or school
// changes. Self moves were already refused by checkSelfEdit.
func checkMove(actor, before, after rekey.User) error {
	if before.DistrictID != after.DistrictID {
		switch {
		case actor.Role != rekey.RoleSupport:
			return forbidden("districtId", "Only support can move users between districts.")
		case before.Role == rekey.RoleSupport:
			return forbidden("districtId", "The district of a support user cannot be changed.")
		}
	}
	if before.SchoolID == after.SchoolID {
		return nil
	}
	switch actor.Role {
	case rekey.RoleSupport, rekey.RoleDistrictAdmin:
		// Support has every place; a district admin has every school of its
		// district, and the district cannot have changed (above).
		return nil
	case rekey.RoleSchoolAdmin:
		if before.Role == rekey.RoleSchoolAdmin && after.Role == rekey.RoleSchoolAdmin {
			return nil
		}
		return forbidden("schoolId", "A school admin may only move another school admin to another school.")
	default:
		return forbidden("schoolId", "You do not have permission to move users between schools.")
	}
}

// checkStatusChange lets school admins and up enable and disable accounts.
// Self status changes were already refused by checkSelfEdit.
func checkStatusChange(actor, before, after rekey.User) error {
	if before.Status == after.Status {
		return nil
	}
	switch {
	case actor.Role.Rank() < rekey.RoleSchoolAdmin.Rank():
		return forbidden("status", "You do not have permission to change a user's status.")
	case after.Status != rekey.StatusActive && after.Status != rekey.StatusDisabled:
		return invalid("status", "Status can only be set to active or disabled.")
	}
	return nil
}

// checkShape rejects records whose role, district and school do not fit
// together. A support user may have no district.
func checkShape(u rekey.User) error {
	switch {
	case !u.Role.Valid():
		return invalid("role", "Unknown role.")
	case !u.Status.Valid():
		return invalid("status", "Unknown status.")
	case u.DistrictID == "" && u.Role != rekey.RoleSupport:
		return invalid("districtId", "A user needs a district.")
	case u.Role.SchoolScoped() && u.SchoolID == "":
		return invalid("schoolId", "A "+roleName(u.Role)+" needs a school.")
	case !u.Role.SchoolScoped() && u.Role != rekey.RoleGuardian && u.SchoolID != "":
		return invalid("schoolId", "A "+roleName(u.Role)+" has no school; leave schoolId empty.")
	case len(u.GuardianOf) > 0 && u.Role != rekey.RoleGuardian:
		return invalid("guardianOf", "Only a guardian can be linked to students.")
	case len(u.Guardians) > 0 && u.Role != rekey.RoleStudent:
		return invalid("guardians", "Only a student can have guardians.")
	}
	return nil
}

// roleName is a role as people say it, for messages.
func roleName(r rekey.Role) string {
	switch r {
	case rekey.RoleStudent:
		return "student"
	case rekey.RoleTeacher:
		return "teacher"
	case rekey.RoleSchoolAdmin:
		return "school admin"
	case rekey.RoleDistrictAdmin:
		return "district admin"
	case rekey.RoleSupport:
		return "support user"
	case rekey.RoleGuardian:
		return "guardian"
	default:
		return "user"
	}
}
