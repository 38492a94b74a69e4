package missionsapi

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/burgut-uav/burgut/httpapi"
	"github.com/burgut-uav/burgut/missions"
)

// areaWithoutLaunch is the synthetic area with its launch feature removed,
// as a GIS team's polygon usually comes.
func areaWithoutLaunch(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../testdata/synthetic-l.geojson")
	if err != nil {
		t.Fatal(err)
	}
	var fc map[string]any
	if err := json.Unmarshal(b, &fc); err != nil {
		t.Fatal(err)
	}
	var keep []any
	for _, f := range fc["features"].([]any) {
		if f.(map[string]any)["properties"].(map[string]any)["kind"] != missions.KindLaunch {
			keep = append(keep, f)
		}
	}
	fc["features"] = keep
	out, _ := json.Marshal(fc)
	return string(out)
}

// syntheticL is the L-shaped test area (../testdata/synthetic-l.geojson).
func syntheticL(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../testdata/synthetic-l.geojson")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// createArea creates an area from GeoJSON and returns its ID.
func createArea(t *testing.T, url, geojson string) string {
	t.Helper()
	code, body := do(t, "POST", url+"/api/v1/areas", geojson)
	if code != 201 {
		t.Fatalf("create area: %d %s", code, body)
	}
	var a struct{ ID string }
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatal(err)
	}
	return a.ID
}

func TestPlanWithLaunchField(t *testing.T) {
	srv, _ := setup(t, "")
	id := createArea(t, srv.URL, areaWithoutLaunch(t))
	plans := srv.URL + "/api/v1/areas/" + id + "/plans"
	code, body := do(t, "POST", plans, `{"pattern":"perimeter","drones":2}`)
	if code != 400 || !strings.Contains(body, `"field": "launch"`) || !strings.Contains(body, `\"launch\": {\"lat\"`) || !strings.Contains(body, "--launch LAT,LON[,RADIUS]") {
		t.Fatalf("plan without any launch point: %d %s; want 400 naming launch and saying how to give one", code, body)
	}
	code, body = do(t, "POST", plans, `{"pattern":"perimeter","drones":2,"launch":{"lat":41.3497,"lon":69.2996,"radius_m":4,"name":"van"}}`)
	if code != 201 {
		t.Fatalf("plan with launch: %d %s", code, body)
	}
	var ps struct {
		OK      bool
		Options missions.PlanOptions
		Drones  []struct {
			Launch struct {
				Name   string
				Point  [2]float64
				Radius float64
			}
			Home missions.Home
		}
	}
	if err := json.Unmarshal([]byte(body), &ps); err != nil {
		t.Fatal(err)
	}
	if !ps.OK || len(ps.Drones) != 2 {
		t.Fatalf("plan with launch: %s", body)
	}
	for i, d := range ps.Drones {
		if d.Launch.Name != "van" || d.Launch.Radius != 4 || math.Abs(d.Home.Lat-41.3497) > 1e-9 || math.Abs(d.Home.Lon-69.2996) > 1e-9 {
			t.Errorf("drone %d launch %+v home %+v, want the given launch point", i, d.Launch, d.Home)
		}
	}
	if l := ps.Options.Launch; l == nil || l.Lat != 41.3497 {
		t.Errorf("options do not echo the launch point: %+v", ps.Options)
	}
	// The stored area is untouched: it still has no launch point.
	if code, body = do(t, "POST", plans, `{"pattern":"sweep"}`); code != 400 || !strings.Contains(body, "no launch point") {
		t.Fatalf("stored area changed by a plan's launch option: %d %s", code, body)
	}
}

func TestPlanBadLaunchAndCapacity(t *testing.T) {
	srv, _ := setup(t, "")
	id := createArea(t, srv.URL, areaWithoutLaunch(t))
	plans := srv.URL + "/api/v1/areas/" + id + "/plans"
	for _, c := range []struct{ body, field string }{
		{`{"launch":{"lat":91,"lon":69.2}}`, "launch"},
		{`{"launch":{"lat":41.3,"lon":-181}}`, "launch"},
		{`{"launch":{"lat":41.3,"lon":69.2,"radius_m":-1}}`, "launch"},
		{`{"launch":{"lat":41.3,"lon":69.2,"radius_m":5000}}`, "launch"},
		{`{"launch":{"lat":69.2,"lon":41.3}}`, "launch"},
		{`{"launch":{}}`, "launch"},
		{`{"launch":{"lat":"north"}}`, "launch.lat"},
		{`{"launch":"41.3,69.2"}`, "launch"},
		{`{"launch":{"lat":41.3,"lon":69.2,"height":3}}`, ""},
		{`{"launch":{"lat":41.3497,"lon":69.2996},"capacity":{"fence_items":2}}`, "capacity.fence_items"},
		{`{"launch":{"lat":41.3497,"lon":69.2996},"capacity":{"fence_bytes":20}}`, "capacity.fence_bytes"},
		{`{"launch":{"lat":41.3497,"lon":69.2996},"capacity":{"mission_items":-5}}`, "capacity.mission_items"},
		{`{"launch":{"lat":41.3497,"lon":69.2996},"capacity":{"fence_items":"many"}}`, "capacity.fence_items"},
	} {
		code, body := do(t, "POST", plans, c.body)
		if code != 400 || !strings.Contains(body, fmt.Sprintf(`"field": %q`, c.field)) && c.field != "" {
			t.Errorf("%s: %d %s; want 400 naming %q", c.body, code, body, c.field)
		}
	}
}

