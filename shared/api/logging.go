package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strings"
)

// requestIDKey is the context key of the request id.
type requestIDKey struct{}

// withRequestID returns ctx carrying the request id.
func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithRequestIDs returns a logger that adds a "requestId" attribute to
// every record logged with the context of an API request. Services called
// by the API can log through it too, so that every line of a request can be
// found by its id.
func WithRequestIDs(l *slog.Logger) *slog.Logger {
	if _, ok := l.Handler().(requestIDHandler); ok {
		return l
	}
	return slog.New(requestIDHandler{l.Handler()})
}

// requestIDHandler is the slog.Handler behind WithRequestIDs.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id := RequestID(ctx); id != "" {
		rec.AddAttrs(slog.String("requestId", id))
	}
	return h.Handler.Handle(ctx, rec)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// loginRef logs a sign-in name (a username or an email address, personal
// data either way) as a short hash: repeated failures against one account
// can be correlated without the name being in the log.
type loginRef string

// LogValue implements slog.LogValuer.
func (l loginRef) LogValue() slog.Value {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(string(l)))))
	return slog.StringValue("sha256:" + hex.EncodeToString(sum[:6]))
}
