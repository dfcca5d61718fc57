package schedule

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/rekey/rekey/shared/authz"
	"github.com/rekey/rekey/shared/rekey"
)

// Store is what the service needs from the data store. *dynamo.Store
// satisfies it as it is.
type Store interface {
	scheduleReader
	scheduleWriter
	schoolReader
	districtReader
	userReader
}

// ApprovalCounter tells whether a schedule of initiator (its creator)
// reaches more users than the district's approval threshold, counted as a
// bulk reset started now would be (a bounded count: at most threshold+1
// users are read), and refuses what a bulk reset would refuse.
// *bulk.Service implements it.
type ApprovalCounter interface {
	ScheduleNeedsApproval(ctx context.Context, initiator rekey.User, sel rekey.Selection, del rekey.Delivery) (bool, error)
}

// scheduleReader reads one schedule (rekey.ErrNotFound when there is none)
// or a page of them.
type scheduleReader interface {
	GetSchedule(ctx context.Context, id string) (rekey.Schedule, error)
	ListSchedules(ctx context.Context, f rekey.ScheduleFilter) (rekey.SchedulePage, error)
}

// scheduleWriter creates, edits and deletes schedules, each together with
// its audit entry in one transaction. PutSchedule fails with
// rekey.ErrConflict when the id exists; UpdateSchedule and DeleteSchedule
// with rekey.ErrVersionConflict unless the stored version is still
// before.Version (sc.Version). UpdateSchedule writes NextRunAt only when it
// differs between before and after, so that it never undoes the
// dispatcher's advance of an unchanged schedule.
type scheduleWriter interface {
	PutSchedule(ctx context.Context, sc rekey.Schedule, audit *rekey.AuditEntry) error
	UpdateSchedule(ctx context.Context, before, after rekey.Schedule, audit *rekey.AuditEntry) error
	DeleteSchedule(ctx context.Context, sc rekey.Schedule, audit *rekey.AuditEntry) error
}

// schoolReader looks up the school a selection narrows to.
type schoolReader interface {
	GetSchool(ctx context.Context, id string) (rekey.School, error)
}

// Service creates, lists, reads, edits and deletes schedules on behalf of
// an actor.
type Service struct {
	store     Store
	approvals ApprovalCounter
	now       func() time.Time
}

// NewService returns a Service; approvals may be nil (schedules never need
// approval), now may be nil (time.Now).
func NewService(store Store, approvals ApprovalCounter, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, approvals: approvals, now: now}
}

// errForbiddenCreate answers actors who may not create schedules.
var errForbiddenCreate = &rekey.Error{Code: rekey.ECodeForbidden, Message: "Only administrators can schedule bulk resets."}

// mayUseSchedules reports whether actor may act at all and is an admin
// (school admin or higher): the only users who create or see schedules.
func mayUseSchedules(actor rekey.User) bool {
	_, ok := authz.ListScope(actor)
	return ok && actor.Role.IsAdmin()
}

// canManage reports whether actor may see, edit, pause and delete sc: its
// creator while sc still lies where they now stand (see inCreatorsPlace),
// a district admin of its district, or support. Having created a schedule
// grants nothing by itself (SECURITY.md 21): a creator moved to another
// school or district, or demoted, no longer sees it.
func canManage(actor rekey.User, sc rekey.Schedule) bool {
	if !mayUseSchedules(actor) {
		return false
	}
	switch {
	case actor.Role == rekey.RoleSupport:
		return true
	case actor.ID == sc.CreatedBy:
		return inCreatorsPlace(actor, sc)
	case actor.Role == rekey.RoleDistrictAdmin:
		return sc.DistrictID != "" && sc.DistrictID == actor.DistrictID
	default:
		return false
	}
}

// inCreatorsPlace reports whether schedule sc lies where its creator u now
// stands: u's district is the schedule's, and a school-scoped creator's
// schedule names u's school (or none: such a schedule runs on whatever
// school its creator has, as a bulk reset started now would).
func inCreatorsPlace(u rekey.User, sc rekey.Schedule) bool {
	if districtOf(u) != sc.DistrictID {
		return false
	}
	return !u.Role.SchoolScoped() || sc.Selection.SchoolID == "" || sc.Selection.SchoolID == u.SchoolID
}

// boundToSchool is sel as a school-scoped actor saves it: narrowed to
// their school, which then stays with the schedule. A school admin's scope
// is their school, so this changes nothing the schedule reaches; it makes
// the schedule stop — unseen by its creator, its runs failing — once the
// creator moves to another school, instead of carrying on there.
func boundToSchool(actor rekey.User, sel rekey.Selection) rekey.Selection {
	if actor.Role.SchoolScoped() && sel.SchoolID == "" {
		sel.SchoolID = actor.SchoolID
	}
	return sel
}

