package vehicleapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/httpapi"
)

// testAPI is the API over a real fleet (pure state, no I/O) and a fake
// or absent station.
type testAPI struct {
	Fleet *fleet.Fleet
	Mux   *httpapi.Mux
}

// newAPIOnly serves the API over a real fleet without a ground station, to
// test request validation: every bad request must be refused before the
// station would be asked anything.
func newAPIOnly(t *testing.T) (*testAPI, *httptest.Server) {
	return newAPI(t, nil)
}

// newAPI serves the API with st as its station (nil: none running) and
// one known vehicle, udp14550-1, in STABILIZE.
func newAPI(t *testing.T, st Station) (*testAPI, *httptest.Server) {
	t.Helper()
	a := &testAPI{Fleet: fleet.New(fleet.DefaultConfig()), Mux: httpapi.NewMux()}
	Register(a.Mux, Deps{Fleet: a.Fleet, Station: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	a.Fleet.Update("udp14550-1", time.Now(), func(v *fleet.Vehicle) { v.SystemID = 1; v.Link = "udp14550"; v.Mode = "STABILIZE" })
	srv := httptest.NewServer(a.Mux)
	t.Cleanup(srv.Close)
	return a, srv
}

func do(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	if out == nil {
		out = map[string]any{"_raw": string(raw)}
	}
	return resp.StatusCode, out
}

func TestVehicleListHasTheContractFields(t *testing.T) {
	_, srv := newAPIOnly(t)
	resp, err := http.Get(srv.URL + "/api/v1/vehicles")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var vs []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 {
		t.Fatalf("got %d vehicles", len(vs))
	}
	for _, f := range []string{"id", "system_id", "link", "lat", "lon", "relative_alt_m", "heading_deg", "mode", "armed", "battery_pct", "last_seen"} {
		if _, ok := vs[0][f]; !ok {
			t.Errorf("vehicle lacks %q", f)
		}
	}
	if _, err := time.Parse(time.RFC3339, vs[0]["last_seen"].(string)); err != nil {
		t.Errorf("last_seen is not RFC 3339: %v", err)
	}
}

func TestBadRequestsNameTheField(t *testing.T) {
	_, srv := newAPIOnly(t)
	v := srv.URL + "/api/v1/vehicles/udp14550-1"
	cases := []struct {
		name, method, url, body string
		status                  int
		field, text             string
	}{
		{"unknown vehicle", "GET", srv.URL + "/api/v1/vehicles/nope", "", 404, "", "nope"},
		{"command to unknown vehicle", "POST", srv.URL + "/api/v1/vehicles/nope/commands/arm", "", 404, "", "nope"},
		{"unknown command", "POST", v + "/commands/fly-away", "", 404, "", "arm"},
		{"takeoff without altitude", "POST", v + "/commands/takeoff", `{}`, 400, "alt_m", "alt_m"},
		{"negative takeoff altitude", "POST", v + "/commands/takeoff", `{"alt_m": -5}`, 400, "alt_m", "-5"},
		{"altitude as a string", "POST", v + "/commands/takeoff", `{"alt_m": "high"}`, 400, "alt_m", "float64"},
		{"misspelt field", "POST", v + "/commands/takeoff", `{"altitude": 5}`, 400, "altitude", "unknown field"},
		{"broken JSON", "POST", v + "/commands/takeoff", `{"alt_m": 5`, 400, "", "middle"},
		{"goto without lon", "POST", v + "/commands/goto", `{"lat": 41, "alt_m": 30}`, 400, "lon", "lon"},
		{"goto latitude out of range", "POST", v + "/commands/goto", `{"lat": 141, "lon": 69, "alt_m": 30}`, 400, "lat", "90"},
		{"mode without name", "POST", v + "/commands/mode", `{}`, 400, "mode", "mode"},
		{"unknown mode", "POST", v + "/commands/mode", `{"mode": "FLYFAST"}`, 400, "mode", "FLYFAST"},
		{"timeout beyond a day", "POST", v + "/commands/rtl", `{"timeout_s": 1e308}`, 400, "timeout_s", "86400"},
		{"negative timeout", "PUT", v + "/mission", `{"items": [], "timeout_s": -1}`, 400, "timeout_s", "-1"},
		{"group timeout not a number", "POST", srv.URL + "/api/v1/commands/rtl", `{"all": true, "timeout_s": "soon"}`, 400, "timeout_s", "float64"},
		{"raw command too many params", "POST", v + "/commands/command", `{"command": 400, "params": [1,2,3,4,5,6,7,8]}`, 400, "params", "7"},
		{"unknown list", "PUT", v + "/waypoints", `{"items": []}`, 404, "", "mission, fence or rally"},
		{"upload without items", "PUT", v + "/mission", `{}`, 400, "items", "items"},
		{"item seq gap", "PUT", v + "/mission", `{"items": [{"seq": 1, "command": 16}]}`, 400, "items[0].seq", "0"},
		{"fence item in a mission", "PUT", v + "/mission", `{"items": [{"seq": 0, "command": 5001, "mission_type": 1}]}`, 400, "items[0].mission_type", "mission"},
		{"latitude out of range in item", "PUT", v + "/mission", `{"items": [{"seq": 0, "frame": 3, "command": 16, "x": 950000000}]}`, 400, "items[0].x", "range"},
		{"group without targets", "POST", srv.URL + "/api/v1/commands/rtl", `{}`, 400, "vehicle_ids", "all"},
		{"group with unknown vehicle", "POST", srv.URL + "/api/v1/commands/rtl", `{"vehicle_ids": ["udp14550-1", "ghost"]}`, 400, "vehicle_ids[1]", "ghost"},
		{"group upload bad type", "POST", srv.URL + "/api/v1/uploads", `{"type": "plan", "items": [], "all": true}`, 400, "type", "plan"},
		{"set current without seq", "POST", v + "/mission/current", `{}`, 400, "seq", "mission item"},
		{"param set non-number", "PUT", v + "/params/RTL_ALT", `{"value": "x"}`, 400, "value", "float64"},
		{"events bad since", "GET", srv.URL + "/api/v1/events?since=-1", "", 400, "since", "-1"},
		{"list bad filter", "GET", srv.URL + "/api/v1/vehicles?connected=maybe", "", 400, "connected", "maybe"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := do(t, c.method, c.url, c.body)
			if status != c.status {
				t.Fatalf("status %d, want %d (body %v)", status, c.status, body)
			}
			e, _ := body["error"].(map[string]any)
			if e == nil {
				t.Fatalf("no error object in %v", body)
			}
			if f, _ := e["field"].(string); f != c.field {
				t.Errorf("field %q, want %q (%v)", f, c.field, e)
			}
			if m, _ := e["message"].(string); !strings.Contains(m, c.text) {
				t.Errorf("message %q does not mention %q", m, c.text)
			}
		})
	}
}

func TestValidCommandWithoutStationIsUnavailable(t *testing.T) {
	_, srv := newAPIOnly(t)
	status, body := do(t, "POST", srv.URL+"/api/v1/vehicles/udp14550-1/commands/takeoff", `{"alt_m": 20}`)
	if status != http.StatusServiceUnavailable {
		t.Fatalf("status %d body %v", status, body)
	}
}

func TestEventsResumeBySeq(t *testing.T) {
	a, srv := newAPIOnly(t)
	a.Fleet.Update("udp14550-1", time.Now(), func(v *fleet.Vehicle) { v.Armed = true })
	resp, err := http.Get(srv.URL + "/api/v1/events?since=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var evs []fleet.Event
	if err := json.NewDecoder(resp.Body).Decode(&evs); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Kind != fleet.EventArmed || evs[0].Seq != 2 {
		t.Fatalf("events since 1 = %+v", evs)
	}
}

// A vehicle whose autopilot sent a NaN is listed with that field null, as
// MQTT and the WebSocket stream show it (encoding/json refused the whole
// list: an empty 200 answer); any other view encodes as encoding/json
// would, the control holder included.
func TestVehicleWithNaNIsListedWithNull(t *testing.T) {
	a, srv := newAPIOnly(t)
	a.Fleet.Update("udp14550-1", time.Now(), func(v *fleet.Vehicle) { v.AirSpeed = math.NaN(); v.Lat = 41.5 })
	for _, path := range []string{"/api/v1/vehicles", "/api/v1/vehicles/udp14550-1"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var v map[string]any
		if path == "/api/v1/vehicles" {
			var vs []map[string]any
			if err := json.Unmarshal(raw, &vs); err != nil || len(vs) != 1 {
				t.Fatalf("%s: %q: %v", path, raw, err)
			}
			v = vs[0]
		} else if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s: %q: %v", path, raw, err)
		}
		if as, ok := v["air_speed_mps"]; !ok || as != nil || v["lat"] != 41.5 || v["mode"] != "STABILIZE" {
			t.Errorf("%s: %s; want air_speed_mps null and the rest", path, raw)
		}
	}

	type plain VehicleView // encoding/json's own encoding, without MarshalJSON
	now := time.Date(2026, 12, 1, 12, 0, 0, 5, time.UTC)
	fv := fleet.Vehicle{ID: "v", Lat: 1.5, Mode: "AUTO", Home: &fleet.Point{Lat: 1}, Control: &fleet.Control{Holder: "stale copy"}, Updated: now}
	for _, view := range []VehicleView{{Vehicle: fv}, {Vehicle: fv, Control: &ControlView{Holder: "op", Since: now}}} {
		got, err := json.Marshal(view)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(plain(view))
		var g, w map[string]any
		if json.Unmarshal(got, &g) != nil || json.Unmarshal(want, &w) != nil || !reflect.DeepEqual(g, w) {
			t.Errorf("view:\n got %s\nwant %s", got, want)
		}
	}
}
