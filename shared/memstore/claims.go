package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// The two leased claims of the store: the mail outbox (one record per mail
// job, so that no email is sent twice) and the runs of schedules (one
// record per occurrence, so that none starts twice). Both follow the
// DynamoDB store: a claim succeeds on a new record or one whose holder's
// lease ended, and only the claim's holder records the outcome.

// claimRefused is the answer to a claim that is not claimable: errFinished
// when the record is finished, else errBusy (another holder's lease runs
// on); nil when it is claimable.
func claimRefused(claimable, finished bool, errFinished, errBusy error) error {
	switch {
	case claimable:
		return nil
	case finished:
		return errFinished
	default:
		return errBusy
	}
}

// takeLease writes onto a record what every claim writes, as the DynamoDB
// store's leaseClaim does: a new claim id, the lease's end, the times (the
// creation once) and one more attempt.
func takeLease(claimID *string, leaseUntil, createdAt, updatedAt *time.Time, attempts *int, at time.Time, lease time.Duration) {
	if createdAt.IsZero() {
		*createdAt = at
	}
	*claimID, *leaseUntil, *updatedAt = rekey.NewID(), at.Add(lease), at
	*attempts++
}

// runKey is the key of the run of schedule scheduleID at occurrence.
func runKey(scheduleID string, occurrence time.Time) string {
	return scheduleID + "@" + occurrence.UTC().Format(sortableTime)
}

// ClaimDelivery claims the outbox record of mail job key for one sending
// attempt at time at, for lease: it succeeds when there is no record yet,
// when the last attempt failed (PENDING), or when a SENDING claim's lease
// ended at or before at. It returns the record as claimed, with a new
// ClaimID and Attempts counted up. A record already SENT or SKIPPED is
// rekey.ErrDeliveryFinished; one that another sender holds,
// rekey.ErrDeliveryBusy; with either error the record as it stands is
// returned too.
func (s *Store) ClaimDelivery(_ context.Context, key string, kind rekey.JobKind, at time.Time, lease time.Duration) (rekey.MailDelivery, error) {
	if key == "" || lease <= 0 {
		return rekey.MailDelivery{}, fmt.Errorf("memstore: claim delivery: key %q and lease %v are required", key, lease)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, exists := s.deliveries[key]
	claimable := !exists || d.State == rekey.DeliveryPending || d.State == rekey.DeliverySending && !d.LeaseUntil.After(at)
	if err := claimRefused(claimable, d.State.Finished(), rekey.ErrDeliveryFinished, rekey.ErrDeliveryBusy); err != nil {
		return d, fmt.Errorf("memstore: claim delivery %s: %w", key, err)
	}
	d.Key, d.Kind, d.State = key, kind, rekey.DeliverySending
	takeLease(&d.ClaimID, &d.LeaseUntil, &d.CreatedAt, &d.UpdatedAt, &d.Attempts, at, lease)
	s.deliveries[key] = d
	return d, nil
}

// SaveDelivery records the outcome of the attempt that claimed d (same
// ClaimID, still SENDING; else rekey.ErrConflict): d.State SENT with
// MessageID, SKIPPED with Reason, or PENDING with LastError.
func (s *Store) SaveDelivery(_ context.Context, d rekey.MailDelivery) error {
	if err := d.CheckOutcome(); err != nil {
		return fmt.Errorf("memstore: save %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stored, ok := s.deliveries[d.Key]
	if !ok || stored.ClaimID != d.ClaimID || stored.State != rekey.DeliverySending {
		return fmt.Errorf("memstore: save delivery %s: %w", d.Key, rekey.ErrConflict)
	}
	stored.State, stored.LeaseUntil = d.State, time.Time{}
	if !d.UpdatedAt.IsZero() {
		stored.UpdatedAt = d.UpdatedAt
	}
	for to, from := range map[*string]string{&stored.MessageID: d.MessageID, &stored.LastError: d.LastError, &stored.Reason: d.Reason} {
		if from != "" {
			*to = from
		}
	}
	s.deliveries[d.Key] = stored
	return nil
}

// GetDelivery returns the outbox record of mail job key, or
// rekey.ErrNotFound.
func (s *Store) GetDelivery(_ context.Context, key string) (rekey.MailDelivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deliveries[key]
	if !ok {
		return rekey.MailDelivery{}, fmt.Errorf("memstore: get delivery %s: %w", key, rekey.ErrNotFound)
	}
	return d, nil
}

// ClaimRun claims the occurrence of schedule scheduleID at time at, for
// lease: it succeeds when the occurrence has no run yet, or when its run
// is still claimed but the lease ended at or before at. It returns the run
// as claimed, with a new ClaimID and Attempts counted up. A run already
// started or failed is rekey.ErrRunFinished; one another dispatcher holds,
// rekey.ErrRunBusy; with either error the run as it stands is returned too.
func (s *Store) ClaimRun(_ context.Context, scheduleID string, occurrence, at time.Time, lease time.Duration) (rekey.ScheduleRun, error) {
	if scheduleID == "" || occurrence.IsZero() || lease <= 0 {
		return rekey.ScheduleRun{}, fmt.Errorf("memstore: claim run: schedule id, occurrence and lease %v are required", lease)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := runKey(scheduleID, occurrence)
	r, exists := s.runs[key]
	claimable := !exists || r.State == rekey.RunClaimed && !r.LeaseUntil.After(at)
	if err := claimRefused(claimable, r.State.Finished(), rekey.ErrRunFinished, rekey.ErrRunBusy); err != nil {
		return r, fmt.Errorf("memstore: claim run %s: %w", key, err)
	}
	r.ScheduleID, r.Occurrence, r.State = scheduleID, occurrence, rekey.RunClaimed
	takeLease(&r.ClaimID, &r.LeaseUntil, &r.CreatedAt, &r.UpdatedAt, &r.Attempts, at, lease)
	s.runs[key] = r
	return r, nil
}

// RecordRun records the outcome of the claim r.ClaimID: started with
// r.TaskID, or failed with r.Reason, while the run is still claimed under
// that ClaimID (else rekey.ErrConflict).
func (s *Store) RecordRun(_ context.Context, r rekey.ScheduleRun) error {
	if err := r.CheckOutcome(); err != nil {
		return fmt.Errorf("memstore: record %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := runKey(r.ScheduleID, r.Occurrence)
	stored, ok := s.runs[key]
	if !ok || stored.ClaimID != r.ClaimID || stored.State != rekey.RunClaimed {
		return fmt.Errorf("memstore: record run %s: %w", key, rekey.ErrConflict)
	}
	stored.State, stored.LeaseUntil, stored.TaskID, stored.Reason = r.State, time.Time{}, r.TaskID, r.Reason
	if !r.UpdatedAt.IsZero() {
		stored.UpdatedAt = r.UpdatedAt
	}
	s.runs[key] = stored
	return nil
}

// GetRun returns the run of schedule scheduleID at occurrence, or
// rekey.ErrNotFound.
func (s *Store) GetRun(_ context.Context, scheduleID string, occurrence time.Time) (rekey.ScheduleRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runs[runKey(scheduleID, occurrence)]
	if !ok {
		return rekey.ScheduleRun{}, fmt.Errorf("memstore: get run %s: %w", runKey(scheduleID, occurrence), rekey.ErrNotFound)
	}
	return r, nil
}
