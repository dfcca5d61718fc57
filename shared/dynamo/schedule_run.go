package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/rekey/rekey/shared/rekey"
)

// runPrefix starts the sort key of a schedule's runs, under the schedule's
// partition: SCHEDULE#<id> / RUN#<occurrence>.
const runPrefix = "RUN#"

// runKeep is how long a run record is kept. It only has to outlive the
// time during which its occurrence can still be dispatched (minutes); the
// rest is history for support.
const runKeep = 90 * 24 * time.Hour

// runItem is the record of one occurrence of a schedule.
type runItem struct {
	PK         string     `dynamodbav:"PK"`
	SK         string     `dynamodbav:"SK"`
	ScheduleID string     `dynamodbav:"scheduleId"`
	Occurrence storedTime `dynamodbav:"occurrence,omitempty"`
	State      string     `dynamodbav:"state"`
	Attempts   int        `dynamodbav:"attempts"`
	ClaimID    string     `dynamodbav:"claimId,omitempty"`
	LeaseUntil storedTime `dynamodbav:"leaseUntil,omitempty"`
	TaskID     string     `dynamodbav:"taskId,omitempty"`
	Reason     string     `dynamodbav:"reason,omitempty"`
	CreatedAt  storedTime `dynamodbav:"createdAt,omitempty"`
	UpdatedAt  storedTime `dynamodbav:"updatedAt,omitempty"`
	TTL        int64      `dynamodbav:"ttl,omitempty"`
}

func runSK(occurrence time.Time) string { return runPrefix + formatTime(occurrence) }

func (it runItem) run() rekey.ScheduleRun {
	return rekey.ScheduleRun{
		ScheduleID: it.ScheduleID,
		Occurrence: it.Occurrence.Time,
		State:      rekey.RunState(it.State),
		Attempts:   it.Attempts,
		ClaimID:    it.ClaimID,
		LeaseUntil: it.LeaseUntil.Time,
		TaskID:     it.TaskID,
		Reason:     it.Reason,
		CreatedAt:  it.CreatedAt.Time,
		UpdatedAt:  it.UpdatedAt.Time,
	}
}

// ClaimRun claims the occurrence of schedule scheduleID at time at, for
// lease: a conditional write that succeeds when the occurrence has no run
// record yet (attribute_not_exists), or when its record is still claimed
// but the lease ended at or before at (its dispatcher died). It returns the
// run as claimed, with a new ClaimID and Attempts counted up. This is what
// makes each occurrence start once however many dispatchers see it due.
//
// A run already started or failed is rekey.ErrRunFinished; one that
// another dispatcher holds, rekey.ErrRunBusy; with either error the run
// as it stands is returned too.
func (s *Store) ClaimRun(ctx context.Context, scheduleID string, occurrence, at time.Time, lease time.Duration) (rekey.ScheduleRun, error) {
	if scheduleID == "" || occurrence.IsZero() || lease <= 0 {
		return rekey.ScheduleRun{}, fmt.Errorf("dynamo: claim run: schedule id, occurrence and lease %v are required", lease)
	}
	now := formatTime(at)
	state := expression.Name("state")
	claimable := expression.AttributeNotExists(expression.Name("PK")).
		Or(state.Equal(expression.Value(string(rekey.RunClaimed))).
			And(expression.Name("leaseUntil").LessThanEqual(expression.Value(now))))
	claim := leaseClaim(expression.Set(expression.Name("scheduleId"), expression.Value(scheduleID)).
		Set(expression.Name("occurrence"), expression.Value(formatTime(occurrence))).
		Set(state, expression.Value(string(rekey.RunClaimed))), at, lease, runKeep)

	r, err := claimLease(ctx, s, schedulePK(scheduleID), runSK(occurrence), claim, claimable, runItem.run,
		func(r rekey.ScheduleRun) bool { return r.State.Finished() }, rekey.ErrRunFinished, rekey.ErrRunBusy)
	if err != nil {
		return r, fmt.Errorf("dynamo: claim run %s@%s: %w", scheduleID, formatTime(occurrence), err)
	}
	return r, nil
}

