package missionsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/burgut-uav/burgut/httpapi"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/missions"
)

// recorder is a consumer-side Uploader that remembers what it was given
// and fails for one vehicle, to exercise per-vehicle results.
type recorder struct {
	mu     sync.Mutex
	got    map[string][]mavitem.MissionType
	items  map[string][]mavitem.Item
	params map[string][]string
	tags   map[string]Tag
	reads  map[string]int // GetParam calls per vehicle
}

func (r *recorder) UploadMission(_ context.Context, v string, t mavitem.MissionType, items []mavitem.Item, tag Tag) error {
	if v == "broken" {
		return errors.New("vehicle did not answer MISSION_REQUEST")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got[v] = append(r.got[v], t)
	if t == mavitem.TypeMission {
		r.items[v] = items
		r.tags[v] = tag
	}
	return nil
}

// GetParam answers from vehicleParams: vehicle "ghost" is unknown, a
// parameter not listed is one the vehicle does not have.
func (r *recorder) GetParam(_ context.Context, v, name string) (float64, bool, error) {
	r.mu.Lock()
	r.reads[v]++
	r.mu.Unlock()
	if v == "ghost" {
		return 0, false, fmt.Errorf("vehicle %q: %w", v, ErrUnknownVehicle)
	}
	if v == "broken" {
		return 0, false, errors.New("link down")
	}
	val, ok := vehicleParams[v][name]
	return val, ok, nil
}

// vehicleParams are the storage parameters the fake vehicles have.
var vehicleParams = map[string]map[string]float64{
	"sd4":   {missions.ParamSDFence: 4, missions.ParamSDMission: 16},
	"plain": {missions.ParamSDFence: 0},
	"tiny":  {missions.ParamSDMission: 1}, // (1024-4)/15 = 68 mission items
}

func (r *recorder) SetParam(_ context.Context, v, name string, value float64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.params[v] = append(r.params[v], name)
	return nil
}

func setup(t *testing.T, dir string) (*httptest.Server, *recorder) {
	t.Helper()
	st, err := NewStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{got: map[string][]mavitem.MissionType{}, items: map[string][]mavitem.Item{}, params: map[string][]string{}, tags: map[string]Tag{}, reads: map[string]int{}}
	mux := httpapi.NewMux()
	Register(mux, Deps{Store: st, Uploader: rec})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, rec
}

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAreasPlansAssign(t *testing.T) {
	dir := t.TempDir()
	srv, rec := setup(t, dir)
	a := struct{ ID string }{createArea(t, srv.URL, syntheticL(t))}
	code, body := do(t, "GET", srv.URL+"/api/v1/areas", "")
	if code != 200 || !strings.Contains(body, a.ID) || !strings.Contains(body, `"starts": "2027-05-01T10:00:00+05:00"`) || !strings.Contains(body, `"max_alt_m": 100`) {
		t.Fatalf("list: %d %s", code, body)
	}
	if code, body = do(t, "GET", srv.URL+"/api/v1/areas/"+a.ID+"?format=kml", ""); code != 200 || !strings.Contains(body, "<kml") {
		t.Fatalf("kml: %d %s", code, body)
	}
	if code, body = do(t, "GET", srv.URL+"/api/v1/areas/"+a.ID, ""); code != 200 || !strings.Contains(body, "event-area") {
		t.Fatalf("geojson: %d %s", code, body)
	}
	code, body = do(t, "POST", srv.URL+"/api/v1/areas/"+a.ID+"/plans", `{"pattern":"sweep","drones":2,"alt":50,"spacing":40}`)
	if code != 201 {
		t.Fatalf("plan: %d %s", code, body)
	}
	// The synthetic area's launch point has no radius: both drones return
	// to the one home, which the plan set reports without failing.
	if !strings.Contains(body, `"returns_together"`) || !strings.Contains(body, "sent home together") || !strings.Contains(body, "too small for 2 landing spots") {
		t.Fatalf("plan set without its simultaneous returns or pad note: %s", body)
	}
	var ps struct {
		ID      string
		OK      bool
		Drones  []json.RawMessage
		Options missions.PlanOptions
	}
	_ = json.Unmarshal([]byte(body), &ps)
	if !ps.OK || len(ps.Drones) != 2 {
		t.Fatalf("plan result: %s", body)
	}
	// The options come back as applied: given values kept, defaults filled in.
	if o := ps.Options; o.Spacing != 40 || o.Alt != 50 || o.LayerStep != 10 || o.Margin != 10 || o.End != "rtl" || o.Speed != 10 {
		t.Fatalf("plan options %+v, want the applied values with defaults", o)
	}
	for _, f := range []string{"plan", "waypoints", "geojson", "kml"} {
		code, body = do(t, "GET", srv.URL+"/api/v1/plans/"+ps.ID+"?format="+f+"&drone=1", "")
		if code != 200 {
			t.Fatalf("%s: %d %s", f, code, body)
		}
		if f == "kml" && (strings.Count(body, "<Folder>") != 2 || !strings.Contains(body, "drone 1 path") || !strings.Contains(body, "fence inclusion") || !strings.Contains(body, "Synthetic L with a hole")) {
			t.Fatalf("plan KML lacks the area or a drone's path and fence:\n%s", body)
		}
		if f == "plan" {
			if _, err := missions.ParsePlan(strings.NewReader(body)); err != nil {
				t.Fatalf("served .plan does not parse: %v", err)
			}
		}
	}
	code, body = do(t, "POST", srv.URL+"/api/v1/plans/"+ps.ID+"/assign", `{"assignments":[{"drone":0,"vehicle_id":"v1"},{"drone":1,"vehicle_id":"broken"}]}`)
	if code != http.StatusMultiStatus || !strings.Contains(body, "did not answer") {
		t.Fatalf("assign: %d %s", code, body)
	}
	if got := rec.got["v1"]; len(got) != 3 || got[0] != mavitem.TypeFence || got[2] != mavitem.TypeMission {
		t.Fatalf("uploads to v1: %v", got)
	}
	if p := rec.params["v1"]; strings.Join(p, ",") != "FENCE_TYPE,FENCE_ALT_MAX,FENCE_ACTION,FENCE_ENABLE,RTL_ALT" {
		t.Fatalf("fence params set on v1: %v", p)
	}
	if p := rec.params["broken"]; len(p) != 0 {
		t.Fatalf("params set on a vehicle whose upload failed: %v", p)
	}
	if it := rec.items["v1"]; it[0].Seq != 0 || it[1].Command != mavitem.CmdNavTakeoff {
		t.Fatalf("mission upload does not start with home then takeoff: %+v", it[:2])
	}
	if tag := rec.tags["v1"]; tag.Mission != ps.ID || tag.EventArea != a.ID {
		t.Fatalf("mission uploaded with tag %+v, want plan %s area %s", tag, ps.ID, a.ID)
	}
	// Persistence: a new store over the same directory has the area.
	srv2, _ := setup(t, dir)
	if code, _ = do(t, "GET", srv2.URL+"/api/v1/areas/"+a.ID, ""); code != 200 {
		t.Fatalf("area not persisted: %d", code)
	}
}

func TestAPIErrors(t *testing.T) {
	srv, _ := setup(t, "")
	bad, _ := os.ReadFile("../testdata/bad/self-intersecting.geojson")
	cases := []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"POST", "/api/v1/areas", string(bad), 400, `"vertex": 0`},
		{"POST", "/api/v1/areas", `{"type":`, 400, "ends unexpectedly"},
		{"GET", "/api/v1/areas/nope", "", 404, "not found"},
		{"GET", "/api/v1/plans/nope", "", 404, "not found"},
		{"POST", "/api/v1/plans/nope/assign", `{}`, 404, "not found"},
	}
	a := struct{ ID string }{createArea(t, srv.URL, syntheticL(t))}
	var body string
	cases = append(cases,
		struct {
			method, path, body string
			code               int
			want               string
		}{"POST", "/api/v1/areas/" + a.ID + "/plans", `{"pattern":"zigzag"}`, 400, `"field": "pattern"`},
		struct {
			method, path, body string
			code               int
			want               string
		}{"POST", "/api/v1/areas/" + a.ID + "/plans", `{"drones":"two"}`, 400, `"field": "drones"`},
		struct {
			method, path, body string
			code               int
			want               string
		}{"GET", "/api/v1/areas/" + a.ID + "?format=shp", "", 400, `"field": "format"`},
	)
	for _, c := range cases {
		code, body := do(t, c.method, srv.URL+c.path, c.body)
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s %s: %d %s; want %d containing %q", c.method, c.path, code, body, c.code, c.want)
		}
	}
	_, body = do(t, "POST", srv.URL+"/api/v1/areas/"+a.ID+"/plans", `{"pattern":"loop","drones":1}`)
	var ps struct{ ID string }
	_ = json.Unmarshal([]byte(body), &ps)
	for _, c := range []struct{ body, want string }{
		{`{"assignments":[]}`, "no assignments"},
		{`{"assignments":[{"drone":5,"vehicle_id":"v"}]}`, `"field": "assignments[0].drone"`},
		{`{"assignments":[{"drone":0,"vehicle_id":""}]}`, `"field": "assignments[0].vehicle_id"`},
		{`{"assignments":[{"drone":0,"vehicle_id":"v"},{"drone":0,"vehicle_id":"v"}]}`, "assigned twice"},
	} {
		code, b := do(t, "POST", srv.URL+"/api/v1/plans/"+ps.ID+"/assign", c.body)
		if code != 400 || !strings.Contains(b, c.want) {
			t.Errorf("assign %s: %d %s", c.body, code, b)
		}
	}
}

