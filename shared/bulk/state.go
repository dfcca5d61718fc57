package bulk

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/rekey/rekey/shared/rekey"
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

// funnel counts the results of rec by state: one pass over its chunks and
// their users (a Query per 10 chunks and a BatchGetItem per chunk), made
// when one task is read.
func (s *Service) funnel(ctx context.Context, rec rekey.TaskRecord) (*rekey.Funnel, error) {
	f := &rekey.Funnel{}
	resetID, now := taskResetID(rec.Task.ID), s.now()
	for from := 0; from < rec.Plan.Chunks; from += chunksPerRead {
		chunks, err := s.store.ListChunks(ctx, rec.Task.ID, from, chunksPerRead)
		if err != nil {
			return nil, fmt.Errorf("bulk: read results: %w", err)
		}
		if len(chunks) == 0 {
			break
		}
		if err := s.mergeMailStates(ctx, chunks); err != nil {
			return nil, err
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
				return nil, fmt.Errorf("bulk: read the users of the results: %w", err)
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
