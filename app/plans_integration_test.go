package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation/vehicleapi"
	"github.com/burgut-uav/burgut/internal/latlon"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/missions"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

func postRaw(t *testing.T, url, body string, v any) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("POST %s: %d, undecodable %s", url, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode
}

func breaches(fl *fleet.Fleet, id string) []string {
	var out []string
	for _, e := range fl.Events(0, id, 0) {
		if e.Kind == fleet.EventFenceBreach {
			out = append(out, e.Message)
		}
	}
	return out
}

// The operator's whole path: an event area is posted, planned for two
// drones, checked, and assigned to two simulated vehicles through the real
// ground station; the vehicles then hold exactly the planned fence and
// mission with the fence enabled, and fly the patrol to the end without a
// single fence breach.
func TestPlannedPatrolIsUploadedAndFlownInsideItsFences(t *testing.T) {
	if testing.Short() {
		t.Skip("flies two simulated vehicles through a planned patrol")
	}
	const home = "41.3111,69.2797"
	a, _ := runApp(t, func(c *Config) {
		c.Sim.Vehicles = 2
		c.Sim.Speedup = 8
		c.Sim.Demo = false
		c.Sim.Home = home
	})
	base := "http://" + a.HTTPAddr()
	pt, _ := latlon.Parse(home, "")
	lat, lon := pt.Lat, pt.Lon

	var area struct{ ID string }
	if code := postRaw(t, base+"/api/v1/areas", string(demoAreaGeoJSON(lat, lon, 2)), &area); code != http.StatusCreated {
		t.Fatalf("create area: %d", code)
	}
	var ps struct {
		ID         string
		OK         bool
		Violations []missions.Violation
		Drones     []*missions.DronePlan
	}
	if code := postRaw(t, base+"/api/v1/areas/"+area.ID+"/plans", `{"pattern":"perimeter","drones":2,"speed":10}`, &ps); code != http.StatusCreated || !ps.OK {
		t.Fatalf("plan: %d ok=%v violations %v", code, ps.OK, ps.Violations)
	}

	var ids []string
	testenv.Eventually(t, 60*time.Second, "2 vehicles ready", func() bool {
		ids = ids[:0]
		for _, v := range a.Fleet.List() {
			if v.Connected && v.GPSFix >= 3 && v.Home != nil {
				ids = append(ids, v.ID)
			}
		}
		return len(ids) == 2
	})
	var assigned struct {
		OK      bool
		Results []struct {
			VehicleID string   `json:"vehicle_id"`
			Uploaded  []string `json:"uploaded"`
			Params    []string `json:"params"`
			Error     string   `json:"error"`
		}
	}
	body := fmt.Sprintf(`{"assignments":[{"drone":0,"vehicle_id":%q},{"drone":1,"vehicle_id":%q}]}`, ids[0], ids[1])
	if code := postRaw(t, base+"/api/v1/plans/"+ps.ID+"/assign", body, &assigned); code != http.StatusOK || !assigned.OK {
		t.Fatalf("assign: %d %+v", code, assigned)
	}
	for _, r := range assigned.Results {
		if strings.Join(r.Uploaded, ",") != "fence,rally,mission" || len(r.Params) != 7 {
			t.Fatalf("%s: uploaded %v params %v", r.VehicleID, r.Uploaded, r.Params)
		}
	}

	// What the vehicles hold is what was planned, read back over MAVLink
	// and straight from the simulated autopilots.
	for d, id := range ids {
		var down struct{ Items []mavitem.Item }
		getJSON(t, base+"/api/v1/vehicles/"+id+"/fence", &down)
		if len(down.Items) != len(ps.Drones[d].Fence) {
			t.Fatalf("%s holds %d fence items, planned %d", id, len(down.Items), len(ps.Drones[d].Fence))
		}
		var p struct{ Value float64 }
		getJSON(t, base+"/api/v1/vehicles/"+id+"/params/FENCE_ENABLE", &p)
		if p.Value != 1 {
			t.Fatalf("%s: FENCE_ENABLE = %v", id, p.Value)
		}
	}
	for i := 0; i < a.Sim.Len(); i++ {
		var n int
		a.Sim.Vehicle(i).Do(func(v *vehicle.Vehicle) { n = len(v.Mission()) })
		if n < 5 {
			t.Fatalf("simulated vehicle %d holds %d mission items", i, n)
		}
	}

	group := func(cmd, args string) {
		t.Helper()
		var gr vehicleapi.GroupResponse
		b := fmt.Sprintf(`{"vehicle_ids":[%q,%q]%s}`, ids[0], ids[1], args)
		if code := postRaw(t, base+"/api/v1/commands/"+cmd, b, &gr); code != 200 || gr.Failed != 0 {
			t.Fatalf("%s: %d %+v", cmd, code, gr)
		}
	}
	group("mode", `,"mode":"GUIDED"`)
	group("arm", "")
	group("mission_start", "")
	testenv.Eventually(t, 200*time.Second, "both patrols flown to the end and landed", func() bool {
		for _, id := range ids {
			if len(breaches(a.Fleet, id)) > 0 {
				return true // fail below with the breach
			}
			done := false
			for _, e := range a.Fleet.Events(0, id, 0) {
				done = done || e.Kind == fleet.EventMissionComplete
			}
			v, _ := a.Fleet.Get(id)
			if !done || v.Armed {
				return false
			}
		}
		return true
	})
	for _, id := range ids {
		if b := breaches(a.Fleet, id); len(b) > 0 {
			t.Fatalf("%s breached its fence flying the checked plan: %v", id, b)
		}
	}
}

// `burgut run` opens on a flying fleet: the demo plans, checks, uploads and
// starts patrols, and the vehicles fly them inside their fences.
func TestRunDemoLaunchesPatrolsInsideFences(t *testing.T) {
	a, _ := runApp(t, func(c *Config) {
		c.Sim.Vehicles = 3
		c.Sim.Speedup = 3
	})
	testenv.Eventually(t, 120*time.Second, "three vehicles patrolling in AUTO", func() bool {
		vs := a.Fleet.List()
		if len(vs) != 3 {
			return false
		}
		for _, v := range vs {
			if !v.Armed || v.Mode != "AUTO" || v.MissionSeq < 4 {
				return false
			}
		}
		return true
	})
	if a.Missions == nil {
		t.Fatal("no mission store")
	}
	resp, err := http.Get("http://" + a.HTTPAddr() + "/api/v1/areas")
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Areas []struct{ Name string } }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(list.Areas) != 1 || list.Areas[0].Name != "Demo event area" {
		t.Fatalf("the demo area is not in the API: %+v", list)
	}
	for _, v := range a.Fleet.List() {
		if b := breaches(a.Fleet, v.ID); len(b) > 0 {
			t.Fatalf("%s breached its fence: %v", v.ID, b)
		}
		if !v.FenceBreached && v.MissionCount < 5 {
			t.Fatalf("%s: mission of %d items", v.ID, v.MissionCount)
		}
	}
}
