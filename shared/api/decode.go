package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/rekey/rekey/shared/rekey"
)

// errBodyTooLarge answers a body over MaxBodyBytes.
var errBodyTooLarge = fail(rekey.ECodeBodyTooLarge, fmt.Sprintf("The request body is larger than %d KiB.", MaxBodyBytes>>10))

// decodeJSON reads r's body into dst strictly: the Content-Type must be
// application/json (415), fields dst does not have are refused (400
// unknown_field naming the field), malformed JSON, a value of the wrong
// type and anything after the value are 400 invalid_json, and a body over
// the limit is 413.
func decodeJSON(r *http.Request, dst any) error {
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/json" {
		return fail(rekey.ECodeUnsupportedMedia, "Send the body as application/json.")
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			if e := decodeError(err); rekey.ErrorCode(e) == rekey.ECodeBodyTooLarge {
				return e
			}
		}
		return fail(rekey.ECodeInvalidJSON, "The body must hold a single JSON value.")
	}
	return nil
}

// decodeError translates an encoding/json or body-limit error.
func decodeError(err error) error {
	var tooLarge *http.MaxBytesError
	var wrongType *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooLarge):
		return errBodyTooLarge
	case errors.As(err, &wrongType):
		field := wrongType.Field
		msg := fmt.Sprintf("Field %q has the wrong type (want %s).", field, jsonTypeName(wrongType.Type.Kind().String()))
		if field == "" {
			msg = "The body must be a JSON object."
		}
		return rekey.FieldError(rekey.ECodeInvalidJSON, field, msg)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		field, uerr := strconv.Unquote(name)
		if uerr != nil {
			field = strings.Trim(name, `"`)
		}
		return rekey.FieldError(rekey.ECodeUnknownField, field, fmt.Sprintf("Unknown field %q.", field))
	}
	return fail(rekey.ECodeInvalidJSON, "The body is not valid JSON.")
}

// jsonTypeName names a Go kind as the JSON type a client should send.
func jsonTypeName(kind string) string {
	switch {
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "true or false"
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "slice", kind == "array":
		return "an array"
	default:
		return "an object"
	}
}

// marshal encodes v as JSON with a trailing newline. HTML characters are
// escaped, so user data can never become markup in a browser sniffing it.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// queryParams parses r's query string, refusing parameters not in allowed
// (400 unknown_field) and parameters given more than once (422).
func queryParams(r *http.Request, allowed ...string) (url.Values, error) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fail(rekey.ECodeInvalidInput, "The query string is malformed.")
	}
	for name, vs := range values {
		if !slices.Contains(allowed, name) {
			return nil, rekey.FieldError(rekey.ECodeUnknownField, name, fmt.Sprintf("Unknown query parameter %q.", name))
		}
		if len(vs) > 1 {
			return nil, rekey.FieldError(rekey.ECodeInvalidInput, name, fmt.Sprintf("Give %q at most once.", name))
		}
	}
	return values, nil
}

// queryLimit parses the optional limit parameter; 0 means the default. The
// service checks the range.
func queryLimit(values url.Values) (int, error) {
	s := values.Get("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, rekey.FieldError(rekey.ECodeInvalidInput, "limit", "Limit must be a positive whole number.")
	}
	return n, nil
}

// pathID returns the {id} path segment, or 400 invalid_id.
func pathID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !rekey.ValidID(id) {
		return "", fail(rekey.ECodeInvalidID, "That is not a valid id.")
	}
	return id, nil
}

// byID serves a request about the one resource named by the {id} path
// value: a bad id is 400 invalid_id, then do's error or its result with
// status.
func byID[T any](s *Server, w http.ResponseWriter, r *http.Request, status int, do func(ctx context.Context, id string) (T, error)) {
	id, err := pathID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := do(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, status, out)
}

// patchByID is byID for PATCH: the body is decoded into a P (strictly, as
// decodeJSON does) before do runs, and the result is 200.
func patchByID[P, T any](s *Server, w http.ResponseWriter, r *http.Request, do func(ctx context.Context, id string, patch P) (T, error)) {
	byID(s, w, r, http.StatusOK, func(ctx context.Context, id string) (T, error) {
		var patch P
		if err := decodeJSON(r, &patch); err != nil {
			var zero T
			return zero, err
		}
		return do(ctx, id, patch)
	})
}
