// Package resets is password recovery for one user at a time: an admin's
// reset by emailed link (which voids the old password at once) and its
// resend, an admin's temporary password, the self-service "forgot password"
// request, and redeeming a reset token for a new password (PRODUCT.md
// "Password resets", SECURITY.md 6–14). Bulk tasks (package bulk) reuse its
// token format and user transitions (NewToken, ApplyLinkReset,
// ApplyTemporaryPassword), so a link from a bulk task redeems here too.
//
// Emails are never sent from a request: the service puts a MailJob on the
// mail queue, and the mail worker calls PrepareMail to learn what to send.
// Reset tokens are made at that moment and only their SHA-256 is stored; no
// raw token or password is ever stored, queued or logged.
//
// Each user has at most two pending Resets, kept on the user record: an
// admin's (a link reset, a resend or a bulk task) and a self-service one (a
// forgot-password request). A new admin link replaces both and voids their
// links; a new self-service link replaces only the earlier self-service
// one, so an anonymous request can never void a link an admin sent
// (SECURITY.md 9); using either link ends both. Every change of
// reset state moves the record's version on, so that a concurrent edit
// written from an older copy can never bring a voided token back. A self-service request does not void the current password,
// and it does not undo an admin's reset either: a user whose password an
// admin voided stays reset_required until a link is used or a temporary
// password is set.
package resets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/rekey/rekey/shared/authz"
	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/rekey"
)

// Store is what the service needs from the data store. *dynamo.Store
// satisfies it as it is.
type Store interface {
	userStore
	places
	auditLog
	resetWriter
	requestCounter
}

// userStore finds users by id or by sign-in name.
type userStore interface {
	GetUser(ctx context.Context, id string) (rekey.User, error)
	GetUserByUsername(ctx context.Context, username string) (rekey.User, error)
	GetUserByEmail(ctx context.Context, email string) (rekey.User, error)
}

// places looks up a user's district (password policy, name) and school
// (name, single sign-on).
type places interface {
	GetDistrict(ctx context.Context, id string) (rekey.District, error)
	GetSchool(ctx context.Context, id string) (rekey.School, error)
}

// auditLog records an event that changes no record (a refused or failed
// attempt).
type auditLog interface {
	PutAudit(ctx context.Context, entry rekey.AuditEntry) error
}

// resetWriter stores the reset state of a user, which lives on the user
// record (see Reset).
//
// SaveReset writes after, provided the stored user is still at before's
// version (rekey.ErrVersionConflict otherwise), together with audit when it
// is not nil, atomically; it never renames a user or changes their email.
// RedeemReset does the same for the redemption of the token whose hash is
// tokenHash, on the further condition that the stored user still holds that
// hash in either reset slot; a failed condition is rekey.ErrVersionConflict either way, and the
// caller reads the user again to learn which.
type resetWriter interface {
	SaveReset(ctx context.Context, before, after rekey.User, audit *rekey.AuditEntry) error
	RedeemReset(ctx context.Context, tokenHash string, before, after rekey.User, audit rekey.AuditEntry) error
}

// requestCounter counts forgot-password requests per key in fixed windows
// and returns the count of the window that contains at, this one included.
type requestCounter interface {
	CountRequest(ctx context.Context, key string, at time.Time, window time.Duration) (int, error)
}

// mailQueue puts one job on the mail queue; *queue.Sender satisfies it.
type mailQueue interface {
	Send(ctx context.Context, message any) error
}

// hasher hashes new passwords; password.Hasher satisfies it.
type hasher interface {
	Hash(password string) (string, error)
}

// Longest expiries allowed by SECURITY.md 8.
const (
	MaxLinkExpiry   = 24 * time.Hour
	MaxForgotExpiry = time.Hour
)

// Config holds expiries and forgot-password rate limits.
type Config struct {
	// LinkExpiry is how long an admin's reset link works: 15 minutes by
	// default, at most MaxLinkExpiry.
	LinkExpiry time.Duration
	// ForgotExpiry is how long a self-service link works: 30 minutes by
	// default, at most MaxForgotExpiry.
	ForgotExpiry time.Duration
	// ForgotWindow is the rate-limit window: 15 minutes by default.
	ForgotWindow time.Duration
	// ForgotPerAccount is how many forgot-password requests per window one
	// account may cause; further ones are dropped silently (3 by default).
	ForgotPerAccount int
	// ForgotPerClient is how many forgot-password requests one client
	// address may make per window before it gets too_many_attempts
	// (20 by default). Nothing ever locks the account.
	ForgotPerClient int
}

// DefaultConfig is the configuration the specification asks for.
func DefaultConfig() Config {
	return Config{
		LinkExpiry:       15 * time.Minute,
		ForgotExpiry:     30 * time.Minute,
		ForgotWindow:     15 * time.Minute,
		ForgotPerAccount: 3,
		ForgotPerClient:  20,
	}
}

// withDefaults fills zero fields from DefaultConfig and checks the limits.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	if c.LinkExpiry <= 0 {
		c.LinkExpiry = d.LinkExpiry
	}
	if c.ForgotExpiry <= 0 {
		c.ForgotExpiry = d.ForgotExpiry
	}
	if c.ForgotWindow <= 0 {
		c.ForgotWindow = d.ForgotWindow
	}
	if c.ForgotPerAccount <= 0 {
		c.ForgotPerAccount = d.ForgotPerAccount
	}
	if c.ForgotPerClient <= 0 {
		c.ForgotPerClient = d.ForgotPerClient
	}
	if c.LinkExpiry > MaxLinkExpiry {
		return Config{}, fmt.Errorf("resets: link expiry %v is longer than %v", c.LinkExpiry, MaxLinkExpiry)
	}
	if c.ForgotExpiry > MaxForgotExpiry {
		return Config{}, fmt.Errorf("resets: forgot-password expiry %v is longer than %v", c.ForgotExpiry, MaxForgotExpiry)
	}
	return c, nil
}

