// Package district serves a district's settings: the approval threshold of
// bulk resets, the kid-friendly grade limit of generated passwords, the
// password policy's minimum lengths and the district's time zone. They live
// on the district record (rekey.District), the one source of truth that the
// password checks, bulk resets and schedules read.
//
// Raising a minimum length writes nothing but the district: the users whose
// password was set under the old rule are found at their next sign-in
// (rekey.PasswordPolicy.Outdated, applied by package auth), since each user
// records the minimum their password was checked against. A district of
// 100,000 users therefore costs one write, not 100,000, and no background
// job. Only the dry run reads the users, to count them (see countOutdated).
package district

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rekey/rekey/shared/authz"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/schedule/cron"
)

// Store is what the service needs: the district under its version and,
// for the dry run, its users page by page. *dynamo.Store and
// *memstore.Store implement it.
type Store interface {
	GetDistrict(ctx context.Context, id string) (rekey.District, error)
	UpdateDistrict(ctx context.Context, before, after rekey.District, audit *rekey.AuditEntry) error
	ListUsers(ctx context.Context, f rekey.UserFilter) (rekey.UserPage, error)
}

// Service reads and changes district settings on behalf of an actor.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a Service; now may be nil (time.Now).
func NewService(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}

// errForbidden answers everyone but the district's admins.
var errForbidden = &rekey.Error{Code: rekey.ECodeForbidden, Message: "Only district administrators can see or change district settings."}

// Patch is a change of settings: every field optional (nil keeps it)
// except Version, the version that was read. DryRun asks what the change
// would do and writes nothing.
type Patch struct {
	ApprovalThreshold   *int    `json:"approvalThreshold"`
	KidFriendlyMaxGrade *int    `json:"kidFriendlyMaxGrade"`
	MinLengthStaff      *int    `json:"minLengthStaff"`
	MinLengthStudent    *int    `json:"minLengthStudent"`
	Timezone            *string `json:"timezone"`
	Version             *int    `json:"version"`
	DryRun              bool    `json:"dryRun"`
}

// Result is the answer to a change: the settings as they are now (as they
// would be, for a dry run). A dry run adds how many users would have to
// choose a new password at their next sign-in.
type Result struct {
	rekey.DistrictSettings
	DryRun                bool `json:"dryRun,omitempty"`
	UsersToChangePassword *int `json:"usersToChangePassword,omitempty"`
}

// districtOf returns the actor's district, if the actor is an active
// district admin of one.
func (s *Service) districtOf(ctx context.Context, actor rekey.User) (rekey.District, error) {
	if _, ok := authz.ListScope(actor); !ok || actor.Role != rekey.RoleDistrictAdmin || actor.DistrictID == "" {
		return rekey.District{}, errForbidden
	}
	d, err := s.store.GetDistrict(ctx, actor.DistrictID)
	if err != nil {
		return rekey.District{}, fmt.Errorf("district: read %s: %w", actor.DistrictID, err)
	}
	return d, nil
}

// Settings returns the settings of the actor's district.
func (s *Service) Settings(ctx context.Context, actor rekey.User) (rekey.DistrictSettings, error) {
	d, err := s.districtOf(ctx, actor)
	if err != nil {
		return rekey.DistrictSettings{}, err
	}
	return d.Settings(), nil
}

// ApprovalThreshold is the number of users above which a bulk reset in
// district districtID waits for a second admin (0: approvals are off, as
// for a district Rekey does not know). The bulk service asks it at every
// start; a read that fails is an error, so that no reset skips approval.
func (s *Service) ApprovalThreshold(ctx context.Context, districtID string) (int, error) {
	d, err := s.store.GetDistrict(ctx, districtID)
	switch {
	case errors.Is(err, rekey.ErrNotFound):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("district: read %s: %w", districtID, err)
	}
	return d.Settings().ApprovalThreshold, nil
}

