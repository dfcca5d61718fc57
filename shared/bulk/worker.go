package bulk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/rekey/rekey/shared/authz"
	"github.com/rekey/rekey/shared/mail"
	"github.com/rekey/rekey/shared/queue/batch"
	"github.com/rekey/rekey/shared/rekey"
)

// Mailer sends one email and returns its provider message id; *ses.Sender
// satisfies it. Its errors are *mail.SendError, whose "throttled" reason
// the worker treats as a signal to slow down, not as a failed attempt.
type Mailer interface {
	Send(ctx context.Context, m mail.Message) (string, error)
}

// NoticeQueue is the mail queue, where password deliveries put the users'
// "your password was changed" notices (rekey.MailJob); *queue.Sender
// satisfies it. SendBatch sends up to ten messages per SQS call.
type NoticeQueue interface {
	SendBatch(ctx context.Context, messages []any) error
}

// WorkerDeps are the Worker's collaborators.
type WorkerDeps struct {
	Store chunkStore
	// Work is the work queue: the rest of a chunk that must wait (daily
	// quota) or ran out of time goes back on it.
	Work DelayedQueue
	// Keys opens task keys (password deliveries); it may be nil when only
	// email links are run.
	Keys Keyring
	// Notices is the mail queue; it may be nil when only email links are
	// run.
	Notices NoticeQueue
	// Mailer and Hasher are required.
	Mailer Mailer
	Hasher hasher
	// Renderer may be nil: English.
	Renderer *mail.Renderer
	// Account may be nil (or fail, as on moto): the configured rate and
	// daily quota apply.
	Account AccountAPI
	// Logger may be nil: nothing is logged.
	Logger *slog.Logger
	// Now may be nil: time.Now.
	Now func() time.Time
}

// Worker resets the users of one chunk at a time: the work queue's
// consumer.
type Worker struct {
	cfg      Config
	store    chunkStore
	work     DelayedQueue
	keys     Keyring
	notices  NoticeQueue
	mailer   Mailer
	hasher   hasher
	renderer *mail.Renderer
	account  AccountAPI
	log      *slog.Logger
	now      func() time.Time

	limitsOnce sync.Once
	limits     sendingLimits
	pacer      *mail.Pacer
	// sso caches which schools sign in with SSO (worker_sso.go).
	sso ssoCache
}

