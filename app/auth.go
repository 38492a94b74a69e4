package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/burgut-uav/burgut/audit"
	"github.com/burgut-uav/burgut/auth"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation/control"
	"github.com/burgut-uav/burgut/httpapi"
	"github.com/burgut-uav/burgut/metrics"
	"github.com/burgut-uav/burgut/web"
)

// AccessConfig configures who may use the station (issue 11): the first
// admin account, browser sessions, HTTPS, and TLS to an external MQTT
// broker. There is deliberately no setting that turns access control off.
type AccessConfig struct {
	AdminPasswordFile string        // first start: the password of the account "admin"
	SessionIdle       time.Duration // browser session ends after this long unused
	SessionMax        time.Duration // and this long after login in any case
	TLSCert, TLSKey   string        // serve HTTPS (and HSTS, Secure cookies)
	BehindTLSProxy    bool          // a reverse proxy terminates TLS: Secure cookies and HSTS without serving TLS here
	MQTTCAFile        string        // external broker: CA bundle to verify it
	MQTTCertFile      string        // external broker: client certificate
	MQTTKeyFile       string        // external broker: client key
	// ControlIdle releases a vehicle's control when its holder has not
	// commanded it for this long (app/control.go).
	ControlIdle time.Duration
}

func (c *AccessConfig) defaults() {
	c.SessionIdle = auth.DefaultIdle
	c.SessionMax = auth.DefaultAbsolute
	c.ControlIdle = control.DefaultIdle
}

func (c *AccessConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.AdminPasswordFile, "admin-password-file", c.AdminPasswordFile, "on first start (no admin account yet) create the account 'admin' with the password in this file; without it a random one-time password is printed to the log")
	fs.DurationVar(&c.SessionIdle, "session-idle", c.SessionIdle, "a browser session ends after this long without a request")
	fs.DurationVar(&c.SessionMax, "session-max", c.SessionMax, "a browser session ends this long after its login in any case")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "serve HTTPS with this certificate (PEM, with its chain); needs --tls-key")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "the private key (PEM) of --tls-cert")
	fs.BoolVar(&c.BehindTLSProxy, "behind-tls-proxy", c.BehindTLSProxy, "a reverse proxy terminates HTTPS in front of the station: mark cookies Secure and send HSTS")
	fs.StringVar(&c.MQTTCAFile, "mqtt-ca-file", c.MQTTCAFile, "external MQTT broker (ssl:// or wss://): verify it with this CA bundle (PEM) instead of the system's")
	fs.StringVar(&c.MQTTCertFile, "mqtt-cert-file", c.MQTTCertFile, "external MQTT broker: client certificate (PEM) for mutual TLS; needs --mqtt-key-file")
	fs.DurationVar(&c.ControlIdle, "control-idle", c.ControlIdle, "an operator's control of a vehicle ends when they have not commanded it for this long")
	fs.StringVar(&c.MQTTKeyFile, "mqtt-key-file", c.MQTTKeyFile, "external MQTT broker: client private key (PEM) of --mqtt-cert-file")
}

func (c *AccessConfig) validate() error {
	var errs []error
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("tls-cert and tls-key: give both or neither"))
	}
	if (c.MQTTCertFile == "") != (c.MQTTKeyFile == "") {
		errs = append(errs, errors.New("mqtt-cert-file and mqtt-key-file: give both or neither"))
	}
	if c.SessionIdle <= 0 || c.SessionMax <= 0 {
		errs = append(errs, errors.New("session-idle and session-max must be positive"))
	}
	if c.ControlIdle <= 0 {
		errs = append(errs, fmt.Errorf("control-idle: must be positive, got %s", c.ControlIdle))
	}
	for name, f := range map[string]string{"admin-password-file": c.AdminPasswordFile, "tls-cert": c.TLSCert, "tls-key": c.TLSKey,
		"mqtt-ca-file": c.MQTTCAFile, "mqtt-cert-file": c.MQTTCertFile, "mqtt-key-file": c.MQTTKeyFile} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", name, f, err))
		}
	}
	return errors.Join(errs...)
}

// secure reports whether browsers reach the station over HTTPS.
func (c *AccessConfig) secure() bool { return c.TLSCert != "" || c.BehindTLSProxy }

