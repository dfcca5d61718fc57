// Package auth is sign-in and sessions: checking a password (with throttling
// per account and per client, SECURITY.md 5), issuing opaque session tokens of
// which only a SHA-256 is stored, authenticating requests with them (idle and
// absolute timeouts, SECURITY.md 26), and changing one's own password, which
// ends every session (SECURITY.md 13). It knows nothing of HTTP or AWS: the
// stores, the password hasher and the notifier are ports.
package auth

import (
	"context"
	"log/slog"
	"time"

	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/rekey"
)

// Store is what the service needs from the data store: users, their audit
// trail, the districts and schools whose names and policies a password
// change consults, and sessions. *dynamo.Store satisfies it as it is.
type Store interface {
	userStore
	auditLog
	places
	sessionStore
}

// userStore reads users by id or sign-in name and updates them under their
// version.
type userStore interface {
	GetUser(ctx context.Context, id string) (rekey.User, error)
	GetUserByUsername(ctx context.Context, username string) (rekey.User, error)
	GetUserByEmail(ctx context.Context, email string) (rekey.User, error)
	UpdateUser(ctx context.Context, before, after rekey.User, audit *rekey.AuditEntry) error
}

// auditLog records a security event that comes with no record change.
type auditLog interface {
	PutAudit(ctx context.Context, entry rekey.AuditEntry) error
}

// places looks up the district (for its password policy) and school of a user.
type places interface {
	GetDistrict(ctx context.Context, id string) (rekey.District, error)
	GetSchool(ctx context.Context, id string) (rekey.School, error)
}

// sessionStore keeps sessions by the SHA-256 of their token. GetSession
// returns an error wrapping rekey.ErrNotFound for a missing or expired one.
type sessionStore interface {
	PutSession(ctx context.Context, s rekey.Session) error
	GetSession(ctx context.Context, tokenHash string) (rekey.Session, error)
	TouchSession(ctx context.Context, tokenHash string, at time.Time) error
	DeleteSession(ctx context.Context, tokenHash string) error
}

// ThrottleStore counts attempts per key ("ACCOUNT#USER#<id>",
// "ACCOUNT#NAME#<name>", "CLIENT#<ip>") so that they can be limited.
// ReserveAttempt counts one attempt at `at` only if limit allows it, in one
// atomic step, and otherwise answers reserved false with the counter as it
// stands: it must refuse while LockedUntil is after `at`, start a new count
// (Failures 1, FirstFailureAt at) when the stored one began limit.Window or
// more before `at`, and otherwise refuse when Failures has reached
// limit.Max or `at` is before LastFailureAt + limit.Wait(Failures).
// ReleaseAttempt takes back one attempt of the window t (a counter that
// ReserveAttempt returned) began. LockThrottle sets LockedUntil;
// ClearThrottle forgets the key.
//
// Throttle and AttemptLimit are the domain's (rekey), so *dynamo.Store
// satisfies it as it is.
type ThrottleStore interface {
	ReserveAttempt(ctx context.Context, key string, at time.Time, limit AttemptLimit) (t Throttle, reserved bool, err error)
	ReleaseAttempt(ctx context.Context, key string, t Throttle) error
	LockThrottle(ctx context.Context, key string, until time.Time) error
	ClearThrottle(ctx context.Context, key string) error
}

// AttemptLimit says when one more attempt of a key may be counted (see
// rekey.AttemptLimit).
type AttemptLimit = rekey.AttemptLimit

// Throttle is the failure counter of one key (see rekey.Throttle).
type Throttle = rekey.Throttle

// Hasher hashes and checks passwords; password.Hasher implements it.
// Verify answers false, nil for an empty encoded hash; Burn does the work of
// one verification so that sign-in for an unknown user takes as long as for a
// known one.
type Hasher interface {
	Hash(password string) (string, error)
	Verify(encoded, password string) (ok, needsRehash bool, err error)
	Burn(password string)
}

// Notifier tells a user that their password changed ("if this was not you,
// contact your administrator"). The mail package provides one in a later
// issue; until then Deps.Notifier is nil and nothing is sent.
type Notifier interface {
	PasswordChanged(ctx context.Context, user rekey.User, requestID string) error
}

// PolicyCheck decides whether a new password may be set for user; it is
// password.Check, which returns a *rekey.Error weak_password naming field.
type PolicyCheck func(policy rekey.PasswordPolicy, field, password string, user rekey.User, contextWords ...string) error