// Deps are the service's collaborators. Queue and Hasher serve the request
// side (resets, resends, forgot-password, redemption); the mail worker's
// Service, which only calls PrepareMail, may leave them nil.
type Deps struct {
	Store  Store
	Queue  mailQueue
	Hasher hasher
	// Logger may be nil: nothing is logged.
	Logger *slog.Logger
	// Now may be nil: time.Now. Tests pass a fake clock.
	Now func() time.Time
}

// Service runs password resets.
type Service struct {
	cfg    Config
	store  Store
	queue  mailQueue
	hasher hasher
	log    *slog.Logger
	now    func() time.Time
}

// NewService returns a Service. Zero fields of cfg take DefaultConfig's
// value; an expiry beyond the specification's limits is an error.
func NewService(cfg Config, deps Deps) (*Service, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if deps.Store == nil {
		return nil, errors.New("resets: a Store is required")
	}
	s := &Service{cfg: cfg, store: deps.Store, queue: deps.Queue, hasher: deps.Hasher, log: deps.Logger, now: deps.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// maxVersionRetries bounds how often a reset is retried after a concurrent
// change of the user record (a sign-in rehash, an edit) made it stale.
const maxVersionRetries = 3

// target loads the user an admin acts on and checks that actor may reset
// them: a user the actor may not see is rekey.ErrNotFound (never data), one
// they may see but not reset rekey.ErrForbidden. A refusal is audited on
// the target.
func (s *Service) target(ctx context.Context, actor rekey.User, targetID, action, requestID string) (rekey.User, error) {
	return s.targetFor(ctx, actor, targetID, action, requestID, authz.ActionReset)
}

// targetFor is target with the permission the actor needs (ActionReset for
// staff, ActionGuardianReset for a guardian).
func (s *Service) targetFor(ctx context.Context, actor rekey.User, targetID, action, requestID string, permission authz.Action) (rekey.User, error) {
	if !rekey.ValidID(targetID) {
		return rekey.User{}, rekey.ErrNotFound
	}
	target, err := s.store.GetUser(ctx, targetID)
	if isNotFound(err) {
		return rekey.User{}, rekey.ErrNotFound
	}
	if err != nil {
		return rekey.User{}, fmt.Errorf("resets: read user: %w", err)
	}
	switch {
	case !authz.Allowed(actor, target, authz.ActionView),
		permission == authz.ActionGuardianReset && !actor.IsGuardianOf(target):
		s.audit(ctx, s.entry(actor, target, action, rekey.OutcomeDenied, "target outside the actor's scope", requestID))
		return rekey.User{}, rekey.ErrNotFound
	case !authz.Allowed(actor, target, permission):
		s.audit(ctx, s.entry(actor, target, action, rekey.OutcomeDenied, "actor may not reset this user", requestID))
		return rekey.User{}, rekey.ErrForbidden
	}
	return target, nil
}

// checkPassword applies user's district policy to a new password and
// returns the minimum length it applied (rekey.User.PasswordMinLength).
func (s *Service) checkPassword(ctx context.Context, user rekey.User, field, pw string) (minLength int, err error) {
	policy, words, err := password.ContextFor(ctx, s.store, user)
	if err != nil {
		return 0, fmt.Errorf("resets: %w", err)
	}
	return policy.WithDefaults().MinLength(user.Role), password.Check(policy, field, pw, user, words...)
}

// entry starts an audit entry about actor acting on target.
func (s *Service) entry(actor, target rekey.User, action, outcome, detail, requestID string) rekey.AuditEntry {
	return rekey.AuditEntry{
		ID:         rekey.NewID(),
		At:         s.now(),
		DistrictID: target.DistrictID,
		ActorID:    actor.ID,
		ActorName:  actor.FullName(),
		TargetID:   target.ID,
		Action:     action,
		Outcome:    outcome,
		Detail:     detail,
		RequestID:  requestID,
	}
}

// audit writes an entry that goes with no record change. A failure is
// logged, not returned: the answer must not depend on it.
func (s *Service) audit(ctx context.Context, e rekey.AuditEntry) {
	if err := s.store.PutAudit(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "resets: write audit entry", "action", e.Action, "error", err)
	}
}

// enqueue puts job on the mail queue.
func (s *Service) enqueue(ctx context.Context, job rekey.MailJob) error {
	if err := job.Validate(); err != nil {
		return err
	}
	if s.queue == nil {
		return errors.New("resets: no mail queue configured")
	}
	if err := s.queue.Send(ctx, job); err != nil {
		return fmt.Errorf("resets: queue %s mail: %w", job.Kind, err)
	}
	return nil
}

// hash hashes a new password.
func (s *Service) hash(pw string) (string, error) {
	if s.hasher == nil {
		return "", errors.New("resets: no password hasher configured")
	}
	return s.hasher.Hash(pw)
}

// normalizeLogin is how a sign-in name or email is compared and counted.
func normalizeLogin(login string) string { return strings.ToLower(strings.TrimSpace(login)) }

// isNotFound reports whether err says that an item does not exist.
func isNotFound(err error) bool { return rekey.ErrorCode(err) == rekey.ECodeNotFound }