// mqttTLS is the TLS configuration for an external broker, nil when no
// TLS option is set (paho then uses the system roots for ssl://).
func (c *AccessConfig) mqttTLS() (*tls.Config, error) {
	if c.MQTTCAFile == "" && c.MQTTCertFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.MQTTCAFile != "" {
		pem, err := os.ReadFile(c.MQTTCAFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mqtt-ca-file %s: no PEM certificate in it", c.MQTTCAFile)
		}
		cfg.RootCAs = pool
	}
	if c.MQTTCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.MQTTCertFile, c.MQTTKeyFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt-cert-file/mqtt-key-file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// startAuth opens the account store and the audit log, creates the first
// admin account when there is none, and serves login, logout, session,
// users, tokens and audit routes. It runs before every other part, so the
// route table's wrap (requireAccess) always has a guard.
func (a *App) startAuth(ctx context.Context) error {
	cfg := a.Config.Access
	log := a.Log.With("part", "auth")
	store, err := auth.Open(a.Config.DataDir, auth.Options{})
	if err != nil {
		return err
	}
	a.OnStop("auth store", func() { _ = store.Close() })
	al, err := audit.Open(a.Config.DataDir, audit.Options{Log: log, Notify: a.auditNotify})
	if err != nil {
		return err
	}
	a.OnStop("audit log", func() { _ = al.Close() })
	a.Auth, a.Audit = store, al
	if err := a.firstAdmin(ctx, store, log); err != nil {
		return err
	}
	a.guard = &auth.Guard{
		Store:    store,
		Sessions: &auth.Sessions{Idle: cfg.SessionIdle, Absolute: cfg.SessionMax},
		Limiter:  &auth.Limiter{},
		Audit:    al,
		Log:      log,
		Secure:   cfg.secure(),
		FullBody: fullBodyRoute,
		Secret: func(route string) bool {
			return strings.Contains(route, "/api/v1/users") || strings.HasSuffix(route, "/password") || signingRoute(route)
		},
		OnAudited: a.tagEvents,
	}
	g := a.guard
	a.addFamily(counter("burgut_auth_refused_total", "requests refused for missing, bad or insufficient credentials (401, 403, 429)"), func(emit metrics.Emit) {
		emit(float64(g.Stats().Refused))
	})
	a.addFamily(counter("burgut_audit_failures_total", "audit entries that could not be written (logged as errors)"), func(emit metrics.Emit) {
		emit(float64(g.Stats().AuditFailures))
	})
	a.addFamily(counter("burgut_audit_suppressed_total", "refusals of unauthenticated callers not recorded because their address exceeded its audit budget (5/s, bursts of 50)"), func(emit metrics.Emit) {
		emit(float64(g.Stats().AuditSuppressed))
	})
	a.addFamily(gauge("burgut_audit_entries", "sequence number of the audit log's last entry"), func(emit metrics.Emit) {
		emit(float64(al.Seq()))
	})
	a.addFamily(counter("burgut_mqtt_audit_dropped_total", "audit entries dropped from the MQTT feed (queue full; the audit log keeps them)"), func(emit metrics.Emit) {
		emit(float64(a.auditDropped.Load()))
	})
	for _, r := range a.guard.Routes() {
		method, pattern, _ := strings.Cut(r.Pattern, " ")
		h := r.Handler
		switch r.Pattern {
		case "POST /api/v1/logout":
			h = a.releaseOnLogout(h)
		case "PATCH /api/v1/users/{name}", "DELETE /api/v1/users/{name}", "DELETE /api/v1/tokens/{id}":
			h = a.releaseWithdrawn(h)
		}
		a.Mux.Handle(httpapi.Route{Method: method, Pattern: pattern, Access: accessOf(r.Role), Handler: h})
	}
	return nil
}

// requireAccess is the route table's wrap: every route checks the access
// level it declares (httpapi.Route.Access) through the guard.
func (a *App) requireAccess(r httpapi.Route, next http.Handler) http.Handler {
	if a.guard == nil {
		panic("app: route " + r.String() + " registered before the auth part started")
	}
	return a.guard.Wrap(r.String(), roleOf(r.Access), next)
}

func roleOf(x httpapi.Access) auth.Role {
	switch x {
	case httpapi.Anonymous:
		return auth.Anonymous
	case httpapi.Observer:
		return auth.Observer
	case httpapi.Operator:
		return auth.Operator
	}
	return auth.Admin // an unknown level gets the strictest check
}

func accessOf(r auth.Role) httpapi.Access {
	switch r {
	case auth.Anonymous:
		return httpapi.Anonymous
	case auth.Observer:
		return httpapi.Observer
	case auth.Operator:
		return httpapi.Operator
	}
	return httpapi.Admin
}

// fullBodyRoute says which routes keep their whole body in the audit log:
// what was sent to the aircraft (commands, uploads, parameters, plan
// assignments).
func fullBodyRoute(route string) bool {
	method, path, _ := strings.Cut(route, " ")
	return strings.Contains(path, "/commands/") || strings.HasSuffix(path, "/control") || strings.HasSuffix(path, "/uploads") ||
		strings.HasSuffix(path, "/assign") || strings.HasSuffix(path, "/mission/current") ||
		(method == http.MethodPut && strings.HasPrefix(path, "/api/v1/vehicles/"))
}

// demoLoginFile keeps the demo's generated admin password (burgut run
// only), so the login line can be printed on every start of the demo.
const demoLoginFile = "demo-admin-password"

// firstAdmin creates the account "admin" when no enabled admin exists:
// with --admin-password-file's password, or a random one printed once to
// the log (and, for the `burgut run` demo, kept in the data dir so the
// demo prints its login line every time).
func (a *App) firstAdmin(ctx context.Context, store *auth.Store, log interface {
	Info(string, ...any)
	Warn(string, ...any)
}) error {
	demo := a.Config.Sim.Vehicles > 0
	demoFile := filepath.Join(a.Config.DataDir, demoLoginFile)
	has, err := store.HasAdmin(ctx)
	if err != nil {
		return err
	}
	if has {
		if a.Config.Access.AdminPasswordFile != "" {
			log.Info("an admin account exists: --admin-password-file is only used on first start")
		}
		if demo {
			if b, err := os.ReadFile(demoFile); err == nil {
				if _, err := store.CheckPassword(ctx, "admin", string(b)); err == nil {
					a.loginHint = string(b)
				}
			}
			if a.loginHint == "" {
				log.Warn("demo: no demo password on file for the account admin (it was made or changed outside the demo); log in with its password, or set one: burgut users passwd --data-dir " + a.Config.DataDir + " --name admin --password-file FILE")
			}
		}
		return nil
	}
	var pw string
	if f := a.Config.Access.AdminPasswordFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("admin-password-file: %w", err)
		}
		pw = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if err := auth.CheckPasswordPolicy(pw); err != nil {
			return fmt.Errorf("admin-password-file %s: %w", f, err)
		}
	} else {
		pw = auth.GeneratePassword()
	}
	if err := store.AddUser(ctx, "admin", auth.Admin, pw); err != nil {
		if errors.Is(err, auth.ErrExists) {
			return fmt.Errorf("first start: an account 'admin' exists but no enabled admin does: enable it with 'burgut users enable --data-dir %s --name admin'", a.Config.DataDir)
		}
		return fmt.Errorf("first start: create admin: %w", err)
	}
	if a.Config.Access.AdminPasswordFile != "" {
		log.Info("first start: created the account admin with the password of --admin-password-file")
		return nil
	}
	if demo {
		if err := os.WriteFile(demoFile, []byte(pw), 0o600); err != nil {
			return fmt.Errorf("demo login: %w", err)
		}
		a.loginHint = pw
		return nil
	}
	log.Warn("first start: created the account admin with a one-time password; log in and change it (burgut users passwd --data-dir "+a.Config.DataDir+" --name admin --password-file FILE)",
		"user", "admin", "password", pw)
	return nil
}

