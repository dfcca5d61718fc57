package authz

import (
	"slices"

	"github.com/rekey/rekey/shared/rekey"
)

// Scope is the part of the user base an actor may list: one district (or
// every district, for support), optionally one school, and the roles visible
// there. The zero Scope contains nobody.
type Scope struct {
	DistrictID   string
	SchoolID     string // empty = the whole district
	AllDistricts bool   // support: every district; DistrictID and SchoolID are then ignored
	// Roles are the roles visible in the scope; a user of any other role is
	// outside it (district admins do not see support users that happen to
	// carry their district id).
	Roles []rekey.Role
}

// ListScope says which users an actor may list. ok is false for actors who
// may list nobody: students (who see only themselves, through /api/me),
// guardians (who see their linked students through /api/me/children) and
// actors who may not act at all (disabled, reset_required, inconsistent).
func ListScope(actor rekey.User) (s Scope, ok bool) {
	if !canAct(actor) {
		return Scope{}, false
	}
	// Guardians whose home school is the actor's are listed with the school.
	schoolRoles := []rekey.Role{rekey.RoleStudent, rekey.RoleTeacher, rekey.RoleSchoolAdmin, rekey.RoleGuardian}
	switch actor.Role {
	case rekey.RoleTeacher, rekey.RoleSchoolAdmin:
		return Scope{DistrictID: actor.DistrictID, SchoolID: actor.SchoolID, Roles: schoolRoles}, true
	case rekey.RoleDistrictAdmin:
		return Scope{DistrictID: actor.DistrictID, Roles: append(schoolRoles, rekey.RoleDistrictAdmin)}, true
	case rekey.RoleSupport:
		return Scope{AllDistricts: true, Roles: slices.Clone(rekey.Roles)}, true
	default:
		return Scope{}, false
	}
}

// Contains reports whether target falls inside s; the API filters list
// results with it and bulk workers filter their items with it (each item is
// still authorised with Allowed).
func (s Scope) Contains(target rekey.User) bool {
	if !target.Role.Valid() || !slices.Contains(s.Roles, target.Role) {
		return false
	}
	if s.AllDistricts {
		return true
	}
	if s.DistrictID == "" || target.DistrictID != s.DistrictID {
		return false
	}
	return s.SchoolID == "" || target.SchoolID == s.SchoolID
}

// Restrict narrows a listing filter the caller asked for to s, so that the
// store query itself stays inside the scope: the district and school come
// from s (a caller's schoolId may only narrow a district scope), and a role
// outside s.Roles is refused. ok is false when the intersection is empty:
// the caller must not query and answers an empty page (the returned filter is
// then the zero value). Rows must still pass Contains, because a district
// query also returns roles the scope hides.
func (s Scope) Restrict(f rekey.UserFilter) (rekey.UserFilter, bool) {
	if f.Role != "" && !slices.Contains(s.Roles, f.Role) {
		return rekey.UserFilter{}, false
	}
	if s.AllDistricts {
		return f, true
	}
	if s.DistrictID == "" || (f.DistrictID != "" && f.DistrictID != s.DistrictID) {
		return rekey.UserFilter{}, false
	}
	if s.SchoolID != "" && f.SchoolID != "" && f.SchoolID != s.SchoolID {
		return rekey.UserFilter{}, false
	}
	f.DistrictID = s.DistrictID
	if s.SchoolID != "" {
		f.SchoolID = s.SchoolID
	}
	return f, true
}