// RecordRun records the outcome of the claim r.ClaimID: r.State started
// with r.TaskID, or failed with r.Reason. The record must still be claimed
// under that ClaimID (else rekey.ErrConflict: the lease ran out and another
// dispatcher took the claim over).
func (s *Store) RecordRun(ctx context.Context, r rekey.ScheduleRun) error {
	if err := r.CheckOutcome(); err != nil {
		return fmt.Errorf("dynamo: record %w", err)
	}
	update := expression.Set(expression.Name("state"), expression.Value(string(r.State))).
		Remove(expression.Name("leaseUntil"))
	update = setOrRemove(update, "updatedAt", formatTime(r.UpdatedAt))
	update = setOrRemove(update, "taskId", r.TaskID)
	update = setOrRemove(update, "reason", r.Reason)
	owned := expression.Name("claimId").Equal(expression.Value(r.ClaimID)).
		And(expression.Name("state").Equal(expression.Value(string(rekey.RunClaimed))))
	if _, err := s.updateItem(ctx, schedulePK(r.ScheduleID), runSK(r.Occurrence), update, &owned, rekey.ErrConflict); err != nil {
		return fmt.Errorf("dynamo: record run %s@%s: %w", r.ScheduleID, formatTime(r.Occurrence), err)
	}
	return nil
}

// GetRun returns the run of schedule scheduleID at occurrence, or
// rekey.ErrNotFound.
func (s *Store) GetRun(ctx context.Context, scheduleID string, occurrence time.Time) (rekey.ScheduleRun, error) {
	var it runItem
	if err := s.getItem(ctx, schedulePK(scheduleID), runSK(occurrence), &it); err != nil {
		return rekey.ScheduleRun{}, fmt.Errorf("dynamo: get run %s@%s: %w", scheduleID, formatTime(occurrence), err)
	}
	return it.run(), nil
}

// errLeaseTaken is the private outcome of a claim whose condition failed.
var errLeaseTaken = errors.New("not claimable")

// claimLease applies claim (see leaseClaim) to the record pk/sk on
// condition claimable and returns the record as claimed, decoded from its
// item type I by record. When the condition fails it reads the record as
// it stands and returns it with errFinished, when finished says so, or
// errBusy (another holder's lease runs on). The mail outbox and schedule
// runs claim this way.
func claimLease[I, R any](ctx context.Context, s *Store, pk, sk string, claim expression.UpdateBuilder, claimable expression.ConditionBuilder,
	record func(I) R, finished func(R) bool, errFinished, errBusy error) (R, error) {
	var zero R
	item, err := s.updateItem(ctx, pk, sk, claim, &claimable, errLeaseTaken)
	if errors.Is(err, errLeaseTaken) {
		var it I
		if err := s.getItem(ctx, pk, sk, &it); err != nil {
			return zero, err
		}
		current := record(it)
		if finished(current) {
			return current, errFinished
		}
		return current, errBusy
	}
	if err != nil {
		return zero, err
	}
	var it I
	if err := unmarshalItem(item, &it); err != nil {
		return zero, err
	}
	return record(it), nil
}

// leaseClaim adds to update what every leased claim writes: a new claim
// id, the lease's end, the times, a TTL of keep (set once) and one more
// attempt.
func leaseClaim(update expression.UpdateBuilder, at time.Time, lease, keep time.Duration) expression.UpdateBuilder {
	now := expression.Value(formatTime(at))
	return update.
		Set(expression.Name("claimId"), expression.Value(rekey.NewID())).
		Set(expression.Name("leaseUntil"), expression.Value(formatTime(at.Add(lease)))).
		Set(expression.Name("updatedAt"), now).
		Set(expression.Name("createdAt"), expression.IfNotExists(expression.Name("createdAt"), now)).
		Set(expression.Name("ttl"), expression.IfNotExists(expression.Name("ttl"), expression.Value(ttlAfter(at.Add(keep))))).
		Add(expression.Name("attempts"), expression.Value(1))
}
