package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/burgut-uav/burgut/audit"
	"github.com/burgut-uav/burgut/httpapi"
)

// Route is one endpoint of the auth API with the role it needs; the app
// registers them through its one route table.
type Route struct {
	Pattern string
	Role    Role
	Handler http.HandlerFunc
}

// Routes are the login, session, users, tokens and audit endpoints
// (documented in docs/api.md).
func (g *Guard) Routes() []Route {
	return []Route{
		{"POST /api/v1/login", Anonymous, g.login},
		{"POST /api/v1/logout", Observer, g.logout},
		{"GET /api/v1/session", Observer, g.session},
		{"PUT /api/v1/session/password", Observer, g.handle(g.changePassword)},
		{"GET /api/v1/users", Admin, g.handle(g.listUsers)},
		{"POST /api/v1/users", Admin, g.handle(g.addUser)},
		{"PATCH /api/v1/users/{name}", Admin, g.handle(g.patchUser)},
		{"DELETE /api/v1/users/{name}", Admin, g.handle(g.removeUser)},
		{"GET /api/v1/tokens", Admin, g.handle(g.listTokens)},
		{"POST /api/v1/tokens", Admin, g.handle(g.createToken)},
		{"DELETE /api/v1/tokens/{id}", Admin, g.handle(g.revokeToken)},
		{"GET /api/v1/audit", Admin, g.handle(g.queryAudit)},
	}
}

// maxLoginBody bounds a login request: a name and a password fit easily.
const maxLoginBody = 4 << 10

func (g *Guard) handle(fn func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			httpapi.WriteError(w, r, g.Log, storeError(err))
		}
	}
}

// storeError gives store errors their HTTP meaning.
func storeError(err error) error {
	var e *httpapi.Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, ErrNotFound):
		return httpapi.NotFound("%v", err)
	case errors.Is(err, ErrExists), errors.Is(err, ErrLastAdmin):
		return httpapi.New(httpapi.CodeConflict, "%v", err)
	case errors.Is(err, ErrWeakPassword):
		return httpapi.Invalid("password", "%v", err)
	case strings.HasPrefix(err.Error(), "name "):
		return httpapi.Invalid("name", "%v", err)
	case strings.HasPrefix(err.Error(), "role "):
		return httpapi.Invalid("role", "%v", err)
	case strings.HasPrefix(err.Error(), "expires "):
		return httpapi.Invalid("expires", "%v", err)
	}
	return err
}

// LoginRequest is the body of POST /api/v1/login.
type LoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// login checks a password and starts a browser session. Every attempt is
// audited; failures look the same whatever the reason.
func (g *Guard) login(w http.ResponseWriter, r *http.Request) {
	const route = "POST /api/v1/login"
	e := audit.Entry{Source: r.RemoteAddr, Route: route, Path: r.URL.Path}
	fail := func(err *httpapi.Error, detail string) {
		g.refused.Add(1)
		httpapi.WriteError(w, r, g.Log, err)
		if !g.withinBudget(r) {
			return
		}
		e.Status = err.Status
		if e.Status == 0 {
			e.Status = httpapiStatus(err.Code)
		}
		e.Result, e.Detail = err.Code, detail
		if e.Actor == "" {
			e.Actor = "anonymous"
		}
		g.appendAudit(e)
	}
	var req LoginRequest
	if err := httpapi.DecodeJSON(r, &req, maxLoginBody); err != nil {
		var he *httpapi.Error
		errors.As(err, &he)
		fail(he, "malformed login request")
		return
	}
	e.Actor = req.Username
	if req.Username == "" || req.Password == "" {
		fail(httpapi.Invalid("", "username and password are both required"), "empty username or password")
		return
	}
	if len(req.Username) > 64 {
		e.Actor = req.Username[:64] + "…"
	}
	ip := clientIP(r)
	if wait := g.Limiter.Blocked(req.Username, ip); wait > 0 {
		secs := int(wait/time.Second) + 1
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		fail(&httpapi.Error{Code: CodeRateLimited,
			Message: fmt.Sprintf("too many failed logins: try again in %d s", secs)}, "throttled")
		return
	}
	u, err := g.Store.CheckPassword(r.Context(), req.Username, req.Password)
	if err != nil {
		var ce *CredentialError
		if !errors.As(err, &ce) {
			g.log().Error("login: cannot check password", "err", err)
			fail(&httpapi.Error{Code: httpapi.CodeInternal, Message: "internal error: cannot check credentials"}, "store failure")
			return
		}
		delay := g.Limiter.Fail(req.Username, ip)
		g.log().Warn("login failed", "user", e.Actor, "source", r.RemoteAddr, "reason", ce.Reason, "next_delay", delay)
		w.Header().Set("WWW-Authenticate", `Bearer realm="burgut"`)
		fail(&httpapi.Error{Code: CodeUnauthorized, Message: "invalid user name or password"}, ce.Reason)
		return
	}
	g.Limiter.Succeed(u.Name)
	value, s := g.Sessions.Create(u)
	http.SetCookie(w, g.cookie(value, int(g.Sessions.Absolute/time.Second)))
	exp := s.Expires
	p := Principal{Name: u.Name, Role: u.Role, Kind: "user", CSRF: s.CSRF, ExpiresAt: &exp}
	httpapi.WriteJSON(w, http.StatusOK, p)
	g.log().Info("login", "user", u.Name, "role", u.Role, "source", r.RemoteAddr)
	e.Role, e.Status, e.Result = u.Role.String(), http.StatusOK, "ok"
	g.appendAudit(e)
}