// districtOf is the district a schedule created by u belongs to. Support
// reaches every district, so its schedules belong to none and stay out of
// district admins' sight.
func districtOf(u rekey.User) string {
	if u.Role == rekey.RoleSupport {
		return ""
	}
	return u.DistrictID
}

// Create saves a new schedule for actor, who must be an active admin
// (rekey.ErrForbidden-style 403 otherwise), and returns it with its first
// NextRunAt (none while it is created paused). Without a time zone it runs
// in its district's (the district settings). Invalid input is a 422
// *rekey.Error naming the field: name, expression, timezone,
// selection.mode, selection.userIds, selection.schoolId, selection.role,
// selection.grade, delivery.mode (default_password is always refused) or
// delivery.defaultPassword.
func (s *Service) Create(ctx context.Context, actor rekey.User, in Input, requestID string) (rekey.Schedule, error) {
	if !mayUseSchedules(actor) {
		return rekey.Schedule{}, errForbiddenCreate
	}
	now := s.now()
	name, err := checkName(in.Name)
	if err != nil {
		return rekey.Schedule{}, err
	}
	if in.Timezone == "" {
		if in.Timezone, err = s.defaultTimezone(ctx, districtOf(actor)); err != nil {
			return rekey.Schedule{}, err
		}
	}
	tm, err := checkTiming(in.Expression, in.Timezone, now, now)
	if err != nil {
		return rekey.Schedule{}, err
	}
	sel, err := checkSelection(in.Selection)
	if err != nil {
		return rekey.Schedule{}, err
	}
	del, err := checkDelivery(in.Delivery)
	if err != nil {
		return rekey.Schedule{}, err
	}
	sel = boundToSchool(actor, sel)
	district := districtOf(actor)
	if err := s.checkSchool(ctx, actor, district, sel.SchoolID); err != nil {
		return rekey.Schedule{}, err
	}
	sc := rekey.Schedule{
		ID:         rekey.NewID(),
		DistrictID: district,
		Name:       name,
		Expression: tm.expr.String(),
		Timezone:   tm.loc.String(),
		Selection:  sel,
		Delivery:   del,
		Enabled:    in.Enabled == nil || *in.Enabled,
		CreatedBy:  actor.ID,
		CreatedAt:  now,
		UpdatedAt:  now,
		Version:    1,
	}
	if sc.Enabled {
		sc.NextRunAt = tm.expr.Next(now, tm.loc)
	}
	if sc, err = s.askApproval(ctx, actor, actor, sc); err != nil {
		return rekey.Schedule{}, err
	}
	entry := auditEntry(actor, sc, rekey.ActionScheduleCreate, nil, auditView(sc), requestID, now)
	if err := s.store.PutSchedule(ctx, sc, &entry); err != nil {
		return rekey.Schedule{}, fmt.Errorf("schedule: create: %w", err)
	}
	return normalised(sc), nil
}

// List returns one page of the schedules actor may see: every schedule for
// support, the district's for a district admin, a school admin's own. Other
// actors get rekey.ErrForbidden. limit 0 means rekey.SchedulePaging.Default; cursor is the
// store's.
func (s *Service) List(ctx context.Context, actor rekey.User, limit int, cursor string) (rekey.SchedulePage, error) {
	limit, err := rekey.SchedulePaging.Limit(limit)
	if err != nil {
		return rekey.SchedulePage{}, err
	}
	if !mayUseSchedules(actor) {
		return rekey.SchedulePage{}, rekey.ErrForbidden
	}
	f := rekey.ScheduleFilter{Limit: limit, Cursor: cursor}
	switch actor.Role {
	case rekey.RoleSupport:
		f.AllDistricts = true
	case rekey.RoleDistrictAdmin:
		f.DistrictID = actor.DistrictID
	default:
		f.DistrictID, f.CreatedBy = actor.DistrictID, actor.ID
	}
	page, err := s.store.ListSchedules(ctx, f)
	if err != nil {
		return rekey.SchedulePage{}, fmt.Errorf("schedule: list: %w", err)
	}
	items := make([]rekey.Schedule, 0, len(page.Items))
	for _, sc := range page.Items {
		if canManage(actor, sc) {
			items = append(items, normalised(sc))
		}
	}
	return rekey.SchedulePage{Items: items, Next: page.Next}, nil
}

// Get returns schedule id, or an error wrapping rekey.ErrNotFound when
// there is none or actor may not see it (never a hint which).
func (s *Service) Get(ctx context.Context, actor rekey.User, id string) (rekey.Schedule, error) {
	sc, err := s.store.GetSchedule(ctx, id)
	if rekey.ErrorCode(err) == rekey.ECodeNotFound {
		return rekey.Schedule{}, rekey.ErrNotFound
	}
	if err != nil {
		return rekey.Schedule{}, fmt.Errorf("schedule: get %s: %w", id, err)
	}
	if !canManage(actor, sc) {
		return rekey.Schedule{}, rekey.ErrNotFound
	}
	return normalised(sc), nil
}