// NewWorker returns a Worker. It makes no network call: SES's limits are
// read with the first chunk that sends email.
func NewWorker(cfg Config, deps WorkerDeps) (*Worker, error) {
	cfg = cfg.withDefaults()
	if err := cfg.checkBaseURL(); err != nil {
		return nil, err
	}
	if deps.Store == nil || deps.Work == nil || deps.Mailer == nil || deps.Hasher == nil {
		return nil, errors.New("bulk: the worker needs a Store, the work queue, a Mailer and a Hasher")
	}
	w := &Worker{cfg: cfg, store: deps.Store, work: deps.Work, keys: deps.Keys, notices: deps.Notices, mailer: deps.Mailer, hasher: deps.Hasher,
		renderer: deps.Renderer, account: deps.Account, log: deps.Logger, now: deps.Now}
	var err error
	if w.renderer == nil {
		if w.renderer, err = mail.NewRenderer(mail.English); err != nil {
			return nil, err
		}
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.now == nil {
		w.now = time.Now
	}
	return w, nil
}

// Handle processes a batch from the work queue and reports the messages to
// retry (SECURITY.md 15): only a chunk that could not be settled — a store
// or key service failure, or another worker still holding it — is
// retried. Users whose email failed three times are recorded as failed
// and their chunk completes; a chunk that keeps failing ends in the
// dead-letter queue, and redriving it later resumes where it stopped.
func (w *Worker) Handle(ctx context.Context, event events.SQSEvent) (events.SQSEventResponse, error) {
	return batch.Handle(ctx, event, batch.Options{Name: "bulk worker", Logger: w.log, Requeue: w.work}, w.handleMessage), nil
}

// handleMessage settles the chunk of one work message. A malformed message
// is dropped; a chunk another worker holds is put back to be seen just
// after that worker's lease ends (see retryWhenFree).
func (w *Worker) handleMessage(ctx context.Context, m events.SQSMessage) error {
	msg, err := decodeMessage(m.Body, KindChunk)
	if err != nil {
		return batch.Drop(err)
	}
	err = w.Process(ctx, msg)
	var busy *chunkBusyError
	switch {
	case errors.As(err, &busy):
		return batch.Later(w.retryWhenFree(busy.until), err)
	case err != nil:
		return fmt.Errorf("task %s chunk %d not settled: %w", msg.TaskID, msg.Chunk, err)
	}
	return nil
}

// errChunkBusy: another worker holds the chunk's lease; try later.
var errChunkBusy = errors.New("bulk: chunk held by another worker")

// chunkBusyError is errChunkBusy with the end of the holder's lease.
type chunkBusyError struct{ until time.Time }

func (e *chunkBusyError) Error() string {
	return errChunkBusy.Error() + " until " + e.until.UTC().Format(time.RFC3339)
}
func (e *chunkBusyError) Is(target error) bool { return target == errChunkBusy }

// retryWhenFree is how long a message for a held chunk waits on the work
// queue: until just after the lease that kept it off its chunk ends. It is
// put back rather than failed: a failed message would come back only after
// the queue's visibility timeout, or, retried sooner (the local runner),
// use up its receives and land in the dead-letter queue while a live worker
// still holds the chunk. When the message comes back the chunk is done
// (dropped), held under a renewed lease (put back again) or free (its
// holder died: this message resumes it, as would the Sweeper).
func (w *Worker) retryWhenFree(until time.Time) time.Duration {
	return until.Sub(w.now()) + time.Second
}

// loadFreeChunk loads the chunk msg names (what says which message, for
// the log). found is false, with no error, for a chunk or task that is
// gone: there is nothing to do. A chunk not done that a live worker holds
// is a chunkBusyError; what a done chunk means is the caller's to say.
func (w *Worker) loadFreeChunk(ctx context.Context, msg Message, what string) (work rekey.ChunkWork, found bool, err error) {
	work, err = w.store.LoadChunk(ctx, msg.TaskID, msg.Chunk, msg.InitiatorID, msg.UserIDs)
	if rekey.ErrorCode(err) == rekey.ECodeNotFound {
		w.log.WarnContext(ctx, "bulk: "+what+" of an unknown chunk or task; dropped", "task", msg.TaskID, "chunk", msg.Chunk)
		return work, false, nil
	}
	if err != nil {
		return work, false, fmt.Errorf("load chunk: %w", err)
	}
	if !work.Chunk.Done && work.Chunk.LeaseUntil.After(w.now()) {
		return work, true, &chunkBusyError{until: work.Chunk.LeaseUntil}
	}
	return work, true, nil
}

// Process works on the chunk msg names until it is complete, must wait, or
// runs out of time (then the rest goes back on the work queue). An error
// means "retry the message".
func (w *Worker) Process(ctx context.Context, msg Message) error {
	work, found, err := w.loadFreeChunk(ctx, msg, "chunk message")
	if !found || err != nil {
		return err
	}
	if work.Chunk.Done {
		// A repeat of the message of a completed chunk: if the task's
		// finish email was not queued yet (its queuing failed), try again.
		return w.tellFinished(ctx, work.Task, work.Initiator)
	}
	r := w.newRun(msg, work)
	defer r.stopRenewing()
	if r.chunk.Holder != "" {
		// The last holder's lease ran out: it died (or stalled) on this
		// chunk. A chunk that stops its worker every time is given up
		// rather than taken over forever (see deadletters.go).
		r.chunk.Retakes++
		if r.chunk.Retakes >= MaxChunkTries {
			return r.giveUp(ctx, retakenReason)
		}
	}
	r.judgeAll()
	err = r.saveRefusals(ctx)
	switch {
	case err != nil:
	case r.task.Task.Status == rekey.TaskCancelled || r.task.Task.Status == rekey.TaskFailed:
		err = r.stopCancelled(ctx)
	case r.task.Task.Delivery.Mode == rekey.DeliverEmailLink:
		if err = r.settleSSO(ctx); err == nil {
			err = r.emailLinks(ctx)
		}
	case r.task.Task.Delivery.Mode == rekey.DeliverDefaultPassword, r.task.Task.Delivery.Mode == rekey.DeliverGeneratedPasswords:
		if err = r.settleSSO(ctx); err == nil {
			err = r.setPasswords(ctx)
		}
	default:
		r.finishPending(rekey.OutcomeFailed, "the task has an unknown delivery")
		err = r.complete(ctx)
	}
	if errors.Is(err, errTaskEnded) {
		w.log.InfoContext(ctx, "bulk: the task was cancelled while its chunk was worked on", "task", msg.TaskID, "chunk", msg.Chunk)
		err = r.stopCancelled(ctx)
	}
	if errors.Is(err, errChunkTaken) {
		w.log.InfoContext(ctx, "bulk: another worker settled the chunk", "task", msg.TaskID, "chunk", msg.Chunk)
		return nil
	}
	if err == nil && r.chunk.Done {
		err = w.tellIfFinished(ctx, r, work.Task)
	}
	return err
}

// newRun starts a pass over the chunk of work, as msg names it.
func (w *Worker) newRun(msg Message, work rekey.ChunkWork) *chunkRun {
	r := &chunkRun{w: w, msg: msg, task: work.Task, secrets: work.Secrets, initiator: work.Initiator, users: work.Users,
		chunk: work.Chunk, counted: rekey.CountEntries(work.Chunk.Entries), loadedCounts: rekey.CountEntries(work.Chunk.Entries), written: cloneEntries(work.Chunk.Entries), holder: rekey.NewID()}
	if r.users == nil {
		r.users = map[string]rekey.User{}
	}
	return r
}

// auditEntry is the entry in u's activity for this task's reset of u
// (after is u once reset), on behalf of the task's creator.
func (r *chunkRun) auditEntry(u, after rekey.User, action string, at time.Time, detail string) *rekey.AuditEntry {
	return &rekey.AuditEntry{
		ID: rekey.NewID(), At: at, DistrictID: u.DistrictID,
		ActorID: r.initiator.ID, ActorName: r.initiator.FullName(), TargetID: u.ID,
		Action: action, Outcome: rekey.OutcomeSuccess,
		Before: u.AuditView(), After: after.AuditView(),
		Detail:    fmt.Sprintf("bulk reset task %s: %s", r.task.Task.ID, detail),
		RequestID: r.task.RequestID,
	}
}

// errChunkTaken: the chunk changed under this worker (a duplicate message
// got there first); this worker stops and leaves it to the other.
var errChunkTaken = errors.New("bulk: chunk taken by another worker")

// chunkRun is one worker's pass over one chunk.
type chunkRun struct {
	w         *Worker
	msg       Message
	task      rekey.TaskRecord
	secrets   rekey.TaskSecrets
	initiator rekey.User
	users     map[string]rekey.User
	// chunk is the chunk as last written (or read): writes are
	// conditioned on its Version.
	chunk rekey.Chunk
	// counted is what the chunk as last written (or read) has added to
	// the task's counters.
	counted rekey.TaskCounts
	// loadedCounts is what the chunk had added when it was loaded with
	// its task: counted less it is what this run added since.
	loadedCounts rekey.TaskCounts
	// written are the entries as last written (or read).
	written []rekey.ChunkEntry
	// hold makes writes that do not complete the chunk hold the counts of
	// the users they settle (rekey.ChunkEntry.Held).
	hold bool
	// leased is set while this run holds the chunk's lease.
	leased bool
	// holder identifies this run as the lease's holder.
	holder string
	// heldUntil is the end of the lease as last written (Unix nanoseconds
	// of the worker's clock); lost is set when a renewal found the lease
	// gone. Both are read by the sender while renewals write them: a run that cannot
	// show it holds the chunk stops sending, so that it never sends
	// alongside a worker that took the chunk over.
	heldUntil atomic.Int64
	lost      atomic.Bool
	// leaseWrittenAt (Unix nanoseconds, real clock) is when the last write
	// or renewal that moved the lease on started: renewLease renews only a
	// lease that no write moved on for a renewal's interval.
	leaseWrittenAt atomic.Int64
	// liveUntil (Unix nanoseconds, real clock) is until when this run may
	// hand emails to SES: CancelWait after the start of the last write or
	// renewal that found the task running; ended is set once one found it
	// cancelled or failed (see worker_cancel.go).
	liveUntil atomic.Int64
	ended     atomic.Bool
	// stopRenewal ends the renewing goroutine, when one runs.
	stopRenewal func()
	// refusals are the audit entries of users this run refused and the
	// chunk does not yet record; the next chunk write carries them.
	refusals []rekey.AuditEntry
	// unrecorded are sent emails whose lookups a full write had no room
	// for: the next write carries them.
	unrecorded []rekey.SentMessage
	// stopping is set while a cancelled task's chunk is being ended.
	stopping bool
	// goesOn is set when the chunk's completing write showed, by its
	// finish probe, that the task was not finished by it: nothing tells
	// its creator of its end (see tellIfFinished).
	goesOn bool
}

// judgeAll starts the chunk's entries and settles every user who is not
// to be reset: the task was cancelled, or the creator — as they are now —
// may not reset them, or they no longer match the selection.
func (r *chunkRun) judgeAll() {
	if r.chunk.Entries == nil {
		r.chunk.Entries = make([]rekey.ChunkEntry, len(r.chunk.UserIDs))
		for i, id := range r.chunk.UserIDs {
			r.chunk.Entries[i].Result.UserID = id
		}
	}
	cancelled := r.task.Task.Status == rekey.TaskCancelled || r.task.Task.Status == rekey.TaskFailed
	for i := range r.chunk.Entries {
		e := &r.chunk.Entries[i]
		if e.Final() {
			continue
		}
		if cancelled {
			// Prepared users are settled by stopCancelled, which gives
			// them their password back.
			if !e.Prepared {
				e.Finish(rekey.OutcomeSkipped, cancelledReason)
			}
			continue
		}
		r.judge(e)
	}
}

// judge settles entry e when its user must not be reset, and refreshes its
// copy of the user's details otherwise.
func (r *chunkRun) judge(e *rekey.ChunkEntry) {
	u, ok := r.users[e.Result.UserID]
	if ok && authz.Allowed(r.initiator, u, authz.ActionView) {
		e.Snapshot(u)
	}
	switch {
	case !ok:
		e.Finish(rekey.OutcomeFailed, "no such user in the task creator's scope")
	case !authz.Allowed(r.initiator, u, authz.ActionView):
		e.Finish(rekey.OutcomeFailed, "no such user in the task creator's scope")
		r.refuse(u, "the user is outside the task creator's scope")
	case u.ID == r.initiator.ID:
		e.Finish(rekey.OutcomeSkipped, "the task creator's own account is never reset by a bulk task")
	case u.Status == rekey.StatusDisabled:
		e.Finish(rekey.OutcomeSkipped, "the account is disabled")
	case !authz.Allowed(r.initiator, u, authz.ActionReset):
		e.Finish(rekey.OutcomeFailed, "the task creator may not reset this user")
		r.refuse(u, "the task creator may not reset this user")
	case !matchesSelection(r.task.Task.Selection, u):
		e.Finish(rekey.OutcomeSkipped, "the user no longer matches the selection")
	}
}

// refuse keeps, for the next chunk write, the entry in u's activity saying
// that the task's creator, as they are now, was refused u (SECURITY.md 21,
// 25): the task's results are not the only trace of it.
func (r *chunkRun) refuse(u rekey.User, why string) {
	action := rekey.ActionResetTemporary
	if r.task.Task.Delivery.Mode == rekey.DeliverEmailLink {
		action = rekey.ActionResetLink
	}
	r.refusals = append(r.refusals, rekey.AuditEntry{
		ID: rekey.NewID(), At: r.w.now(), DistrictID: u.DistrictID,
		ActorID: r.initiator.ID, ActorName: r.initiator.FullName(), TargetID: u.ID,
		Action: action, Outcome: rekey.OutcomeDenied,
		Detail:    fmt.Sprintf("bulk reset task %s: refused: %s", r.task.Task.ID, why),
		RequestID: r.task.RequestID,
	})
}

// saveRefusals records the users judgeAll refused, with their audit
// entries, before any user is changed: a later write has room for the
// entries of users refused on the way (who leave it a user write each),
// not for a whole chunk of refusals beside MaxUsersPerWrite resets.
func (r *chunkRun) saveRefusals(ctx context.Context) error {
	for len(r.refusals) > 0 {
		if err := r.save(ctx, nil, false); err != nil {
			return fmt.Errorf("record refused users: %w", err)
		}
	}
	return nil
}

// matchesSelection applies the selection's narrowing to u.
func matchesSelection(sel rekey.Selection, u rekey.User) bool {
	switch {
	case sel.SchoolID != "" && u.SchoolID != sel.SchoolID:
		return false
	case sel.Role != "" && u.Role != sel.Role:
		return false
	case sel.Mode == rekey.SelectWithoutRole && u.Role != rekey.RoleStudent:
		return false
	case sel.Grade != "" && u.Grade != sel.Grade:
		return false
	}
	return true
}

// finishPending settles every entry still pending.
func (r *chunkRun) finishPending(outcome rekey.Outcome, why string) {
	for i := range r.chunk.Entries {
		if !r.chunk.Entries[i].Final() {
			r.chunk.Entries[i].Finish(outcome, why)
		}
	}
}

// pending returns the indexes of the entries not yet settled.
func (r *chunkRun) pending() []int {
	var out []int
	for i, e := range r.chunk.Entries {
		if !e.Final() {
			out = append(out, i)
		}
	}
	return out
}

// save writes the chunk's state (with user writes and, when complete is
// set, the chunk's completion) conditioned on the version this run last
// saw; afterwards the run holds the new version.
func (r *chunkRun) save(ctx context.Context, users []rekey.UserWrite, complete bool) error {
	next := r.chunk
	next.Version = r.chunk.Version + 1
	next.Entries = cloneEntries(r.chunk.Entries)
	if !next.LeaseUntil.IsZero() {
		// Every write while the lease is held renews it.
		next.LeaseUntil, next.Holder = r.leaseEnd(), r.holder
	}
	for i := range next.Entries {
		e := &next.Entries[i]
		switch {
		case complete:
			e.Held = false
		case r.hold && e.Final() && (i >= len(r.written) || !r.written[i].Final()):
			e.Held = true
		}
	}
	if complete {
		next.Done, next.LeaseUntil, next.Holder = true, time.Time{}, ""
	}
	// A write that voids or sets passwords requires the task to run; a
	// cancelled run's restores (stopping) and records of what happened do
	// not.
	write := rekey.ChunkWrite{Chunk: next, ExpectVersion: r.chunk.Version, Users: users, At: r.w.now(),
		RequireLive: len(users) > 0 && !r.stopping}
	started := time.Now()
	counted := rekey.CountEntries(next.Entries)
	if delta := counted.Minus(r.counted); complete || delta != (rekey.TaskCounts{}) {
		write.Add = &delta
	}
	room := rekey.MaxWriteItems - 2 // the chunk and the task
	for _, u := range users {
		room--
		if u.Audit != nil {
			room--
		}
	}
	sent := append(slices.Clone(r.unrecorded), r.newlySent(next.Entries)...)
	write.Sent = sent[:min(len(sent), max(room, 0))]
	room -= len(write.Sent)
	write.Refusals = r.refusals[:min(len(r.refusals), max(room, 0))]
	if complete && !write.RequireLive && !r.finishes(counted) {
		total := r.task.Task.Total
		write.FinishProbe = &total
	}
	err := r.w.store.SaveChunk(ctx, write)
	var conflict *rekey.ChunkConflictError
	if errors.As(err, &conflict) && conflict.MayFinish && !conflict.ChunkChanged && len(conflict.Users) == 0 {
		// This write may be the one that finishes the task: it is made
		// without the probe, and the task is read afterwards.
		write.FinishProbe = nil
		err = r.w.store.SaveChunk(ctx, write)
	}
	if errors.As(err, &conflict) && conflict.TaskEnded {
		r.ended.Store(true)
		return errTaskEnded
	}
	if errors.As(err, &conflict) && conflict.ChunkChanged {
		return errChunkTaken
	}
	if err != nil {
		return err
	}
	if write.RequireLive {
		r.confirmLive(started)
	}
	r.chunk, r.counted, r.written = next, counted, cloneEntries(next.Entries)
	r.goesOn = write.FinishProbe != nil
	if !next.LeaseUntil.IsZero() {
		r.heldUntil.Store(next.LeaseUntil.UnixNano())
		r.leaseWrittenAt.Store(started.UnixNano())
	}
	r.refusals = r.refusals[len(write.Refusals):]
	r.unrecorded = sent[len(write.Sent):]
	return nil
}

// finishes reports whether the task, as the chunk's load read it, is
// finished once the chunk's counts are counted: no other chunk can have
// written since (counters never pass the total), and tellIfFinished needs
// no read.
func (r *chunkRun) finishes(counted rekey.TaskCounts) bool {
	t := r.task.Task
	t.Add(counted.Minus(r.loadedCounts))
	return r.task.Plan.Done && t.Processed >= t.Total
}

// newlySent lists the emails of entries sent since the chunk was last
// written: the store keeps a lookup of each, through which SES's events
// reach the result (ChunkWrite.Sent).
func (r *chunkRun) newlySent(entries []rekey.ChunkEntry) []rekey.SentMessage {
	var out []rekey.SentMessage
	for i, e := range entries {
		if e.MessageID == "" || i < len(r.written) && r.written[i].MessageID == e.MessageID {
			continue
		}
		out = append(out, rekey.SentMessage{MessageID: e.MessageID, TaskID: r.chunk.TaskID, Index: r.chunk.Index, UserID: e.Result.UserID})
	}
	return out
}

// complete marks the chunk done and adds its counts to the task, once.
func (r *chunkRun) complete(ctx context.Context) error {
	r.chunk.LeaseUntil, r.chunk.Holder = time.Time{}, ""
	if err := r.save(ctx, nil, true); err != nil {
		return fmt.Errorf("complete chunk: %w", err)
	}
	r.leased = false
	return nil
}

// pause records the chunk's progress (giving its lease back) and puts the
// message back on the work queue, to be seen again after delay; when why
// is set, the task says it is waiting and when it should now finish.
func (r *chunkRun) pause(ctx context.Context, delay time.Duration, why string, resumeAt time.Time) error {
	if r.leased {
		r.chunk.LeaseUntil, r.chunk.Holder = time.Time{}, ""
		if err := r.save(ctx, nil, false); err != nil {
			return fmt.Errorf("record progress: %w", err)
		}
		r.leased = false
	}
	if why != "" {
		rate := r.w.limits.rate
		if rate <= 0 {
			rate = r.w.cfg.SendRate
		}
		left := max(r.task.Task.Total-r.task.Task.Processed, 0)
		eta := resumeAt.Add(time.Duration(float64(left) / rate * float64(time.Second))).Truncate(time.Second)
		waiting := fmt.Sprintf("Waiting: %s; sending resumes at about %s.", why, resumeAt.UTC().Format("2006-01-02 15:04 UTC"))
		if err := r.w.store.SetWaiting(ctx, r.task.Task.ID, waiting, eta); err != nil {
			r.w.log.ErrorContext(ctx, "bulk: record that the task waits", "task", r.task.Task.ID, "error", err)
		}
	}
	if err := r.w.work.SendDelayed(ctx, r.msg, min(max(delay, 0), maxQueueDelay)); err != nil {
		return fmt.Errorf("queue the rest of the chunk: %w", err)
	}
	return nil
}

// maxQueueDelay is the longest SQS holds a message back.
const maxQueueDelay = 15 * time.Minute

// cloneEntries copies entries, so that a failed write leaves the run's
// state as it was.
func cloneEntries(entries []rekey.ChunkEntry) []rekey.ChunkEntry {
	out := make([]rekey.ChunkEntry, len(entries))
	copy(out, entries)
	return out
}

// deadline is when this run must stop starting work.
func (r *chunkRun) stopAt(ctx context.Context) (time.Time, bool) {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Time{}, false
	}
	return d.Add(-r.w.cfg.StopMargin), true
}