// printLoginHint prints the demo's login line once the HTTP address is
// known.
func (a *App) printLoginHint() {
	if a.loginHint == "" {
		return
	}
	scheme := "http"
	if a.Config.Access.TLSCert != "" {
		scheme = "https"
	}
	a.Log.Warn("demo login: open the map and log in", "url", scheme+"://"+a.HTTPAddr()+"/", "user", "admin", "password", a.loginHint)
}

// tagEvents puts who sent a command or upload into the event stream, so
// the center sees "RTL sent by ops" next to the vehicle's own events.
func (a *App) tagEvents(r *http.Request, e audit.Entry) {
	method, path, _ := strings.Cut(e.Route, " ")
	kind, what := fleet.EventKind(""), ""
	switch {
	case strings.Contains(path, "/commands/"):
		kind, what = fleet.EventCommand, r.PathValue("name")
	case strings.HasSuffix(path, "/uploads") || strings.HasSuffix(path, "/plan") || strings.HasSuffix(path, "/assign"):
		kind, what = fleet.EventUpload, "mission"
	case method == http.MethodPut && strings.HasSuffix(path, "/{type}"):
		kind, what = fleet.EventUpload, r.PathValue("type")
	default:
		return
	}
	ids := e.Vehicles
	if len(ids) == 1 && ids[0] == "*" {
		// A new slice: e.Vehicles is shared with the audit writer and the
		// MQTT publisher, which may be encoding it right now.
		ids = nil
		for _, v := range a.Fleet.List() {
			ids = append(ids, v.ID)
		}
	}
	for _, id := range ids {
		if _, ok := a.Fleet.Get(id); !ok {
			continue
		}
		a.Fleet.Emit(fleet.Event{VehicleID: id, Kind: kind, Severity: fleet.SeverityInfo,
			Message: fmt.Sprintf("%s %s by %s", what, verb(kind), e.Actor),
			Fields:  map[string]any{"actor": e.Actor, "name": what, "route": e.Route, "audit_seq": e.Seq}})
	}
}

