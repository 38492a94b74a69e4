package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"

	"github.com/burgut-uav/burgut/audit"
	"github.com/burgut-uav/burgut/auth"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/httpapi"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/relay"
)

// TestAccessTable is the access policy as the OpenAPI document states it
// (x-access on every operation), checked against the running service:
// every operation × {anonymous, observer, operator, admin} answers 401
// without credentials, 403 below its level, a documented non-auth status
// at or above it, and no mutating operation answers 2xx to an observer.
func TestAccessTable(t *testing.T) {
	doc := loadOpenAPI(t)
	a := startOpenAPITestApp(t)
	routes := appRoutes(t, a)
	ctx := context.Background()
	tokens := map[auth.Role]string{}
	for _, r := range []auth.Role{auth.Observer, auth.Operator, auth.Admin} {
		tok, _, err := a.Auth.CreateToken(ctx, "table-"+r.String(), r, 0)
		if err != nil {
			t.Fatal(err)
		}
		tokens[r] = tok
	}
	// A client without the harness's token injection: each call carries
	// exactly the credential the table says.
	client := &http.Client{Transport: http.DefaultTransport, Timeout: 30 * time.Second}
	for _, o := range doc.operations(t) {
		level, _ := o.op["x-access"].(string)
		need, err := auth.ParseRole(level)
		if level == "anonymous" {
			need, err = auth.Anonymous, nil
		}
		if err != nil {
			t.Errorf("%s: x-access %q: want anonymous, observer, operator or admin", o, level)
			continue
		}
		if r, ok := routes[o.String()]; ok && roleOf(r.Access) != need {
			t.Errorf("%s: the document says %s, the route declares %v", o, level, r.Access)
		}
		values := map[string]string{}
		for _, p := range doc.params(t, o) {
			if p["in"] == "path" {
				values[p["name"].(string)] = doc.sampleValue(p)
			}
		}
		path := fillPath(o.path, values)
		resps, _ := o.op["responses"].(map[string]any)
		for _, caller := range []auth.Role{auth.Anonymous, auth.Observer, auth.Operator, auth.Admin} {
			var body io.Reader
			if o.method == "POST" || o.method == "PUT" || o.method == "PATCH" {
				body = strings.NewReader("{}")
			}
			req, err := http.NewRequest(o.method, "http://"+a.HTTPAddr()+path, body)
			if err != nil {
				t.Fatal(err)
			}
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			if caller != auth.Anonymous {
				req.Header.Set("Authorization", "Bearer "+tokens[caller])
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Errorf("%s as %v: %v", o, caller, err)
				continue
			}
			raw, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
			resp.Body.Close()
			st := resp.StatusCode
			where := o.String() + " as " + caller.String()
			switch {
			case need != auth.Anonymous && caller == auth.Anonymous:
				if st != 401 || resp.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s: %d (WWW-Authenticate %q), want 401 with a challenge", where, st, resp.Header.Get("WWW-Authenticate"))
				}
			case !caller.Allows(need):
				if st != 403 {
					t.Errorf("%s: %d, want 403", where, st)
				}
			default:
				if st == 401 || st == 403 {
					t.Errorf("%s: %d %s, want it allowed", where, st, raw)
				}
			}
			if _, ok := resps[strconv.Itoa(st)]; !ok && resps["default"] == nil {
				t.Errorf("%s: %d is not documented (%s)", where, st, raw)
			}
			if caller == auth.Observer && auth.Mutating(o.method) && need > auth.Observer && st < 300 {
				t.Errorf("%s: a mutating operation answered %d to an observer", where, st)
			}
		}
	}
}