// leaseEnd is when a lease taken or renewed now ends. It is short
// (Config.Lease): the run renews it while it works (renewLease), so it
// runs out only when the worker died, and the Sweeper then puts the chunk
// back on the work queue within about a minute instead of leaving its
// prepared users without a password or a link until the message's
// visibility timeout (30 minutes) brings it back.
func (r *chunkRun) leaseEnd() time.Time { return r.w.now().Add(r.w.cfg.Lease) }

// renewLease starts renewing the chunk's lease until stopRenewing, only
// when it is due: when no chunk write or renewal has moved the lease on for
// a third of Config.Lease, or when the window in which the run may hand
// emails to SES (CancelWait after the last call that found the task
// running) is about to close (renewMargin before). So a run whose writes
// (a round's preparation, a checkpoint) keep both fresh renews less, with
// the same bounds on the lease's and the task check's age. A renewal that
// finds the lease gone (given back, or taken by another worker after this
// one stalled) marks it lost, and the run stops sending; one that fails
// otherwise is tried again a retry interval later, and the run stops
// sending if the lease runs out meanwhile.
func (r *chunkRun) renewLease(ctx context.Context) {
	if r.stopRenewal != nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	r.stopRenewal = func() { cancel(); <-done }
	go func() {
		defer close(done)
		retry := max(min(r.w.cfg.Lease/3, r.w.cfg.CancelWait/2), time.Millisecond)
		timer := time.NewTimer(time.Until(r.renewalDue()))
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
			if wait := time.Until(r.renewalDue()); wait > 0 {
				timer.Reset(wait) // a write renewed meanwhile
				continue
			}
			until, started := r.leaseEnd(), time.Now()
			err := r.w.store.RenewChunkLease(ctx, r.msg.TaskID, r.msg.Chunk, r.holder, until)
			switch {
			case err == nil:
				r.heldUntil.Store(until.UnixNano())
				r.leaseWrittenAt.Store(started.UnixNano())
				r.confirmLive(started)
			case errors.Is(err, rekey.ErrTaskEnded):
				r.ended.Store(true)
				return
			case rekey.ErrorCode(err) == rekey.ECodeConflict:
				r.lost.Store(true)
				return
			case ctx.Err() == nil:
				r.w.log.WarnContext(ctx, "bulk: renew chunk lease", "task", r.msg.TaskID, "chunk", r.msg.Chunk, "error", err)
			}
			timer.Reset(max(time.Until(r.renewalDue()), retry))
		}
	}()
}