func TestPlanFitsRequestedCapacity(t *testing.T) {
	srv, _ := setup(t, "")
	id := createArea(t, srv.URL, syntheticL(t))
	// A vehicle with a third of ArduCopter's fence storage.
	code, body := do(t, "POST", srv.URL+"/api/v1/areas/"+id+"/plans", `{"pattern":"perimeter","drones":1,"capacity":{"fence_items":24,"fence_bytes":200}}`)
	if code != 201 {
		t.Fatalf("plan: %d %s", code, body)
	}
	var ps struct {
		OK         bool
		Violations []missions.Violation
		Options    missions.PlanOptions
		Drones     []struct {
			Fence      []json.RawMessage
			Simplified []missions.BoundaryChange
		}
	}
	if err := json.Unmarshal([]byte(body), &ps); err != nil {
		t.Fatal(err)
	}
	if c := ps.Options.Capacity; c.FenceItems != 24 || c.FenceBytes != 200 || c.MissionItems != missions.DefaultMissionItems {
		t.Errorf("options.capacity %+v, want the request's with defaults", c)
	}
	if !ps.OK {
		t.Fatalf("plan does not pass its checks: %+v", ps.Violations)
	}
	d := ps.Drones[0]
	if len(d.Fence) > 24 || len(d.Simplified) == 0 {
		t.Fatalf("fence of %d items, simplified %+v; want at most 24 items and a report", len(d.Fence), d.Simplified)
	}
	for _, c := range d.Simplified {
		if c.VerticesAfter > c.VerticesBefore || c.MaxDisplacement < c.MeanDisplacement || (c.Direction != "shrunk" && c.Direction != "grown") {
			t.Errorf("implausible simplification report %+v", c)
		}
	}
}

// TestPlanForVehiclesReadsTheirCapacity: naming the vehicles plans for the
// smallest storage among them, read from their parameters.
func TestPlanForVehiclesReadsTheirCapacity(t *testing.T) {
	srv, _ := setup(t, "")
	id := createArea(t, srv.URL, syntheticL(t))
	plans := srv.URL + "/api/v1/areas/" + id + "/plans"
	capOf := func(body string) missions.Capacity {
		t.Helper()
		code, b := do(t, "POST", plans, body)
		if code != 201 {
			t.Fatalf("%s: %d %s", body, code, b)
		}
		var ps struct{ Options missions.PlanOptions }
		if err := json.Unmarshal([]byte(b), &ps); err != nil {
			t.Fatal(err)
		}
		return ps.Options.Capacity
	}
	// A vehicle with a 4 kB SD fence and a 16 kB SD mission.
	if c := capOf(`{"vehicles":["sd4"]}`); c.FenceItems != 255 || c.FenceBytes != 4096 || c.MissionItems != (16*1024-4)/15 {
		t.Errorf("sd4 capacity %+v, want 255 items / 4096 bytes / 1092 mission items", c)
	}
	// With a vehicle on the board's storage the smaller wins; a parameter
	// the vehicle lacks leaves the request's value.
	if c := capOf(`{"vehicles":["sd4","plain"],"capacity":{"mission_items":500}}`); c.FenceItems != missions.DefaultFenceItems || c.FenceBytes != missions.DefaultFenceBytes || c.MissionItems != 500 {
		t.Errorf("sd4+plain capacity %+v, want the defaults' fence and the request's 500 mission items", c)
	}
	for _, bad := range []struct {
		body  string
		code  int
		field string
	}{
		{`{"vehicles":["sd4","ghost"]}`, 400, `"field": "vehicles[1]"`},
		{`{"vehicles":[""]}`, 400, `"field": "vehicles[0]"`},
		{`{"vehicles":["broken"]}`, 503, "link down"},
		{`{"vehicles":"sd4"}`, 400, `"field": "vehicles"`},
	} {
		if code, b := do(t, "POST", plans, bad.body); code != bad.code || !strings.Contains(b, bad.field) {
			t.Errorf("%s: %d %s; want %d with %s", bad.body, code, b, bad.code, bad.field)
		}
	}
	// Without a ground station the capacity cannot be read.
	st, _ := NewStore("")
	mux := httpapi.NewMux()
	Register(mux, Deps{Store: st})
	srv2 := httptest.NewServer(mux)
	defer srv2.Close()
	id2 := createArea(t, srv2.URL, syntheticL(t))
	if code, b := do(t, "POST", srv2.URL+"/api/v1/areas/"+id2+"/plans", `{"vehicles":["sd4"]}`); code != 503 {
		t.Errorf("vehicles without a ground station: %d %s, want 503", code, b)
	}
}
