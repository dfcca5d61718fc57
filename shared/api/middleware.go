package api

import (
	"fmt"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// MaxBodyBytes is the largest request body accepted (413 body_too_large).
const MaxBodyBytes = 64 << 10

// incomingRequestID is what an X-Request-Id the server adopts looks like.
// The Lambda adapter puts API Gateway's id there (which may carry base64
// characters such as '='); anything else gets a fresh id.
var incomingRequestID = regexp.MustCompile(`^[A-Za-z0-9+/=_.-]{8,64}$`)

// contentSecurityPolicy allows only same-origin scripts, styles and images
// (plus data: images), no plugins, no <base>, no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// setSecurityHeaders sets the headers every response carries (SECURITY.md
// 28), and no-store on API answers.
func setSecurityHeaders(h http.Header, path string) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if path == "/api" || strings.HasPrefix(path, "/api/") {
		h.Set("Cache-Control", "no-store")
	}
}

// middleware wraps the mux with what every request goes through, outermost
// first: a request id (in the response header, the context and every log
// line), security headers, an access log line, panic recovery, the body
// limit, and the refusal of cross-origin unsafe requests (SECURITY.md 27).
func (s *Server) middleware(next http.Handler) http.Handler {
	crossOrigin := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !incomingRequestID.MatchString(id) {
			id = rekey.NewID()
		}
		r = r.WithContext(withRequestID(r.Context(), id))
		w.Header().Set("X-Request-Id", id)
		setSecurityHeaders(w.Header(), r.URL.Path)
		rec := &statusRecorder{ResponseWriter: w}

		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic serving request", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if !rec.wroteHeader {
					s.writeJSON(rec, r, http.StatusInternalServerError,
						errorBody{Error: errorDetail{Code: rekey.ECodeInternal, Message: "Internal error."}})
				}
			}
			s.log.InfoContext(r.Context(), "request", "method", r.Method, "route", r.Pattern,
				"status", rec.status(), "durationMs", time.Since(start).Milliseconds())
		}()

		limit, tooLarge := bodyLimit(r.URL.Path)
		if r.ContentLength > limit {
			s.writeError(rec, r, tooLarge)
			return
		}
		r.Body = http.MaxBytesReader(rec, r.Body, limit)
		if err := crossOrigin.Check(r); err != nil {
			s.writeError(rec, r, fail(rekey.ECodeCSRF, "Cross-origin request refused."))
			return
		}
		next.ServeHTTP(rec, r)
	})
}

// statusRecorder remembers the status a handler sent, for the access log
// and so that panic recovery does not write a second header.
type statusRecorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.code, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) status() int {
	if !r.wroteHeader {
		return http.StatusOK
	}
	return r.code
}
