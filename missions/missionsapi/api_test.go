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
	rec := &recorder{got: map[string][]mavitem.MissionType{}, items: map[string][]mavitem.Item{}, params: map[string][]string{}, tags: map[string]Tag{}}
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
	area, err := os.ReadFile("../testdata/synthetic-l.geojson")
	if err != nil {
		t.Fatal(err)
	}
	code, body := do(t, "POST", srv.URL+"/api/v1/areas", string(area))
	if code != 201 {
		t.Fatalf("create area: %d %s", code, body)
	}
	var a struct{ ID string }
	_ = json.Unmarshal([]byte(body), &a)
	if code, body = do(t, "GET", srv.URL+"/api/v1/areas", ""); code != 200 || !strings.Contains(body, a.ID) {
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
	for _, f := range []string{"plan", "waypoints", "geojson"} {
		code, body = do(t, "GET", srv.URL+"/api/v1/plans/"+ps.ID+"?format="+f+"&drone=1", "")
		if code != 200 {
			t.Fatalf("%s: %d %s", f, code, body)
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
	if p := rec.params["v1"]; strings.Join(p, ",") != "FENCE_TYPE,FENCE_ALT_MAX,FENCE_ACTION,FENCE_ENABLE" {
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
	area, _ := os.ReadFile("../testdata/synthetic-l.geojson")
	_, body := do(t, "POST", srv.URL+"/api/v1/areas", string(area))
	var a struct{ ID string }
	_ = json.Unmarshal([]byte(body), &a)
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