// A mission made elsewhere is checked against the area before it can fly:
// an exported plan comes back clean with its battery estimate; the same
// mission with one waypoint moved into the "Crane" no-fly circle is judged
// (drone, leg, rule) and its assignment refused; a file that is neither a
// .plan nor a .waypoints file is a 400 naming it.
func TestImportedMissionIsChecked(t *testing.T) {
	srv, _ := setup(t, "")
	a := struct{ ID string }{createArea(t, srv.URL, syntheticL(t))}
	code, body := do(t, "POST", srv.URL+"/api/v1/areas/"+a.ID+"/plans", `{"pattern":"perimeter","drones":1}`)
	var ps struct {
		ID      string
		OK      bool
		Battery []missions.BatteryUse
	}
	if _ = json.Unmarshal([]byte(body), &ps); code != 201 || !ps.OK || len(ps.Battery) != 1 || ps.Battery[0].FlightS <= 0 || ps.Battery[0].BudgetS != 1500*0.8 || ps.Battery[0].Over {
		t.Fatalf("plan with battery estimate: %d %s", code, body)
	}
	_, wp := do(t, "GET", srv.URL+"/api/v1/plans/"+ps.ID+"?format=waypoints", "")
	_, plan := do(t, "GET", srv.URL+"/api/v1/plans/"+ps.ID+"?format=plan", "")
	type imported struct {
		ID         string
		OK         bool
		Source     string
		Violations []missions.Violation
		Battery    []missions.BatteryUse
	}
	for _, f := range []string{wp, plan} {
		code, body = do(t, "POST", srv.URL+"/api/v1/areas/"+a.ID+"/plans/import?name=mine", f)
		var im imported
		if _ = json.Unmarshal([]byte(body), &im); code != 201 || !im.OK || im.Source != "mine" || len(im.Battery) != 1 {
			t.Fatalf("re-imported exported mission: %d %s", code, body)
		}
	}
	// Move the third item (a waypoint of the loop) onto the crane.
	lines := strings.Split(wp, "\n")
	moved := -1
	for i, l := range lines[2:] {
		f := strings.Split(l, "\t")
		if len(f) == 12 && f[3] == "16" {
			f[8], f[9] = "41.351349", "69.307188"
			lines[i+2], moved = strings.Join(f, "\t"), i+1
			break
		}
	}
	if moved < 0 {
		t.Fatalf("no waypoint in the exported file:\n%s", wp)
	}
	code, body = do(t, "POST", srv.URL+"/api/v1/areas/"+a.ID+"/plans/import?name=bad.waypoints", strings.Join(lines, "\n"))
	var im imported
	_ = json.Unmarshal([]byte(body), &im)
	found := false
	for _, v := range im.Violations {
		found = found || v.Rule == missions.RuleNoFly && v.Drone == 0 && v.Leg >= 0 && int(v.Seq) == moved && strings.Contains(v.Message, "no-fly zone")
	}
	if code != 201 || im.OK || !found || !strings.Contains(body, `"fence": []`) || !strings.Contains(body, `"rally": []`) {
		t.Fatalf("mission through the crane: %d %s; want a no-fly finding on the leg to item %d", code, body, moved)
	}
	if code, body = do(t, "POST", srv.URL+"/api/v1/plans/"+im.ID+"/assign", `{"assignments":[{"drone":0,"vehicle_id":"v1"}]}`); code != http.StatusConflict {
		t.Fatalf("assigning a mission through a no-fly zone: %d %s, want 409", code, body)
	}
	for _, c := range []struct {
		url, body string
		code      int
		want      string
	}{
		{"/api/v1/areas/" + a.ID + "/plans/import?name=notes.txt", "hello", 400, "notes.txt"},
		{"/api/v1/areas/" + a.ID + "/plans/import", "QGC WPL 110\n", 400, "no items"},
		{"/api/v1/areas/nope/plans/import", wp, 404, "not found"},
	} {
		if code, body = do(t, "POST", srv.URL+c.url, c.body); code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("POST %s: %d %s; want %d mentioning %q", c.url, code, body, c.code, c.want)
		}
	}
}

