package operations

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/httpapi"
	"github.com/burgut-uav/burgut/missions"
	"github.com/paulmach/orb"
)

// Operations over the same airspace in overlapping windows: the second is
// refused (409) when its slot would fly within the separation of the
// first's — same layer, or layers less than layer_step apart — naming the
// other operation and slot in the message and in details; accepted when
// its patrols fly a layer layer_step (10 m) away. A shared pad's zone is
// sequenced in time, not judged.
func TestOperationsSeparatedByLayers(t *testing.T) {
	srv, _ := testServer(t, t.TempDir())
	now := time.Now()
	body := func(ids string, alt string) string {
		return `{"area_id":"a1","pattern":"perimeter","slots":1,"vehicle_ids":[` + ids + `],"alt":` + alt + `,"start":"` + now.Add(time.Hour).Format(time.RFC3339) + `","end":"` + now.Add(3*time.Hour).Format(time.RFC3339) + `"}`
	}
	if code, out := post(t, srv.URL+"/api/v1/operations", body(`"u1"`, "60")); code != http.StatusCreated {
		t.Fatalf("first: %d %v", code, out)
	}
	code, out := post(t, srv.URL+"/api/v1/operations", body(`"u2"`, "65"))
	e, _ := out["error"].(map[string]any)
	d, _ := e["details"].(map[string]any)
	if code != http.StatusConflict || d["operation_id"] != "op1" || d["slot"] != 0.0 || !strings.Contains(e["message"].(string), "op1 slot 0") ||
		!strings.Contains(e["message"].(string), "less than 10 m apart vertically") {
		t.Fatalf("5 m above the first: %d %v, want 409 naming op1 slot 0", code, out)
	}
	v, _ := d["violation"].(map[string]any)
	other, _ := v["other"].(map[string]any)
	if v["rule"] != "separation" || other["plan"] != "operation op1" {
		t.Errorf("violation details: %v", v)
	}
	if code, out := post(t, srv.URL+"/api/v1/operations", body(`"u2"`, "70")); code != http.StatusCreated {
		t.Fatalf("10 m above the first: %d %v", code, out)
	}
}

