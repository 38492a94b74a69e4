package app

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/audit"
	"github.com/burgut-uav/burgut/auth"
	"github.com/burgut-uav/burgut/httpapi"
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
}
