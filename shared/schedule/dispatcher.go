package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/rekey/rekey/shared/authz"
	"github.com/rekey/rekey/shared/rekey"
)

// DispatchStore is what the dispatcher needs from the data store.
// *dynamo.Store satisfies it as it is.
type DispatchStore interface {
	dueReader
	runStore
	userReader
	auditLog
}

// dueReader finds due schedules and advances them.
//
// DueSchedules pages through the enabled schedules whose NextRunAt is at or
// before now, soonest first. AdvanceSchedule moves schedule id's NextRunAt
// from from to next (none when next is zero) and records the run, provided
// the schedule is still enabled with NextRunAt from (rekey.ErrConflict
// otherwise: it was edited, paused or deleted meanwhile); reason is why the
// run started no task ("" when it started one).
type dueReader interface {
	DueSchedules(ctx context.Context, now time.Time, limit int, cursor string) (rekey.SchedulePage, error)
	GetSchedule(ctx context.Context, id string) (rekey.Schedule, error)
	AdvanceSchedule(ctx context.Context, id string, from, next, lastRunAt time.Time, lastTaskID, reason string) error
}

// runStore claims an occurrence and records its outcome.
//
// ClaimRun creates the run of (scheduleID, occurrence) in state claimed, or
// takes over a claim whose lease ended before at; with rekey.ErrRunFinished or
// rekey.ErrRunBusy it returns the run as it stands. RecordRun saves run.State
// (started with TaskID, or failed with Reason) under run.ClaimID
// (rekey.ErrConflict when the claim was taken over).
type runStore interface {
	ClaimRun(ctx context.Context, scheduleID string, occurrence, at time.Time, lease time.Duration) (rekey.ScheduleRun, error)
	RecordRun(ctx context.Context, run rekey.ScheduleRun) error
}

// userReader reloads a schedule's creator.
type userReader interface {
	GetUser(ctx context.Context, id string) (rekey.User, error)
}

// auditLog records a run's outcome.
type auditLog interface {
	PutAudit(ctx context.Context, entry rekey.AuditEntry) error
}

// taskStarter starts a bulk reset task on behalf of initiator, exactly as
// POST /api/bulk-resets would (the selection is intersected with the
// initiator's scope at run time). A repeated idempotencyKey returns the
// task the first call started. The task runs sc's selection and delivery,
// records sc's id and is named with sc's name; sc.ApprovedBy is the
// approver of a schedule that needed approval: its task is queued without
// asking again. The bulk service implements it.
type taskStarter interface {
	StartScheduled(ctx context.Context, sc rekey.Schedule, initiator rekey.User, idempotencyKey, requestID string) (rekey.Task, error)
}

// Dispatcher settings.
const (
	// DefaultLease is how long a dispatcher's claim on an occurrence keeps
	// other dispatchers from starting it. It is longer than one Start call
	// can take, so a live claim is never taken over; after a crash the
	// occurrence is retried this long afterwards.
	DefaultLease = 5 * time.Minute
	// MaxStartAttempts is how many claims an occurrence gets before it is
	// recorded as failed (each after the lease of the one before ran out).
	MaxStartAttempts = 5
	// duePageSize is how many due schedules one query reads.
	duePageSize = 100
)

// Dispatcher starts due schedules. Run it every minute: the
// schedule-dispatcher Lambda through an EventBridge rule rate(1 minute)
// (Handle), the local runner from a ticker (Run).
//
// For each due schedule it claims the occurrence with a conditional write
// of its Run before anything else, so that two dispatchers running at once,
// or EventBridge delivering an event twice, start it once. It then reloads
// the creator, whose current authority the task runs with, and starts the
// task with the idempotency key "schedule#<id>#<occurrence>"
// (IdempotencyKey). If the dispatcher dies after the claim, the claim's
// lease runs out and a later tick starts the task with the same key, so the
// bulk service returns the task already started rather than a second one.
// Last it records the task on the Run and moves NextRunAt on, conditional on
// the value it read.
//
// Missed occurrences (the dispatcher was down, or the schedule was due while
// a run failed to start): only the latest occurrence at or before now runs,
// once, and NextRunAt moves to the first occurrence after it. A bulk reset
// is about the state of accounts now, so replaying a backlog of identical
// resets would only send users a string of emails.
//
// Paused schedules are never due: pausing removes them from the due index.
// A run whose creator is gone, disabled, no longer an admin, moved out of
// the schedule's district or (a school admin) away from the school the
// schedule names is recorded as failed with the reason, without a task; so is one the bulk service refuses (a *rekey.Error other than
// internal, conflict or too_many_attempts). Other errors leave the claim to
// be retried, up to MaxStartAttempts claims.
//
// A schedule above its district's approval threshold that no second admin
// has approved yet (rekey.Schedule.AwaitingApproval) is skipped the same
// way: the run is recorded as failed, and the schedule's lastRunReason
// says it waits for approval. An approved schedule's runs start as queued
// tasks, carrying the schedule's approver: the schedule was approved once,
// not each run.
type Dispatcher struct {
	store   DispatchStore
	starter taskStarter
	log     *slog.Logger
	lease   time.Duration
}

