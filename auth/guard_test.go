package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/audit"
)

type testStation struct {
	srv   *httptest.Server
	guard *Guard
	dir   string
	clock *clock
}

// newTestStation serves the auth routes and two stand-ins for the
// station's routes (one observer read, one operator command) through a
// Guard, as the app does.
func newTestStation(t testing.TB) *testStation {
	t.Helper()
	c := newClock()
	dir := t.TempDir()
	o := cheap
	o.Now = c.now
	st, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	al, err := audit.Open(dir, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(); al.Close() })
	g := &Guard{Store: st, Sessions: &Sessions{Now: c.now}, Limiter: &Limiter{Now: c.now}, Audit: al,
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		FullBody: func(route string) bool { return strings.Contains(route, "/commands/") },
		Secret: func(route string) bool {
			return strings.Contains(route, "/users") || strings.HasSuffix(route, "/password")
		}}
	g.anonymous.Now = c.now
	mux := http.NewServeMux()
	routes := append(g.Routes(),
		Route{"GET /api/v1/vehicles", Observer, func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `[]`)
		}},
		Route{"POST /api/v1/vehicles/{id}/commands/{name}", Operator, func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			p, _ := FromContext(r.Context())
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]string{"by": p.Actor(), "body": string(b)})
		}},
		Route{"GET /api/v1/health", Anonymous, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"status":"ok"}`) }},
	)
	for _, rt := range routes {
		mux.Handle(rt.Pattern, g.Wrap(rt.Pattern, rt.Role, rt.Handler))
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &testStation{srv: srv, guard: g, dir: dir, clock: c}
}

func (s *testStation) token(t testing.TB, name string, role Role) string {
	t.Helper()
	tok, _, err := s.guard.Store.CreateToken(context.Background(), name, role, 0)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type call struct {
	method, path, body string
	header             map[string]string
	cookie             *http.Cookie
}

type reply struct {
	status int
	header http.Header
	body   string
	code   string
}

func (s *testStation) do(t testing.TB, c call) reply {
	t.Helper()
	req, err := http.NewRequest(c.method, s.srv.URL+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	return reply{resp.StatusCode, resp.Header, string(b), e.Error.Code}
}

func bearerH(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}

func TestRolesAndStatuses(t *testing.T) {
	s := newTestStation(t)
	obs, op, adm := s.token(t, "center", Observer), s.token(t, "script", Operator), s.token(t, "root", Admin)
	cmd := call{method: "POST", path: "/api/v1/vehicles/sim-1/commands/rtl", body: `{"mode":"RTL"}`}
	list := call{method: "GET", path: "/api/v1/vehicles"}
	with := func(c call, tok string) call { c.header = bearerH(tok); return c }
	cases := []struct {
		name       string
		c          call
		status     int
		code       string
		challenged bool
	}{
		{"anonymous read", list, 401, CodeUnauthorized, true},
		{"anonymous command", cmd, 401, CodeUnauthorized, true},
		{"health needs nothing", call{method: "GET", path: "/api/v1/health"}, 200, "", false},
		{"observer reads", with(list, obs), 200, "", false},
		{"observer may not command", with(cmd, obs), 403, "forbidden", false},
		{"operator commands", with(cmd, op), 200, "", false},
		{"operator may not list users", with(call{method: "GET", path: "/api/v1/users"}, op), 403, "forbidden", false},
		{"admin lists users", with(call{method: "GET", path: "/api/v1/users"}, adm), 200, "", false},
		{"admin reads the audit log", with(call{method: "GET", path: "/api/v1/audit"}, adm), 200, "", false},
		{"basic auth is not bearer", call{method: "GET", path: "/api/v1/vehicles", header: map[string]string{"Authorization": "Basic YTpi"}}, 401, CodeUnauthorized, true},
		{"malformed token", with(list, "bgt_nope"), 401, CodeUnauthorized, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.do(t, c.c)
			if r.status != c.status || r.code != c.code {
				t.Fatalf("got %d %q (%s), want %d %q", r.status, r.code, r.body, c.status, c.code)
			}
			if got := r.header.Get("WWW-Authenticate"); (got != "") != c.challenged {
				t.Fatalf("WWW-Authenticate %q", got)
			}
			if r.status >= 400 && !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Fatalf("error is not JSON: %s", r.header.Get("Content-Type"))
			}
		})
	}
	// The operator's command names its actor to the handler and is audited
	// with its full body and target.
	es, err := s.guard.Audit.Query(audit.Filter{Route: "/commands/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 {
		t.Fatalf("%d command entries, want 3 (anonymous, observer, operator): %+v", len(es), es)
	}
	want := []struct{ actor, result string }{{"anonymous", CodeUnauthorized}, {"token:center", "forbidden"}, {"token:script", "ok"}}
	for i, w := range want {
		if es[i].Actor != w.actor || es[i].Result != w.result || es[i].Vehicles[0] != "sim-1" {
			t.Errorf("entry %d: %+v, want %v", i, es[i], w)
		}
	}
	if es[2].Body != `{"mode":"RTL"}` || es[2].BodySHA256 == "" || es[2].Status != 200 {
		t.Errorf("operator entry: %+v", es[2])
	}
}

func login(t testing.TB, s *testStation, user, pw string) (reply, *http.Cookie, string) {
	t.Helper()
	r := s.do(t, call{method: "POST", path: "/api/v1/login", body: `{"username":"` + user + `","password":"` + pw + `"}`})
	var p Principal
	_ = json.Unmarshal([]byte(r.body), &p)
	resp := &http.Response{Header: r.header}
	for _, c := range resp.Cookies() {
		if c.Name == CookieName {
			return r, c, p.CSRF
		}
	}
	return r, nil, ""
}

func TestBrowserSession(t *testing.T) {
	s := newTestStation(t)
	ctx := context.Background()
	s.guard.Store.AddUser(ctx, "watcher", Observer, "watch-only-pw")
	s.guard.Store.AddUser(ctx, "pilot", Operator, "pilot-password")

	r, cookie, csrf := login(t, s, "pilot", "pilot-password")
	if r.status != 200 || cookie == nil || csrf == "" {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Secure {
		t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, not Secure without TLS", cookie)
	}
	cmd := call{method: "POST", path: "/api/v1/vehicles/sim-2/commands/land", body: `{}`, cookie: cookie}
	if r := s.do(t, cmd); r.status != 403 || r.code != CodeCSRF {
		t.Fatalf("cookie mutation without CSRF token: %d %s", r.status, r.body)
	}
	cmd.header = map[string]string{CSRFHeader: csrf}
	if r := s.do(t, cmd); r.status != 200 || !strings.Contains(r.body, `"by":"pilot"`) {
		t.Fatalf("with CSRF token: %d %s", r.status, r.body)
	}
	cmd.header = map[string]string{CSRFHeader: csrf, "Origin": "http://evil.example"}
	if r := s.do(t, cmd); r.status != 403 || r.code != CodeCSRF {
		t.Fatalf("cross-origin: %d %s", r.status, r.body)
	}
	// GET needs no CSRF token; the session endpoint hands it back.
	if r := s.do(t, call{method: "GET", path: "/api/v1/session", cookie: cookie}); r.status != 200 || !strings.Contains(r.body, csrf) {
		t.Fatalf("session: %d %s", r.status, r.body)
	}
	forged := &http.Cookie{Name: CookieName, Value: strings.Repeat("A", 43)}
	if r := s.do(t, call{method: "GET", path: "/api/v1/vehicles", cookie: forged}); r.status != 401 {
		t.Fatalf("forged cookie: %d", r.status)
	}
	// An observer session's forged POST is refused whatever it sends.
	_, oc, ocsrf := login(t, s, "watcher", "watch-only-pw")
	if r := s.do(t, call{method: "POST", path: "/api/v1/vehicles/sim-2/commands/arm", body: `{}`, cookie: oc,
		header: map[string]string{CSRFHeader: ocsrf}}); r.status != 403 || r.code != "forbidden" {
		t.Fatalf("observer command: %d %s", r.status, r.body)
	}
	// Logout ends the session.
	if r := s.do(t, call{method: "POST", path: "/api/v1/logout", cookie: cookie, header: map[string]string{CSRFHeader: csrf}}); r.status != 204 {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if r := s.do(t, call{method: "GET", path: "/api/v1/vehicles", cookie: cookie}); r.status != 401 {
		t.Fatalf("after logout: %d", r.status)
	}
	// A password change ends the other sessions; idle expiry ends the rest.
	_, c2, _ := login(t, s, "pilot", "pilot-password")
	s.guard.Store.SetPassword(ctx, "pilot", "another-password")
	if r := s.do(t, call{method: "GET", path: "/api/v1/vehicles", cookie: c2}); r.status != 401 {
		t.Fatalf("session after password change: %d", r.status)
	}
	_, c3, _ := login(t, s, "pilot", "another-password")
	s.clock.add(DefaultIdle)
	if r := s.do(t, call{method: "GET", path: "/api/v1/vehicles", cookie: c3}); r.status != 401 {
		t.Fatalf("idle session: %d", r.status)
	}
}

func TestLoginRefusalsLeakNothing(t *testing.T) {
	s := newTestStation(t)
	s.guard.Store.AddUser(context.Background(), "pilot", Operator, "pilot-password")
	wrong, _, _ := login(t, s, "pilot", "not-the-password")
	unknown, _, _ := login(t, s, "ghost", "not-the-password")
	if wrong.status != 401 || unknown.status != 401 || wrong.body != unknown.body {
		t.Fatalf("wrong password %d %q vs unknown user %d %q: must be identical", wrong.status, wrong.body, unknown.status, unknown.body)
	}
	for _, c := range []struct {
		name, body string
		status     int
	}{
		{"oversized body", `{"username":"pilot","password":"` + strings.Repeat("x", 10000) + `"}`, 413},
		{"not JSON", `username=pilot`, 400},
		{"unknown field", `{"username":"pilot","password":"x","admin":true}`, 400},
		{"empty", `{}`, 400},
	} {
		r := s.do(t, call{method: "POST", path: "/api/v1/login", body: c.body})
		if r.status != c.status || strings.Contains(r.body, "argon2") || strings.Contains(r.body, "goroutine") {
			t.Errorf("%s: %d %s", c.name, r.status, r.body)
		}
	}
	// Throttling: after the free failures the next attempt waits, even
	// with the right password, and says how long.
	for range 5 {
		login(t, s, "pilot", "guess")
	}
	r, _, _ := login(t, s, "pilot", "pilot-password")
	if r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("throttled login: %d %s", r.status, r.body)
	}
	s.clock.add(time.Minute)
	if r, _, _ := login(t, s, "pilot", "pilot-password"); r.status != 200 {
		t.Fatalf("after the delay: %d %s", r.status, r.body)
	}
	// Every attempt is audited, failures with their reason.
	es, _ := s.guard.Audit.Query(audit.Filter{Route: "/login"})
	if len(es) != 13 {
		t.Fatalf("%d login entries, want 13", len(es))
	}
	if es[0].Detail != "wrong password" || es[1].Detail != "unknown user" || es[len(es)-1].Result != "ok" {
		t.Fatalf("entries: %+v", es)
	}
	for _, e := range es {
		if e.Body != "" || e.BodySHA256 != "" {
			t.Fatalf("a login entry records the password's body: %+v", e)
		}
	}
}

func TestRevokedAndExpiredTokens(t *testing.T) {
	s := newTestStation(t)
	ctx := context.Background()
	tok, _, _ := s.guard.Store.CreateToken(ctx, "temp", Observer, time.Hour)
	list := call{method: "GET", path: "/api/v1/vehicles", header: bearerH(tok)}
	if r := s.do(t, list); r.status != 200 {
		t.Fatalf("fresh token: %d", r.status)
	}
	s.clock.add(time.Hour)
	if r := s.do(t, list); r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("expired token: %d %v", r.status, r.header)
	}
	tok2, _, _ := s.guard.Store.CreateToken(ctx, "temp", Observer, 0)
	s.guard.Store.RevokeToken(ctx, "temp")
	if r := s.do(t, call{method: "GET", path: "/api/v1/vehicles", header: bearerH(tok2)}); r.status != 401 {
		t.Fatalf("revoked token: %d", r.status)
	}
}

func TestAdminAPI(t *testing.T) {
	s := newTestStation(t)
	adm := bearerH(s.token(t, "root", Admin))
	steps := []struct {
		c      call
		status int
	}{
		{call{method: "POST", path: "/api/v1/users", body: `{"name":"ann","role":"operator","password":"ann-password"}`}, 201},
		{call{method: "POST", path: "/api/v1/users", body: `{"name":"ann","role":"operator","password":"ann-password"}`}, 409},
		{call{method: "POST", path: "/api/v1/users", body: `{"name":"bob","role":"pilot","password":"bob-password"}`}, 400},
		{call{method: "POST", path: "/api/v1/users", body: `{"name":"bob","role":"observer","password":"short"}`}, 400},
		{call{method: "PATCH", path: "/api/v1/users/ann", body: `{"role":"observer","disabled":true}`}, 200},
		{call{method: "PATCH", path: "/api/v1/users/nobody", body: `{"disabled":true}`}, 404},
		{call{method: "DELETE", path: "/api/v1/users/ann"}, 204},
		{call{method: "POST", path: "/api/v1/tokens", body: `{"name":"center","role":"observer","expires":"24h"}`}, 201},
		{call{method: "POST", path: "/api/v1/tokens", body: `{"name":"center2","role":"observer","expires":"soon"}`}, 400},
		{call{method: "DELETE", path: "/api/v1/tokens/center"}, 200},
		{call{method: "DELETE", path: "/api/v1/tokens/center"}, 404},
		{call{method: "GET", path: "/api/v1/audit?limit=0"}, 400},
		{call{method: "GET", path: "/api/v1/audit?actor=token:root&route=/users"}, 200},
	}
	for _, st := range steps {
		st.c.header = adm
		if r := s.do(t, st.c); r.status != st.status {
			t.Fatalf("%s %s: %d %s, want %d", st.c.method, st.c.path, r.status, r.body, st.status)
		}
	}
	// The user API's bodies carry passwords: neither stored nor digested.
	es, _ := s.guard.Audit.Query(audit.Filter{Route: "/users"})
	for _, e := range es {
		if e.Body != "" || e.BodySHA256 != "" {
			t.Fatalf("user entry keeps its body: %+v", e)
		}
	}
}

// 1,000 mixed mutating calls make 1,000 entries and an intact chain; one
// edited byte is found and named.
func TestAuditThousandCalls(t *testing.T) {
	s := newTestStation(t)
	toks := []string{"", s.token(t, "obs", Observer), s.token(t, "op", Operator), s.token(t, "adm", Admin)}
	before := s.guard.Audit.Seq()
	for i := range 1000 {
		c := call{method: "POST", path: "/api/v1/vehicles/sim-" + string(rune('0'+i%10)) + "/commands/rtl", body: `{"i":` + strings.Repeat("1", 1+i%5) + `}`}
		if i%7 == 0 {
			c = call{method: "POST", path: "/api/v1/login", body: `{"username":"nobody","password":"guess"}`}
		}
		if tok := toks[i%4]; tok != "" {
			c.header = bearerH(tok)
		}
		s.do(t, c)
		s.clock.add(time.Second) // within the anonymous audit budget (5/s)
		if i%7 == 0 {
			s.clock.add(time.Hour) // keep the throttle out of this test
		}
	}
	if got := s.guard.Audit.Seq() - before; got != 1000 {
		t.Fatalf("%d entries for 1000 calls", got)
	}
	n, err := audit.VerifyFile(s.dir)
	if err != nil || n != 1000 {
		t.Fatalf("verify: %d, %v", n, err)
	}
	path := audit.Path(s.dir)
	b, _ := os.ReadFile(path)
	lines := bytes.SplitAfter(b, []byte("\n"))
	off := len(bytes.Join(lines[:499], nil)) + 30
	b[off] ^= 0x20
	os.WriteFile(path, b, 0o600)
	if _, err := audit.VerifyFile(s.dir); err == nil || !strings.Contains(err.Error(), "line 500 (entry seq 500)") {
		t.Fatalf("edited entry 500: %v", err)
	}
}

// Unauthenticated callers cannot fill the disk: past a burst of 50
// entries per address (refilled at 5 a second) their refusals are
// counted, not recorded; authenticated callers are always recorded.
func TestAnonymousAuditBudget(t *testing.T) {
	s := newTestStation(t)
	op := s.token(t, "op", Operator)
	before := s.guard.Audit.Seq()
	for range 100 {
		if r := s.do(t, call{method: "POST", path: "/api/v1/vehicles/sim-1/commands/arm", body: `{}`}); r.status != 401 {
			t.Fatalf("anonymous command: %d", r.status)
		}
	}
	if got := s.guard.Audit.Seq() - before; got != 50 {
		t.Fatalf("%d entries for 100 anonymous refusals, want the burst of 50", got)
	}
	if st := s.guard.Stats(); st.AuditSuppressed != 50 || st.Refused != 100 {
		t.Fatalf("stats %+v, want 50 suppressed of 100 refused", st)
	}
	s.do(t, call{method: "POST", path: "/api/v1/vehicles/sim-1/commands/arm", body: `{}`, header: bearerH(op)})
	if got := s.guard.Audit.Seq() - before; got != 51 {
		t.Fatal("an authenticated call from the same address was not recorded")
	}
	s.clock.add(2 * time.Second) // 10 more entries' worth
	for range 20 {
		s.do(t, call{method: "POST", path: "/api/v1/login", body: `{"username":"x","password":"y"}`})
	}
	if got := s.guard.Audit.Seq() - before; got != 61 {
		t.Fatalf("%d entries after the refill, want 61", got)
	}
}

func FuzzParseToken(f *testing.F) {
	tok, _, _ := newToken()
	for _, s := range []string{tok, "", "bgt_", "bgt_0123456789ab_", tok[:len(tok)-1] + "=", strings.ToUpper(tok)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, _, err := ParseToken(s)
		if err == nil && (len(s) != tokenLen || len(id) != tokenIDLen) {
			t.Fatalf("accepted %q", s)
		}
		if tb, ok := bearer(s); ok && strings.ContainsAny(tb, "\r\n") && err == nil {
			t.Fatalf("bearer with a newline accepted: %q", s)
		}
	})
}

func FuzzLogin(f *testing.F) {
	for _, s := range []string{`{"username":"pilot","password":"pilot-password"}`, `{"username":"pilot","password":"x"}`, `{}`, `[]`, `{"username":1}`, "\x00", `{"username":"pilot","password":"pilot-password"}{}`} {
		f.Add(s)
	}
	s := newTestStation(f)
	s.guard.Store.AddUser(context.Background(), "pilot", Operator, "pilot-password")
	f.Fuzz(func(t *testing.T, body string) {
		s.clock.add(time.Hour)
		r := s.do(t, call{method: "POST", path: "/api/v1/login", body: body})
		if r.status >= 500 {
			t.Fatalf("body %q: %d %s", body, r.status, r.body)
		}
		if r.status == 200 {
			var req LoginRequest
			if json.Unmarshal([]byte(body), &req) != nil || req.Username != "pilot" || req.Password != "pilot-password" {
				t.Fatalf("body %q logged in", body)
			}
		}
	})
}

// The cost of authenticating one request, token and cookie paths: a
// guarded handler that does nothing, over httptest's in-memory recorder
// (no sockets), with the real SQLite store.
func benchmarkGuard(b *testing.B, prepare func(s *testStation, r *http.Request)) {
	s := newTestStation(b)
	h := s.guard.Wrap("GET /api/v1/vehicles", Observer, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	req := httptest.NewRequest("GET", "/api/v1/vehicles", nil)
	prepare(s, req)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 {
		b.Fatalf("status %d: %s", w.Code, w.Body)
	}
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
	}
}

func BenchmarkAuthenticateToken(b *testing.B) {
	benchmarkGuard(b, func(s *testStation, r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+s.token(b, "bench", Observer))
	})
}

func BenchmarkAuthenticateCookie(b *testing.B) {
	benchmarkGuard(b, func(s *testStation, r *http.Request) {
		if err := s.guard.Store.AddUser(context.Background(), "bench", Observer, "bench-password"); err != nil {
			b.Fatal(err)
		}
		u, _ := s.guard.Store.GetUser(context.Background(), "bench")
		v, _ := s.guard.Sessions.Create(u)
		r.AddCookie(&http.Cookie{Name: CookieName, Value: v})
	})
}

// A mutating call: authentication, body digest and an fsync'd audit entry.
func BenchmarkAuditedCommand(b *testing.B) {
	s := newTestStation(b)
	tok := s.token(b, "bench", Operator)
	h := s.guard.Wrap("POST /api/v1/vehicles/{id}/commands/{name}", Operator, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/vehicles/{id}/commands/{name}", h)
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/api/v1/vehicles/sim-1/commands/mode", strings.NewReader(`{"mode":"RTL"}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// One password check at the production argon2id parameters (what a login
// costs the station; the throttle bounds how often anyone can make it pay).
func BenchmarkPasswordCheck(b *testing.B) {
	st, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if err := st.AddUser(ctx, "bench", Operator, "bench-password"); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := st.CheckPassword(ctx, "bench", "bench-password"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestChangeOwnPassword(t *testing.T) {
	s := newTestStation(t)
	s.guard.Store.AddUser(context.Background(), "pilot", Operator, "pilot-password")
	_, cookie, csrf := login(t, s, "pilot", "pilot-password")
	_, other, _ := login(t, s, "pilot", "pilot-password")
	change := func(c *http.Cookie, csrf, body string) reply {
		return s.do(t, call{method: "PUT", path: "/api/v1/session/password", body: body, cookie: c, header: map[string]string{CSRFHeader: csrf}})
	}
	if r := change(cookie, csrf, `{"current_password":"nope-nope","new_password":"pilot-password-2"}`); r.status != 400 || !strings.Contains(r.body, "current_password") {
		t.Fatalf("wrong current password: %d %s", r.status, r.body)
	}
	if r := change(cookie, csrf, `{"current_password":"pilot-password","new_password":"short"}`); r.status != 400 {
		t.Fatalf("weak new password: %d %s", r.status, r.body)
	}
	r := change(cookie, csrf, `{"current_password":"pilot-password","new_password":"pilot-password-2"}`)
	if r.status != 200 {
		t.Fatalf("change: %d %s", r.status, r.body)
	}
	var fresh *http.Cookie
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == CookieName {
			fresh = c
		}
	}
	if fresh == nil || s.do(t, call{method: "GET", path: "/api/v1/session", cookie: fresh}).status != 200 {
		t.Fatal("no working session after the change")
	}
	for _, c := range []*http.Cookie{cookie, other} {
		if st := s.do(t, call{method: "GET", path: "/api/v1/session", cookie: c}).status; st != 401 {
			t.Fatalf("an old session still works after the password change: %d", st)
		}
	}
	if r, _, _ := login(t, s, "pilot", "pilot-password-2"); r.status != 200 {
		t.Fatalf("login with the new password: %d", r.status)
	}
	tok := s.token(t, "script", Operator)
	if r := s.do(t, call{method: "PUT", path: "/api/v1/session/password", body: `{"current_password":"x","new_password":"yyyyyyyyy"}`, header: bearerH(tok)}); r.status != 400 {
		t.Fatalf("a token changing a password: %d %s", r.status, r.body)
	}
	es, _ := s.guard.Audit.Query(audit.Filter{Route: "/password"})
	if len(es) != 4 {
		t.Fatalf("%d password-change entries, want 4", len(es))
	}
	for _, e := range es {
		if e.Body != "" || e.BodySHA256 != "" {
			t.Fatalf("a password change keeps its body in the audit log: %+v", e)
		}
	}
}
