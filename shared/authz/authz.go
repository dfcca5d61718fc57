// Package authz is Rekey's permission matrix: the one place that decides who
// may view, edit, reset, move or re-role whom. It is pure (no I/O, no AWS, no
// HTTP) so that the API and the bulk workers apply exactly the same rules
// (SECURITY.md 21–25, PRODUCT.md "Who uses it").
//
// The matrix, for an active actor and a target other than the actor:
//
//	actor           view                           edit / reset
//	student         nobody                         nobody
//	teacher         users of their school          students of their school
//	school_admin    users of their school          students, teachers, school admins of their school
//	district_admin  users of their district,       the same
//	                support users excepted
//	support         everyone                       everyone
//	guardian        the students linked to them    nobody (ActionGuardianReset: those students)
//
// Guardians (rekey.RoleGuardian) stand outside the hierarchy. A guardian
// record may carry a "home" school: teachers and school admins of that school
// view it, its school admins edit and reset it; district admins and support
// manage every guardian of their reach. A guardian's own authority is the
// students linked to them on both sides of the link (rekey.User.IsGuardianOf)
// in their district: they view those students and set a temporary password
// for them through the guardian endpoints (ActionGuardianReset), never
// through the staff reset (ActionReset), and list nobody.
//
// The network addresses in a user's activity (ActionSeeClientIPs) are for
// the user, district admins and support only.
//
// Decisions the specification leaves open, taken the safe way:
//   - Only an actor whose Status is active may do anything. Disabled actors are
//     denied as the specification says; so are reset_required actors (an admin
//     voided their password, so their authority is suspended until they choose
//     a new one) and actors with an unknown status.
//   - An actor whose record is inconsistent (no id, unknown role, no district
//     for a non-support role, a school-scoped role without a school, or a
//     district admin or support user with a school) may do nothing.
//   - Targets with an unknown role are invisible to everyone.
//   - Everyone may view their own record; nobody resets their own password
//     through the admin reset (they use change password, which asks for the
//     current one). Staff may edit a few fields of their own record, students
//     none (see CheckUpdate).
//   - A disabled target may be viewed and edited (to re-enable it) but not
//     reset: enable the account first. Bulk workers should report such items
//     as skipped.
//   - Support users are visible only to support. Support may edit and reset
//     other support users, but never change their role or district.
//
// Out-of-scope answers: the policy only says yes or no. Callers answer a
// target the actor may not view with 404 (never data), and a target the actor
// may view but not change with 403.
package authz

import "github.com/rekey/rekey/shared/rekey"

// Action is what an actor wants to do to a target user.
type Action string

// The actions on a user record.
const (
	ActionView  Action = "view"  // read the record, its activity
	ActionEdit  Action = "edit"  // change record fields
	ActionReset Action = "reset" // reset the password (link / temporary / in a bulk task)
	// ActionSeeClientIPs: read the network addresses in the target's
	// activity (where they signed in from). An address locates a person
	// and their home, so a viewer sees it only when their role needs it:
	// the user themselves, district admins of the user's district and
	// support; not a teacher or school admin looking at a colleague.
	ActionSeeClientIPs Action = "see_client_ips"
	// ActionGuardianReset: a guardian sets a temporary password for one of
	// their linked students (POST /api/me/children/{id}/password-reset).
	// Only guardians have it, and only over active linked students.
	ActionGuardianReset Action = "guardian_reset"
)

// Allowed reports whether actor may perform a on target as they stand now.
// ActionEdit answers whether the actor may edit the record at all; which
// fields and values it may change is decided by CheckUpdate. Unknown actions
// are denied.
func Allowed(actor, target rekey.User, a Action) bool {
	if !canAct(actor) || !target.Role.Valid() {
		return false
	}
	switch a {
	case ActionView:
		return canView(actor, target)
	case ActionEdit:
		return canEdit(actor, target)
	case ActionReset:
		return canReset(actor, target)
	case ActionGuardianReset:
		return actor.IsGuardianOf(target) && target.Status != rekey.StatusDisabled
	case ActionSeeClientIPs:
		return canView(actor, target) && (isSelf(actor, target) || actor.Role == rekey.RoleSupport || actor.Role == rekey.RoleDistrictAdmin)
	default:
		return false
	}
}