// NewDispatcher returns a Dispatcher; logger may be nil (nothing logged).
func NewDispatcher(store DispatchStore, starter taskStarter, logger *slog.Logger) *Dispatcher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{store: store, starter: starter, log: logger, lease: DefaultLease}
}

// ReasonAwaitingApproval is the last-run reason of a run skipped because
// its schedule waits for a second admin's approval.
const ReasonAwaitingApproval = "Skipped: the schedule is waiting for another administrator's approval."

// IdempotencyKey is the key a schedule's occurrence starts its task with.
func IdempotencyKey(scheduleID string, occurrence time.Time) string {
	return "schedule#" + scheduleID + "#" + occurrence.UTC().Format(time.RFC3339)
}

// Handle is the schedule-dispatcher Lambda's handler: it dispatches what is
// due at the event's time (the minute the rule fired), or now when the
// event has none.
func (d *Dispatcher) Handle(ctx context.Context, event events.CloudWatchEvent) error {
	at := event.Time
	if at.IsZero() {
		at = time.Now()
	}
	started, err := d.Run(ctx, at)
	d.log.InfoContext(ctx, "schedule: dispatched", "eventId", event.ID, "at", at, "started", started, "failed", err != nil)
	return err
}

// Run starts every schedule occurrence due at now and returns how many
// tasks it started. It carries on past a schedule that fails and returns
// the errors joined; what failed is retried on a later run.
func (d *Dispatcher) Run(ctx context.Context, now time.Time) (started int, err error) {
	requestID := "dispatch-" + rekey.NewID()
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		requestID = lc.AwsRequestID
	}
	var errs []error
	cursor := ""
	for {
		page, err := d.store.DueSchedules(ctx, now, duePageSize, cursor)
		if err != nil {
			return started, errors.Join(append(errs, fmt.Errorf("schedule: find due schedules: %w", err))...)
		}
		for _, due := range page.Items {
			if err := ctx.Err(); err != nil {
				return started, errors.Join(append(errs, err)...)
			}
			ok, err := d.dispatch(ctx, due.ID, now, requestID)
			if ok {
				started++
			}
			if err != nil {
				d.log.ErrorContext(ctx, "schedule: dispatch failed; it will be retried", "schedule", due.ID, "error", err)
				errs = append(errs, fmt.Errorf("schedule %s: %w", due.ID, err))
			}
		}
		if page.Next == "" {
			return started, errors.Join(errs...)
		}
		cursor = page.Next
	}
}

// dispatch runs the due occurrence of schedule id, if it is still due.
// started reports whether the starter returned a task.
func (d *Dispatcher) dispatch(ctx context.Context, id string, now time.Time, requestID string) (started bool, err error) {
	// The index is eventually consistent: read the schedule itself.
	sc, err := d.store.GetSchedule(ctx, id)
	if rekey.ErrorCode(err) == rekey.ECodeNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !sc.Enabled || sc.NextRunAt.IsZero() || sc.NextRunAt.After(now) {
		return false, nil
	}
	tm, err := storedTiming(sc)
	if err != nil {
		return false, err
	}
	occurrence := tm.expr.LatestBy(sc.NextRunAt, now, tm.loc)
	next := tm.expr.Next(occurrence, tm.loc)
	log := d.log.With("schedule", sc.ID, "occurrence", occurrence)

	run, err := d.store.ClaimRun(ctx, sc.ID, occurrence, now, d.lease)
	switch {
	case errors.Is(err, rekey.ErrRunFinished):
		log.InfoContext(ctx, "schedule: occurrence already dispatched", "state", string(run.State), "task", run.TaskID)
		return false, d.advance(ctx, sc, occurrence, next, run.TaskID, run.Reason)
	case errors.Is(err, rekey.ErrRunBusy):
		log.InfoContext(ctx, "schedule: occurrence claimed by another dispatcher", "leaseUntil", run.LeaseUntil)
		return false, nil
	case err != nil:
		return false, fmt.Errorf("claim run: %w", err)
	}

	creator, reason, err := d.creator(ctx, sc)
	if err != nil {
		return false, err
	}
	if reason == "" && sc.AwaitingApproval() {
		reason = ReasonAwaitingApproval
	}
	if reason == "" && run.Attempts > MaxStartAttempts {
		reason = fmt.Sprintf("The task could not be started after %d attempts.", MaxStartAttempts)
	}
	if reason != "" {
		return false, d.fail(ctx, log, sc, run, occurrence, next, reason, requestID, now)
	}

	task, err := d.starter.StartScheduled(ctx, sc, creator, IdempotencyKey(sc.ID, occurrence), requestID)
	if err != nil {
		if refused(err) {
			return false, d.fail(ctx, log, sc, run, occurrence, next, "The bulk reset was refused: "+rekey.ErrorMessage(err), requestID, now)
		}
		return false, fmt.Errorf("start task (attempt %d): %w", run.Attempts, err)
	}
	run.State, run.TaskID, run.UpdatedAt = rekey.RunStarted, task.ID, now
	if err := d.store.RecordRun(ctx, run); err != nil {
		return true, fmt.Errorf("record started run: %w", err)
	}
	log.InfoContext(ctx, "schedule: task started", "task", task.ID, "next", next)
	d.audit(ctx, log, sc, rekey.OutcomeSuccess, map[string]any{"occurrence": occurrence.UTC().Format(time.RFC3339), "taskId": task.ID}, "", requestID, now)
	return true, d.advance(ctx, sc, occurrence, next, task.ID, "")
}

