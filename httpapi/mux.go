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

// ServeHTTP dispatches to the registered routes.
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.mux.ServeHTTP(w, r) }

// Handler reports the handler and pattern ("GET /api/v1/vehicles") a
// request would reach, as http.ServeMux.Handler does.
func (m *Mux) Handler(r *http.Request) (http.Handler, string) { return m.mux.Handler(r) }
