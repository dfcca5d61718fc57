package api

import (
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

// Function names: the folders under functions/ whose Lambdas serve routes.
// Each function's main.go names its routes by one of these.
const (
	FunctionAuth      = "api-auth"
	FunctionUsers     = "api-users"
	FunctionResets    = "api-resets"
	FunctionSchedules = "api-schedules"
	FunctionConsole   = "console"
	FunctionBulk      = "api-bulk"
	FunctionTasks     = "api-tasks"
	FunctionImports   = "api-imports"
)

// handlerFunc is a route's handler: it writes the answer, or returns an
// error, which serve writes (through the code→status table) so that no
// handler writes errors itself.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// route is one line of the route table: the endpoint and its handler.
type route struct {
	Route
	handler handlerFunc
}

// routes is the one route table: every endpoint, the function that serves
// it and its handler, each listed once. Routes and Handler both read it.
func (s *Server) routes() []route {
	b := bulkHandlers{s: s, svc: s.bulk}
	return []route{
		{Route{http.MethodPost, "/api/auth/login", FunctionAuth}, s.login},
		{Route{http.MethodPost, "/api/auth/logout", FunctionAuth}, s.logout},
		{Route{http.MethodGet, "/api/me", FunctionAuth}, s.signedIn(duringPasswordChange, s.me)},
		{Route{http.MethodGet, "/api/auth/csrf", FunctionAuth}, s.csrfToken},
		{Route{http.MethodPost, "/api/password/change", FunctionAuth}, s.signedIn(duringPasswordChange, s.changePassword)},
		{Route{http.MethodGet, "/api/users", FunctionUsers}, s.signedIn(fullAccess, s.listUsers)},
		{Route{http.MethodGet, "/api/users/{id}", FunctionUsers}, s.signedIn(fullAccess, s.getUser)},
		{Route{http.MethodPatch, "/api/users/{id}", FunctionUsers}, s.signedIn(fullAccess, s.patchUser)},
		{Route{http.MethodGet, "/api/users/{id}/activity", FunctionUsers}, s.signedIn(fullAccess, s.userActivity)},
		{Route{http.MethodGet, "/api/schools", FunctionUsers}, s.signedIn(fullAccess, s.listSchools)},
		{Route{http.MethodGet, "/api/district/settings", FunctionUsers}, s.signedIn(fullAccess, s.districtSettings)},
		{Route{http.MethodPatch, "/api/district/settings", FunctionUsers}, s.signedIn(fullAccess, s.patchDistrictSettings)},
		{Route{http.MethodPost, "/api/users", FunctionUsers}, s.signedIn(fullAccess, s.createUser)},
		{Route{http.MethodPost, importsPath, FunctionImports}, s.signedIn(fullAccess, s.startImport)},
		{Route{http.MethodPost, "/api/imports/uploads", FunctionImports}, s.signedIn(fullAccess, s.newUpload)},
		{Route{http.MethodGet, "/api/imports/{id}/results", FunctionImports}, s.signedIn(fullAccess, s.getImport)},
		{Route{http.MethodPost, "/api/users/{id}/password-reset", FunctionResets}, s.signedIn(fullAccess, s.resetPassword)},
		{Route{http.MethodPost, "/api/users/{id}/password-reset/resend", FunctionResets}, s.signedIn(fullAccess, s.resendReset)},
		{Route{http.MethodPost, "/api/password/forgot", FunctionResets}, s.forgotPassword},
		{Route{http.MethodPost, "/api/password/reset", FunctionResets}, s.redeemReset},
		{Route{http.MethodPost, "/api/password/reset/check", FunctionResets}, s.checkResetToken},
		{Route{http.MethodGet, "/api/password/policy", FunctionResets}, s.signedIn(duringPasswordChange, s.passwordPolicy)},
		{Route{http.MethodPost, "/api/schedules", FunctionSchedules}, s.signedIn(fullAccess, s.createSchedule)},
		{Route{http.MethodGet, "/api/schedules", FunctionSchedules}, s.signedIn(fullAccess, s.listSchedules)},
		{Route{http.MethodGet, "/api/schedules/{id}", FunctionSchedules}, s.signedIn(fullAccess, s.getSchedule)},
		{Route{http.MethodPatch, "/api/schedules/{id}", FunctionSchedules}, s.signedIn(fullAccess, s.patchSchedule)},
		{Route{http.MethodDelete, "/api/schedules/{id}", FunctionSchedules}, s.signedIn(fullAccess, s.deleteSchedule)},
		{Route{http.MethodPost, "/api/schedules/{id}/approve", FunctionSchedules}, s.signedIn(fullAccess, s.approveSchedule)},
		{Route{http.MethodPost, "/api/bulk-resets", FunctionBulk}, s.signedIn(fullAccess, b.start)},
		{Route{http.MethodGet, "/api/tasks", FunctionTasks}, s.signedIn(fullAccess, b.list)},
		{Route{http.MethodGet, "/api/tasks/{id}", FunctionTasks}, s.signedIn(fullAccess, b.get)},
		{Route{http.MethodPost, "/api/tasks/{id}/cancel", FunctionTasks}, s.signedIn(fullAccess, b.cancel)},
		{Route{http.MethodPost, "/api/tasks/{id}/approve", FunctionTasks}, s.signedIn(fullAccess, b.approve)},
		{Route{http.MethodPost, "/api/tasks/{id}/reject", FunctionTasks}, s.signedIn(fullAccess, b.reject)},
		{Route{http.MethodPost, "/api/tasks/{id}/follow-ups", FunctionTasks}, s.signedIn(fullAccess, b.followUp)},
		{Route{http.MethodGet, "/api/tasks/{id}/results", FunctionTasks}, s.signedIn(fullAccess, b.results)},
		{Route{http.MethodGet, "/api/tasks/{id}/results.csv", FunctionTasks}, s.signedIn(fullAccess, b.resultsCSV)},
		{Route{http.MethodGet, "/api/tasks/{id}/letters.pdf", FunctionTasks}, s.signedIn(fullAccess, b.lettersPDF)},
		{Route{http.MethodGet, "/api/me/parent-code", FunctionUsers}, s.signedIn(fullAccess, s.myParentCode)},
		{Route{http.MethodGet, "/api/users/{id}/parent-code", FunctionUsers}, s.signedIn(fullAccess, s.studentParentCode(false))},
		{Route{http.MethodPost, "/api/users/{id}/parent-code", FunctionUsers}, s.signedIn(fullAccess, s.studentParentCode(true))},
		{Route{http.MethodGet, "/api/schools/{id}/parent-codes.csv", FunctionUsers}, s.signedIn(fullAccess, s.schoolParentCodes)},
		{Route{http.MethodGet, "/api/me/children", FunctionUsers}, s.signedIn(fullAccess, s.myChildren)},
		{Route{http.MethodPost, "/api/me/children", FunctionUsers}, s.signedIn(fullAccess, s.addChild)},
		{Route{http.MethodPost, "/api/guardians/register", FunctionAuth}, s.registerGuardian},
		{Route{http.MethodPost, "/api/me/children/{id}/password-reset", FunctionResets}, s.signedIn(fullAccess, s.resetChild)},
		// The console serves every GET outside /api/ (on API Gateway: the
		// routes "GET /" and "GET /{proxy+}"); Handler mounts it as the
		// catch-all.
		{Route{http.MethodGet, consolePattern, FunctionConsole}, s.serveConsole},
	}
}

// consolePattern marks the console's catch-all route in the route table.
const consolePattern = "/"

// Routes lists every endpoint and the function that serves it, read off the
// route table, for the template checks and for tools.
var Routes = routeList()

// routeList is the route table without its handlers. Building the table
// calls no service, so a Server with none will do.
func routeList() []Route {
	var out []Route
	for _, rt := range (&Server{}).routes() {
		out = append(out, rt.Route)
	}
	return out
}

// Handler returns the HTTP handler for the routes of the named functions,
// or of every function when none is named: the local runner mounts all of
// them, each Lambda its own. Any other path answers 404 not_found, a known
// path with another method 405 method_not_allowed, both as JSON and through
// the same middleware as every route.
func (s *Server) Handler(functions ...string) http.Handler {
	mux := http.NewServeMux()
	methods := map[string][]string{} // path pattern -> methods mounted
	var paths []string
	fallback := handlerFunc(noEndpoint)
	for _, rt := range s.routes() {
		if len(functions) > 0 && !slices.Contains(functions, rt.Function) {
			continue
		}
		if rt.Pattern == consolePattern {
			fallback = rt.handler
			continue
		}
		mux.Handle(rt.key(), s.serve(rt.handler))
		if _, seen := methods[rt.Pattern]; !seen {
			paths = append(paths, rt.Pattern)
		}
		methods[rt.Pattern] = append(methods[rt.Pattern], rt.Method)
	}
	for _, path := range paths {
		mux.Handle(path, s.serve(methodNotAllowed(methods[path])))
	}
	mux.Handle("/", s.serve(fallback))
	return s.middleware(mux)
}

// serve adapts a route's handler to net/http: the one place a handler's
// error is written, with its code's status; an error without a known code
// is logged and answered as "Internal error." (writeError).
func (s *Server) serve(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// errNoEndpoint answers a path no mounted route has.
var errNoEndpoint = fail(rekey.ECodeNotFound, "No such endpoint.")

// noEndpoint answers every request with 404 not_found.
func noEndpoint(http.ResponseWriter, *http.Request) error { return errNoEndpoint }

// serveConsole is the console's catch-all: its pages and assets for every
// path outside /api/ (which stays JSON, 404 not_found).
func (s *Server) serveConsole(w http.ResponseWriter, r *http.Request) error {
	if s.console == nil || r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/") {
		return errNoEndpoint
	}
	s.console.ServeHTTP(w, r)
	return nil
}

// methodNotAllowed answers 405 for a known path, listing the methods it has.
func methodNotAllowed(methods []string) handlerFunc {
	allowed := slices.Clone(methods)
	if slices.Contains(allowed, http.MethodGet) {
		allowed = append(allowed, http.MethodHead)
	}
	allow := strings.Join(allowed, ", ")
	return func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", allow)
		return fail(rekey.ECodeMethodNotAllowed, "This endpoint does not support "+r.Method+".")
	}
}