// storedTiming reads a stored schedule's expression and zone.
func storedTiming(sc rekey.Schedule) (timing, error) {
	expr, err := parseExpression(sc.Expression)
	if err != nil {
		return timing{}, fmt.Errorf("stored expression %q: %w", sc.Expression, err)
	}
	loc, err := loadLocation(sc.Timezone)
	if err != nil {
		return timing{}, fmt.Errorf("stored time zone %q: %w", sc.Timezone, err)
	}
	return timing{expr: expr.Anchored(sc.CreatedAt), loc: loc}, nil
}

// creator reloads the schedule's creator. A reason is returned, and no
// error, when the creator may no longer run the schedule.
func (d *Dispatcher) creator(ctx context.Context, sc rekey.Schedule) (rekey.User, string, error) {
	u, err := d.store.GetUser(ctx, sc.CreatedBy)
	switch {
	case rekey.ErrorCode(err) == rekey.ECodeNotFound:
		return u, "The schedule's creator no longer exists.", nil
	case err != nil:
		return u, "", fmt.Errorf("read creator: %w", err)
	case u.Status == rekey.StatusDisabled:
		return u, "The schedule's creator is disabled.", nil
	case u.Status != rekey.StatusActive:
		return u, "The schedule's creator must set a new password before the schedule can run.", nil
	}
	if _, ok := authz.ListScope(u); !ok || !u.Role.IsAdmin() {
		return u, "The schedule's creator is no longer an administrator.", nil
	}
	if districtOf(u) != sc.DistrictID {
		return u, "The schedule's creator has moved to another district.", nil
	}
	if !inCreatorsPlace(u, sc) {
		return u, "The schedule's creator has moved to another school.", nil
	}
	return u, "", nil
}

// refused reports whether the starter refused the request for good (a
// domain error about the request or the initiator) rather than failed in a
// way worth retrying.
func refused(err error) bool {
	var e *rekey.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case rekey.ECodeInternal, rekey.ECodeConflict, rekey.ECodeTooManyAttempts:
		return false
	default:
		return true
	}
}

// fail records the occurrence as failed with reason, audits it and moves
// the schedule on.
func (d *Dispatcher) fail(ctx context.Context, log *slog.Logger, sc rekey.Schedule, run rekey.ScheduleRun, occurrence, next time.Time, reason, requestID string, now time.Time) error {
	run.State, run.Reason, run.UpdatedAt = rekey.RunFailed, reason, now
	if err := d.store.RecordRun(ctx, run); err != nil {
		return fmt.Errorf("record failed run: %w", err)
	}
	log.WarnContext(ctx, "schedule: occurrence failed; no task started", "reason", reason)
	d.audit(ctx, log, sc, rekey.OutcomeFailure, map[string]any{"occurrence": occurrence.UTC().Format(time.RFC3339)}, reason, requestID, now)
	return d.advance(ctx, sc, occurrence, next, "", reason)
}

// advance moves the schedule past occurrence. A schedule edited, paused or
// deleted since it was read is left as it now is.
func (d *Dispatcher) advance(ctx context.Context, sc rekey.Schedule, occurrence, next time.Time, taskID, reason string) error {
	err := d.store.AdvanceSchedule(ctx, sc.ID, sc.NextRunAt, next, occurrence, taskID, reason)
	if rekey.ErrorCode(err) == rekey.ECodeConflict {
		d.log.InfoContext(ctx, "schedule: changed while dispatching; left as it is", "schedule", sc.ID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("advance: %w", err)
	}
	return nil
}

// audit records a run's outcome on the schedule's trail. The actor is the
// creator, on whose authority the run happens. A failure to audit is
// logged: the run itself stands.
func (d *Dispatcher) audit(ctx context.Context, log *slog.Logger, sc rekey.Schedule, outcome string, after map[string]any, detail, requestID string, at time.Time) {
	entry := rekey.AuditEntry{
		ID:         rekey.NewID(),
		At:         at,
		DistrictID: sc.DistrictID,
		ActorID:    sc.CreatedBy,
		TargetID:   sc.ID,
		Action:     rekey.ActionScheduleRun,
		Outcome:    outcome,
		After:      after,
		Detail:     detail,
		RequestID:  requestID,
	}
	if err := d.store.PutAudit(ctx, entry); err != nil {
		log.ErrorContext(ctx, "schedule: audit of run failed", "error", err)
	}
}
