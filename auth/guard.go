package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/burgut-uav/burgut/audit"
	"github.com/burgut-uav/burgut/httpapi"
)

// Cookie and header names.
const (
	CookieName = "burgut_session"
	CSRFHeader = "X-CSRF-Token"
)

// Error codes of authentication, from httpapi (one owner of codes and
// their statuses).
const (
	CodeUnauthorized = httpapi.CodeUnauthorized
	CodeRateLimited  = httpapi.CodeRateLimited
	CodeCSRF         = httpapi.CodeCSRF
)

// Principal is the authenticated caller of a request.
type Principal struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Kind is "user" (password login, browser session) or "token".
	Kind    string `json:"kind"`
	TokenID string `json:"token_id,omitempty"`
	// CSRF is the session's anti-CSRF token (cookie sessions only): send
	// it back in the X-CSRF-Token header on every mutating call.
	CSRF      string     `json:"csrf_token,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`

	viaCookie bool
}

// Actor is how the audit log and the event stream name the principal.
func (p Principal) Actor() string {
	if p.Kind == "token" {
		return "token:" + p.Name
	}
	return p.Name
}

type ctxKey struct{}

// FromContext returns the request's principal (set by Guard.Wrap).
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// Guard checks every request against the role its route declares, audits
// every mutating call, and serves login, logout and the admin API.
type Guard struct {
	Store    *Store
	Sessions *Sessions
	Limiter  *Limiter
	Audit    *audit.Log
	Log      *slog.Logger
	// Secure marks cookies Secure (the station serves HTTPS, directly or
	// behind a TLS-terminating proxy).
	Secure bool
	// FullBody says which routes record their whole request body in the
	// audit log (commands and uploads: what was sent to the aircraft).
	FullBody func(route string) bool
	// Secret says which routes carry secrets (passwords): their bodies are
	// neither recorded nor digested.
	Secret func(route string) bool
	// OnAudited, when set, sees each audited mutating call that succeeded
	// (the app tags the event stream with its actor).
	OnAudited func(r *http.Request, e audit.Entry)

	// anonymous bounds audit entries of unauthenticated callers per
	// address (5 a second, bursts of 50).
	anonymous budget

	refused, auditFailures, suppressed atomic.Uint64
}

// Stats counts what the guard refused, failed to audit, and did not audit
// because an unauthenticated address exceeded its audit budget.
type Stats struct {
	Refused         uint64 `json:"refused"`
	AuditFailures   uint64 `json:"audit_failures"`
	AuditSuppressed uint64 `json:"audit_suppressed"`
}

// Stats returns running totals.
func (g *Guard) Stats() Stats {
	return Stats{Refused: g.refused.Load(), AuditFailures: g.auditFailures.Load(), AuditSuppressed: g.suppressed.Load()}
}

// withinBudget says whether an unauthenticated caller's entry is written;
// when not, it is counted (and logged now and then).
func (g *Guard) withinBudget(r *http.Request) bool {
	if g.anonymous.allow(clientIP(r)) {
		return true
	}
	if n := g.suppressed.Add(1); n%1000 == 1 {
		g.log().Warn("audit: unauthenticated requests from one address over the audit budget; counted, not recorded",
			"source", r.RemoteAddr, "suppressed_total", n)
	}
	return false
}

func (g *Guard) log() *slog.Logger {
	if g.Log == nil {
		return slog.Default()
	}
	return g.Log
}

// Mutating reports whether a method changes state (and so is audited and,
// for cookie sessions, needs the CSRF token).
func Mutating(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// maxAuditBody caps the request body the guard buffers for the audit
// digest; bodies beyond it are digested as far as read and flagged.
const maxAuditBody = 16 << 20

// maxRefusedBody is how much of a refused call's body is read for its
// audit entry.
const maxRefusedBody = 64 << 10

// Wrap returns h guarded for a route (its pattern, e.g. "POST
// /api/v1/commands/{name}") that needs role need. Anonymous routes pass
// through untouched (login audits itself).
func (g *Guard) Wrap(route string, need Role, h http.Handler) http.Handler {
	if need == Anonymous {
		return h
	}
	mutating := false
	if m, _, ok := cutMethod(route); ok {
		mutating = Mutating(m)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := g.Authenticate(r)
		var refusal *httpapi.Error
		switch {
		case err != nil:
			refusal = g.unauthorized(w, r, err)
		case p.viaCookie && mutating && checkCSRF(r, p) != nil:
			// First, so a forged request learns nothing about roles.
			refusal = checkCSRF(r, p)
		case !p.Role.Allows(need):
			refusal = &httpapi.Error{Code: httpapi.CodeForbidden,
				Message: "your role " + p.Role.String() + " may not do this: it needs " + need.String()}
		}
		if !mutating {
			if refusal != nil {
				g.refused.Add(1)
				httpapi.WriteError(w, r, g.Log, refusal)
				return
			}
			h.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
			return
		}
		g.serveAudited(w, r, route, p, refusal, h)
	})
}

