package resets

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// ResetByLink is an admin's reset by emailed link (PRODUCT.md "Password
// resets" 1). In one transaction the user's password stops working (it is
// kept only as VoidedPasswordHash, so that sign-in with it can say
// password_reset_required), the status becomes reset_required, every
// session ends (SessionGen), a new pending Reset replaces any earlier one,
// and the audit entry is written. Then the email is queued; the mail worker
// makes the token. It returns when the link will expire.
//
// Errors: rekey.ErrNotFound (no such user, or outside actor's scope),
// rekey.ErrForbidden (visible but not resettable), ErrNoEmail.
func (s *Service) ResetByLink(ctx context.Context, actor rekey.User, targetID, requestID string) (time.Time, error) {
	for attempt := 1; ; attempt++ {
		expiresAt, err := s.resetByLink(ctx, actor, targetID, requestID)
		if errors.Is(err, rekey.ErrVersionConflict) && attempt < maxVersionRetries {
			continue
		}
		return expiresAt, err
	}
}

func (s *Service) resetByLink(ctx context.Context, actor rekey.User, targetID, requestID string) (time.Time, error) {
	target, err := s.target(ctx, actor, targetID, rekey.ActionResetLink, requestID)
	if err != nil {
		return time.Time{}, err
	}
	if target.Email == "" {
		s.audit(ctx, s.entry(actor, target, rekey.ActionResetLink, rekey.OutcomeFailure, "user has no email address", requestID))
		return time.Time{}, ErrNoEmail
	}

	now := s.now()
	r := s.newAdminReset(actor, target, now)
	after := ApplyLinkReset(target, r, now)
	entry := s.entry(actor, target, rekey.ActionResetLink, rekey.OutcomeSuccess,
		"password voided, all sessions ended; link expires at "+r.ExpiresAt.UTC().Format(time.RFC3339), requestID)
	entry.Before, entry.After = target.AuditView(), after.AuditView()
	if err := s.store.SaveReset(ctx, target, after, &entry); err != nil {
		return time.Time{}, fmt.Errorf("resets: start link reset: %w", err)
	}
	if err := s.enqueue(ctx, linkJob(r, requestID)); err != nil {
		// The reset stands (the password is voided); "Resend email" retries.
		return time.Time{}, err
	}
	return r.ExpiresAt, nil
}

// Resend issues a new link for the user's pending reset: a new reset id and
// a new expiry replace the old ones, so the links emailed before — the
// admin's and any self-service one — stop working at once (SECURITY.md 9),
// and a new email is queued. The new reset
// is the admin's, with the admin expiry, whoever started the pending one;
// the pending one may have expired (resending is how an admin recovers from
// that), up to KeepAfterExpiry. Errors: as ResetByLink, plus
// ErrNoPendingReset.
func (s *Service) Resend(ctx context.Context, actor rekey.User, targetID, requestID string) (time.Time, error) {
	for attempt := 1; ; attempt++ {
		expiresAt, err := s.resend(ctx, actor, targetID, requestID)
		if errors.Is(err, rekey.ErrVersionConflict) && attempt < maxVersionRetries {
			continue
		}
		return expiresAt, err
	}
}

func (s *Service) resend(ctx context.Context, actor rekey.User, targetID, requestID string) (time.Time, error) {
	target, err := s.target(ctx, actor, targetID, rekey.ActionResetResend, requestID)
	if err != nil {
		return time.Time{}, err
	}
	now := s.now()
	old, ok := newestReset(target)
	if !ok || now.After(old.ExpiresAt.Add(KeepAfterExpiry)) {
		return time.Time{}, ErrNoPendingReset
	}
	if target.Email == "" {
		s.audit(ctx, s.entry(actor, target, rekey.ActionResetResend, rekey.OutcomeFailure, "user has no email address", requestID))
		return time.Time{}, ErrNoEmail
	}

	r := s.newAdminReset(actor, target, now)
	after := WithReset(target, r)
	after.Version = target.Version + 1
	entry := s.entry(actor, target, rekey.ActionResetResend, rekey.OutcomeSuccess,
		"earlier links voided; new link expires at "+r.ExpiresAt.UTC().Format(time.RFC3339), requestID)
	if err := s.store.SaveReset(ctx, target, after, &entry); err != nil {
		return time.Time{}, fmt.Errorf("resets: replace pending reset: %w", err)
	}
	if err := s.enqueue(ctx, linkJob(r, requestID)); err != nil {
		return time.Time{}, err
	}
	return r.ExpiresAt, nil
}

// newAdminReset is a fresh admin reset of target, started at now.
func (s *Service) newAdminReset(actor, target rekey.User, now time.Time) Reset {
	return Reset{
		ID:        rekey.NewID(),
		UserID:    target.ID,
		Purpose:   PurposeAdmin,
		Email:     target.Email,
		CreatedBy: actor.ID,
		CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.LinkExpiry),
	}
}

// linkJob is the mail job that emails the link of reset r.
func linkJob(r Reset, requestID string) rekey.MailJob {
	return rekey.MailJob{Kind: rekey.JobResetLink, ID: r.ID, UserID: r.UserID, ResetID: r.ID, ExpiresAt: r.ExpiresAt, RequestID: requestID}
}
