package vehicleapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/auth"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation/control"
	"github.com/burgut-uav/burgut/httpapi"
)

// newControlledAPI serves the API with a control table; the caller is
// named by the test's X-Test-Actor header (the access guard's part).
func newControlledAPI(t *testing.T, st Station) (*control.Table, *httptest.Server) {
	t.Helper()
	fl := fleet.New(fleet.DefaultConfig())
	ctl := control.New(control.Options{})
	as := func(_ httpapi.Route, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if name := r.Header.Get("X-Test-Actor"); name != "" {
				r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{Name: name, Role: auth.Operator, Kind: "user"}))
			}
			next.ServeHTTP(w, r)
		})
	}
	mux := httpapi.NewMux(as)
	Register(mux, Deps{Fleet: fl, Station: st, Control: ctl, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for _, id := range []string{"udp14550-1", "udp14550-2"} {
		fl.Update(id, time.Now(), func(v *fleet.Vehicle) { v.SystemID = 1; v.Link = "udp14550"; v.Mode = "STABILIZE"; v.Connected = true })
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return ctl, srv
}

func doAs(t *testing.T, actor, method, url, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Test-Actor", actor)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// Every route that changes a vehicle asks control first: another
// operator's request never reaches the station.
func TestEveryChangeOfAHeldVehicleIsRefusedToOthers(t *testing.T) {
	f := newFake()
	ctl, srv := newControlledAPI(t, f)
	if _, _, err := ctl.Take(control.Caller{Actor: "op1"}, "udp14550-1", false); err != nil {
		t.Fatal(err)
	}
	v := srv.URL + "/api/v1/vehicles/udp14550-1"
	changes := []struct{ method, url, body string }{
		{"POST", v + "/commands/arm", ""},
		{"POST", v + "/commands/mode", `{"mode": "GUIDED"}`},
		{"POST", v + "/commands/goto", `{"lat": 1, "lon": 2, "alt_m": 10}`},
		{"PUT", v + "/mission", `{"items": [{"seq": 0, "command": 16}]}`},
		{"PUT", v + "/plan", `{"fileType": "Plan", "version": 1, "groundStation": "x", "mission": {"version": 2, "firmwareType": 3, "vehicleType": 2, "cruiseSpeed": 5, "hoverSpeed": 5, "plannedHomePosition": [1, 2, 3], "items": []}, "geoFence": {"version": 2, "polygons": [], "circles": []}, "rallyPoints": {"version": 2, "points": []}}`},
		{"DELETE", v + "/fence", ""},
		{"POST", v + "/mission/current", `{"seq": 1}`},
		{"PUT", v + "/params/RTL_ALT", `{"value": 3000}`},
	}
	for _, c := range changes {
		st, raw := doAs(t, "op2", c.method, c.url, c.body)
		if st != 409 || !strings.Contains(raw, `"controlled"`) || !strings.Contains(raw, `"holder": "op1"`) {
			t.Errorf("op2 %s %s: %d %s, want 409 controlled naming op1", c.method, c.url, st, raw)
		}
	}
	if calls := f.Calls(); len(calls) != 0 {
		t.Fatalf("refused requests reached the station: %v", calls)
	}
	// The holder's go through.
	for _, c := range changes {
		if st, raw := doAs(t, "op1", c.method, c.url, c.body); st != 200 {
			t.Errorf("op1 %s %s: %d %s", c.method, c.url, st, raw)
		}
	}
	// Emergency commands pass for anyone.
	for _, name := range []string{"rtl", "land", "pause"} {
		if st, raw := doAs(t, "op2", "POST", v+"/commands/"+name, ""); st != 200 {
			t.Errorf("op2 %s: %d %s", name, st, raw)
		}
	}
	if h, _ := ctl.Get("udp14550-1"); h.Holder != "op1" {
		t.Fatalf("holder after the emergency commands: %q", h.Holder)
	}
	// A group upload fails the held vehicle only; the free one becomes
	// op2's.
	st, raw := doAs(t, "op2", "POST", srv.URL+"/api/v1/uploads", `{"type": "mission", "items": [], "vehicle_ids": ["udp14550-1", "udp14550-2"]}`)
	if st != 200 || !strings.Contains(raw, `"succeeded": 1`) || !strings.Contains(raw, "controlled by op1") {
		t.Fatalf("op2's group upload: %d %s", st, raw)
	}
	if h, _ := ctl.Get("udp14550-2"); h.Holder != "op2" {
		t.Fatalf("op2's first upload to the free vehicle left its control to %q", h.Holder)
	}
	// The vehicle shows its holder.
	if st, raw := doAs(t, "op2", "GET", v, ""); st != 200 || !strings.Contains(raw, `"holder": "op1"`) {
		t.Fatalf("vehicle: %d %s", st, raw)
	}
	if st, raw := doAs(t, "op2", "GET", srv.URL+"/api/v1/vehicles", ""); st != 200 || !strings.Contains(raw, `"holder": "op2"`) {
		t.Fatalf("vehicle list: %d %s", st, raw)
	}
}

// A bad group is read by one owner (control.Targets): the control route,
// group commands and group uploads refuse it with the same 400 naming the
// field and the vehicle, and nothing reaches the station; so is a path's
// vehicle (control.PathVehicle).
func TestBadGroupIsRefusedAlikeByEveryGroupRoute(t *testing.T) {
	f := newFake()
	fl := fleet.New(fleet.DefaultConfig())
	ctl := control.New(control.Options{})
	as := func(_ httpapi.Route, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{Name: "op1", Role: auth.Operator, Kind: "user"})))
		})
	}
	mux := httpapi.NewMux(as)
	Register(mux, Deps{Fleet: fl, Station: f, Control: ctl, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	control.Register(mux, ctl, fl, slog.New(slog.NewTextHandler(io.Discard, nil)))
	fl.Update("udp14550-1", time.Now(), func(v *fleet.Vehicle) { v.SystemID = 1; v.Connected = true })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	routes := []struct{ url, extra string }{
		{"/api/v1/control", ``},
		{"/api/v1/commands/rtl", ``},
		{"/api/v1/uploads", `"type": "mission", "items": [], `},
	}
	groups := []struct{ name, body, field, text string }{
		{"no targets", `{%s"takeover": false}`, "vehicle_ids", "set all: true"},
		{"unknown vehicle", `{%s"vehicle_ids": ["udp14550-1", "ghost"]}`, "vehicle_ids[1]", `vehicle \"ghost\" is not known`},
		{"both ids and all", `{%s"vehicle_ids": ["udp14550-1"], "all": true}`, "all", "not both"},
	}
	for _, r := range routes {
		for _, g := range groups {
			body := strings.Replace(g.body, "%s", r.extra, 1)
			if r.url != "/api/v1/control" {
				body = strings.Replace(body, `"takeover": false`, `"timeout_s": 5`, 1)
			}
			st, raw := doAs(t, "op1", "POST", srv.URL+r.url, body)
			if st != 400 || !strings.Contains(raw, `"field": "`+g.field+`"`) || !strings.Contains(raw, g.text) {
				t.Errorf("%s, %s: %d %s, want 400 naming %s and %q", r.url, g.name, st, raw, g.field, g.text)
			}
		}
	}
	// An unknown vehicle in the path: the same 404 from the control and
	// the vehicle routes (control.PathVehicle).
	for _, r := range []struct{ method, path string }{
		{"POST", "/api/v1/vehicles/ghost/control"},
		{"DELETE", "/api/v1/vehicles/ghost/control"},
		{"GET", "/api/v1/vehicles/ghost"},
		{"POST", "/api/v1/vehicles/ghost/commands/rtl"},
	} {
		if st, raw := doAs(t, "op1", r.method, srv.URL+r.path, ""); st != 404 || !strings.Contains(raw, `vehicle \"ghost\" is not known (GET /api/v1/vehicles lists them)`) {
			t.Errorf("%s %s: %d %s, want 404 naming the vehicle", r.method, r.path, st, raw)
		}
	}
	if calls := f.Calls(); len(calls) != 0 {
		t.Fatalf("refused groups reached the station: %v", calls)
	}
	if holds := ctl.List(); len(holds) != 0 {
		t.Fatalf("refused groups took control: %v", holds)
	}
}
