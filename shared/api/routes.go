package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/rekey/rekey/shared/rekey"
)

// Route is one API endpoint and the Lambda function (folder name under
// functions/) that serves it. The SAM template, the local runner and each
// function's main.go all follow Routes.
type Route struct {
	Method   string
	Pattern  string // net/http ServeMux path pattern, such as /api/users/{id}
	Function string
}

// key is the ServeMux pattern of the route, "METHOD /path".
func (r Route) key() string { return r.Method + " " + r.Pattern }

// Function names.
const (
	FunctionAuth      = "api-auth"
	FunctionUsers     = "api-users"
	FunctionResets    = "api-resets"
	FunctionSchedules = "api-schedules"
	FunctionConsole   = "console"
	FunctionBulk      = "api-bulk"
	FunctionTasks     = "api-tasks"
)

// Routes is the one route table.
var Routes = []Route{
	{http.MethodPost, "/api/auth/login", FunctionAuth},
	{http.MethodPost, "/api/auth/logout", FunctionAuth},
	{http.MethodGet, "/api/me", FunctionAuth},
	{http.MethodGet, "/api/auth/csrf", FunctionAuth},
	{http.MethodPost, "/api/password/change", FunctionAuth},
	{http.MethodGet, "/api/users", FunctionUsers},
	{http.MethodGet, "/api/users/{id}", FunctionUsers},
	{http.MethodPatch, "/api/users/{id}", FunctionUsers},
	{http.MethodGet, "/api/users/{id}/activity", FunctionUsers},
	{http.MethodGet, "/api/schools", FunctionUsers},
	{http.MethodPost, "/api/users/{id}/password-reset", FunctionResets},
	{http.MethodPost, "/api/users/{id}/password-reset/resend", FunctionResets},
	{http.MethodPost, "/api/password/forgot", FunctionResets},
	{http.MethodPost, "/api/password/reset", FunctionResets},
	{http.MethodGet, "/api/password/policy", FunctionResets},
	{http.MethodPost, "/api/schedules", FunctionSchedules},
	{http.MethodGet, "/api/schedules", FunctionSchedules},
	{http.MethodGet, "/api/schedules/{id}", FunctionSchedules},
	{http.MethodPatch, "/api/schedules/{id}", FunctionSchedules},
	{http.MethodDelete, "/api/schedules/{id}", FunctionSchedules},
	{http.MethodPost, "/api/bulk-resets", FunctionBulk},
	{http.MethodGet, "/api/tasks", FunctionTasks},
	{http.MethodGet, "/api/tasks/{id}", FunctionTasks},
	{http.MethodPost, "/api/tasks/{id}/cancel", FunctionTasks},
	{http.MethodGet, "/api/tasks/{id}/results", FunctionTasks},
	{http.MethodGet, "/api/tasks/{id}/results.csv", FunctionTasks},
	// The console serves every GET outside /api/ (on API Gateway: the routes
	// "GET /" and "GET /{proxy+}").
	{http.MethodGet, consolePattern, FunctionConsole},
}

// consolePattern marks the console's catch-all route in Routes.
const consolePattern = "/"

// Handler returns the HTTP handler for the routes of the named functions,
// or of every function when none is named: the local runner mounts all of
// them, each Lambda its own. Any other path answers 404 not_found, a known
// path with another method 405 method_not_allowed, both as JSON and through
// the same middleware as every route.
func (s *Server) Handler(functions ...string) http.Handler {
	mux := http.NewServeMux()
	methods := map[string][]string{} // path pattern -> methods mounted
	var paths []string
	var console http.Handler
	for _, route := range Routes {
		if len(functions) > 0 && !slices.Contains(functions, route.Function) {
			continue
		}
		if route.Pattern == consolePattern {
			console = s.console
			continue
		}
		h, ok := s.handlers[route.key()]
		if !ok {
			panic(fmt.Sprintf("api: no handler for route %s", route.key()))
		}
		mux.Handle(route.key(), h)
		if _, seen := methods[route.Pattern]; !seen {
			paths = append(paths, route.Pattern)
		}
		methods[route.Pattern] = append(methods[route.Pattern], route.Method)
	}
	for _, path := range paths {
		mux.Handle(path, s.methodNotAllowed(methods[path]))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if console != nil && r.URL.Path != "/api" && !strings.HasPrefix(r.URL.Path, "/api/") {
			console.ServeHTTP(w, r)
			return
		}
		s.writeError(w, r, fail(rekey.ECodeNotFound, "No such endpoint."))
	})
	return s.middleware(mux)
}

// methodNotAllowed answers 405 for a known path, listing the methods it has.
func (s *Server) methodNotAllowed(methods []string) http.Handler {
	allowed := slices.Clone(methods)
	if slices.Contains(allowed, http.MethodGet) {
		allowed = append(allowed, http.MethodHead)
	}
	allow := strings.Join(allowed, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		s.writeError(w, r, fail(rekey.ECodeMethodNotAllowed, "This endpoint does not support "+r.Method+"."))
	})
}