// Health says nothing beyond being up; without credentials everything else
// is closed, the login page included in what / serves.
func TestHealthRevealsNothingAndTheRestIsClosed(t *testing.T) {
	a, _ := runApp(t, func(*Config) {})
	client := &http.Client{Transport: http.DefaultTransport}
	resp, err := client.Get("http://" + a.HTTPAddr() + "/api/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Contains(string(b), a.Config.Station) || strings.Contains(string(b), "vehicles") {
		t.Fatalf("health: %d %s", resp.StatusCode, b)
	}
	resp, err = client.Post("http://"+a.HTTPAddr()+"/api/v1/commands/arm", "application/json", strings.NewReader(`{"all":true}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("anonymous arm-all: %d", resp.StatusCode)
	}
	es, err := a.Audit.Query(audit.Filter{Route: "/commands/"})
	if err != nil || len(es) != 1 || es[0].Actor != "anonymous" || es[0].Result != httpapi.CodeUnauthorized || len(es[0].Vehicles) != 1 || es[0].Vehicles[0] != "*" {
		t.Fatalf("the refused arm-all is not audited as such: %+v %v", es, err)
	}
	// The refusal is counted on /metrics (which itself needs a token here).
	resp, err = http.Get("http://" + a.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "burgut_auth_refused_total 1\n") || !strings.Contains(string(b), "burgut_audit_entries 1\n") {
		t.Fatalf("/metrics lacks the refusal and the audit entry:\n%s", b)
	}
}

// A command sent through the API shows in the event stream with who sent
// it, and its audit entry reaches an admin's MQTT subscription.
func TestCommandsCarryTheirActor(t *testing.T) {
	a, base := startRun(t, 1, 1)
	var relayStatus struct {
		Broker struct {
			TCP string `json:"tcp"`
		} `json:"embedded_broker"`
	}
	getJSON(t, base+"/api/v1/relay", &relayStatus)
	adminTok, _, err := a.Auth.CreateToken(context.Background(), "archive", auth.Admin, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 16)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + relayStatus.Broker.TCP).SetClientID("center-archive").
		SetUsername("any").SetPassword(adminTok))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("admin token as MQTT password: %v", tok.Error())
	}
	defer c.Disconnect(100)
	if tok := c.Subscribe(relay.Topics{Station: a.Config.Station}.Audit(), 1, func(_ mqtt.Client, m mqtt.Message) { got <- m.Payload() }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	var id string
	testenv.Eventually(t, 30*time.Second, "the simulated vehicle", func() bool {
		vs := a.Fleet.List()
		if len(vs) == 1 && vs[0].Connected {
			id = vs[0].ID
		}
		return id != ""
	})
	// Until the simulated vehicle is ready it may refuse (422): each try
	// is audited; only an accepted command is tagged in the events.
	testenv.Eventually(t, 30*time.Second, "the vehicle to accept mode STABILIZE", func() bool {
		return sendJSON(t, "POST", base+"/api/v1/vehicles/"+id+"/commands/mode", map[string]string{"mode": "STABILIZE"}, nil) == 200
	})
	var ev fleet.Event
	for _, e := range a.Fleet.Events(0, id, 0) {
		if e.Kind == fleet.EventCommand {
			ev = e
		}
	}
	actor, _ := ev.Fields["actor"].(string)
	if !strings.HasPrefix(actor, "token:test-") || ev.Fields["name"] != "mode" || !strings.Contains(ev.Message, "mode sent by token:test-") {
		t.Fatalf("command event %+v: want the harness token as actor", ev)
	}
	for {
		select {
		case b := <-got:
			var e audit.Entry
			if err := json.Unmarshal(b, &e); err != nil || e.Actor != actor || e.Body != `{"mode":"STABILIZE"}` || len(e.Vehicles) != 1 || e.Vehicles[0] != id {
				t.Fatalf("audit entry on MQTT: %s (%v)", b, err)
			}
			if e.Result == "ok" {
				return
			}
		case <-time.After(20 * time.Second):
			t.Fatal("no audit entry of the accepted command on MQTT")
		}
	}
}

// HTTPS: --tls-cert/--tls-key serve TLS, with HSTS and Secure cookies.
func TestHTTPSWithHSTSAndSecureCookies(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	pwFile := filepath.Join(dir, "admin-pw")
	if err := os.WriteFile(pwFile, []byte("tls-admin-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, _ := runApp(t, func(c *Config) {
		c.Access.TLSCert, c.Access.TLSKey, c.Access.AdminPasswordFile = certFile, keyFile, pwFile
	})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Post("https://"+a.HTTPAddr()+"/api/v1/login", "application/json", strings.NewReader(`{"username":"admin","password":"tls-admin-password"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Fatalf("login over TLS: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == auth.CookieName {
			session = c
		}
	}
	if session == nil || !session.Secure || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie %+v: want Secure, HttpOnly, SameSite=Strict", session)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// a pool that trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "burgut test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// The live stream's WebSocket upgrade takes a Bearer token (the monitoring
// center's programs) and refuses one without credentials.
func TestStreamUpgradeNeedsCredentials(t *testing.T) {
	a, _ := runApp(t, func(*Config) {})
	url := "ws://" + a.HTTPAddr() + "/api/v1/stream"
	if _, resp, err := websocket.DefaultDialer.Dial(url, nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("upgrade without credentials: %v %v, want 401", resp, err)
	}
	tok, _, err := a.Auth.CreateToken(context.Background(), "center-ws", auth.Observer, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		t.Fatalf("upgrade with an observer token: %v", err)
	}
	defer c.Close()
	var f struct {
		Type string `json:"type"`
	}
	if err := c.ReadJSON(&f); err != nil || f.Type != "snapshot" {
		t.Fatalf("first frame %+v, %v; want the snapshot", f, err)
	}
}
