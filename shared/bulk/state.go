package bulk

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rekey/rekey/shared/rekey"
	"golang.org/x/sync/errgroup"
)

// How a result's state is worked out. What the task did is in its chunk
// entry (outcome, when it reached the user, SES's last report); whether
// the user then acted is read from the user's record when the result is
// read — the record already holds PasswordChangedAt, set by every
// password change and link redemption — so the sign-in path writes
// nothing for the task centre (zero extra calls; the results reader
// already reads each row's user to judge its scope):
//
//   - completed: the user set a password after the task reached them and
//     is not made to change it (a link redeemed, or the forced change
//     after a default or generated password done). If a later task reached
//     the same user, both show completed.
//   - expired: the task's link is still the user's pending reset and its
//     expiry has passed (derived, nothing to write when it lapses).
//   - otherwise SES's last report (delivered, bounced, complained) or sent.

// ResultState is where e's user stands now: u is their current record
// (known false when they are gone), resetID the task's reset id.
func ResultState(e rekey.ChunkEntry, u rekey.User, known bool, resetID string, now time.Time) string {
	r := e.Result
	switch r.Outcome {
	case "":
		return rekey.StatePending
	case rekey.OutcomeEmailed:
		if known && completedAfter(u, r.ReachedAt) {
			return rekey.StateCompleted
		}
		state := e.MailState
		if state == "" {
			state = rekey.StateSent
		}
		if known && u.ResetID == resetID && !u.ResetExpiresAt.IsZero() && now.After(u.ResetExpiresAt) &&
			(state == rekey.StateSent || state == rekey.StateDelivered) {
			return rekey.StateExpired
		}
		return state
	case rekey.OutcomePasswordSet:
		if known && completedAfter(u, r.ReachedAt) {
			return rekey.StateCompleted
		}
		return rekey.StatePasswordSet
	case rekey.OutcomeNoEmail:
		return rekey.StateNoEmail
	case rekey.OutcomeFailed:
		return rekey.StateFailed
	default:
		return rekey.StateSkipped
	}
}

// completedAfter reports whether u set a password of their own after at.
func completedAfter(u rekey.User, at time.Time) bool {
	return !at.IsZero() && u.PasswordChangedAt.After(at) && !u.MustChangePassword && u.PasswordHash != ""
}

// matchesState reports whether a result in state passes filter ("" lets
// every result pass).
func matchesState(filter, state string) bool {
	switch filter {
	case "":
		return true
	case rekey.StateUnfinished:
		return state != rekey.StateCompleted
	}
	return state == filter
}

// checkStateFilter validates a results filter.
func checkStateFilter(filter string) error {
	if filter == "" || filter == rekey.StateUnfinished || slices.Contains(rekey.ResultStates, filter) {
		return nil
	}
	return rekey.FieldError(rekey.ECodeInvalidInput, "state", "Unknown state; use one of the result states or unfinished.")
}

// How long a remembered funnel is shown before a read works it out again.
// Working it out reads every chunk of the task and every user it reached
// (for 100,000 users some 2,200 DynamoDB calls and 100,000 user items),
// while the console polls a running task every two seconds: a poll that
// recomputed each time would cost more than the task itself.
//
//   - While the task runs, 30 s: its counters (processed, emailed…) are
//     read live from the task item on every poll, so only the funnel's
//     split into delivered, bounced… lags, by at most half a minute.
//   - Once it has finished, a minute: SES reports and completions (users
//     setting their password) go on arriving for days, so the funnel must
//     still move, but a minute is as fresh as anyone reading it needs.
//     A funnel worked out before the task's last chunk was done (or before
//     it was cancelled) is never shown as a finished task's: the first
//     read after the end counts the end.
const (
	funnelFreshWhileRunning = 30 * time.Second
	funnelFreshOnceFinished = time.Minute
)

// funnelPagesInFlight bounds how many pages of chunks (chunksPerRead each,
// with their mail states and users) one funnel reads at once: enough to
// cut a large task's refresh to a quarter of the sequential time, few
// enough not to drain the table's read capacity for one page view.
const funnelPagesInFlight = 4

// funnelFresh reports whether the funnel remembered on rec may be shown
// at now for view (rec as the task centre shows it); see the windows
// above. A funnel from the future (clocks of two machines) is fresh only
// within the same window.
func funnelFresh(rec rekey.TaskRecord, view rekey.Task, now time.Time) bool {
	if rec.Funnel == nil || rec.FunnelAt.IsZero() {
		return false
	}
	window := funnelFreshWhileRunning
	if view.Status.Finished() {
		window = funnelFreshOnceFinished
		if rec.FunnelAt.Before(view.FinishedAt) || rec.FunnelAt.Before(rec.LastProcessedAt) {
			return false
		}
	}
	age := now.Sub(rec.FunnelAt)
	return age < window && age > -window
}

