package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

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
	_, err := decodeJSONBody(r, dst)
	return err
}

// decodeJSONBody is decodeJSON that also returns the raw body.
func decodeJSONBody(r *http.Request, dst any) ([]byte, error) {
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/json" {
		return nil, fail(rekey.ECodeUnsupportedMedia, "Send the body as application/json.")
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, decodeError(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return nil, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fail(rekey.ECodeInvalidJSON, "The body must hold a single JSON value.")
	}
	if field, ok := invalidText(raw); ok {
		return nil, rekey.FieldError(rekey.ECodeInvalidInput, field,
			fmt.Sprintf("Field %q holds an unpaired UTF-16 surrogate or invalid UTF-8; send valid Unicode text.", field))
	}
	return raw, nil
}

// nullMember returns the first member (by name) of the JSON object body
// whose value is null. A PATCH decodes into pointers, where null and a
// missing member both become nil: without this, {"firstName": null} would
// be a silent no-op. Null never means "clear" in this API; an optional
// text field is cleared with "", as it always has been.
func nullMember(body []byte) (string, bool) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return "", false // not an object: the decoder has already said so
	}
	for _, name := range slices.Sorted(maps.Keys(members)) {
		if string(bytes.TrimSpace(members[name])) == "null" {
			return name, true
		}
	}
	return "", false
}

// invalidText finds the first string in the valid JSON document data that
// encoding/json would silently change: an escaped UTF-16 surrogate without
// its other half ("\ud800") or bytes that are not UTF-8. Go replaces both
// with U+FFFD, so a name would be stored other than it was sent, and the
// decoded value cannot tell a replacement from a U+FFFD the client meant.
// field names the string's place as error answers do: the object keys
// leading to it joined by dots (an array's items are named by the array,
// "selection.userIds"); a key at fault names itself.
func invalidText(data []byte) (field string, found bool) {
	type frame struct {
		object    bool
		key       string
		expectKey bool
	}
	var stack []frame
	path := func(last string) string {
		var names []string
		for _, f := range stack {
			if f.object && f.key != "" {
				names = append(names, f.key)
			}
		}
		if last != "" {
			names = append(names, last)
		}
		return strings.Join(names, ".")
	}
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '{':
			stack = append(stack, frame{object: true, expectKey: true})
		case '[':
			stack = append(stack, frame{})
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ',':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].expectKey = true
			}
		case '"':
			end, ok := scanString(data, i+1)
			raw := data[i : end+1]
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expectKey {
				var key string
				_ = json.Unmarshal(raw, &key) // valid: the document was decoded
				stack[n-1].key, stack[n-1].expectKey = key, false
				if !ok {
					return path(""), true
				}
			} else if !ok {
				return path(""), true
			}
			i = end
		}
	}
	return "", false
}

// scanString reads the JSON string whose contents start at data[start] (a
// valid string: the document was decoded) and returns the index of its
// closing quote and whether its text is valid Unicode: UTF-8 bytes, and
// every escaped surrogate paired (a high one, U+D800–U+DBFF, followed at
// once by an escaped low one, U+DC00–U+DFFF).
func scanString(data []byte, start int) (end int, ok bool) {
	ok = true
	i := start
	for i < len(data) && data[i] != '"' {
		if data[i] != '\\' {
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				ok = false
			}
			i += size
			continue
		}
		if i+1 < len(data) && data[i+1] != 'u' {
			i += 2
			continue
		}
		v, valid := hex4(data, i+2)
		switch {
		case !valid:
			ok = false
			i += 2
		case v >= 0xd800 && v < 0xdc00:
			if low, lowOK := hex4(data, i+8); lowOK && data[i+6] == '\\' && data[i+7] == 'u' && low >= 0xdc00 && low < 0xe000 {
				i += 12
				continue
			}
			ok = false
			i += 6
		case v >= 0xdc00 && v < 0xe000:
			ok = false
			i += 6
		default:
			i += 6
		}
	}
	return i, ok
}

// hex4 reads the four hexadecimal digits at data[at:at+4].
func hex4(data []byte, at int) (rune, bool) {
	if at < 0 || at+4 > len(data) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(data[at:at+4]), 16, 32)
	return rune(v), err == nil
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

// pageQuery reads the query string of a list: the filters it names, and the
// limit and cursor every list pages with. limit is queryLimit's.
func pageQuery(r *http.Request, filters ...string) (url.Values, int, error) {
	values, err := queryParams(r, append(slices.Clip(filters), "limit", "cursor")...)
	if err != nil {
		return nil, 0, err
	}
	limit, err := queryLimit(values)
	if err != nil {
		return nil, 0, err
	}
	return values, limit, nil
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

// queryID returns the optional id query parameter name ("" when absent), or
// 400 invalid_id naming it: an id such as "../x" must not reach a store
// key.
func queryID(values url.Values, name string) (string, error) {
	id := values.Get(name)
	if id != "" && !rekey.ValidID(id) {
		return "", rekey.FieldError(rekey.ECodeInvalidID, name, fmt.Sprintf("%q is not a valid id.", name))
	}
	return id, nil
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
func byID[T any](s *Server, w http.ResponseWriter, r *http.Request, status int, do func(ctx context.Context, id string) (T, error)) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	out, err := do(r.Context(), id)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, status, out)
	return nil
}

// patchByID is byID for PATCH: the body is decoded into a P (strictly, as
// decodeJSON does) before do runs, and the result is 200. A member sent as
// null is 422 naming it: leave a field out to keep it.
func patchByID[P, T any](s *Server, w http.ResponseWriter, r *http.Request, do func(ctx context.Context, id string, patch P) (T, error)) error {
	return byID(s, w, r, http.StatusOK, func(ctx context.Context, id string) (T, error) {
		var patch P
		var zero T
		body, err := decodeJSONBody(r, &patch)
		if err != nil {
			return zero, err
		}
		if name, ok := nullMember(body); ok {
			return zero, rekey.FieldError(rekey.ECodeInvalidInput, name,
				fmt.Sprintf("Field %q cannot be null: leave it out to keep its value, or send a value (\"\" clears an optional text field).", name))
		}
		return do(ctx, id, patch)
	})
}