// serveAudited runs (or refuses) a mutating call and appends its audit
// entry with the outcome.
func (g *Guard) serveAudited(w http.ResponseWriter, r *http.Request, route string, p Principal, refusal *httpapi.Error, h http.Handler) {
	e := audit.Entry{Actor: "anonymous", Source: r.RemoteAddr, Route: route, Path: r.URL.Path}
	if p.Name != "" {
		e.Actor, e.Role = p.Actor(), p.Role.String()
	} else if !g.withinBudget(r) {
		g.refused.Add(1)
		httpapi.WriteError(w, r, g.Log, refusal)
		return
	}
	secret := g.Secret != nil && g.Secret(route)
	if r.Body != nil && r.Body != http.NoBody {
		// A refused caller's body is read only so far: enough to record
		// what it tried, not a way to make the station buffer megabytes.
		limit := int64(maxAuditBody)
		if refusal != nil {
			limit = maxRefusedBody
		}
		buf, rest, n, over := readUpTo(r.Body, limit)
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf), rest), r.Body}
		e.BodyBytes = n
		if !secret {
			sum := sha256.Sum256(buf)
			e.BodySHA256 = hex.EncodeToString(sum[:])
			if over {
				e.Detail = "body larger than " + strconv.FormatInt(limit, 10) + " bytes; the digest covers those"
			}
			if g.FullBody != nil && g.FullBody(route) && !over {
				e.Body = string(buf)
			}
		}
		e.Vehicles = targets(r, buf)
	} else {
		e.Vehicles = targets(r, nil)
	}
	rec := &statusRecorder{ResponseWriter: w}
	if refusal != nil {
		g.refused.Add(1)
		httpapi.WriteError(rec, r, g.Log, refusal)
		e.Detail = strings.TrimPrefix(e.Detail+"; "+refusal.Message, "; ")
	} else {
		notes := &auditNotes{}
		h.ServeHTTP(rec, r.WithContext(context.WithValue(WithPrincipal(r.Context(), p), notesKey{}, notes)))
		if n := notes.String(); n != "" {
			e.Detail = strings.TrimPrefix(e.Detail+"; "+n, "; ")
		}
	}
	e.Status = rec.status()
	e.Result = "ok"
	if e.Status >= 300 {
		e.Result = rec.code
		if e.Result == "" {
			e.Result = strconv.Itoa(e.Status)
		}
	}
	e, err := g.Audit.Append(e)
	if err != nil {
		g.auditFailures.Add(1)
		g.log().Error("audit: entry not recorded", "route", route, "actor", e.Actor, "status", e.Status, "err", err)
		return
	}
	if refusal == nil && e.Result == "ok" && g.OnAudited != nil {
		g.OnAudited(r, e)
	}
}

// readUpTo reads at most limit bytes of r; rest is what remains.
func readUpTo(r io.Reader, limit int64) (buf []byte, rest io.Reader, n int64, over bool) {
	b, err := io.ReadAll(io.LimitReader(r, limit))
	if err != nil {
		// The handler will see the same failure reading the rest.
		return b, r, int64(len(b)), false
	}
	var one [1]byte
	k, _ := io.ReadFull(r, one[:])
	if k == 0 {
		return b, http.NoBody, int64(len(b)), false
	}
	return b, io.MultiReader(bytes.NewReader(one[:k]), r), int64(len(b)) + int64(k), true
}

// targets lists a call's target vehicles: the {id} of its path, or the
// vehicle_ids / all of its JSON body.
func targets(r *http.Request, body []byte) []string {
	if id := r.PathValue("id"); id != "" {
		return []string{id}
	}
	if len(body) == 0 || body[0] != '{' && !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		return nil
	}
	var b struct {
		VehicleIDs []string `json:"vehicle_ids"`
		VehicleID  string   `json:"vehicle_id"`
		All        bool     `json:"all"`
	}
	if json.Unmarshal(body, &b) != nil {
		return nil
	}
	switch {
	case b.All:
		return []string{"*"}
	case len(b.VehicleIDs) > 0:
		if len(b.VehicleIDs) > 1000 {
			return append(b.VehicleIDs[:1000:1000], "…")
		}
		return b.VehicleIDs
	case b.VehicleID != "":
		return []string{b.VehicleID}
	}
	return nil
}