// httpapiStatus is the status httpapi.WriteError gives a code.
func httpapiStatus(code string) int {
	rec := &statusRecorder{ResponseWriter: discardWriter{}}
	httpapi.WriteError(rec, nil, nil, &httpapi.Error{Code: code})
	return rec.status()
}

type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}

func (g *Guard) appendAudit(e audit.Entry) {
	if _, err := g.Audit.Append(e); err != nil {
		g.auditFailures.Add(1)
		g.log().Error("audit: entry not recorded", "route", e.Route, "actor", e.Actor, "err", err)
	}
}

// logout ends the caller's browser session.
func (g *Guard) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(CookieName); err == nil {
		g.Sessions.Delete(c.Value)
	}
	http.SetCookie(w, g.cookie("", -1))
	w.WriteHeader(http.StatusNoContent)
}

// session says who the caller is (the web page asks on load; its
// csrf_token is what mutating calls must send back).
func (g *Guard) session(w http.ResponseWriter, r *http.Request) {
	p, _ := FromContext(r.Context())
	httpapi.WriteJSON(w, http.StatusOK, p)
}

// PasswordChange is the body of PUT /api/v1/session/password.
type PasswordChange struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// changePassword lets a logged-in person replace their own password (the
// first admin's one-time password, or any other). It needs the current
// one, counts wrong ones against the login throttle, ends the account's
// other sessions and hands this browser a new session.
func (g *Guard) changePassword(w http.ResponseWriter, r *http.Request) error {
	p, _ := FromContext(r.Context())
	if p.Kind != "user" {
		return httpapi.Invalid("", "API tokens have no password: log in with a user name to change one")
	}
	var req PasswordChange
	if err := httpapi.DecodeJSON(r, &req, maxLoginBody); err != nil {
		return err
	}
	if err := CheckPasswordPolicy(req.NewPassword); err != nil {
		return httpapi.Invalid("new_password", "%v", err)
	}
	ip := clientIP(r)
	if wait := g.Limiter.Blocked(p.Name, ip); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		return &httpapi.Error{Code: CodeRateLimited, Message: "too many wrong passwords: try again later"}
	}
	if _, err := g.Store.CheckPassword(r.Context(), p.Name, req.CurrentPassword); err != nil {
		if errors.Is(err, ErrBadCredentials) {
			g.Limiter.Fail(p.Name, ip)
			return httpapi.Invalid("current_password", "wrong password")
		}
		return err
	}
	if err := g.Store.SetPassword(r.Context(), p.Name, req.NewPassword); err != nil {
		return err
	}
	u, err := g.Store.GetUser(r.Context(), p.Name)
	if err != nil {
		return err
	}
	if c, err := r.Cookie(CookieName); err == nil {
		g.Sessions.Delete(c.Value)
	}
	value, s := g.Sessions.Create(u)
	http.SetCookie(w, g.cookie(value, int(g.Sessions.Absolute/time.Second)))
	exp := s.Expires
	httpapi.WriteJSON(w, http.StatusOK, Principal{Name: u.Name, Role: u.Role, Kind: "user", CSRF: s.CSRF, ExpiresAt: &exp})
	g.log().Info("password changed", "user", u.Name, "source", r.RemoteAddr)
	return nil
}