// transit_layer plans each slot's transit above every patrol layer and
// sets RTL_ALT to it; a transit_alt among the patrol layers is a 400
// naming it; where an RTL from the patrol would fly home (or to the
// nearest rally point) near a no-fly zone of the synthetic area the
// return rule refuses the plan.
func TestOperationsTransitLayer(t *testing.T) {
	m, err := New(Config{DataDir: t.TempDir(), Fleet: &fakeFleet{vs: map[string]fleet.Vehicle{"u1": {ID: "u1"}, "u2": {ID: "u2"}}}})
	if err != nil {
		t.Fatal(err)
	}
	c := orb.Point{69.25, 41.3}
	ll := func(x, y float64) orb.Point {
		return orb.Point{c[0] + x/(111320*math.Cos(c[1]*math.Pi/180)), c[1] + y/111320}
	}
	square := &missions.Area{Name: "square", MinAlt: 30, MaxAlt: 100,
		Include: []orb.Polygon{{{ll(-200, -200), ll(200, -200), ll(200, 200), ll(-200, 200), ll(-200, -200)}}},
		Launch:  []missions.Site{{Name: "pad", Point: ll(-260, 0)}}}
	mux := httpapi.NewMux()
	Register(mux, Deps{Manager: m, Areas: areas{"a1": testArea(t), "sq": square}})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	end := time.Now().Add(time.Hour).Format(time.RFC3339)
	body := func(area, extra string) string {
		return `{"area_id":"` + area + `","pattern":"perimeter","slots":2,"vehicle_ids":["u1","u2"],"alt":50,` + extra + `,"start":"now","end":"` + end + `"}`
	}
	code, out := post(t, srv.URL+"/api/v1/operations", body("sq", `"transit_alt":55`))
	if e, _ := out["error"].(map[string]any); code != http.StatusBadRequest || e["field"] != "transit_alt" {
		t.Fatalf("transit_alt 55 among layers 50 and 60: %d %v", code, out)
	}
	code, out = post(t, srv.URL+"/api/v1/operations", body("a1", `"transit_layer":true`))
	if e, _ := out["error"].(map[string]any); code != http.StatusBadRequest || !strings.Contains(e["message"].(string), "return: an RTL") || !strings.Contains(fmt.Sprint(e["details"]), `no-fly zone "`) {
		t.Fatalf("RTL over the tent: %d %v", code, out)
	}
	code, out = post(t, srv.URL+"/api/v1/operations", body("sq", `"transit_layer":true`))
	if code != http.StatusCreated {
		t.Fatalf("square with a transit layer: %d %v", code, out)
	}
	o, err := m.Get(out["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range o.Plans {
		rtl := false
		for _, p := range sp.Plan.FenceParams {
			rtl = rtl || p.Name == "RTL_ALT" && p.Value == 7000
		}
		if sp.Plan.TransitAlt != 70 || !rtl {
			t.Errorf("slot %d: transit alt %g, fence params %v", sp.Plan.Drone, sp.Plan.TransitAlt, sp.Plan.FenceParams)
		}
	}
}

// The transit layer is on by default: absent, the square's slots transit
// and return at 70 m (10 m above layers 50 and 60) with no warning;
// "transit_layer": false plans without it; where the band's ceiling
// leaves no room for it (65 m) or the layered plan fails its checks (an
// RTL over a1's tent) the operation is planned without it and says why in
// "warnings" — unless the layer was asked for, which is then a 400.
func TestOperationsTransitLayerByDefault(t *testing.T) {
	ids := map[string]fleet.Vehicle{}
	for i := range 10 {
		id := fmt.Sprintf("u%d", i)
		ids[id] = fleet.Vehicle{ID: id}
	}
	m, err := New(Config{DataDir: t.TempDir(), Fleet: &fakeFleet{vs: ids}})
	if err != nil {
		t.Fatal(err)
	}
	c := orb.Point{69.25, 41.3}
	ll := func(x, y float64) orb.Point {
		return orb.Point{c[0] + x/(111320*math.Cos(c[1]*math.Pi/180)), c[1] + y/111320}
	}
	square := func(top float64) *missions.Area {
		return &missions.Area{Name: "square", MinAlt: 30, MaxAlt: top,
			Include: []orb.Polygon{{{ll(-200, -200), ll(200, -200), ll(200, 200), ll(-200, 200), ll(-200, -200)}}},
			Launch:  []missions.Site{{Name: "pad", Point: ll(-260, 0)}}}
	}
	mux := httpapi.NewMux()
	Register(mux, Deps{Manager: m, Areas: areas{"a1": testArea(t), "sq": square(100), "low": square(65)}})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	end := time.Now().Add(time.Hour).Format(time.RFC3339)
	n := 0
	create := func(area, extra string) (int, map[string]any) {
		t.Helper()
		body := fmt.Sprintf(`{"area_id":%q,"pattern":"perimeter","slots":2,"vehicle_ids":["u%d","u%d"],"alt":50%s,"start":"now","end":%q}`, area, n, n+1, extra, end)
		code, out := post(t, srv.URL+"/api/v1/operations", body)
		if code == http.StatusCreated {
			n += 2
			// Stop it: the next one shares the airspace.
			if _, err := m.Change(t.Context(), out["id"].(string), "stop"); err != nil {
				t.Fatal(err)
			}
		}
		return code, out
	}
	transit := func(out map[string]any) []float64 {
		var alts []float64
		for _, p := range out["plans"].([]any) {
			a, _ := p.(map[string]any)["transit_alt"].(float64)
			alts = append(alts, a)
		}
		return alts
	}
	warnings := func(out map[string]any) string {
		w, _ := out["warnings"].([]any)
		return fmt.Sprint(w)
	}

	code, out := create("sq", "")
	if code != http.StatusCreated || fmt.Sprint(transit(out)) != "[70 70]" || out["warnings"] != nil {
		t.Fatalf("square by default: %d transit %v warnings %v, want the 70 m layer and no warning", code, out["plans"], out["warnings"])
	}
	code, out = create("sq", `,"transit_layer":false`)
	if code != http.StatusCreated || fmt.Sprint(transit(out)) != "[0 0]" || out["warnings"] != nil {
		t.Fatalf("square with transit_layer false: %d %v", code, out)
	}
	code, out = create("low", "")
	if code != http.StatusCreated || fmt.Sprint(transit(out)) != "[0 0]" || !strings.Contains(warnings(out), "no transit layer: ") || !strings.Contains(warnings(out), "band [30, 65]") {
		t.Fatalf("65 m ceiling by default: %d transit %v warnings %s, want none and a warning naming the band", code, out["plans"], warnings(out))
	}
	code, out = create("low", `,"transit_layer":true`)
	if e, _ := out["error"].(map[string]any); code != http.StatusBadRequest || e["field"] != "transit_alt" {
		t.Fatalf("65 m ceiling with transit_layer true: %d %v, want 400 naming transit_alt", code, out)
	}
	code, out = create("a1", "")
	if code != http.StatusCreated || !strings.Contains(warnings(out), "return: an RTL") {
		t.Fatalf("a1 by default (layered RTL over the tent): %d warnings %s", code, warnings(out))
	}
	code, out = create("sq", `,"transit_layer":false,"transit_alt":80`)
	if e, _ := out["error"].(map[string]any); code != http.StatusBadRequest || e["field"] != "transit_layer" {
		t.Fatalf("transit_layer false with transit_alt: %d %v", code, out)
	}
	// The warning is kept with the operation (operations.json).
	m2, err := New(Config{DataDir: m.cfg.DataDir, Fleet: &fakeFleet{vs: ids}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range m2.List() {
		found = found || strings.Contains(fmt.Sprint(o.Warnings), "band [30, 65]")
	}
	if !found {
		t.Error("the fallback warning was not persisted")
	}
}

// A transit layer 20 m above the patrol adds the climb to it and the
// descent from it to the launch lead (40 m at the climb rate), and to the
// return the predictor times the climb back up and the longer descent.
func TestTransitLayerTiming(t *testing.T) {
	plan := func(transit float64) *Operation {
		return &Operation{Slots: []*Slot{{}}, Plans: []SlotPlan{{Plan: &missions.DronePlan{Alt: 50, TransitAlt: transit, Speed: 10}, TransitM: 300}}}
	}
	flat, high := plan(0), plan(70)
	if d := high.leadNoMargin(0) - flat.leadNoMargin(0); math.Abs(d-40/climbRate) > 1e-9 {
		t.Errorf("lead grows by %g s, want %g", d, 40/climbRate)
	}
	in := PredictInput{PriorRate: 0.05, Pct: 80, DistHomeM: 500, Cruise: 10, Reserve: 20}
	in.AltM = returnHeight(50, 0)
	p0 := Predict(in)
	in.AltM = returnHeight(50, 70)
	p1 := Predict(in)
	if d := p1.ReturnS - p0.ReturnS; d < 40/1.5-1e-9 {
		t.Errorf("return grows by %g s, want at least the 20 m climb and the extra 20 m descent (%g s at the descent rate)", d, 40/1.5)
	}
}

// PlanSets lists the slot plans of the active operations whose window
// overlaps, labelled for other planners' checks; open bounds take all.
func TestManagerPlanSets(t *testing.T) {
	srv, m := testServer(t, t.TempDir())
	now := time.Now()
	start, end := now.Add(time.Hour), now.Add(3*time.Hour)
	if code, out := post(t, srv.URL+"/api/v1/operations", `{"area_id":"a1","pattern":"perimeter","slots":2,"vehicle_ids":["u1","u2"],"start":"`+start.Format(time.RFC3339)+`","end":"`+end.Format(time.RFC3339)+`"}`); code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, out)
	}
	all := m.PlanSets(time.Time{}, time.Time{})
	if len(all) != 1 || all[0].Label != "operation op1" || len(all[0].Plans) != 2 || all[0].Plans[1].Drone != 1 {
		t.Fatalf("open window: %+v", all)
	}
	if got := m.PlanSets(end, end.Add(time.Hour)); len(got) != 0 {
		t.Errorf("after the window: %+v", got)
	}
	if got := m.PlanSets(time.Time{}, start.Add(time.Minute)); len(got) != 1 {
		t.Errorf("overlapping its start: %+v", got)
	}
}

// An operation whose window has begun keeps its separation from the plans
// flown now outside operations (Deps.Flying): refused with 409 naming the
// plan set when in their layer, accepted when it starts later.
func TestOperationsKeepSeparationFromFlyingPlans(t *testing.T) {
	m, err := New(Config{DataDir: t.TempDir(), Fleet: &fakeFleet{vs: map[string]fleet.Vehicle{"u1": {ID: "u1"}, "u2": {ID: "u2"}}}})
	if err != nil {
		t.Fatal(err)
	}
	a := testArea(t)
	flying, err := missions.PlanArea(a, missions.PlanOptions{Pattern: missions.PatternPerimeter, Alt: 60})
	if err != nil {
		t.Fatal(err)
	}
	mux := httpapi.NewMux()
	Register(mux, Deps{Manager: m, Areas: areas{"a1": a}, Flying: func() []missions.PlanSet {
		return []missions.PlanSet{{Label: "plan p4", Plans: flying}}
	}})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	end := time.Now().Add(3 * time.Hour).Format(time.RFC3339)
	code, out := post(t, srv.URL+"/api/v1/operations", `{"area_id":"a1","pattern":"perimeter","slots":1,"vehicle_ids":["u1"],"alt":60,"start":"now","end":"`+end+`"}`)
	e, _ := out["error"].(map[string]any)
	d, _ := e["details"].(map[string]any)
	if code != http.StatusConflict || d["plan_id"] != "p4" || !strings.Contains(e["message"].(string), "plan p4 drone 0, flying now") {
		t.Fatalf("over a flying plan's layer: %d %v", code, out)
	}
	later := time.Now().Add(time.Hour).Format(time.RFC3339)
	if code, out := post(t, srv.URL+"/api/v1/operations", `{"area_id":"a1","pattern":"perimeter","slots":1,"vehicle_ids":["u1"],"alt":60,"start":"`+later+`","end":"`+end+`"}`); code != http.StatusCreated {
		t.Fatalf("starting later: %d %v", code, out)
	}
}

// The stadium of the scenario library is planned with its transit layer:
// the operation's checks (8-minute packs, 20 % reserve, as the scenario
// flew until it took 12-minute ones) refused the layered plan for a separation conflict on the
// mission's own way home after the forever loop — never flown, an
// operation's drone comes home by an RTL commanded on the loop — and the
// operation fell back to flying its transits on each slot's patrol layer.
func TestStadiumPlansWithItsTransitLayer(t *testing.T) {
	a, _, _ := stadiumPlans(t)
	p := Params{EnduranceS: 480, SwapS: 120}
	p.defaults()
	po := missions.PlanOptions{Pattern: missions.PatternPerimeter, Drones: 3, Repeat: -1, Speed: 6, EntryHold: true, TransitLayer: true}
	plans, eff, err := planChecked(a, po, p)
	if err != nil {
		t.Fatalf("layered stadium refused: %v", err)
	}
	chk := missions.NewChecker(a, eff.CheckOptions(missions.CheckOptions{}))
	alts, noRaised, why := returnLayers(chk, plans, eff.LayerStep, a.MaxAlt)
	for i, dp := range plans {
		if dp.TransitAlt != eff.TransitAlt || dp.TransitAlt <= dp.Alt {
			t.Errorf("slot %d: transit layer %g over patrol %g, want the plan's %g", i, dp.TransitAlt, dp.Alt, eff.TransitAlt)
		}
		t.Logf("slot %d: patrol %g m, transit %g m, return layer %g %s, not raised from %v, no return from %v", i, dp.Alt, dp.TransitAlt, alts[i], why, noRaised[i], noReturnSeqs(chk, dp))
	}
}
