// Package api is Rekey's HTTP layer: the one route table, the middleware
// every response goes through (request ids, security headers, body limits,
// cross-origin refusal, panic recovery), authentication by bearer token or
// session cookie with CSRF checks, strict JSON decoding, signed pagination
// cursors, and the one table from application error code to HTTP status.
// Handlers are thin: decode and validate, call one service method, encode.
// It uses only the standard library.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"sync"

	"github.com/rekey/rekey/shared/auth"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/users"
)

// AuthService signs users in and out; *auth.Service implements it.
type AuthService interface {
	Login(ctx context.Context, login, password, clientIP, requestID string) (auth.LoginResult, error)
	Authenticate(ctx context.Context, token string) (rekey.User, rekey.Session, error)
	Logout(ctx context.Context, token string) error
	ChangePassword(ctx context.Context, actor rekey.User, current, next, clientIP, requestID string) error
}

// UserService lists, reads and edits user records; *users.Service
// implements it.
type UserService interface {
	List(ctx context.Context, actor rekey.User, filter rekey.UserFilter) (rekey.UserPage, error)
	Get(ctx context.Context, actor rekey.User, id string) (rekey.User, error)
	Update(ctx context.Context, actor rekey.User, id string, patch users.Patch, requestID string) (rekey.User, error)
	Activity(ctx context.Context, actor rekey.User, id string, limit int, cursor string) (rekey.AuditPage, error)
	Schools(ctx context.Context, actor rekey.User, districtID string) ([]rekey.School, error)
	PasswordPolicy(ctx context.Context, actor rekey.User) (rekey.PasswordPolicy, error)
}

// SecretStore hands out named secrets; the cursor signing key is
// Secret(ctx, "cursor"). *dynamo.Store implements it.
type SecretStore interface {
	Secret(ctx context.Context, name string) ([]byte, error)
}

// Deps are the server's collaborators. A Lambda fills only what its routes
// need; a route whose service is nil answers 500.
type Deps struct {
	Auth      AuthService
	Users     UserService
	Secrets   SecretStore
	Resets    ResetService
	Schedules ScheduleService
	Bulk      BulkService
	District  DistrictService
	Guardians GuardianService
	// PublicBaseURL is the console's origin, printed on login letters.
	PublicBaseURL string
	// Imports runs roster and users-CSV imports (shared/imports).
	Imports ImportService
	// Console serves the admin console's pages and assets (console.Handler).
	Console http.Handler
	// Logger may be nil (nothing is logged). Every line the server logs
	// carries the request id.
	Logger *slog.Logger
}

// Server serves the API routes. Build it once (at cold start) with New.
type Server struct {
	auth          AuthService
	users         UserService
	secrets       SecretStore
	resets        ResetService
	schedules     ScheduleService
	bulk          BulkService
	district      DistrictService
	guardians     GuardianService
	publicBaseURL string
	imports       ImportService
	console       http.Handler
	log           *slog.Logger

	cursorMu  sync.Mutex
	cursorKey []byte // fetched on first use, then kept
}

// New returns a Server.
func New(deps Deps) *Server {
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{
		auth:          deps.Auth,
		users:         deps.Users,
		secrets:       deps.Secrets,
		resets:        deps.Resets,
		schedules:     deps.Schedules,
		bulk:          deps.Bulk,
		district:      deps.District,
		guardians:     deps.Guardians,
		publicBaseURL: deps.PublicBaseURL,
		imports:       deps.Imports,
		console:       deps.Console,
		log:           WithRequestIDs(logger),
	}
}