// currentFunnel is the funnel of rec to show at now: the remembered one
// while fresh, else worked out again and remembered. Remembering is best
// effort: a failed save is logged, and the reader still gets the counts.
func (s *Service) currentFunnel(ctx context.Context, rec rekey.TaskRecord, view rekey.Task, now time.Time) (*rekey.Funnel, error) {
	if funnelFresh(rec, view, now) {
		f := *rec.Funnel
		return &f, nil
	}
	if rec.Plan.Chunks == 0 {
		return &rekey.Funnel{}, nil // nothing planned: nothing to read or remember
	}
	f, err := s.funnel(ctx, rec, now, funnelPagesInFlight)
	if err != nil {
		return nil, err
	}
	if err := s.store.SaveFunnel(ctx, rec.Task.ID, *f, now); errors.Is(err, rekey.ErrConflict) {
		s.log.DebugContext(ctx, "bulk: a newer funnel was remembered first", "task", rec.Task.ID)
	} else if err != nil {
		s.log.WarnContext(ctx, "bulk: remember the task's funnel", "task", rec.Task.ID, "err", err)
	}
	return f, nil
}

// funnel counts the results of rec by state at now: one pass over its
// chunks and their users, page by page (a Query per chunksPerRead chunks,
// their mail states, and a BatchGetItem per chunk), with up to inFlight
// pages read at once. Pages are disjoint and their counts add up, so the
// result does not depend on inFlight.
func (s *Service) funnel(ctx context.Context, rec rekey.TaskRecord, now time.Time, inFlight int) (*rekey.Funnel, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(inFlight, 1))
	var (
		mu    sync.Mutex
		total rekey.Funnel
	)
	for from := 0; from < rec.Plan.Chunks && gctx.Err() == nil; from += chunksPerRead {
		g.Go(func() error {
			f, err := s.funnelPage(gctx, rec, from, now)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			total.Add(f)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bulk: read results: %w", err)
	}
	return &total, nil
}

// funnelPage counts the results of rec's chunks from index from on (one
// page of chunksPerRead) by state at now.
func (s *Service) funnelPage(ctx context.Context, rec rekey.TaskRecord, from int, now time.Time) (rekey.Funnel, error) {
	var f rekey.Funnel
	resetID := taskResetID(rec.Task.ID)
	chunks, err := s.store.ListChunks(ctx, rec.Task.ID, from, chunksPerRead)
	if err != nil {
		return f, fmt.Errorf("bulk: read results: %w", err)
	}
	if err := s.mergeMailStates(ctx, chunks); err != nil {
		return f, err
	}
	for _, c := range chunks {
		var ids []string
		for _, e := range c.Entries {
			if e.Result.Outcome == rekey.OutcomeEmailed || e.Result.Outcome == rekey.OutcomePasswordSet {
				ids = append(ids, e.Result.UserID)
			}
		}
		if len(ids) == 0 {
			continue
		}
		users, err := s.store.GetUsers(ctx, ids)
		if err != nil {
			return f, fmt.Errorf("bulk: read the users of the results: %w", err)
		}
		for _, e := range c.Entries {
			if e.Result.Outcome != rekey.OutcomeEmailed && e.Result.Outcome != rekey.OutcomePasswordSet {
				continue
			}
			u, known := users[e.Result.UserID]
			if e.Result.Outcome == rekey.OutcomeEmailed {
				f.Sent++
			}
			switch ResultState(e, u, known, resetID, now) {
			case rekey.StateDelivered:
				f.Delivered++
			case rekey.StateBounced:
				f.Bounced++
			case rekey.StateComplained:
				f.Complained++
			case rekey.StateCompleted:
				f.Completed++
				if e.MailState == "" || e.MailState == rekey.StateDelivered {
					f.Delivered += boolInt(e.Result.Outcome == rekey.OutcomeEmailed)
				}
			case rekey.StateExpired:
				f.Expired++
			}
		}
	}
	return f, nil
}

// mergeMailStates sets the MailState of the emailed entries of chunks to
// what SES last reported about their emails (one read per 100 emails).
func (s *Service) mergeMailStates(ctx context.Context, chunks []rekey.Chunk) error {
	return mergeMailStates(ctx, s.store, chunks)
}

// mergeMailStates is Service.mergeMailStates on store (the planner reads
// a follow-up's parent results with it too).
func mergeMailStates(ctx context.Context, store mailStateReader, chunks []rekey.Chunk) error {
	var ids []string
	for _, c := range chunks {
		for _, e := range c.Entries {
			if e.Result.Outcome == rekey.OutcomeEmailed && e.MessageID != "" {
				ids = append(ids, e.MessageID)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	states, err := store.MailStates(ctx, ids)
	if err != nil {
		return fmt.Errorf("bulk: read what mail reported: %w", err)
	}
	for _, c := range chunks {
		for i := range c.Entries {
			e := &c.Entries[i]
			if st, ok := states[e.MessageID]; ok && e.MessageID != "" {
				e.MailState = st
			}
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
