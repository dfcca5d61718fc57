package bulk

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/rekey/rekey/shared/mail"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/resets"
)

// noEmailReason is the result of a user who cannot get a link. Their
// password is left as it is: voiding it would lock them out with no way
// back in until someone tells them, so they are listed as needing manual
// notification instead.
const noEmailReason = "no email address: tell this user another way; their password was not changed"

// emailLinks runs the email_link delivery. In rounds: take as many pending
// users as the daily quota grants and the time left allows; in one
// transaction void their passwords, end their sessions and give each a new
// reset token (only its hash is stored), marking them prepared in the
// chunk and taking its lease; then send their emails at this worker's
// share of the SES rate, recording progress every CheckpointEvery sends.
// A failed send is tried again in a later round with a new token, up to
// MaxSendAttempts; throttling only slows the worker down.
func (r *chunkRun) emailLinks(ctx context.Context) error {
	for _, i := range r.pending() {
		if u := r.users[r.chunk.Entries[i].Result.UserID]; u.Email == "" {
			r.chunk.Entries[i].Finish(rekey.OutcomeNoEmail, noEmailReason)
		}
	}
	limits := r.w.sendingLimits(ctx)
	perWorker := limits.rate / float64(r.w.cfg.WorkerConcurrency)
	stopAt, hasStop := r.stopAt(ctx)
	for round := 0; ; round++ {
		if r.ended.Load() {
			return errTaskEnded
		}
		pending := r.pending()
		if len(pending) == 0 {
			return r.complete(ctx)
		}
		if delay := r.retryDelay(pending); delay > 0 {
			if hasStop && time.Now().Add(delay).After(stopAt) {
				return r.pause(ctx, delay, "", time.Time{})
			}
			if err := sleep(ctx, delay); err != nil {
				return err
			}
		}
		want := min(len(pending), rekey.MaxUsersPerWrite)
		if hasStop {
			left := time.Until(stopAt)
			if left <= 0 {
				return r.pause(ctx, 0, "", time.Time{})
			}
			want = min(want, max(1, int(left.Seconds()*perWorker)))
		}
		granted, retryAt, why, err := limits.quota.acquire(ctx, want)
		if err != nil {
			return err
		}
		if granted <= 0 {
			return r.pause(ctx, retryAt.Sub(r.w.now()), why, retryAt)
		}
		batch, err := r.prepare(ctx, pending[:granted], perWorker)
		if err != nil {
			return err
		}
		if err := r.send(ctx, batch, stopAt, hasStop); err != nil {
			return err
		}
	}
}

// retryDelay is the pause before a round that retries failed sends.
func (r *chunkRun) retryDelay(pending []int) time.Duration {
	attempts := 0
	for _, i := range pending {
		attempts = max(attempts, r.chunk.Entries[i].Result.Attempts)
	}
	if attempts == 0 || len(r.w.cfg.RetryDelays) == 0 {
		return 0
	}
	return r.w.cfg.RetryDelays[min(attempts, len(r.w.cfg.RetryDelays))-1]
}

// outgoing is one email about to be sent.
type outgoing struct {
	i         int
	user      rekey.User
	token     string
	expiresAt time.Time
}

