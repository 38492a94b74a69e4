package app

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation/vehicleapi"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/internal/testenv"
)

// startRun runs the service with n simulated vehicles on the ground (no
// demo patrols: the tests fly them) and returns it with its base URL.
func startRun(t *testing.T, n int, speedup float64) (*App, string) {
	t.Helper()
	a, _ := runApp(t, func(c *Config) {
		c.Sim.Vehicles = n
		c.Sim.Speedup = speedup
		c.Sim.Demo = false
	})
	return a, "http://" + a.HTTPAddr()
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func sendJSON(t *testing.T, method, url string, body any, v any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, url, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("%s %s: %d, undecodable %s", method, url, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode
}

// offset returns the point d metres north and e metres east of (lat, lon).
func offset(lat, lon, n, e float64) (float64, float64) {
	return lat + n/111320, lon + e/(111320*math.Cos(lat*math.Pi/180))
}

func patrolFor(v fleet.Vehicle) []mavitem.Item {
	it := func(seq uint16, cmd uint16, lat, lon float64, alt float32) mavitem.Item {
		return mavitem.Item{Seq: seq, Frame: mavitem.FrameGlobalRelativeAlt, Command: cmd, Autocontinue: 1,
			X: int32(math.Round(lat * 1e7)), Y: int32(math.Round(lon * 1e7)), Z: alt}
	}
	h := v.Home
	aLat, aLon := offset(h.Lat, h.Lon, 40, 0)
	bLat, bLon := offset(h.Lat, h.Lon, 40, 40)
	home := it(0, mavitem.CmdNavWaypoint, h.Lat, h.Lon, 0)
	home.Frame = mavitem.FrameGlobal
	return []mavitem.Item{
		home,
		it(1, mavitem.CmdNavTakeoff, 0, 0, 20),
		it(2, mavitem.CmdNavWaypoint, aLat, aLon, 20),
		it(3, mavitem.CmdNavWaypoint, bLat, bLon, 25),
		it(4, mavitem.CmdNavReturnToLaunch, 0, 0, 0),
	}
}

// The acceptance flow: 20 vehicles discovered; each armed, taken
// off and flown through a mission, all through the HTTP API.
func TestTwentyVehiclesFlyMissionsThroughTheAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("flies 20 simulated vehicles")
	}
	const n = 20
	// Speedup 3 keeps the station's 1 Hz heartbeat inside ArduCopter's 5 s GCS
	// failsafe timeout in simulated time, as on a real link.
	a, base := startRun(t, n, 3)

	var vs []fleet.Vehicle
	testenv.Eventually(t, 60*time.Second, "20 vehicles with GPS and home", func() bool {
		getJSON(t, base+"/api/v1/vehicles", &vs)
		ready := 0
		for _, v := range vs {
			if v.Connected && v.GPSFix >= 3 && v.Home != nil {
				ready++
			}
		}
		return ready == n
	})
	ids := make([]string, 0, n)
	for _, v := range vs {
		ids = append(ids, v.ID)
		var rep map[string]any
		if code := sendJSON(t, "PUT", base+"/api/v1/vehicles/"+v.ID+"/mission", map[string]any{"items": patrolFor(v)}, &rep); code != 200 || rep["verified"] != true {
			t.Fatalf("upload to %s: %d %v", v.ID, code, rep)
		}
	}
	var down map[string]json.RawMessage
	getJSON(t, base+"/api/v1/vehicles/"+ids[0]+"/mission", &down)
	var items []mavitem.Item
	if err := json.Unmarshal(down["items"], &items); err != nil || len(items) != 5 {
		t.Fatalf("download: %v, %d items", err, len(items))
	}

	group := func(cmd string, body map[string]any) {
		t.Helper()
		body["vehicle_ids"] = ids
		var gr vehicleapi.GroupResponse
		if code := sendJSON(t, "POST", base+"/api/v1/commands/"+cmd, body, &gr); code != 200 || gr.Failed != 0 || gr.Succeeded != n {
			t.Fatalf("%s: %d %+v", cmd, code, gr)
		}
	}
	group("mode", map[string]any{"mode": "GUIDED"})
	group("arm", map[string]any{})
	group("mission_start", map[string]any{})

	testenv.Eventually(t, 150*time.Second, "every vehicle to fly its mission and land", func() bool {
		for _, id := range ids {
			v, _ := a.Fleet.Get(id)
			if v.Armed {
				return false
			}
		}
		return true
	})
	for _, id := range ids {
		reached := map[float64]bool{}
		var evs []fleet.Event
		getJSON(t, base+"/api/v1/vehicles/"+id+"/events?limit=1000", &evs)
		var kinds []string
		for _, e := range evs {
			kinds = append(kinds, string(e.Kind)+":"+e.Message)
			if e.Kind == fleet.EventMissionItemReached {
				if s, ok := e.Fields["seq"].(float64); ok {
					reached[s] = true
				}
			}
		}
		for seq := 1.0; seq <= 3; seq++ {
			if !reached[seq] {
				t.Errorf("%s: mission item %v never reported reached (events %v)", id, seq, kinds)
			}
		}
		if !strings.Contains(strings.Join(kinds, ","), "armed") || !strings.Contains(strings.Join(kinds, ","), "disarmed") {
			t.Errorf("%s: events %v lack armed/disarmed", id, kinds)
		}
	}
}

func TestCommandRefusalCarriesMAVResult(t *testing.T) {
	a, base := startRun(t, 1, 5)
	var vs []fleet.Vehicle
	testenv.Eventually(t, 60*time.Second, "the vehicle", func() bool {
		getJSON(t, base+"/api/v1/vehicles", &vs)
		return len(vs) == 1 && vs[0].GPSFix >= 3 && vs[0].Home != nil
	})
	id := vs[0].ID
	// Takeoff while disarmed: ArduCopter refuses NAV_TAKEOFF.
	var e struct {
		Error struct {
			Code    string         `json:"code"`
			Message string         `json:"message"`
			Details map[string]any `json:"details"`
		} `json:"error"`
	}
	code := sendJSON(t, "POST", base+"/api/v1/vehicles/"+id+"/commands/takeoff", map[string]any{"alt_m": 10}, &e)
	if code != http.StatusUnprocessableEntity || e.Error.Code != "refused" {
		t.Fatalf("takeoff while disarmed: %d %+v", code, e)
	}
	if _, ok := e.Error.Details["mav_result"]; !ok {
		t.Fatalf("refusal lacks mav_result: %+v", e)
	}
	// An in-range parameter set is verified; an out-of-range one comes back refused.
	var p map[string]any
	if code := sendJSON(t, "PUT", base+"/api/v1/vehicles/"+id+"/params/RTL_ALT", map[string]any{"value": 3000}, &p); code != 200 || p["name"] != "RTL_ALT" || p["value"] != 3000.0 {
		t.Fatalf("param set: %d %v", code, p)
	}
	var refused struct{ Error struct{ Code string } }
	if code := sendJSON(t, "PUT", base+"/api/v1/vehicles/"+id+"/params/RTL_ALT", map[string]any{"value": -50}, &refused); code != http.StatusUnprocessableEntity || refused.Error.Code != "refused" {
		t.Fatalf("out-of-range RTL_ALT: %d %+v", code, refused)
	}
	_ = a
}