// Authenticate finds the request's principal: a Bearer token if an
// Authorization header is present, else a session cookie. The error is
// ErrBadCredentials (or a store failure); without any credential it is
// errNoCredentials.
func (g *Guard) Authenticate(r *http.Request) (Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := bearer(h)
		if !ok {
			return Principal{}, badCredentials("Authorization header is not 'Bearer TOKEN'")
		}
		t, err := g.Store.CheckToken(r.Context(), tok)
		if err != nil {
			return Principal{}, err
		}
		return Principal{Name: t.Name, Role: t.Role, Kind: "token", TokenID: t.ID, ExpiresAt: t.Expires}, nil
	}
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return Principal{}, errNoCredentials
	}
	s, ok := g.Sessions.Lookup(c.Value)
	if !ok {
		return Principal{}, badCredentials("session unknown or expired")
	}
	u, err := g.Store.GetUser(r.Context(), s.User)
	if errors.Is(err, ErrNotFound) {
		g.Sessions.Delete(c.Value)
		return Principal{}, badCredentials("session's account removed")
	}
	if err != nil {
		return Principal{}, err
	}
	if u.Disabled || u.Generation != s.Generation {
		g.Sessions.Delete(c.Value)
		return Principal{}, badCredentials("session's account changed (password, role or disabled)")
	}
	exp := s.Expires
	return Principal{Name: u.Name, Role: u.Role, Kind: "user", CSRF: s.CSRF, ExpiresAt: &exp, viaCookie: true}, nil
}

var errNoCredentials = &CredentialError{Reason: "no credentials"}

// unauthorized sets WWW-Authenticate and returns the 401 error for err
// (or a 500 for a store failure, which is not the caller's fault).
func (g *Guard) unauthorized(w http.ResponseWriter, r *http.Request, err error) *httpapi.Error {
	var ce *CredentialError
	if !errors.As(err, &ce) {
		g.log().Error("authentication failed", "path", r.URL.Path, "err", err)
		return &httpapi.Error{Code: httpapi.CodeInternal, Message: "internal error: cannot check credentials"}
	}
	msg := "authentication required: log in, or send 'Authorization: Bearer TOKEN'"
	challenge := `Bearer realm="burgut"`
	if ce != errNoCredentials {
		msg = "invalid or expired credentials"
		challenge = `Bearer realm="burgut", error="invalid_token"`
		g.log().Warn("authentication refused", "path", r.URL.Path, "source", r.RemoteAddr, "reason", ce.Reason)
		if _, err := r.Cookie(CookieName); err == nil && r.Header.Get("Authorization") == "" {
			http.SetCookie(w, g.cookie("", -1))
		}
	}
	w.Header().Set("WWW-Authenticate", challenge)
	return &httpapi.Error{Code: CodeUnauthorized, Message: msg}
}

// checkCSRF refuses a cookie-authenticated mutation without the session's
// CSRF token, or from another origin.
func checkCSRF(r *http.Request, p Principal) *httpapi.Error {
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return &httpapi.Error{Code: CodeCSRF, Message: "cross-origin request refused"}
		}
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(p.CSRF)) != 1 {
		return &httpapi.Error{Code: CodeCSRF,
			Message: "missing or wrong " + CSRFHeader + " header (the csrf_token of your login or GET /api/v1/session)"}
	}
	return nil
}

func (g *Guard) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: value, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: g.Secure, MaxAge: maxAge}
}

// statusRecorder remembers the status and, for errors, the JSON error
// code of a response for the audit entry.
type statusRecorder struct {
	http.ResponseWriter
	code   string
	st     int
	header bool
	sniff  []byte
}

func (s *statusRecorder) WriteHeader(st int) {
	if !s.header {
		s.st, s.header = st, true
	}
	s.ResponseWriter.WriteHeader(st)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if !s.header {
		s.WriteHeader(http.StatusOK)
	}
	if s.st >= 300 && len(s.sniff) < 512 {
		s.sniff = append(s.sniff, b[:min(len(b), 512-len(s.sniff))]...)
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if json.Unmarshal(s.sniff, &e) == nil {
			s.code = e.Error.Code
		}
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) status() int {
	if !s.header {
		return http.StatusOK
	}
	return s.st
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush passes flushes through.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func cutMethod(route string) (method, path string, ok bool) {
	for i := 0; i < len(route); i++ {
		if route[i] == ' ' {
			return route[:i], route[i+1:], true
		}
	}
	return "", route, false
}

// clientIP is the address part of RemoteAddr.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
