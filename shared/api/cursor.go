package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/rekey/rekey/shared/rekey"
)

// cursorSecretName is the secret the cursor signing key is kept under.
const cursorSecretName = "cursor"

// maxCursorLen bounds the cursors the API accepts.
const maxCursorLen = 4096

// errInvalidCursor answers a cursor that was not issued for this query.
var errInvalidCursor = fail(rekey.ECodeInvalidCursor, "The cursor is invalid for this query; start again from the first page.")

// Cursors the API hands out are "<store cursor>.<HMAC>", both unpadded
// base64url, the HMAC-SHA256 covering the store cursor together with what
// the cursor is bound to: the endpoint, the actor and the normalised query.
// A cursor changed in any way, or replayed with another query or by another
// actor, is refused with invalid_cursor; the store only ever sees cursors it
// issued itself.

// signCursor returns the API cursor for a store cursor, or nil on the last
// page (the JSON answer then says "nextCursor": null).
func (s *Server) signCursor(ctx context.Context, storeCursor string, boundTo ...string) (*string, error) {
	if storeCursor == "" {
		return nil, nil
	}
	mac, err := s.cursorMAC(ctx, storeCursor, boundTo)
	if err != nil {
		return nil, err
	}
	c := base64.RawURLEncoding.EncodeToString([]byte(storeCursor)) + "." + base64.RawURLEncoding.EncodeToString(mac)
	return &c, nil
}

// openCursor checks an API cursor against what it must be bound to and
// returns the store cursor inside; "" stays "" (the first page).
func (s *Server) openCursor(ctx context.Context, cursor string, boundTo ...string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	if len(cursor) > maxCursorLen {
		return "", errInvalidCursor
	}
	encodedStore, encodedMAC, ok := strings.Cut(cursor, ".")
	if !ok {
		return "", errInvalidCursor
	}
	storeCursor, err1 := base64.RawURLEncoding.Strict().DecodeString(encodedStore)
	got, err2 := base64.RawURLEncoding.Strict().DecodeString(encodedMAC)
	if err1 != nil || err2 != nil || len(storeCursor) == 0 {
		return "", errInvalidCursor
	}
	want, err := s.cursorMAC(ctx, string(storeCursor), boundTo)
	if err != nil {
		return "", err
	}
	if !hmac.Equal(got, want) {
		return "", errInvalidCursor
	}
	return string(storeCursor), nil
}

// cursorMAC is the HMAC of a store cursor and its binding. The parts are
// JSON-encoded as one array so that no two different lists of parts encode
// alike.
func (s *Server) cursorMAC(ctx context.Context, storeCursor string, boundTo []string) ([]byte, error) {
	key, err := s.cursorSigningKey(ctx)
	if err != nil {
		return nil, err
	}
	msg, err := json.Marshal(append([]string{"rekey-cursor-v1", storeCursor}, boundTo...))
	if err != nil {
		return nil, fmt.Errorf("api: encode cursor binding: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(msg)
	return mac.Sum(nil), nil
}

// cursorSigningKey fetches the signing key on first use and keeps it for
// the life of the server (a Lambda's execution environment).
func (s *Server) cursorSigningKey(ctx context.Context) ([]byte, error) {
	s.cursorMu.Lock()
	defer s.cursorMu.Unlock()
	if s.cursorKey != nil {
		return s.cursorKey, nil
	}
	if s.secrets == nil {
		return nil, errors.New("api: no secret store for the cursor key")
	}
	key, err := s.secrets.Secret(ctx, cursorSecretName)
	if err != nil {
		return nil, fmt.Errorf("api: read cursor key: %w", err)
	}
	if len(key) < 16 {
		return nil, fmt.Errorf("api: cursor key is %d bytes, want at least 16", len(key))
	}
	s.cursorKey = key
	return key, nil
}
