// Package users is the user-records service: listing, reading and editing
// users within the actor's permissions (shared/authz), with every edit
// validated field by field and audited in the same transaction as the
// change (PRODUCT.md "User record", "Bad input"; SECURITY.md 20–23).
package users

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/rekey/rekey/shared/authz"
	"github.com/rekey/rekey/shared/rekey"
)

// Store is what the service needs from the data store. *dynamo.Store
// satisfies it as it is.
type Store interface {
	userStore
	auditReader
	places
}

// userStore reads, lists, creates and updates users. UpdateUser writes the user and
// the audit entry in one transaction, conditional on before.Version.
type userStore interface {
	GetUser(ctx context.Context, id string) (rekey.User, error)
	ListUsers(ctx context.Context, f rekey.UserFilter) (rekey.UserPage, error)
	UpdateUser(ctx context.Context, before, after rekey.User, audit *rekey.AuditEntry) error
	CreateUser(ctx context.Context, u rekey.User, audit *rekey.AuditEntry) error
}

// auditReader lists the audit trail of one user, newest first.
type auditReader interface {
	ListAudit(ctx context.Context, targetID string, limit int, cursor string) (rekey.AuditPage, error)
}

// places looks up districts and schools, to check a move's destination.
type places interface {
	GetDistrict(ctx context.Context, id string) (rekey.District, error)
	GetSchool(ctx context.Context, id string) (rekey.School, error)
	ListSchools(ctx context.Context, districtID string) ([]rekey.School, error)
}

// Service lists, reads and edits user records on behalf of an actor.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a Service; now may be nil (time.Now).
func NewService(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}

// List returns one page of the users that filter selects, intersected with
// the actor's scope: teachers and school admins see their school, district
// admins their district, support everyone. A filter reaching outside the
// scope (another school or district, a role the scope hides) selects nobody
// and answers an empty page rather than an error, as a filter that matches
// nothing would. Every row is checked against the scope again before it is
// returned. Students, and actors who may not act, get rekey.ErrForbidden.
// filter.Limit 0 means rekey.UserPaging.Default; filter.Cursor is the store's cursor.
func (s *Service) List(ctx context.Context, actor rekey.User, filter rekey.UserFilter) (rekey.UserPage, error) {
	if err := validateFilter(&filter); err != nil {
		return rekey.UserPage{}, err
	}
	scope, ok := authz.ListScope(actor)
	if !ok {
		return rekey.UserPage{}, rekey.ErrForbidden
	}
	filter, ok = scope.Restrict(filter)
	if !ok {
		return rekey.UserPage{Items: []rekey.User{}}, nil
	}
	page, err := s.store.ListUsers(ctx, filter)
	if err != nil {
		return rekey.UserPage{}, fmt.Errorf("users: list: %w", err)
	}
	items := make([]rekey.User, 0, len(page.Items))
	for _, u := range page.Items {
		if scope.Contains(u) && authz.Allowed(actor, u, authz.ActionView) {
			items = append(items, u)
		}
	}
	return rekey.UserPage{Items: items, Next: page.Next}, nil
}

// Get returns the user with id, or an error wrapping rekey.ErrNotFound when
// there is none or the actor may not view it (never a hint which).
func (s *Service) Get(ctx context.Context, actor rekey.User, id string) (rekey.User, error) {
	target, err := s.store.GetUser(ctx, id)
	if rekey.ErrorCode(err) == rekey.ECodeNotFound {
		return rekey.User{}, rekey.ErrNotFound
	}
	if err != nil {
		return rekey.User{}, fmt.Errorf("users: get %s: %w", id, err)
	}
	if !authz.Allowed(actor, target, authz.ActionView) {
		return rekey.User{}, rekey.ErrNotFound
	}
	return target, nil
}

// Activity returns one page of the audit trail of user id, newest first,
// to an actor who may view that user (others get rekey.ErrNotFound). limit 0
// means rekey.AuditPaging.Default; cursor is the store's.
func (s *Service) Activity(ctx context.Context, actor rekey.User, id string, limit int, cursor string) (rekey.AuditPage, error) {
	limit, err := rekey.AuditPaging.Limit(limit)
	if err != nil {
		return rekey.AuditPage{}, err
	}
	target, err := s.Get(ctx, actor, id)
	if err != nil {
		return rekey.AuditPage{}, err
	}
	page, err := s.store.ListAudit(ctx, id, limit, cursor)
	if err != nil {
		return rekey.AuditPage{}, fmt.Errorf("users: list activity of %s: %w", id, err)
	}
	if page.Items == nil {
		page.Items = []rekey.AuditEntry{}
	}
	if !authz.Allowed(actor, target, authz.ActionSeeClientIPs) {
		for i, e := range page.Items {
			page.Items[i] = withoutClientIP(e)
		}
	}
	return page, nil
}

// legacyClientIP matches the address that sign-in entries written before
// AuditEntry.ClientIP existed carry at the end of their detail: "from
// 192.0.2.1", "wrong password; from 192.0.2.1", "10 failed attempts;
// locked for 15m0s; last from 192.0.2.1".
var legacyClientIP = regexp.MustCompile(`(^|; )(last )?from \S+$`)

// withoutClientIP returns e with its network address removed, from its own
// field and from the detail of older sign-in and password entries.
func withoutClientIP(e rekey.AuditEntry) rekey.AuditEntry {
	e.ClientIP = ""
	if strings.HasPrefix(e.Action, "auth.") || e.Action == rekey.ActionPasswordChange {
		e.Detail = legacyClientIP.ReplaceAllString(e.Detail, "")
	}
	return e
}