// renewMargin is how long before the run's window of sends closes it
// renews: time for the renewal (a DynamoDB call of tens of milliseconds)
// to come back before the sender would have to wait for it.
func (c Config) renewMargin() time.Duration { return min(c.CancelWait/2, 2*time.Second) }

// renewalDue is when the run's next renewal is due (see renewLease): a
// third of the lease after the last call that moved it on, or renewMargin
// before the window of sends that the last call finding the task running
// opened closes, whichever comes first.
func (r *chunkRun) renewalDue() time.Time {
	lease := time.Unix(0, r.leaseWrittenAt.Load()).Add(r.w.cfg.Lease / 3)
	live := time.Unix(0, r.liveUntil.Load()).Add(-r.w.cfg.renewMargin())
	if live.Before(lease) {
		return live
	}
	return lease
}

// stopRenewing ends the lease renewals, if any; the lease stays as last
// written (given back by complete or pause, or left to run out).
func (r *chunkRun) stopRenewing() {
	if r.stopRenewal != nil {
		r.stopRenewal()
	}
}

// leaseLost reports whether this run may no longer act as the chunk's
// holder: its lease was taken over or has run out unrenewed.
func (r *chunkRun) leaseLost() bool {
	if r.lost.Load() {
		return true
	}
	held := r.heldUntil.Load()
	return held != 0 && !r.w.now().Before(time.Unix(0, held))
}

// reread reads users again after they changed under a write, and judges
// their entries anew.
func (r *chunkRun) reread(ctx context.Context, ids []string) error {
	fresh, err := r.w.store.GetUsers(ctx, ids)
	if err != nil {
		return fmt.Errorf("read changed users: %w", err)
	}
	for _, id := range ids {
		if u, ok := fresh[id]; ok {
			r.users[id] = u
		} else {
			delete(r.users, id)
		}
	}
	for i := range r.chunk.Entries {
		e := &r.chunk.Entries[i]
		if slices.Contains(ids, e.Result.UserID) && !e.Final() {
			r.judge(e)
		}
	}
	return nil
}
