package users

import (
	"context"
	"fmt"

	"github.com/rekey/rekey/shared/authz"
	"github.com/rekey/rekey/shared/rekey"
)

// NewUser is a user as POST /api/users receives it. Role, names and
// username are required; the rest is optional. The district is always the
// creator's (support, who has none, takes the school's).
type NewUser struct {
	Role       rekey.Role `json:"role"`
	FirstName  string     `json:"firstName"`
	LastName   string     `json:"lastName"`
	Username   string     `json:"username"`
	Email      string     `json:"email"`
	SchoolID   string     `json:"schoolId"`
	Grade      string     `json:"grade"`
	Title      string     `json:"title"`
	ExternalID string     `json:"externalId"`
}

// normalise checks every field and returns the values in stored form.
func (n NewUser) normalise() (NewUser, error) {
	if !n.Role.Valid() {
		return n, invalid("role", "Choose a role.")
	}
	var err error
	set := func(v *string, f func(string) (string, error)) {
		if err == nil {
			*v, err = f(*v)
		}
	}
	textField := func(field string, required bool, maxLen int) func(string) (string, error) {
		return func(v string) (string, error) { return text(field, v, required, maxLen) }
	}
	set(&n.FirstName, textField("firstName", true, maxNameLen))
	set(&n.LastName, textField("lastName", true, maxNameLen))
	set(&n.Username, normaliseUsername)
	set(&n.Email, normaliseEmail)
	set(&n.SchoolID, func(v string) (string, error) { return v, checkID("schoolId", v, true) })
	set(&n.Grade, textField("grade", false, maxGradeLen))
	set(&n.Title, textField("title", false, maxTitleLen))
	set(&n.ExternalID, textField("externalId", false, maxExternalIDLen))
	return n, err
}

// Create adds a user on behalf of actor, within the actor's authority: the
// new record is judged by the permission matrix as an edit of itself
// (authz.CheckUpdate), so a school admin creates only in their school and
// nobody creates a role above their own (nor support). Teachers and
// students may not create users at all. The account has no password: the
// user signs in after a reset link or a bulk delivery. The user and its
// user.create audit entry are written in one transaction; a clash is
// username_taken, email_taken or external_id_taken (409).
func (s *Service) Create(ctx context.Context, actor rekey.User, in NewUser, requestID string) (rekey.User, error) {
	in, err := in.normalise()
	if err != nil {
		return rekey.User{}, err
	}
	if !actor.Role.IsAdmin() {
		return rekey.User{}, &rekey.Error{Code: rekey.ECodeForbidden, Message: "You do not have permission to create users."}
	}
	if in.Role == rekey.RoleSupport || in.Role.Rank() > actor.Role.Rank() {
		return rekey.User{}, rekey.FieldError(rekey.ECodeForbidden, "role", "You cannot create a user with a role above your own.")
	}
	now := s.now()
	u := rekey.User{
		ID: rekey.NewID(), DistrictID: actor.DistrictID, SchoolID: in.SchoolID, Role: in.Role,
		FirstName: in.FirstName, LastName: in.LastName, Username: in.Username, Email: in.Email,
		Grade: in.Grade, Title: in.Title, ExternalID: in.ExternalID, Status: rekey.StatusActive,
		Version: 1, SessionGen: 1, CreatedAt: now, UpdatedAt: now,
	}
	if !u.Role.SchoolScoped() && u.SchoolID != "" {
		return rekey.User{}, invalid("schoolId", "A %s has no school; leave schoolId empty.", in.Role)
	}
	if actor.Role == rekey.RoleSchoolAdmin && u.Role.SchoolScoped() {
		if u.SchoolID == "" {
			u.SchoolID = actor.SchoolID
		}
		if u.SchoolID != actor.SchoolID {
			return rekey.User{}, rekey.FieldError(rekey.ECodeForbidden, "schoolId", "You may create users only in your own school.")
		}
	}
	if u.Role != rekey.RoleStudent {
		u.Grade = ""
	}
	if actor.Role == rekey.RoleSupport && u.SchoolID != "" {
		school, err := s.store.GetSchool(ctx, u.SchoolID)
		if err == nil {
			u.DistrictID = school.DistrictID
		}
	}
	if err := authz.CheckUpdate(actor, u, u); err != nil {
		return rekey.User{}, err
	}
	if err := s.checkPlace(ctx, rekey.User{}, u); err != nil {
		return rekey.User{}, err
	}
	entry := rekey.AuditEntry{
		ID: rekey.NewID(), At: now, DistrictID: u.DistrictID, ActorID: actor.ID, ActorName: actor.FullName(),
		TargetID: u.ID, Action: rekey.ActionUserCreate, Outcome: rekey.OutcomeSuccess,
		After: u.AuditView(), RequestID: requestID,
	}
	if err := s.store.CreateUser(ctx, u, &entry); err != nil {
		return rekey.User{}, fmt.Errorf("users: create %s: %w", u.Username, err)
	}
	return u, nil
}