func (g *Guard) listUsers(w http.ResponseWriter, r *http.Request) error {
	us, err := g.Store.ListUsers(r.Context())
	if err != nil {
		return err
	}
	if us == nil {
		us = []User{}
	}
	httpapi.WriteJSON(w, http.StatusOK, us)
	return nil
}

// UserRequest is the body of POST /api/v1/users (name, role and password
// required) and PATCH /api/v1/users/{name} (any of role, password,
// disabled).
type UserRequest struct {
	Name     string `json:"name"`
	Role     *Role  `json:"role"`
	Password string `json:"password"`
	Disabled *bool  `json:"disabled"`
}

const maxAdminBody = 16 << 10

func (g *Guard) addUser(w http.ResponseWriter, r *http.Request) error {
	var req UserRequest
	if err := httpapi.DecodeJSON(r, &req, maxAdminBody); err != nil {
		return err
	}
	if req.Role == nil {
		return httpapi.Invalid("role", "required: observer, operator or admin")
	}
	if err := g.Store.AddUser(r.Context(), req.Name, *req.Role, req.Password); err != nil {
		return err
	}
	u, err := g.Store.GetUser(r.Context(), req.Name)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, u)
	return nil
}

func (g *Guard) patchUser(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	var req UserRequest
	if err := httpapi.DecodeJSON(r, &req, maxAdminBody); err != nil {
		return err
	}
	if req.Name != "" && req.Name != name {
		return httpapi.Invalid("name", "renaming is not supported")
	}
	if _, err := g.Store.GetUser(r.Context(), name); err != nil {
		return err
	}
	if req.Password != "" {
		if err := g.Store.SetPassword(r.Context(), name, req.Password); err != nil {
			return err
		}
	}
	if req.Role != nil {
		if err := g.Store.SetRole(r.Context(), name, *req.Role); err != nil {
			return err
		}
	}
	if req.Disabled != nil {
		if err := g.Store.SetDisabled(r.Context(), name, *req.Disabled); err != nil {
			return err
		}
	}
	u, err := g.Store.GetUser(r.Context(), name)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, u)
	return nil
}

func (g *Guard) removeUser(w http.ResponseWriter, r *http.Request) error {
	if err := g.Store.RemoveUser(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (g *Guard) listTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := g.Store.ListTokens(r.Context())
	if err != nil {
		return err
	}
	if ts == nil {
		ts = []Token{}
	}
	httpapi.WriteJSON(w, http.StatusOK, ts)
	return nil
}

// TokenRequest is the body of POST /api/v1/tokens.
type TokenRequest struct {
	Name    string `json:"name"`
	Role    *Role  `json:"role"`
	Expires string `json:"expires"` // a Go duration ("24h"); empty = never
}

// CreatedToken is the one response that carries a token's text.
type CreatedToken struct {
	Token
	Secret string `json:"token"`
}

func (g *Guard) createToken(w http.ResponseWriter, r *http.Request) error {
	var req TokenRequest
	if err := httpapi.DecodeJSON(r, &req, maxAdminBody); err != nil {
		return err
	}
	if req.Role == nil {
		return httpapi.Invalid("role", "required: observer, operator or admin")
	}
	var ttl time.Duration
	if req.Expires != "" {
		d, err := time.ParseDuration(req.Expires)
		if err != nil || d <= 0 {
			return httpapi.Invalid("expires", "want a positive duration such as 24h or 90m, got %q", req.Expires)
		}
		ttl = d
	}
	secret, t, err := g.Store.CreateToken(r.Context(), req.Name, *req.Role, ttl)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, CreatedToken{Token: t, Secret: secret})
	return nil
}

func (g *Guard) revokeToken(w http.ResponseWriter, r *http.Request) error {
	t, err := g.Store.RevokeToken(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, t)
	return nil
}

// queryAudit serves GET /api/v1/audit?actor=&route=&vehicle=&result=&since=&until=&after=&limit=.
func (g *Guard) queryAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := audit.Filter{Actor: q.Get("actor"), Route: q.Get("route"), Vehicle: q.Get("vehicle"), Result: q.Get("result")}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(t.name); v != "" {
			at, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return httpapi.Invalid(t.name, "want an RFC 3339 time such as 2026-12-01T10:00:00Z, got %q", v)
			}
			*t.dst = at
		}
	}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return httpapi.Invalid("after", "want an entry sequence number, got %q", v)
		}
		f.AfterSeq = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return httpapi.Invalid("limit", "want 1-10000, got %q", v)
		}
		f.Limit = n
	}
	es, err := g.Audit.Query(f)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, es)
	return nil
}