// canAct reports whether actor's own record lets it act at all: active, with
// an id, a known role and a place consistent with that role.
func canAct(actor rekey.User) bool {
	if actor.ID == "" || actor.Status != rekey.StatusActive || !actor.Role.Valid() {
		return false
	}
	if actor.Role != rekey.RoleSupport && actor.DistrictID == "" {
		return false
	}
	if actor.Role == rekey.RoleGuardian {
		return true // a guardian's home school is optional
	}
	return actor.Role.SchoolScoped() == (actor.SchoolID != "")
}

// isSelf reports whether actor and target are the same account.
func isSelf(actor, target rekey.User) bool {
	return actor.ID != "" && actor.ID == target.ID
}

// canView assumes canAct(actor) and a target with a valid role.
func canView(actor, target rekey.User) bool {
	if isSelf(actor, target) {
		return true
	}
	if actor.Role == rekey.RoleSupport {
		return true
	}
	if target.DistrictID != actor.DistrictID || target.Role == rekey.RoleSupport {
		return false
	}
	switch actor.Role {
	case rekey.RoleDistrictAdmin:
		return true
	case rekey.RoleSchoolAdmin, rekey.RoleTeacher:
		return (target.Role.SchoolScoped() || target.Role == rekey.RoleGuardian) && target.SchoolID == actor.SchoolID
	case rekey.RoleGuardian:
		return actor.IsGuardianOf(target)
	default:
		return false
	}
}

// canEdit assumes canAct(actor) and a target with a valid role.
func canEdit(actor, target rekey.User) bool {
	if isSelf(actor, target) {
		return actor.Role.IsStaff()
	}
	if !canView(actor, target) {
		return false
	}
	return editableRoles(actor.Role)[target.Role]
}

// canReset assumes canAct(actor) and a target with a valid role.
func canReset(actor, target rekey.User) bool {
	if isSelf(actor, target) || target.Status == rekey.StatusDisabled || holdsOtherChildren(actor, target) {
		return false
	}
	return canEdit(actor, target)
}

// holdsOtherChildren reports whether target is a guardian linked to
// children whom actor's authority may not cover. A guardian resets their
// children wherever they study (a sibling at another school, or one moved
// there), so whoever takes over the guardian's account — resetting its
// password, or pointing its email or username elsewhere — reaches every
// child. The matrix cannot see the children's schools, so only
// district-wide actors (who hold all of them) take over a linked guardian;
// a school admin still edits the names and links of their school's
// guardians, and every credential of an unlinked one.
func holdsOtherChildren(actor, target rekey.User) bool {
	return target.Role == rekey.RoleGuardian && len(target.GuardianOf) > 0 &&
		actor.Role != rekey.RoleDistrictAdmin && actor.Role != rekey.RoleSupport
}

// editableRoles is the set of target roles an actor of role r may edit and
// reset inside its scope (the "may edit / reset" column of PRODUCT.md).
// Guardians edit nobody.
func editableRoles(r rekey.Role) map[rekey.Role]bool {
	switch r {
	case rekey.RoleTeacher:
		return map[rekey.Role]bool{rekey.RoleStudent: true}
	case rekey.RoleSchoolAdmin:
		return map[rekey.Role]bool{rekey.RoleStudent: true, rekey.RoleTeacher: true, rekey.RoleSchoolAdmin: true, rekey.RoleGuardian: true}
	case rekey.RoleDistrictAdmin:
		return map[rekey.Role]bool{rekey.RoleStudent: true, rekey.RoleTeacher: true, rekey.RoleSchoolAdmin: true, rekey.RoleDistrictAdmin: true, rekey.RoleGuardian: true}
	case rekey.RoleSupport:
		return map[rekey.Role]bool{rekey.RoleStudent: true, rekey.RoleTeacher: true, rekey.RoleSchoolAdmin: true, rekey.RoleDistrictAdmin: true, rekey.RoleSupport: true, rekey.RoleGuardian: true}
	default:
		return nil
	}
}