// Update applies patch to schedule id and returns the stored result. A
// changed expression or time zone, and resuming a paused schedule,
// recompute NextRunAt from now; pausing clears it. A changed expression,
// time zone, selection or delivery is counted again against the approval
// threshold (see askApproval): above it, the schedule waits for approval
// again, however it was approved before. Errors: 422 field errors
// as for Create (and "version" when it is missing), rekey.ErrNotFound,
// rekey.ErrVersionConflict. A patch that changes nothing returns the
// schedule as it is, without a new version or an audit entry.
func (s *Service) Update(ctx context.Context, actor rekey.User, id string, patch Patch, requestID string) (rekey.Schedule, error) {
	patch, err := patch.normalise()
	if err != nil {
		return rekey.Schedule{}, err
	}
	before, err := s.Get(ctx, actor, id)
	if err != nil {
		return rekey.Schedule{}, err
	}
	if *patch.Version != before.Version {
		return rekey.Schedule{}, rekey.ErrVersionConflict
	}
	after := patch.applyTo(before)
	if patch.Selection != nil {
		after.Selection = boundToSchool(actor, after.Selection)
	}
	if patch.Selection != nil && after.Selection.SchoolID != before.Selection.SchoolID {
		if err := s.checkSchool(ctx, actor, before.DistrictID, after.Selection.SchoolID); err != nil {
			return rekey.Schedule{}, err
		}
	}
	now := s.now()
	retimed := after.Expression != before.Expression || after.Timezone != before.Timezone
	resumed := after.Enabled && !before.Enabled
	var tm timing
	if retimed || resumed {
		if tm, err = checkTiming(after.Expression, after.Timezone, before.CreatedAt, now); err != nil {
			return rekey.Schedule{}, err
		}
	}
	changed := changedFields(before, after)
	if len(changed) == 0 {
		return before, nil
	}
	switch {
	case !after.Enabled:
		after.NextRunAt = time.Time{}
	case retimed || resumed:
		after.NextRunAt = tm.expr.Next(now, tm.loc)
	}
	if retimed || slices.Contains(changed, "selection") || slices.Contains(changed, "deliveryMode") {
		creator, err := s.creatorOr(ctx, before, actor)
		if err != nil {
			return rekey.Schedule{}, err
		}
		if after, err = s.askApproval(ctx, actor, creator, after); err != nil {
			return rekey.Schedule{}, err
		}
		if after.NeedsApproval != before.NeedsApproval || after.ApprovedBy != before.ApprovedBy {
			changed = append(changed, "needsApproval", "approvedBy")
		}
	}
	after.Version = before.Version + 1
	after.UpdatedAt = now
	oldView, newView := auditView(before), auditView(after)
	entry := auditEntry(actor, after, rekey.ActionScheduleUpdate, pick(oldView, changed), pick(newView, changed), requestID, now)
	if err := s.store.UpdateSchedule(ctx, before, after, &entry); err != nil {
		return rekey.Schedule{}, fmt.Errorf("schedule: update %s: %w", id, err)
	}
	return normalised(after), nil
}

// Delete removes schedule id. Runs already started carry on as ordinary
// tasks. Errors: rekey.ErrNotFound, or rekey.ErrVersionConflict when the
// schedule changed while it was being deleted.
func (s *Service) Delete(ctx context.Context, actor rekey.User, id string, requestID string) error {
	sc, err := s.Get(ctx, actor, id)
	if err != nil {
		return err
	}
	now := s.now()
	entry := auditEntry(actor, sc, rekey.ActionScheduleDelete, auditView(sc), nil, requestID, now)
	if err := s.store.DeleteSchedule(ctx, sc, &entry); err != nil {
		return fmt.Errorf("schedule: delete %s: %w", id, err)
	}
	return nil
}

// normalise checks every field the patch sets and returns it with values in
// their stored form.
func (p Patch) normalise() (Patch, error) {
	if p.Version == nil {
		return p, invalid("version", "Send the version of the schedule you edited.")
	}
	if p.Name != nil {
		name, err := checkName(*p.Name)
		if err != nil {
			return p, err
		}
		p.Name = &name
	}
	if p.Expression != nil {
		expr, err := parseExpression(*p.Expression)
		if err != nil {
			return p, err
		}
		canonical := expr.String()
		p.Expression = &canonical
	}
	if p.Timezone != nil {
		if _, err := loadLocation(*p.Timezone); err != nil {
			return p, err
		}
	}
	if p.Selection != nil {
		sel, err := checkSelection(*p.Selection)
		if err != nil {
			return p, err
		}
		p.Selection = &sel
	}
	if p.Delivery != nil {
		del, err := checkDelivery(*p.Delivery)
		if err != nil {
			return p, err
		}
		p.Delivery = &del
	}
	return p, nil
}

