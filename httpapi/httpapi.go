// Package httpapi holds what every HTTP handler in Burgut shares: JSON
// responses, one error type whose code maps to an HTTP status in exactly
// one place (WriteError), strict JSON request decoding whose errors name
// the offending field, and the route table.
//
// # Routes and access levels
//
// Handlers of each area (vehicles, missions, history, stream, web map)
// live with their area and declare their routes on one Mux as Route
// values: method, path pattern, handler and the Access level the caller
// needs (Anonymous, Observer, Operator, Admin). Mux.Handle panics on a
// route without a valid level, so no route can be added without deciding
// who may call it; Mux.Routes lists them all (the OpenAPI test checks the
// list against app/openapi.yaml, and the access policy).
//
// # Wrapping point (access control)
//
// NewMux takes Wrap functions, func(Route, http.Handler) http.Handler,
// applied to every route's handler at registration with the Route itself,
// so a middleware reads Route.Access and authenticates/authorises there:
//
//	mux := httpapi.NewMux(auth.Require) // Require(r Route, next http.Handler) http.Handler
//
// The app builds its Mux in app.New; that call is the one place to add
// enforcement for every route of the binary.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// Error is an API error with a machine-readable code. Handlers return it;
// WriteError turns it into a response. Field names the request field at
// fault, so a client can point at it.
type Error struct {
	Status  int            `json:"-"`
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Field   string         `json:"field,omitempty"`
	Details map[string]any `json:"details,omitempty"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

// Error codes. They are part of the API: add, never rename.
const (
	CodeInvalid      = "invalid"     // 400: the request is malformed
	CodeNotFound     = "not_found"   // 404
	CodeConflict     = "conflict"    // 409: e.g. a transfer already running
	CodeRefused      = "refused"     // 422: the vehicle refused (MAV_RESULT in Details)
	CodeTimeout      = "timeout"     // 504: the vehicle did not answer
	CodeUnavailable  = "unavailable" // 503
	CodeForbidden    = "forbidden"   // 403
	CodeInternal     = "internal"    // 500
	CodeTooLarge     = "too_large"   // 413
	CodeUnsupported  = "unsupported" // 415
	CodeMethodNotAll = "method_not_allowed"
	CodeUnauthorized = "unauthorized" // 401: no, bad or expired credentials (with WWW-Authenticate)
	CodeCSRF         = "csrf"         // 403: a cookie session's mutation without its CSRF token, or cross-origin
	CodeRateLimited  = "rate_limited" // 429: too many failed logins; Retry-After says when to try again
	CodeControlled   = "controlled"   // 409: another operator holds the vehicle's control (holder and since in Details)
)

var statusOf = map[string]int{
	CodeInvalid:      http.StatusBadRequest,
	CodeNotFound:     http.StatusNotFound,
	CodeConflict:     http.StatusConflict,
	CodeRefused:      http.StatusUnprocessableEntity,
	CodeTimeout:      http.StatusGatewayTimeout,
	CodeUnavailable:  http.StatusServiceUnavailable,
	CodeForbidden:    http.StatusForbidden,
	CodeInternal:     http.StatusInternalServerError,
	CodeTooLarge:     http.StatusRequestEntityTooLarge,
	CodeUnsupported:  http.StatusUnsupportedMediaType,
	CodeMethodNotAll: http.StatusMethodNotAllowed,
	CodeUnauthorized: http.StatusUnauthorized,
	CodeCSRF:         http.StatusForbidden,
	CodeRateLimited:  http.StatusTooManyRequests,
	CodeControlled:   http.StatusConflict,
}

// Invalid is a 400 naming the field at fault.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound is a 404 for the named thing.
func NotFound(format string, args ...any) *Error {
	return &Error{Code: CodeNotFound, Message: fmt.Sprintf(format, args...)}
}

// New builds an error with any code.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WriteJSON writes v as a JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to do
}

// WriteError writes err as {"error": {...}}. An *Error keeps its code;
// context deadline errors become timeouts; anything else is logged and
// reported as internal without leaking details.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var e *Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, context.DeadlineExceeded):
		e = &Error{Code: CodeTimeout, Message: err.Error()}
	default:
		if log != nil {
			log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		e = &Error{Code: CodeInternal, Message: "internal error: " + err.Error()}
	}
	status := e.Status
	if status == 0 {
		status = statusOf[e.Code]
	}
	if status == 0 {
		status = http.StatusInternalServerError
	}
	WriteJSON(w, status, map[string]*Error{"error": e})
}

// DecodeJSON decodes the request body into dst, refusing unknown fields,
// trailing data and bodies over maxBytes. Errors are *Error values that
// name the field or byte offset at fault.
func DecodeJSON(r *http.Request, dst any, maxBytes int64) error {
	// curl -d labels JSON bodies as a form; accept that label (the body must
	// still be JSON) so operators need no extra header, refuse the rest.
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") &&
		!strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return &Error{Code: CodeUnsupported, Message: fmt.Sprintf("content type %q: want application/json", ct)}
	}
	body := http.MaxBytesReader(nil, r.Body, maxBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err, maxBytes)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return Invalid("", "request body has data after the JSON value")
	}
	return nil
}

func decodeError(err error, maxBytes int64) *Error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		big *http.MaxBytesError
	)
	switch {
	case errors.Is(err, io.EOF):
		return Invalid("", "request body is empty: want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Invalid("", "request body ends in the middle of a JSON value")
	case errors.As(err, &syn):
		return Invalid("", "malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		return Invalid(typ.Field, "wrong type at byte %d: got JSON %s, want %s", typ.Offset, typ.Value, typ.Type)
	case errors.As(err, &big):
		return &Error{Code: CodeTooLarge, Message: fmt.Sprintf("request body larger than %d bytes", maxBytes)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return Invalid(f, "unknown field %q", f)
	}
	return Invalid("", "cannot decode JSON body: %v", err)
}