// prepare writes the reset of each user of batch: for a user not yet
// prepared, the admin link reset of this task (password voided, sessions
// ended, reset_required); for one prepared before (their email may or may
// not have gone out), only a new token, which voids the one sent before. A
// link expires LinkExpiry after its email's planned sending time. Users who
// changed since they were read are read again and retried.
func (r *chunkRun) prepare(ctx context.Context, batch []int, rate float64) ([]outgoing, error) {
	interval := time.Duration(float64(time.Second) / rate)
	resetID := taskResetID(r.task.Task.ID)
	for round := 1; ; round++ {
		saved := cloneEntries(r.chunk.Entries)
		now := r.w.now()
		var (
			writes []rekey.UserWrite
			out    []outgoing
		)
		for _, i := range batch {
			e := &r.chunk.Entries[i]
			if e.Final() {
				continue
			}
			u := r.users[e.Result.UserID]
			raw, hash := resets.NewToken(u.ID)
			expiresAt := now.Add(time.Duration(len(out))*interval + r.w.cfg.LinkExpiry)
			var (
				after rekey.User
				audit *rekey.AuditEntry
			)
			if e.Prepared {
				if pending, ok := resets.PendingReset(u); !ok || pending.ID != resetID {
					e.Finish(rekey.OutcomeSkipped, "a newer reset or a password change replaced this task's link")
					continue
				}
				after = u
				after.ResetTokenHash, after.ResetExpiresAt, after.Version = hash, expiresAt, u.Version+1
			} else {
				e.Prior = &rekey.PriorAccess{Status: u.Status, MustChangePassword: u.MustChangePassword, HadPassword: u.PasswordHash != ""}
				after = resets.ApplyLinkReset(u, resets.Reset{
					ID: resetID, UserID: u.ID, Purpose: resets.PurposeAdmin, Email: u.Email, CreatedBy: r.initiator.ID,
					CreatedAt: now, ExpiresAt: expiresAt, TokenHash: hash,
				}, now)
				audit = r.auditEntry(u, after, rekey.ActionResetLink, now,
					"password voided, all sessions ended; a reset link is emailed")
			}
			e.Prepared = true
			writes = append(writes, rekey.UserWrite{Before: u, After: after, Audit: audit})
			out = append(out, outgoing{i: i, user: after, token: raw, expiresAt: expiresAt})
		}
		r.chunk.LeaseUntil, r.chunk.Holder = r.leaseEnd(), r.holder
		err := r.save(ctx, writes, false)
		var conflict *rekey.ChunkConflictError
		if errors.As(err, &conflict) && !conflict.ChunkChanged {
			r.chunk.Entries = saved
			if err := r.reread(ctx, conflict.Users); err != nil {
				return nil, err
			}
			if round >= maxUserRounds {
				for _, i := range batch {
					e := &r.chunk.Entries[i]
					if !e.Final() && slices.Contains(conflict.Users, e.Result.UserID) {
						e.Finish(rekey.OutcomeFailed, "the user's record kept changing while being reset; reset them again")
					}
				}
			}
			continue
		}
		if err != nil {
			r.chunk.Entries = saved
			return nil, fmt.Errorf("prepare resets: %w", err)
		}
		r.leased = true
		r.renewLease(ctx)
		for _, o := range out {
			r.users[o.user.ID] = o.user
		}
		return out, nil
	}
}

// send emails the prepared users of batch at this worker's pace and
// records each outcome in the chunk; every CheckpointEvery emails the
// chunk is saved. It stops starting sends at stopAt; the users it did not
// reach stay prepared for the next round.
//
// A worker hands its emails to SES one at a time: the check that the task
// still runs (stopping) and the SendEmail call after it are never
// overlapped by another send of the worker, so once a cancel has answered
// at most one email per worker can still be leaving (API.md). Throughput
// comes from the workers instead: each sends at rate / WorkerConcurrency,
// which one sender reaches while SES answers in less than the interval
// between two sends (see TestEmailPathReachesSESRate in infra/bench).
func (r *chunkRun) send(ctx context.Context, batch []outgoing, stopAt time.Time, hasStop bool) error {
	stopping := func() bool {
		return ctx.Err() != nil || hasStop && time.Now().After(stopAt) || r.leaseLost() || !r.awaitLive(ctx)
	}
	sent := 0
	for _, o := range batch {
		if stopping() {
			break
		}
		msg, err := r.render(o)
		if err != nil {
			r.chunk.Entries[o.i].Finish(rekey.OutcomeFailed, "the email could not be made")
			continue
		}
		id, err := r.sendOne(ctx, msg, stopping)
		if errors.Is(err, errStopped) {
			break
		}
		if !r.record(o, id, err) {
			continue
		}
		if sent++; sent%r.w.cfg.CheckpointEvery == 0 {
			if err := r.save(ctx, nil, false); err != nil {
				return fmt.Errorf("record progress: %w", err)
			}
		}
	}
	return nil
}