// applyTo returns sc with the patch's fields set.
func (p Patch) applyTo(sc rekey.Schedule) rekey.Schedule {
	if p.Name != nil {
		sc.Name = *p.Name
	}
	if p.Expression != nil {
		sc.Expression = *p.Expression
	}
	if p.Timezone != nil {
		sc.Timezone = *p.Timezone
	}
	if p.Selection != nil {
		sc.Selection = *p.Selection
	}
	if p.Delivery != nil {
		sc.Delivery = *p.Delivery
	}
	if p.Enabled != nil {
		sc.Enabled = *p.Enabled
	}
	return sc
}

// checkSchool checks that a selection's school exists in the schedule's
// district (any district for a schedule of none) and, for a school admin,
// is their own school. Unknown and foreign schools get the same answer.
func (s *Service) checkSchool(ctx context.Context, actor rekey.User, district, schoolID string) error {
	if schoolID == "" {
		return nil
	}
	if actor.Role.SchoolScoped() && schoolID != actor.SchoolID {
		return invalid("selection.schoolId", "You can schedule resets for your own school only.")
	}
	school, err := s.store.GetSchool(ctx, schoolID)
	if rekey.ErrorCode(err) == rekey.ECodeNotFound || err == nil && district != "" && school.DistrictID != district {
		return invalid("selection.schoolId", "No such school in the schedule's district.")
	}
	if err != nil {
		return fmt.Errorf("schedule: read school %s: %w", schoolID, err)
	}
	return nil
}

// normalised is sc as the API shows it: userIds is [] rather than null.
func normalised(sc rekey.Schedule) rekey.Schedule {
	if sc.Selection.UserIDs == nil {
		sc.Selection.UserIDs = []string{}
	}
	return sc
}

// changedFields names the editable fields that differ, by audit view key.
func changedFields(before, after rekey.Schedule) []string {
	var changed []string
	add := func(name string, differs bool) {
		if differs {
			changed = append(changed, name)
		}
	}
	add("name", before.Name != after.Name)
	add("expression", before.Expression != after.Expression)
	add("timezone", before.Timezone != after.Timezone)
	add("selection", !reflect.DeepEqual(normalised(before).Selection, normalised(after).Selection))
	add("deliveryMode", before.Delivery.Mode != after.Delivery.Mode)
	add("enabled", before.Enabled != after.Enabled)
	return changed
}

// pick returns the entries of view named by keys.
func pick(view map[string]any, keys []string) map[string]any {
	out := make(map[string]any, len(keys))
	for _, k := range keys {
		out[k] = view[k]
	}
	return out
}

// maxAuditedUserIDs is how many selected user ids an audit snapshot lists;
// beyond it, only their number is recorded.
const maxAuditedUserIDs = 100

// auditView is a schedule as audit snapshots record it (it holds no
// secret: schedules never hold a password).
func auditView(sc rekey.Schedule) map[string]any {
	sel := map[string]any{"mode": string(sc.Selection.Mode), "userIdCount": len(sc.Selection.UserIDs)}
	if n := len(sc.Selection.UserIDs); n > 0 && n <= maxAuditedUserIDs {
		sel["userIds"] = append([]string{}, sc.Selection.UserIDs...)
	}
	for k, v := range map[string]string{"schoolId": sc.Selection.SchoolID, "role": string(sc.Selection.Role), "grade": sc.Selection.Grade} {
		if v != "" {
			sel[k] = v
		}
	}
	return map[string]any{
		"name": sc.Name, "expression": sc.Expression, "timezone": sc.Timezone,
		"selection": sel, "deliveryMode": string(sc.Delivery.Mode), "enabled": sc.Enabled,
		"needsApproval": sc.NeedsApproval, "approvedBy": sc.ApprovedBy,
	}
}

// auditEntry records what actor did to sc.
func auditEntry(actor rekey.User, sc rekey.Schedule, action string, before, after map[string]any, requestID string, now time.Time) rekey.AuditEntry {
	return rekey.AuditEntry{
		ID:         rekey.NewID(),
		At:         now,
		DistrictID: sc.DistrictID,
		ActorID:    actor.ID,
		ActorName:  actor.FullName(),
		TargetID:   sc.ID,
		Action:     action,
		Outcome:    rekey.OutcomeSuccess,
		Before:     before,
		After:      after,
		RequestID:  requestID,
	}
}
