package memstore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// Sort keys of the two schedule listings, as the DynamoDB store's indexes
// order them: every schedule by district, lower-cased name and id; the
// enabled ones with a next run by that run and id. The tag keeps a cursor
// of one listing out of the other.
const (
	scheduleListTag = "SCHEDULES#"
	scheduleDueTag  = "SCHEDULES#DUE#"
)

func scheduleListKey(sc rekey.Schedule) string {
	return scheduleListTag + sc.DistrictID + "#" + strings.ToLower(sc.Name) + "#" + sc.ID
}

func scheduleDueKey(sc rekey.Schedule) string {
	return scheduleDueTag + sc.NextRunAt.UTC().Format(sortableTime) + "#" + sc.ID
}

// storedSchedule is sc as the DynamoDB store keeps it: the delivery as its
// mode alone (a schedule never holds a password), with a user list of its
// own.
func storedSchedule(sc rekey.Schedule) rekey.Schedule {
	sc.Delivery = rekey.Delivery{Mode: sc.Delivery.Mode}
	sc.Selection.UserIDs = slices.Clone(sc.Selection.UserIDs)
	return sc
}

// PutSchedule creates sc together with audit, when not nil; an existing id
// is rekey.ErrConflict.
func (s *Store) PutSchedule(_ context.Context, sc rekey.Schedule, audit *rekey.AuditEntry) error {
	if sc.ID == "" || sc.CreatedBy == "" {
		return errors.New("memstore: put schedule: id and creator are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.schedules[sc.ID]; ok {
		return fmt.Errorf("memstore: put schedule %s: %w", sc.ID, rekey.ErrConflict)
	}
	s.schedules[sc.ID] = storedSchedule(sc)
	s.addAudit(audit)
	return nil
}

// GetSchedule returns the schedule with the given id, or rekey.ErrNotFound.
func (s *Store) GetSchedule(_ context.Context, id string) (rekey.Schedule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, ok := s.schedules[id]
	if !ok {
		return rekey.Schedule{}, fmt.Errorf("memstore: get schedule %s: %w", id, rekey.ErrNotFound)
	}
	return storedSchedule(sc), nil
}

// UpdateSchedule writes what the DynamoDB store's UpdateSchedule writes:
// the editable fields and the approval of after, NextRunAt only when after
// changes it or Enabled, never the dispatcher's fields; provided the stored
// version is still before.Version (else rekey.ErrVersionConflict).
func (s *Store) UpdateSchedule(_ context.Context, before, after rekey.Schedule, audit *rekey.AuditEntry) error {
	if err := rekey.CheckNextVersion(before.ID, after.ID, before.Version, after.Version); err != nil {
		return fmt.Errorf("memstore: update schedule %s: %w", before.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stored, ok := s.schedules[before.ID]
	if !ok || stored.Version != before.Version {
		return fmt.Errorf("memstore: update schedule %s: %w", before.ID, rekey.ErrVersionConflict)
	}
	next := storedSchedule(after)
	next.ID, next.DistrictID, next.CreatedBy, next.CreatedAt = stored.ID, stored.DistrictID, stored.CreatedBy, stored.CreatedAt
	next.LastRunAt, next.LastTaskID, next.LastRunReason = stored.LastRunAt, stored.LastTaskID, stored.LastRunReason
	if after.NextRunAt.Equal(before.NextRunAt) && after.Enabled == before.Enabled {
		next.NextRunAt = stored.NextRunAt
	}
	s.schedules[before.ID] = next
	s.addAudit(audit)
	return nil
}

// DeleteSchedule deletes sc, provided its stored version is still
// sc.Version (else rekey.ErrVersionConflict, also when it is gone).
func (s *Store) DeleteSchedule(_ context.Context, sc rekey.Schedule, audit *rekey.AuditEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	stored, ok := s.schedules[sc.ID]
	if !ok || stored.Version != sc.Version {
		return fmt.Errorf("memstore: delete schedule %s: %w", sc.ID, rekey.ErrVersionConflict)
	}
	delete(s.schedules, sc.ID)
	s.addAudit(audit)
	return nil
}

// ListSchedules returns one page of schedules: every schedule when
// f.AllDistricts, else those of f.DistrictID; only f.CreatedBy's when set;
// in district, then name order.
func (s *Store) ListSchedules(_ context.Context, f rekey.ScheduleFilter) (rekey.SchedulePage, error) {
	if !f.AllDistricts && f.DistrictID == "" {
		return rekey.SchedulePage{}, errors.New("memstore: list schedules: a district or all districts is required")
	}
	prefix := scheduleListTag
	if !f.AllDistricts {
		prefix += f.DistrictID + "#"
	}
	match := func(sc rekey.Schedule) bool {
		return strings.HasPrefix(scheduleListKey(sc), prefix) && (f.CreatedBy == "" || sc.CreatedBy == f.CreatedBy)
	}
	page, err := s.schedulePage(match, scheduleListKey, prefix, rekey.SchedulePaging.Clamp(f.Limit), f.Cursor)
	if err != nil {
		return rekey.SchedulePage{}, fmt.Errorf("memstore: list schedules: %w", err)
	}
	return page, nil
}

// DueSchedules returns one page of the enabled schedules whose NextRunAt is
// at or before now, soonest first.
func (s *Store) DueSchedules(_ context.Context, now time.Time, limit int, cursor string) (rekey.SchedulePage, error) {
	match := func(sc rekey.Schedule) bool {
		return sc.Enabled && !sc.NextRunAt.IsZero() && !sc.NextRunAt.After(now)
	}
	page, err := s.schedulePage(match, scheduleDueKey, scheduleDueTag, rekey.DueSchedulePaging.Clamp(limit), cursor)
	if err != nil {
		return rekey.SchedulePage{}, fmt.Errorf("memstore: due schedules: %w", err)
	}
	return page, nil
}

// schedulePage is one page of the schedules that match, in key order; a
// cursor whose key does not begin with prefix belongs to another listing.
func (s *Store) schedulePage(match func(rekey.Schedule) bool, key func(rekey.Schedule) string, prefix string, limit int, cursor string) (rekey.SchedulePage, error) {
	if cursor != "" {
		data, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || !strings.HasPrefix(string(data), "mem:"+prefix) {
			return rekey.SchedulePage{}, errInvalidCursor
		}
	}
	s.mu.Lock()
	var all []rekey.Schedule
	for _, sc := range s.schedules {
		if match(sc) {
			all = append(all, storedSchedule(sc))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b rekey.Schedule) int { return strings.Compare(key(a), key(b)) })
	items, next, err := page(all, key, false, cursor, limit)
	if err != nil {
		return rekey.SchedulePage{}, err
	}
	return rekey.SchedulePage{Items: items, Next: next}, nil
}

// AdvanceSchedule moves schedule id on after a run, as the DynamoDB
// store's AdvanceSchedule does: only while it is enabled with NextRunAt
// still from (else rekey.ErrConflict); the version is not changed.
func (s *Store) AdvanceSchedule(_ context.Context, id string, from, next, lastRunAt time.Time, lastTaskID, reason string) error {
	if id == "" || from.IsZero() {
		return errors.New("memstore: advance schedule: id and from are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, ok := s.schedules[id]
	if !ok || !sc.Enabled || !sc.NextRunAt.Equal(from) {
		return fmt.Errorf("memstore: advance schedule %s: %w", id, rekey.ErrConflict)
	}
	sc.NextRunAt, sc.LastRunAt, sc.LastTaskID, sc.LastRunReason = next, lastRunAt, lastTaskID, reason
	s.schedules[id] = sc
	return nil
}