func verb(k fleet.EventKind) string {
	if k == fleet.EventUpload {
		return "uploaded"
	}
	return "sent"
}

// auditNotify hands each audit entry to the MQTT publisher (set by the
// relay part); it must not block the audit log.
func (a *App) auditNotify(e audit.Entry) {
	if fn := a.auditSink.Load(); fn != nil {
		(*fn)(e)
	}
}

// securityHeaders adds HSTS under HTTPS and headers that keep the pages
// out of frames and sniffing.
func (a *App) securityHeaders(next http.Handler) http.Handler {
	hsts := a.Config.Access.secure()
	// A configured tile server is the one other origin the map may load
	// images from (Validate has checked the template).
	img := "'self' data:"
	if src, _ := web.TileSource(a.Config.MapTiles); src != "" {
		img += " " + src
	}
	csp := "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src " + img + "; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if hsts {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		// The map loads only its own files and talks only to its origin
		// (Leaflet positions markers with inline styles).
		h.Set("Content-Security-Policy", csp)
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// mqttAuth lets the embedded broker check accounts and tokens: an API
// token as the password (any username), or an account's name and
// password.
type mqttAuth struct{ s *auth.Store }

func (m mqttAuth) AuthenticateMQTT(ctx context.Context, user, password string) (string, bool, error) {
	if _, _, err := auth.ParseToken(password); err == nil {
		t, err := m.s.CheckToken(ctx, password)
		if err != nil {
			return "", false, err
		}
		return "token:" + t.Name, t.Role == auth.Admin, nil
	}
	u, err := m.s.CheckPassword(ctx, user, password)
	if err != nil {
		return "", false, err
	}
	return u.Name, u.Role == auth.Admin, nil
}

// auditQueue bounds audit entries waiting for the MQTT publisher; past it
// entries are dropped from the feed (never from the log) and counted.
const auditQueue = 10000

// publishAudit forwards audit entries to MQTT from a goroutine of its own,
// so a slow broker never holds up the audit log or a request.
func (a *App) publishAudit(ctx context.Context, p interface{ PublishAudit(any) error }) {
	ch := make(chan audit.Entry, auditQueue)
	sink := func(e audit.Entry) {
		select {
		case ch <- e:
		default:
			if n := a.auditDropped.Add(1); n%1000 == 1 {
				a.Log.Error("mqtt audit feed: queue full, entries dropped from the feed (the audit log has them)", "dropped", n)
			}
		}
	}
	a.auditSink.Store(&sink)
	a.Go(ctx, "mqtt audit feed", func(ctx context.Context) error {
		defer a.auditSink.Store(nil)
		for {
			select {
			case <-ctx.Done():
				return nil
			case e := <-ch:
				if err := p.PublishAudit(e); err != nil {
					a.Log.Error("mqtt audit feed", "seq", e.Seq, "err", err)
				}
			}
		}
	})
}