// Update applies patch to the actor's district: field errors (422), a
// forbidden error for anyone but its district admins, and
// rekey.ErrVersionConflict for a stale version, each writing nothing. The
// audit entry (district.settings_update, the changed settings before and
// after) is written with the change. A patch that changes nothing returns
// the settings as they are, without a new version.
func (s *Service) Update(ctx context.Context, actor rekey.User, patch Patch, requestID string) (Result, error) {
	before, err := s.districtOf(ctx, actor)
	if err != nil {
		return Result{}, err
	}
	if patch.Version == nil {
		return Result{}, invalid("version", "Send the version of the settings you edited.")
	}
	if *patch.Version != before.Version {
		return Result{}, rekey.ErrVersionConflict
	}
	old := before.Settings()
	next, err := patch.applyTo(old, before.Policy.WithDefaults().MaxLength)
	if err != nil {
		return Result{}, err
	}
	now := s.now()
	after := before.WithSettings(next, now)
	if patch.DryRun {
		n, err := s.countOutdated(ctx, before, after)
		if err != nil {
			return Result{}, err
		}
		return Result{DistrictSettings: next, DryRun: true, UsersToChangePassword: &n}, nil
	}
	oldView, newView := changed(old.AuditView(), next.AuditView())
	if len(newView) == 0 {
		return Result{DistrictSettings: old}, nil
	}
	after.Version = before.Version + 1
	entry := rekey.AuditEntry{
		ID: rekey.NewID(), At: now, DistrictID: before.ID, ActorID: actor.ID, ActorName: actor.FullName(),
		TargetID: before.ID, Action: rekey.ActionSettingsUpdate, Outcome: rekey.OutcomeSuccess,
		Before: oldView, After: newView, RequestID: requestID,
	}
	if err := s.store.UpdateDistrict(ctx, before, after, &entry); err != nil {
		return Result{}, fmt.Errorf("district: update settings: %w", err)
	}
	return Result{DistrictSettings: after.Settings()}, nil
}

// countPageSize is the page size of the dry run's walk over the users.
const countPageSize = 200

// countOutdated counts the users of the district whose password the change
// from before to after outdates (and the current policy does not already):
// those who would have to choose a new one at their next sign-in. It reads
// every user of the district once, page by page through the district's
// user index: for 100,000 users, 500 queries of 200 users. It runs only
// for a dry run, which an admin asks for before raising a minimum.
func (s *Service) countOutdated(ctx context.Context, before, after rekey.District) (int, error) {
	oldPolicy, newPolicy := before.Policy, after.Policy
	if newPolicy.MinLengthStaff <= oldPolicy.WithDefaults().MinLengthStaff &&
		newPolicy.MinLengthStudent <= oldPolicy.WithDefaults().MinLengthStudent {
		return 0, nil // nothing raised: nobody is outdated by this change
	}
	n := 0
	filter := rekey.UserFilter{DistrictID: before.ID, Limit: countPageSize}
	for {
		page, err := s.store.ListUsers(ctx, filter)
		if err != nil {
			return 0, fmt.Errorf("district: count outdated passwords: %w", err)
		}
		for _, u := range page.Items {
			if u.Status != rekey.StatusDisabled && newPolicy.Outdated(u) && !oldPolicy.Outdated(u) {
				n++
			}
		}
		if page.Next == "" {
			return n, nil
		}
		filter.Cursor = page.Next
	}
}

// applyTo returns s with the patch's fields, each checked against its
// bounds; maxLength is the policy's maximum password length.
func (p Patch) applyTo(s rekey.DistrictSettings, maxLength int) (rekey.DistrictSettings, error) {
	maxMin := min(maxMinLength, maxLength)
	for _, f := range []struct {
		name     string
		value    *int
		dst      *int
		lo, hi   int
		whatText string
	}{
		{"approvalThreshold", p.ApprovalThreshold, &s.ApprovalThreshold, 0, rekey.MaxApprovalThreshold, "a number of users from 0 (no approvals) to %d"},
		{"kidFriendlyMaxGrade", p.KidFriendlyMaxGrade, &s.KidFriendlyMaxGrade, 0, rekey.MaxGrade, "a grade from 0 (kindergarten) to %d"},
		{"minLengthStaff", p.MinLengthStaff, &s.MinLengthStaff, rekey.MinStaffLength, maxMin, fmt.Sprintf("a length from %d to %%d characters", rekey.MinStaffLength)},
		{"minLengthStudent", p.MinLengthStudent, &s.MinLengthStudent, rekey.MinStudentLength, maxMin, fmt.Sprintf("a length from %d to %%d characters", rekey.MinStudentLength)},
	} {
		if f.value == nil {
			continue
		}
		if *f.value < f.lo || *f.value > f.hi {
			return s, invalid(f.name, "Give "+fmt.Sprintf(f.whatText, f.hi)+".")
		}
		*f.dst = *f.value
	}
	if p.Timezone != nil {
		if _, err := cron.LoadLocation(*p.Timezone); err != nil {
			return s, invalid("timezone", err.Error())
		}
		s.Timezone = *p.Timezone
	}
	return s, nil
}

// maxMinLength is the highest minimum length a district may demand: 64,
// the length NIST SP 800-63B-4 says verifiers must accept at least, so
// that a minimum never shuts out a passphrase the policy must allow.
const maxMinLength = 64

// invalid is a 422 error about one field.
func invalid(field, message string) error {
	return rekey.FieldError(rekey.ECodeInvalidInput, field, message)
}

// changed returns the entries of before and after whose values differ.
func changed(before, after map[string]any) (map[string]any, map[string]any) {
	oldView, newView := map[string]any{}, map[string]any{}
	for k, v := range after {
		if before[k] != v {
			oldView[k], newView[k] = before[k], v
		}
	}
	return oldView, newView
}
