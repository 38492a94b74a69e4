package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// Access is the level a caller needs to use a route. Every route declares
// one, next to its handler, so access control is decided where the route is
// written and can be enforced in one place (Mux's Wrap hook).
type Access int

// Access levels, from least to most privileged. The zero value is not a
// level: a Route without Access is refused by Mux.Handle.
const (
	// Anonymous: anyone who can reach the port (health checks).
	Anonymous Access = iota + 1
	// Observer: reads the live picture, history, plans and areas.
	Observer
	// Operator: commands vehicles, uploads lists, sets parameters, creates
	// areas and plans, assigns plans.
	Operator
	// Admin: administers the station itself (nothing yet).
	Admin
)

var accessNames = map[Access]string{Anonymous: "anonymous", Observer: "observer", Operator: "operator", Admin: "admin"}

func (a Access) String() string {
	if s, ok := accessNames[a]; ok {
		return s
	}
	return fmt.Sprintf("Access(%d)", int(a))
}

// Valid reports whether a is one of the declared levels.
func (a Access) Valid() bool { _, ok := accessNames[a]; return ok }

// Route is one HTTP route of the binary: method, path pattern (net/http
// ServeMux syntax, e.g. "/api/v1/vehicles/{id}"), the access level it
// needs, and its handler.
type Route struct {
	Method  string
	Pattern string
	Access  Access
	Handler http.Handler
}

// String is the ServeMux pattern of the route, "GET /api/v1/vehicles".
func (r Route) String() string { return r.Method + " " + r.Pattern }

// Wrap decorates a route's handler when it is registered; the route is
// passed so the decorator can read its Access (or Method, Pattern).
type Wrap func(Route, http.Handler) http.Handler

// Mux is the one place every HTTP route of the binary is registered:
// a net/http ServeMux plus the list of routes with their access levels.
//
// Wrapping point: NewMux's Wrap functions are applied to every route's
// handler at registration, first function outermost. Authentication and
// authorisation (issue 11) plug in there, reading Route.Access; nothing
// else in the code base needs to change for a new middleware. Wraps must be
// given to NewMux, before any route exists, so no route can escape them.
type Mux struct {
	mux   *http.ServeMux
	wraps []Wrap

	mu     sync.Mutex
	routes []Route
}

// NewMux returns an empty Mux whose routes are decorated by wraps.
func NewMux(wraps ...Wrap) *Mux {
	return &Mux{mux: http.NewServeMux(), wraps: wraps}
}

var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}

// Handle registers r. It panics — a programming error found by any test
// that starts the service — when the route has no valid Access, no method,
// no handler, or a pattern that is not a path or is already registered.
func (m *Mux) Handle(r Route) {
	switch {
	case !r.Access.Valid():
		panic(fmt.Sprintf("httpapi: route %s declares no access level (Anonymous, Observer, Operator or Admin)", r))
	case !slices.Contains(methods, r.Method):
		panic(fmt.Sprintf("httpapi: route %s: method %q is not one of %v", r, r.Method, methods))
	case !strings.HasPrefix(r.Pattern, "/") || strings.ContainsAny(r.Pattern, " \t"):
		panic(fmt.Sprintf("httpapi: route %s: pattern must be a path starting with /", r))
	case r.Handler == nil:
		panic(fmt.Sprintf("httpapi: route %s has no handler", r))
	}
	h := r.Handler
	for i := len(m.wraps) - 1; i >= 0; i-- {
		h = m.wraps[i](r, h)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, old := range m.routes {
		if old.Method == r.Method && old.Pattern == r.Pattern {
			panic(fmt.Sprintf("httpapi: route %s registered twice", r))
		}
	}
	m.mux.Handle(r.String(), h) // also panics on conflicting patterns
	m.routes = append(m.routes, r)
}

// HandleFunc registers a route with a handler function.
func (m *Mux) HandleFunc(method, pattern string, access Access, fn http.HandlerFunc) {
	m.Handle(Route{Method: method, Pattern: pattern, Access: access, Handler: fn})
}

// Routes lists the registered routes in registration order (a copy).
func (m *Mux) Routes() []Route {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.routes)
}

// APIPrefix is the path under which every route is a JSON API route.
const APIPrefix = "/api/"

// ServeHTTP dispatches to the registered routes. A path under APIPrefix
// that no API route matches is answered here with the house JSON error —
// 404 not_found, or 405 method_not_allowed with Allow when the path exists
// for other methods — rather than ServeMux's plain text, and never falls
// through to a catch-all outside the API (the web map at "/"), nor to a
// redirect that would lead there.
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, APIPrefix) {
		m.mux.ServeHTTP(w, r)
		return
	}
	if _, pattern := m.mux.Handler(r); isAPIPattern(pattern) {
		m.mux.ServeHTTP(w, r) // sets the request's path values, which Handler does not
		return
	}
	var allow []string
	for _, method := range methods {
		probe := r.Clone(r.Context())
		probe.Method = method
		if _, p := m.mux.Handler(probe); isAPIPattern(p) {
			allow = append(allow, method)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		WriteError(w, r, nil, New(CodeMethodNotAll, "%s is not allowed on %s: use %s", r.Method, r.URL.Path, strings.Join(allow, ", ")))
		return
	}
	WriteError(w, r, nil, NotFound("no API route %s %s (GET /api/v1/openapi.yaml lists them)", r.Method, r.URL.Path))
}

// isAPIPattern reports whether a ServeMux pattern ("GET /api/v1/…") is an
// API route.
func isAPIPattern(p string) bool {
	_, path, ok := strings.Cut(p, " ")
	return ok && strings.HasPrefix(path, APIPrefix)
}

// Handler reports the handler and pattern ("GET /api/v1/vehicles") a
// request would reach, as http.ServeMux.Handler does.
func (m *Mux) Handler(r *http.Request) (http.Handler, string) { return m.mux.Handler(r) }

// RequireWebSocket answers a request that is not a WebSocket upgrade with
// the house JSON error (400 invalid) instead of passing it to next, whose
// upgrader would answer in plain text: a browser or curl that opens a
// WebSocket endpoint as a page learns what to do.
func RequireWebSocket(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
			WriteError(w, r, nil, Invalid("", "%s is a WebSocket endpoint: connect with a WebSocket client (Connection: Upgrade, Upgrade: websocket)", r.URL.Path))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// headerHasToken reports whether a comma-separated header holds token
// (case-insensitive), as RFC 7230 lists Connection and Upgrade values.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