// record writes the outcome of o's send into the chunk and reports
// whether the email went out.
func (r *chunkRun) record(o outgoing, messageID string, sendErr error) bool {
	e := &r.chunk.Entries[o.i]
	e.Result.Attempts++
	if sendErr == nil {
		e.MessageID, e.Result.ReachedAt = messageID, r.w.now()
		e.Finish(rekey.OutcomeEmailed, "")
		return true
	}
	reason := sendReason(sendErr)
	if e.Result.Attempts >= MaxSendAttempts {
		e.Finish(rekey.OutcomeFailed, fmt.Sprintf("email not sent after %d attempts: %s", e.Result.Attempts, reason))
		return false
	}
	e.Result.Error = "email not sent yet: " + reason
	return false
}

// errStopped: the worker stopped before the email went out.
var errStopped = errors.New("bulk: stopped before sending")

// sendOne sends msg when the pacer allows it, backing off and trying
// again, without limit, while SES throttles.
func (r *chunkRun) sendOne(ctx context.Context, msg mail.Message, stopping func() bool) (string, error) {
	backoff := 100 * time.Millisecond
	for {
		if err := sleep(ctx, r.w.pacer.Reserve()); err != nil {
			return "", errStopped
		}
		// Checked again after the pacer's wait, right before SES: a
		// cancel may have been written meanwhile.
		if stopping() {
			return "", errStopped
		}
		id, err := r.w.mailer.Send(ctx, msg)
		var sendErr *mail.SendError
		if err == nil || !errors.As(err, &sendErr) || sendErr.Reason != "throttled" {
			return id, err
		}
		r.w.pacer.BackOff(backoff)
		backoff = min(2*backoff, r.w.cfg.MaxBackoff)
		if stopping() {
			return "", errStopped
		}
	}
}

// sendReason is a short, address-free description of a failed send.
func sendReason(err error) string {
	var sendErr *mail.SendError
	if errors.As(err, &sendErr) {
		return sendErr.Reason
	}
	return "unavailable"
}

// render makes the link email of o.
func (r *chunkRun) render(o outgoing) (mail.Message, error) {
	link := r.w.cfg.PublicBaseURL + "/reset-password?token=" + url.QueryEscape(o.token)
	return r.w.renderer.Render(mail.KindResetLink, o.user.Email, mail.Data{
		Name: o.user.FirstName, Username: o.user.Username, Link: link, ExpiresIn: o.expiresAt.Sub(r.w.now()),
	})
}

// sendingLimits reads SES's limits once per worker and sets its pace.
func (w *Worker) sendingLimits(ctx context.Context) sendingLimits {
	w.limitsOnce.Do(func() {
		limits, err := readLimits(ctx, w.account, w.cfg, w.store, w.now)
		if err != nil {
			w.log.InfoContext(ctx, "bulk: SES sending limits unavailable; using the configured ones", "rate", w.cfg.SendRate, "dailyQuota", w.cfg.DailyQuota, "error", err)
		}
		w.limits = limits
		perWorker := limits.rate / float64(w.cfg.WorkerConcurrency)
		if perWorker > MaxWorkerRate {
			w.log.InfoContext(ctx, "bulk: the SES rate needs more email workers than the work queue's MaximumConcurrency: raise it and REKEY_BULK_WORKER_CONCURRENCY together",
				"rate", limits.rate, "workers", w.cfg.WorkerConcurrency, "perWorkerCeiling", MaxWorkerRate)
		}
		w.pacer = mail.NewPacer(perWorker, nil)
	})
	return w.limits
}
