package operations

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/httpapi"
	"github.com/burgut-uav/burgut/missions"
)

type areas map[string]*missions.Area

func (a areas) Area(id string) (*missions.Area, bool) { x, ok := a[id]; return x, ok }

// fakeFleet is a fleet of parked, charged, connected vehicles.
type fakeFleet struct{ vs map[string]fleet.Vehicle }

func (f *fakeFleet) Get(id string) (fleet.Vehicle, bool) { v, ok := f.vs[id]; return v, ok }
func (f *fakeFleet) Emit(e fleet.Event) fleet.Event      { return e }

func testArea(t *testing.T) *missions.Area {
	t.Helper()
	f, err := os.Open("../testdata/synthetic-l.geojson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := missions.ImportGeoJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func testServer(t *testing.T, dir string) (*httptest.Server, *Manager) {
	t.Helper()
	m, err := New(Config{DataDir: dir, Fleet: &fakeFleet{vs: map[string]fleet.Vehicle{"u1": {ID: "u1"}, "u2": {ID: "u2"}, "u3": {ID: "u3"}}}})
	if err != nil {
		t.Fatal(err)
	}
	mux := httpapi.NewMux()
	Register(mux, Deps{Manager: m, Areas: areas{"a1": testArea(t)}, Known: func(id string) bool { return strings.HasPrefix(id, "u") }})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, m
}

func post(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// Every bad create body is a 400 naming the field at fault.
func TestCreateRefusesBadBodiesNamingTheField(t *testing.T) {
	srv, _ := testServer(t, t.TempDir())
	end := time.Now().Add(time.Hour).Format(time.RFC3339)
	ok := `"area_id":"a1","pattern":"perimeter","slots":1,"vehicle_ids":["u1","u2"],"start":"now","end":"` + end + `"`
	for _, c := range []struct{ body, field string }{
		{`{"pattern":"perimeter","slots":1,"vehicle_ids":["u1"],"start":"now","end":"` + end + `"}`, "area_id"},
		{`{` + strings.Replace(ok, `"a1"`, `"a9"`, 1) + `}`, "area_id"},
		{`{` + strings.Replace(ok, `"perimeter"`, `"zigzag"`, 1) + `}`, "pattern"},
		{`{` + strings.Replace(ok, `"slots":1`, `"slots":0`, 1) + `}`, "slots"},
		{`{` + strings.Replace(ok, `"slots":1`, `"slots":3`, 1) + `}`, "vehicle_ids"},
		{`{` + strings.Replace(ok, `"u2"`, `"u1"`, 1) + `}`, "vehicle_ids[1]"},
		{`{` + strings.Replace(ok, `"u2"`, `"x2"`, 1) + `}`, "vehicle_ids[1]"},
		{`{` + strings.Replace(ok, `"now"`, `"tomorrow"`, 1) + `}`, "start"},
		{`{` + strings.Replace(ok, end, "2001-01-01T00:00:00Z", 1) + `}`, "end"},
		{`{` + ok + `,"reserve_pct":-3}`, "reserve_pct"},
		{`{` + ok + `,"pad_sequencing":"landings"}`, "pad_sequencing"},
		{`{` + ok + `,"slots_x":1}`, "slots_x"},
		{`{"slots":"three"}`, "slots"},
	} {
		code, out := post(t, srv.URL+"/api/v1/operations", c.body)
		e, _ := out["error"].(map[string]any)
		if code != http.StatusBadRequest || e["field"] != c.field {
			t.Errorf("%s: %d %v, want 400 naming %s", c.body, code, out, c.field)
		}
	}
	if code, out := post(t, srv.URL+"/api/v1/operations", `{`+ok+`}`); code != http.StatusCreated || out["id"] == "" || out["state"] != "scheduled" {
		t.Fatalf("good body: %d %v", code, out)
	}
	// u1 now serves op1: a second operation may not take it.
	if code, _ := post(t, srv.URL+"/api/v1/operations", `{`+ok+`}`); code != http.StatusConflict {
		t.Fatalf("vehicle in two operations: %d, want 409", code)
	}
	if code, _ := post(t, srv.URL+"/api/v1/operations/op9/stop", `{}`); code != http.StatusNotFound {
		t.Fatalf("unknown operation: %d, want 404", code)
	}
	if code, _ := post(t, srv.URL+"/api/v1/operations/op1/vehicles/u9/ready", `{}`); code != http.StatusConflict {
		t.Fatalf("ready for a vehicle not in the operation: %d, want 409", code)
	}
}

// An operation survives a restart of the manager as it was: its window,
// slots, plans and vehicles' roles, and its id counter.
func TestOperationsPersist(t *testing.T) {
	dir := t.TempDir()
	srv, m := testServer(t, dir)
	end := time.Now().Add(time.Hour).Format(time.RFC3339)
	code, out := post(t, srv.URL+"/api/v1/operations", `{"area_id":"a1","pattern":"perimeter","slots":2,"vehicle_ids":["u1","u2","u3"],"start":"now","end":"`+end+`"}`)
	if code != http.StatusCreated {
		t.Fatalf("%d %v", code, out)
	}
	if _, err := m.Change(t.Context(), "op1", "pause"); err != nil {
		t.Fatal(err)
	}
	m2, err := New(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	o, err := m2.Get("op1")
	if err != nil {
		t.Fatal(err)
	}
	if !o.Paused || len(o.Slots) != 2 || len(o.Plans) != 2 || len(o.Plans[0].Plan.Mission) == 0 || len(o.Vehicles) != 3 || o.End.Format(time.RFC3339) != end {
		t.Fatalf("reloaded: paused %v slots %d plans %d vehicles %d end %s", o.Paused, len(o.Slots), len(o.Plans), len(o.Vehicles), o.End)
	}
	if o.Plans[0].Plan.LoopStart == 0 || o.Plans[0].Plan.JumpSeq <= o.Plans[0].Plan.LoopStart {
		t.Fatalf("reloaded plan lost its loop: %d..%d", o.Plans[0].Plan.LoopStart, o.Plans[0].Plan.JumpSeq)
	}
}

// Plan-time separation between operations: a second operation over the
// same airspace in an overlapping window would fly the same layers over
// the same legs and is refused naming the first; after the first's window
// it is accepted.
func TestOperationsInTheSameAirspaceAreSeparated(t *testing.T) {
	srv, _ := testServer(t, t.TempDir())
	now := time.Now()
	body := func(ids string, start, end time.Time) string {
		return `{"area_id":"a1","pattern":"perimeter","slots":1,"vehicle_ids":[` + ids + `],"start":"` + start.Format(time.RFC3339) + `","end":"` + end.Format(time.RFC3339) + `"}`
	}
	if code, out := post(t, srv.URL+"/api/v1/operations", body(`"u1"`, now.Add(time.Hour), now.Add(3*time.Hour))); code != http.StatusCreated {
		t.Fatalf("first: %d %v", code, out)
	}
	code, out := post(t, srv.URL+"/api/v1/operations", body(`"u2"`, now.Add(2*time.Hour), now.Add(4*time.Hour)))
	e, _ := out["error"].(map[string]any)
	if code != http.StatusConflict || !strings.Contains(e["message"].(string), "op1 slot 0") {
		t.Fatalf("overlapping: %d %v, want 409 naming op1 slot 0", code, out)
	}
	if code, out := post(t, srv.URL+"/api/v1/operations", body(`"u2"`, now.Add(3*time.Hour), now.Add(4*time.Hour))); code != http.StatusCreated {
		t.Fatalf("after the first's window: %d %v", code, out)
	}
}

// After a restart the drones on their slots are tagged with the operation
// from the first state the new station hears from them, not from the
// scheduler's first tick after it (a loaded machine left them untagged
// that long: TestOperationResumesAfterAStationRestart). A vehicle that
// left its slot before it was heard again takes no tag.
func TestResumedDronesTaggedWhenFirstHeard(t *testing.T) {
	dir := t.TempDir()
	srv, m := testServer(t, dir)
	end := time.Now().Add(time.Hour).Format(time.RFC3339)
	if code, out := post(t, srv.URL+"/api/v1/operations", `{"area_id":"a1","pattern":"perimeter","slots":2,"vehicle_ids":["u1","u2","u3"],"start":"now","end":"`+end+`"}`); code != http.StatusCreated {
		t.Fatalf("%d %v", code, out)
	}
	m.mu.Lock()
	o := m.ops["op1"]
	roles := map[string]Role{"u1": RoleStation, "u2": RoleTransit, "u3": RolePool}
	for _, v := range o.Vehicles {
		v.Role = roles[v.ID]
		v.Slot = map[string]int{"u1": 1, "u2": 0, "u3": -1}[v.ID]
	}
	if err := m.saveLocked(); err != nil {
		t.Fatal(err)
	}
	m.mu.Unlock()

	fl := fleet.New(fleet.DefaultConfig())
	m2, err := New(Config{DataDir: dir, Fleet: fl})
	if err != nil {
		t.Fatal(err)
	}
	heard := func(id string) fleet.Vehicle {
		v, _ := fl.Update(id, time.Now(), func(v *fleet.Vehicle) { v.Armed = true })
		return v
	}
	if v := heard("u1"); v.Mission != "op1/slot-1" || v.EventArea != "a1" {
		t.Errorf("u1 (station, slot 1) first heard tagged %q %q", v.Mission, v.EventArea)
	}
	if v := heard("u3"); v.Mission != "" {
		t.Errorf("u3 (pool) first heard tagged %q", v.Mission)
	}
	// u2 is sent home before it is heard: its expected tag is withdrawn.
	m2.mu.Lock()
	m2.ops["op1"].vehicle("u2").Role = RoleReturning
	m2.retag(m2.ops["op1"])
	m2.mu.Unlock()
	if v := heard("u2"); v.Mission != "" {
		t.Errorf("u2 (returning) first heard tagged %q", v.Mission)
	}
}
