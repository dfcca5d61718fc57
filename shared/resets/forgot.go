package resets

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rekey/rekey/shared/mail"
	"github.com/rekey/rekey/shared/rekey"
)

// maxLoginLength bounds a forgot-password login (an email address is at
// most 254 characters).
const maxLoginLength = 320

// Keys of the forgot-password counters.
const (
	forgotClientKey  = "FORGOT#CLIENT#"
	forgotAccountKey = "FORGOT#ACCOUNT#"
	forgotUserKey    = "FORGOT#USER#"
)

// Forgot takes a self-service "forgot password" request for a username or
// an email address (POST /api/password/forgot). It answers nil, and takes
// the same steps, whether or not the account exists, is disabled or has an
// email address (SECURITY.md 11): it only counts the request and queues a
// forgot job; the mail worker looks the account up (PrepareMail).
//
// Rate limits never lock the account: beyond ForgotPerClient requests in a
// window from one client address the answer is a *TooManyRequestsError
// (identical for every login); beyond ForgotPerAccount for one login the
// request is dropped silently. An empty or absurdly long login is an
// invalid_input error on field "login", also the same for every account.
func (s *Service) Forgot(ctx context.Context, login, clientIP, requestID string) error {
	login = normalizeLogin(login)
	if login == "" || utf8.RuneCountInString(login) > maxLoginLength || !utf8.ValidString(login) {
		return rekey.FieldError(rekey.ECodeInvalidInput, "login", "Enter your username or email address.")
	}
	if clientIP == "" {
		clientIP = "unknown"
	}
	now := s.now()
	n, err := s.store.CountRequest(ctx, forgotClientKey+clientIP, now, s.cfg.ForgotWindow)
	if err != nil {
		return fmt.Errorf("resets: count forgot-password requests of client: %w", err)
	}
	if n > s.cfg.ForgotPerClient {
		return &TooManyRequestsError{Wait: s.windowLeft(now)}
	}
	n, err = s.store.CountRequest(ctx, forgotAccountKey+login, now, s.cfg.ForgotWindow)
	if err != nil {
		return fmt.Errorf("resets: count forgot-password requests of account: %w", err)
	}
	if n > s.cfg.ForgotPerAccount {
		s.log.InfoContext(ctx, "resets: forgot-password request dropped: account limit reached")
		return nil
	}
	return s.enqueue(ctx, rekey.MailJob{Kind: rekey.JobForgot, ID: rekey.NewID(), Login: login, RequestedAt: now, RequestID: requestID})
}

// windowLeft is how long until the fixed rate-limit window containing now
// ends (at least a second).
func (s *Service) windowLeft(now time.Time) time.Duration {
	w := s.cfg.ForgotWindow
	end := now.Truncate(w).Add(w)
	return max(end.Sub(now).Round(time.Second), time.Second)
}

// prepareForgot decides what a forgot job sends: nothing for an unknown,
// disabled or email-less account or one over its limit; a pointer to the
// school sign-in for users of a single sign-on school; otherwise the link of
// a self-service reset, created here with the job's id so that a retried
// job reuses it. The new link replaces an earlier self-service link but
// never an admin's, which stays valid beside it (SECURITY.md 9: otherwise
// anyone could keep voiding the links an admin sends a user). A reset
// issued after the request (an admin's, say) is newer and wins: the job
// then sends nothing.
func (s *Service) prepareForgot(ctx context.Context, job rekey.MailJob) (Outgoing, error) {
	user, err := s.findLogin(ctx, job.Login)
	if err != nil {
		return Outgoing{}, err
	}
	if user.ID == "" {
		return skip("unknown account"), nil
	}
	requested := func(outcome, detail string) {
		s.audit(ctx, rekey.AuditEntry{
			ID: rekey.NewID(), At: s.now(), DistrictID: user.DistrictID,
			TargetID: user.ID, Action: rekey.ActionForgotRequested, Outcome: outcome,
			Detail: detail, RequestID: job.RequestID,
		})
	}
	switch {
	case user.Status == rekey.StatusDisabled:
		requested(rekey.OutcomeDenied, "account disabled; nothing sent")
		return skip("account disabled"), nil
	case user.Email == "":
		requested(rekey.OutcomeFailure, "no email address; nothing sent")
		return skip("no email address"), nil
	}

	if user.SchoolID != "" {
		school, err := s.store.GetSchool(ctx, user.SchoolID)
		if err != nil && !isNotFound(err) {
			return Outgoing{}, fmt.Errorf("resets: read school: %w", err)
		}
		if err == nil && school.SSO {
			requested(rekey.OutcomeSuccess, "school uses single sign-on; pointer to the school sign-in sent")
			return Outgoing{Kind: mail.KindSSONotice, User: user, School: school}, nil
		}
	}

	now := s.now()
	if _, found := resetByID(user, job.ID); found {
		// A retry of this job: its reset exists already.
		return s.issueLink(ctx, user.ID, job.ID)
	}
	if newest, found := newestReset(user); found && newest.CreatedAt.After(job.RequestedAt) {
		return skip("superseded by a newer reset"), nil
	}
	n, err := s.store.CountRequest(ctx, forgotUserKey+user.ID, now, s.cfg.ForgotWindow)
	if err != nil {
		return Outgoing{}, fmt.Errorf("resets: count forgot-password requests of user: %w", err)
	}
	if n > s.cfg.ForgotPerAccount {
		requested(rekey.OutcomeDenied, "rate limit reached; nothing sent")
		return skip("account rate limit reached"), nil
	}

	// The reset and its first token are written together.
	raw, hash := NewToken(user.ID)
	r := Reset{
		ID:        job.ID,
		UserID:    user.ID,
		Purpose:   PurposeSelfService,
		Email:     user.Email,
		CreatedBy: user.ID,
		CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.ForgotExpiry),
		TokenHash: hash,
	}
	after := WithReset(user, r)
	after.Version = user.Version + 1
	entry := rekey.AuditEntry{
		ID: rekey.NewID(), At: now, DistrictID: user.DistrictID, TargetID: user.ID,
		Action: rekey.ActionForgotRequested, Outcome: rekey.OutcomeSuccess, RequestID: job.RequestID,
		Detail: "self-service link sent; expires at " + r.ExpiresAt.UTC().Format(time.RFC3339) + "; current password unchanged",
	}
	// A concurrent change of the user fails the job, which the mail worker
	// retries with the user as it is then.
	if err := s.store.SaveReset(ctx, user, after, &entry); err != nil {
		return Outgoing{}, fmt.Errorf("resets: start self-service reset: %w", err)
	}
	return Outgoing{Kind: mail.KindForgotLink, User: after, Token: raw, ExpiresAt: r.ExpiresAt}, nil
}

// findLogin looks a forgot-password login up: as an email address when it
// contains '@', else as a username. An unknown login is the zero User.
func (s *Service) findLogin(ctx context.Context, login string) (rekey.User, error) {
	var (
		user rekey.User
		err  error
	)
	if strings.Contains(login, "@") {
		user, err = s.store.GetUserByEmail(ctx, login)
	} else {
		user, err = s.store.GetUserByUsername(ctx, login)
	}
	if isNotFound(err) {
		return rekey.User{}, nil
	}
	if err != nil {
		return rekey.User{}, fmt.Errorf("resets: look up login: %w", err)
	}
	return user, nil
}