// An assignment reads the capacity of the vehicle it goes to, not the one
// the plan was made for: a plan for "sd4" (16 kB SD mission) assigned to
// "tiny" (68 mission items) is refused with 409 naming the vehicle and its
// capacity, before anything is uploaded. Storage read within a minute is
// not read again.
func TestAssignRefusesAVehicleTooSmallForThePlan(t *testing.T) {
	srv, rec := setup(t, "")
	a := struct{ ID string }{createArea(t, srv.URL, syntheticL(t))}
	code, body := do(t, "POST", srv.URL+"/api/v1/areas/"+a.ID+"/plans", `{"pattern":"sweep","drones":1,"alt":50,"spacing":20,"vehicles":["sd4"]}`)
	if code != 201 {
		t.Fatalf("plan: %d %s", code, body)
	}
	var ps struct {
		ID     string
		OK     bool
		Drones []struct{ Mission []json.RawMessage }
	}
	_ = json.Unmarshal([]byte(body), &ps)
	if !ps.OK || len(ps.Drones) != 1 || len(ps.Drones[0].Mission)+1 <= 68 {
		t.Fatalf("want a valid plan longer than 68 items with home for the test: %s", body)
	}
	if rec.reads["sd4"] != 2 {
		t.Fatalf("planning for sd4 read %d parameters, want 2", rec.reads["sd4"])
	}
	code, body = do(t, "POST", srv.URL+"/api/v1/plans/"+ps.ID+"/assign", `{"assignments":[{"drone":0,"vehicle_id":"tiny"}]}`)
	if code != http.StatusConflict {
		t.Fatalf("assign to tiny: %d %s, want 409", code, body)
	}
	for _, want := range []string{"tiny", "the vehicle holds 68", "68 mission items", `"misfits"`} {
		if !strings.Contains(body, want) {
			t.Errorf("refusal %s does not say %q", body, want)
		}
	}
	rec.mu.Lock()
	uploaded := len(rec.got["tiny"])
	rec.mu.Unlock()
	if uploaded != 0 {
		t.Fatalf("%d lists uploaded to a vehicle too small for them", uploaded)
	}
	// the vehicle it was planned for takes it, from the storage read a moment ago
	code, body = do(t, "POST", srv.URL+"/api/v1/plans/"+ps.ID+"/assign", `{"assignments":[{"drone":0,"vehicle_id":"sd4"}]}`)
	if code != http.StatusOK {
		t.Fatalf("assign to sd4: %d %s", code, body)
	}
	if rec.reads["sd4"] != 2 {
		t.Errorf("assign re-read sd4's fresh storage parameters: %d reads, want 2", rec.reads["sd4"])
	}
}