// Config holds the timeouts and throttling limits.
type Config struct {
	// IdleTimeout ends a session that made no request for this long.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after sign-in, however busy.
	AbsoluteTimeout time.Duration
	// TouchInterval is how stale a session's LastSeenAt may get before a
	// request writes it again, so that not every request is a write.
	TouchInterval time.Duration

	// FailureWindow is how long failures count against an account or client.
	FailureWindow time.Duration
	// FreeFailures is how many failures an account may have in the window
	// before each further attempt must wait; the wait doubles from 1 s with
	// each failure beyond it, up to MaxDelay.
	FreeFailures int
	MaxDelay     time.Duration
	// LockAfter failures lock the account for LockFor, whatever name
	// (username or email) they were made with.
	LockAfter int
	LockFor   time.Duration
	// ClientMaxFailures failures from one client in the window refuse its
	// further attempts until the window ends.
	ClientMaxFailures int
}

// DefaultConfig is the configuration SECURITY.md asks for: 30 minutes idle,
// 12 hours absolute; 5 free failures in 15 minutes, then a doubling wait of
// up to 60 s, a 15-minute lock at 10; 100 failures per client in 15 minutes.
func DefaultConfig() Config {
	return Config{
		IdleTimeout:       30 * time.Minute,
		AbsoluteTimeout:   12 * time.Hour,
		TouchInterval:     time.Minute,
		FailureWindow:     15 * time.Minute,
		FreeFailures:      5,
		MaxDelay:          60 * time.Second,
		LockAfter:         10,
		LockFor:           15 * time.Minute,
		ClientMaxFailures: 100,
	}
}

// Deps are the service's collaborators.
type Deps struct {
	Store     Store
	Throttles ThrottleStore
	Hasher    Hasher
	// CheckPassword may be nil: password.Check.
	CheckPassword PolicyCheck
	// Notifier may be nil: no "your password was changed" notice is sent.
	Notifier Notifier
	// Logger may be nil: nothing is logged.
	Logger *slog.Logger
	// Now may be nil: time.Now. Tests pass a fake clock.
	Now func() time.Time
}

// Service signs users in and out and authenticates their requests.
type Service struct {
	cfg       Config
	store     Store
	throttles ThrottleStore
	hasher    Hasher
	check     PolicyCheck
	notifier  Notifier
	log       *slog.Logger
	now       func() time.Time
}

// NewService returns a Service. Zero fields of cfg take DefaultConfig's value.
func NewService(cfg Config, deps Deps) *Service {
	s := &Service{
		cfg:       cfg.withDefaults(),
		store:     deps.Store,
		throttles: deps.Throttles,
		hasher:    deps.Hasher,
		check:     deps.CheckPassword,
		notifier:  deps.Notifier,
		log:       deps.Logger,
		now:       deps.Now,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.check == nil {
		s.check = password.Check
	}
	return s
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	fill := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	fillInt := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	fill(&c.IdleTimeout, d.IdleTimeout)
	fill(&c.AbsoluteTimeout, d.AbsoluteTimeout)
	fill(&c.TouchInterval, d.TouchInterval)
	fill(&c.FailureWindow, d.FailureWindow)
	fill(&c.MaxDelay, d.MaxDelay)
	fill(&c.LockFor, d.LockFor)
	fillInt(&c.FreeFailures, d.FreeFailures)
	fillInt(&c.LockAfter, d.LockAfter)
	fillInt(&c.ClientMaxFailures, d.ClientMaxFailures)
	return c
}

// audit writes a security event that changes no record. A failure to write
// it is logged, not returned: the caller's answer must not depend on it
// (an unknown user writes no audit at all).
func (s *Service) audit(ctx context.Context, entry rekey.AuditEntry) {
	if err := s.store.PutAudit(ctx, entry); err != nil {
		s.log.ErrorContext(ctx, "auth: write audit entry", "action", entry.Action, "error", err)
	}
}

// auditFrom is auditEntry for an attempt from the network address
// clientIP, which goes in its own field (never in the detail) so that
// viewers who may not see it can be shown the entry without it.
func (s *Service) auditFrom(user rekey.User, action, outcome, detail, clientIP, requestID string) rekey.AuditEntry {
	e := s.auditEntry(user, action, outcome, detail, requestID)
	e.ClientIP = clientIP
	return e
}

// auditEntry starts an audit entry about user acting on their own account.
func (s *Service) auditEntry(user rekey.User, action, outcome, detail, requestID string) rekey.AuditEntry {
	return rekey.AuditEntry{
		ID:         rekey.NewID(),
		At:         s.now(),
		DistrictID: user.DistrictID,
		ActorID:    user.ID,
		ActorName:  user.FullName(),
		TargetID:   user.ID,
		Action:     action,
		Outcome:    outcome,
		Detail:     detail,
		RequestID:  requestID,
	}
}
