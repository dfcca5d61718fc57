package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/rekey/rekey/shared/rekey"
)

// Keys of schedules and their index entries.
const (
	schedulePrefix = "SCHEDULE#"
	scheduleSK     = "SCHEDULE"
	// dueSchedules is the GSI1 partition of enabled schedules, sorted by
	// next run: a sparse index (paused schedules have no GSI1 keys).
	dueSchedules = "SCHEDULES#DUE"
	// allSchedules is the GSI2 partition of every schedule, sorted by
	// district, then name.
	allSchedules = "SCHEDULES"
)

// scheduleItem is a schedule as stored. The delivery is stored as its mode
// alone: a schedule never holds a password.
type scheduleItem struct {
	PK     string `dynamodbav:"PK"`
	SK     string `dynamodbav:"SK"`
	GSI1PK string `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK string `dynamodbav:"GSI1SK,omitempty"`
	GSI2PK string `dynamodbav:"GSI2PK"`
	GSI2SK string `dynamodbav:"GSI2SK"`

	ID           string        `dynamodbav:"id"`
	DistrictID   string        `dynamodbav:"districtId,omitempty"`
	Name         string        `dynamodbav:"name"`
	Expression   string        `dynamodbav:"expression"`
	Timezone     string        `dynamodbav:"timezone"`
	Selection    selectionItem `dynamodbav:"selection"`
	DeliveryMode string        `dynamodbav:"deliveryMode"`
	Enabled      bool          `dynamodbav:"enabled"`
	CreatedBy    string        `dynamodbav:"createdBy"`
	CreatedAt    storedTime    `dynamodbav:"createdAt,omitempty"`
	UpdatedAt    storedTime    `dynamodbav:"updatedAt,omitempty"`
	Version      int           `dynamodbav:"version"`
	NextRunAt    storedTime    `dynamodbav:"nextRunAt,omitempty"`
	LastRunAt    storedTime    `dynamodbav:"lastRunAt,omitempty"`
	LastTaskID   string        `dynamodbav:"lastTaskId,omitempty"`
	// LastRunReason is why the last run started no task.
	LastRunReason string `dynamodbav:"lastRunReason,omitempty"`
	// The schedule's approval (see rekey.Schedule.NeedsApproval).
	NeedsApproval bool       `dynamodbav:"needsApproval,omitempty"`
	SubmittedBy   string     `dynamodbav:"submittedBy,omitempty"`
	ApprovedBy    string     `dynamodbav:"approvedBy,omitempty"`
	ApprovedAt    storedTime `dynamodbav:"approvedAt,omitempty"`
}

// selectionItem is a bulk selection as stored.
type selectionItem struct {
	Mode     string   `dynamodbav:"mode"`
	UserIDs  []string `dynamodbav:"userIds,omitempty"`
	SchoolID string   `dynamodbav:"schoolId,omitempty"`
	Role     string   `dynamodbav:"role,omitempty"`
	Grade    string   `dynamodbav:"grade,omitempty"`
}

func schedulePK(id string) string { return schedulePrefix + id }

// dueKey is a schedule's GSI1 sort key: its next run (fixed width, so it
// sorts as a time) and its id.
func dueKey(next time.Time, id string) string { return formatTime(next) + "#" + id }

// scheduleListKey is a schedule's GSI2 sort key: district, lower-cased
// name, id. A schedule of no district sorts first, under "#".
func scheduleListKey(sc rekey.Schedule) string {
	return sc.DistrictID + "#" + strings.ToLower(sc.Name) + "#" + sc.ID
}

// dueIndexKeys are the GSI1 keys of a schedule: set only while it is
// enabled and has a next run, so that the due query never sees the rest.
func dueIndexKeys(sc rekey.Schedule) (pk, sk string) {
	if !sc.Enabled || sc.NextRunAt.IsZero() {
		return "", ""
	}
	return dueSchedules, dueKey(sc.NextRunAt, sc.ID)
}

func newScheduleItem(sc rekey.Schedule) scheduleItem {
	it := scheduleItem{
		PK: schedulePK(sc.ID), SK: scheduleSK,
		GSI2PK: allSchedules, GSI2SK: scheduleListKey(sc),
		ID:         sc.ID,
		DistrictID: sc.DistrictID,
		Name:       sc.Name,
		Expression: sc.Expression,
		Timezone:   sc.Timezone,
		Selection: selectionItem{
			Mode: string(sc.Selection.Mode), UserIDs: sc.Selection.UserIDs,
			SchoolID: sc.Selection.SchoolID, Role: string(sc.Selection.Role), Grade: sc.Selection.Grade,
		},
		DeliveryMode: string(sc.Delivery.Mode),
		Enabled:      sc.Enabled,
		CreatedBy:    sc.CreatedBy,
		CreatedAt:    storedTime{sc.CreatedAt},
		UpdatedAt:    storedTime{sc.UpdatedAt},
		Version:      sc.Version,
		NextRunAt:    storedTime{sc.NextRunAt},
		LastRunAt:    storedTime{sc.LastRunAt},
		LastTaskID:   sc.LastTaskID,

		LastRunReason: sc.LastRunReason,
		NeedsApproval: sc.NeedsApproval,
		SubmittedBy:   sc.SubmittedBy,
		ApprovedBy:    sc.ApprovedBy,
		ApprovedAt:    storedTime{sc.ApprovedAt},
	}
	it.GSI1PK, it.GSI1SK = dueIndexKeys(sc)
	return it
}

func (it scheduleItem) schedule() rekey.Schedule {
	sc := rekey.Schedule{
		ID:         it.ID,
		DistrictID: it.DistrictID,
		Name:       it.Name,
		Expression: it.Expression,
		Timezone:   it.Timezone,
		Selection: rekey.Selection{
			Mode: rekey.SelectionMode(it.Selection.Mode), UserIDs: it.Selection.UserIDs,
			SchoolID: it.Selection.SchoolID, Role: rekey.Role(it.Selection.Role), Grade: it.Selection.Grade,
		},
		Delivery:   rekey.Delivery{Mode: rekey.DeliveryMode(it.DeliveryMode)},
		Enabled:    it.Enabled,
		CreatedBy:  it.CreatedBy,
		CreatedAt:  it.CreatedAt.Time,
		UpdatedAt:  it.UpdatedAt.Time,
		Version:    it.Version,
		NextRunAt:  it.NextRunAt.Time,
		LastRunAt:  it.LastRunAt.Time,
		LastTaskID: it.LastTaskID,

		LastRunReason: it.LastRunReason,
		NeedsApproval: it.NeedsApproval,
		SubmittedBy:   it.SubmittedBy,
		ApprovedBy:    it.ApprovedBy,
		ApprovedAt:    it.ApprovedAt.Time,
	}
	return sc
}

// PutSchedule creates sc (the caller sets ID, Version 1, the timestamps
// and NextRunAt) together with audit, when not nil, in one transaction. An
// existing id is rekey.ErrConflict.
func (s *Store) PutSchedule(ctx context.Context, sc rekey.Schedule, audit *rekey.AuditEntry) error {
	if sc.ID == "" || sc.CreatedBy == "" {
		return errors.New("dynamo: put schedule: id and creator are required")
	}
	var tx transaction
	step, err := s.txPut(newScheduleItem(sc), expression.AttributeNotExists(expression.Name("PK")))
	tx.add(step, err, rekey.ErrConflict)
	if audit != nil {
		s.addAudit(&tx, *audit)
	}
	if err := s.transact(ctx, &tx); err != nil {
		return fmt.Errorf("dynamo: put schedule %s: %w", sc.ID, err)
	}
	return nil
}

// GetSchedule returns the schedule with the given id, or rekey.ErrNotFound.
func (s *Store) GetSchedule(ctx context.Context, id string) (rekey.Schedule, error) {
	sc, err := s.getSchedule(ctx, id)
	if err != nil {
		return rekey.Schedule{}, fmt.Errorf("dynamo: get schedule %s: %w", id, err)
	}
	return sc, nil
}

func (s *Store) getSchedule(ctx context.Context, id string) (rekey.Schedule, error) {
	if id == "" {
		return rekey.Schedule{}, rekey.ErrNotFound
	}
	var it scheduleItem
	if err := s.getItem(ctx, schedulePK(id), scheduleSK, &it); err != nil {
		return rekey.Schedule{}, err
	}
	return it.schedule(), nil
}

// UpdateSchedule writes the editable fields of after (name, expression,
// time zone, selection, delivery, enabled, updatedAt, version) and its
// approval (needsApproval, submittedBy, approvedBy, approvedAt), provided
// the stored version is still before.Version (else
// rekey.ErrVersionConflict; after.Version must be before.Version+1), with
// audit in the same transaction. NextRunAt and the due index are written
// only when after changes NextRunAt or Enabled, so that an edit that does
// not reschedule never undoes the dispatcher's AdvanceSchedule; the
// dispatcher's fields (lastRunAt, lastTaskId) are never written here.
func (s *Store) UpdateSchedule(ctx context.Context, before, after rekey.Schedule, audit *rekey.AuditEntry) error {
	if err := s.updateSchedule(ctx, before, after, audit); err != nil {
		return fmt.Errorf("dynamo: update schedule %s: %w", before.ID, err)
	}
	return nil
}

func (s *Store) updateSchedule(ctx context.Context, before, after rekey.Schedule, audit *rekey.AuditEntry) error {
	if err := rekey.CheckNextVersion(before.ID, after.ID, before.Version, after.Version); err != nil {
		return err
	}
	it := newScheduleItem(after)
	update := expression.Set(expression.Name("name"), expression.Value(it.Name)).
		Set(expression.Name("expression"), expression.Value(it.Expression)).
		Set(expression.Name("timezone"), expression.Value(it.Timezone)).
		Set(expression.Name("selection"), expression.Value(it.Selection)).
		Set(expression.Name("deliveryMode"), expression.Value(it.DeliveryMode)).
		Set(expression.Name("enabled"), expression.Value(it.Enabled)).
		Set(expression.Name("updatedAt"), expression.Value(formatTime(after.UpdatedAt))).
		Set(expression.Name("version"), expression.Value(it.Version)).
		Set(expression.Name("GSI2SK"), expression.Value(it.GSI2SK)).
		Set(expression.Name("needsApproval"), expression.Value(it.NeedsApproval))
	update = setOrRemove(update, "submittedBy", it.SubmittedBy)
	update = setOrRemove(update, "approvedBy", it.ApprovedBy)
	update = setOrRemove(update, "approvedAt", formatTime(after.ApprovedAt))
	if !after.NextRunAt.Equal(before.NextRunAt) || after.Enabled != before.Enabled {
		update = setOrRemove(update, "nextRunAt", formatTime(after.NextRunAt))
		update = setOrRemove(update, "GSI1PK", it.GSI1PK)
		update = setOrRemove(update, "GSI1SK", it.GSI1SK)
	}
	current := expression.Name("version").Equal(expression.Value(before.Version))
	var tx transaction
	step, err := s.txUpdate(schedulePK(before.ID), scheduleSK, update, current)
	tx.add(step, err, rekey.ErrVersionConflict)
	if audit != nil {
		s.addAudit(&tx, *audit)
	}
	return s.transact(ctx, &tx)
}

// setOrRemove sets name to value, or removes the attribute when value is
// empty (index keys may not be empty strings).
func setOrRemove(update expression.UpdateBuilder, name, value string) expression.UpdateBuilder {
	if value == "" {
		return update.Remove(expression.Name(name))
	}
	return update.Set(expression.Name(name), expression.Value(value))
}

// DeleteSchedule deletes sc, provided its stored version is still
// sc.Version (else rekey.ErrVersionConflict, also when it is already gone),
// with audit in the same transaction. The records of its runs stay until
// their TTL.
func (s *Store) DeleteSchedule(ctx context.Context, sc rekey.Schedule, audit *rekey.AuditEntry) error {
	var tx transaction
	step, err := s.txDelete(schedulePK(sc.ID), scheduleSK, expression.Name("version").Equal(expression.Value(sc.Version)))
	tx.add(step, err, rekey.ErrVersionConflict)
	if audit != nil {
		s.addAudit(&tx, *audit)
	}
	if err := s.transact(ctx, &tx); err != nil {
		return fmt.Errorf("dynamo: delete schedule %s: %w", sc.ID, err)
	}
	return nil
}

// ListSchedules returns one page of schedules (GSI2, partition SCHEDULES):
// every schedule when f.AllDistricts, else those of f.DistrictID; only
// f.CreatedBy's when set. Pages come in district, then name order, at most
// f.Limit (rekey.SchedulePaging) schedules each.
func (s *Store) ListSchedules(ctx context.Context, f rekey.ScheduleFilter) (rekey.SchedulePage, error) {
	page, err := s.listSchedules(ctx, f)
	if err != nil {
		return rekey.SchedulePage{}, fmt.Errorf("dynamo: list schedules: %w", err)
	}
	return page, nil
}

func (s *Store) listSchedules(ctx context.Context, f rekey.ScheduleFilter) (rekey.SchedulePage, error) {
	if !f.AllDistricts && f.DistrictID == "" {
		return rekey.SchedulePage{}, errors.New("a district or all districts is required")
	}
	key := expression.Key("GSI2PK").Equal(expression.Value(allSchedules))
	prefix := ""
	if !f.AllDistricts {
		prefix = f.DistrictID + "#"
		key = key.And(expression.Key("GSI2SK").BeginsWith(prefix))
	}
	var filters []expression.ConditionBuilder
	if f.CreatedBy != "" {
		filters = append(filters, expression.Name("createdBy").Equal(expression.Value(f.CreatedBy)))
	}
	query, err := s.newQuery("GSI2", key, filters, false)
	if err != nil {
		return rekey.SchedulePage{}, err
	}
	return s.schedulePage(ctx, listing{
		query:    query,
		keyNames: []string{"PK", "SK", "GSI2PK", "GSI2SK"},
		owns: func(key map[string]string) bool {
			return strings.HasPrefix(key["PK"], schedulePrefix) && key["SK"] == scheduleSK &&
				key["GSI2PK"] == allSchedules && strings.HasPrefix(key["GSI2SK"], prefix)
		},
		filtered: len(filters) > 0,
	}, rekey.SchedulePaging.Clamp(f.Limit), f.Cursor)
}

// DueSchedules returns one page of the enabled schedules whose NextRunAt is
// at or before now (GSI1, partition SCHEDULES#DUE), soonest first, at most
// limit (rekey.DueSchedulePaging) each. The index is eventually
// consistent: callers read each schedule again before acting on it.
func (s *Store) DueSchedules(ctx context.Context, now time.Time, limit int, cursor string) (rekey.SchedulePage, error) {
	// "~" sorts after every character of an id, so every schedule due at
	// exactly now is included.
	key := expression.Key("GSI1PK").Equal(expression.Value(dueSchedules)).
		And(expression.Key("GSI1SK").LessThanEqual(expression.Value(formatTime(now) + "#~")))
	query, err := s.newQuery("GSI1", key, nil, false)
	if err != nil {
		return rekey.SchedulePage{}, fmt.Errorf("dynamo: due schedules: %w", err)
	}
	page, err := s.schedulePage(ctx, listing{
		query:    query,
		keyNames: []string{"PK", "SK", "GSI1PK", "GSI1SK"},
		owns: func(key map[string]string) bool {
			return strings.HasPrefix(key["PK"], schedulePrefix) && key["SK"] == scheduleSK && key["GSI1PK"] == dueSchedules
		},
	}, rekey.DueSchedulePaging.Clamp(limit), cursor)
	if err != nil {
		return rekey.SchedulePage{}, fmt.Errorf("dynamo: due schedules: %w", err)
	}
	return page, nil
}

func (s *Store) schedulePage(ctx context.Context, l listing, limit int, cursor string) (rekey.SchedulePage, error) {
	items, next, err := s.read(ctx, l, cursor, limit)
	if err != nil {
		return rekey.SchedulePage{}, err
	}
	page := rekey.SchedulePage{Items: make([]rekey.Schedule, 0, len(items)), Next: next}
	for _, item := range items {
		var it scheduleItem
		if err := unmarshalItem(item, &it); err != nil {
			return rekey.SchedulePage{}, err
		}
		page.Items = append(page.Items, it.schedule())
	}
	return page, nil
}

// AdvanceSchedule moves schedule id on after a run: NextRunAt from from to
// next (removed, with the due index keys, when next is zero: the expression
// has no more occurrences), LastRunAt to lastRunAt and LastTaskID to
// lastTaskID (removed when empty: that run started no task), and
// lastRunReason to reason (removed when empty). It succeeds
// only while the schedule is enabled with NextRunAt still from; otherwise
// (edited, paused, deleted, or advanced by another dispatcher) it is
// rekey.ErrConflict. The version is not changed: it counts edits by people.
func (s *Store) AdvanceSchedule(ctx context.Context, id string, from, next, lastRunAt time.Time, lastTaskID, reason string) error {
	if id == "" || from.IsZero() {
		return errors.New("dynamo: advance schedule: id and from are required")
	}
	update := setOrRemove(expression.UpdateBuilder{}, "nextRunAt", formatTime(next))
	if next.IsZero() {
		update = update.Remove(expression.Name("GSI1PK")).Remove(expression.Name("GSI1SK"))
	} else {
		update = update.Set(expression.Name("GSI1SK"), expression.Value(dueKey(next, id)))
	}
	update = setOrRemove(update, "lastRunAt", formatTime(lastRunAt))
	update = setOrRemove(update, "lastTaskId", lastTaskID)
	update = setOrRemove(update, "lastRunReason", reason)
	cond := expression.Name("enabled").Equal(expression.Value(true)).
		And(expression.Name("nextRunAt").Equal(expression.Value(formatTime(from))))
	if _, err := s.updateItem(ctx, schedulePK(id), scheduleSK, update, &cond, rekey.ErrConflict); err != nil {
		return fmt.Errorf("dynamo: advance schedule %s: %w", id, err)
	}
	return nil
}

// txUpdate is a transaction step that applies update to pk/sk on
// condition cond.
func (s *Store) txUpdate(pk, sk string, update expression.UpdateBuilder, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	expr, err := expression.NewBuilder().WithUpdate(update).WithCondition(cond).Build()
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("build update: %w", err)
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 aws.String(s.table),
		Key:                       itemKey(pk, sk),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}}, nil
}
