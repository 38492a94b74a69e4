package missionsapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/httpapi"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/missions"
)

// A plan made over airspace a patrol operation flies in the area's window:
// its conflicts with that operation's slots are listed in the plan
// (conflicts, other.plan naming the operation) without failing it, and
// assigning it is refused with 409 naming the operation unless forced. A
// plan 20 m above the operation's layer has none.
func TestPlansKeepSeparationFromOperations(t *testing.T) {
	src, err := os.ReadFile("../testdata/synthetic-l.geojson")
	if err != nil {
		t.Fatal(err)
	}
	area, err := missions.ImportGeoJSON(strings.NewReader(string(src)))
	if err != nil {
		t.Fatal(err)
	}
	opPlans, err := missions.PlanArea(area, missions.PlanOptions{Pattern: missions.PatternPerimeter, Alt: 60, Repeat: -1})
	if err != nil {
		t.Fatal(err)
	}
	var asked [][2]time.Time
	airspace := func(start, end time.Time) []missions.PlanSet {
		asked = append(asked, [2]time.Time{start, end})
		return []missions.PlanSet{{Label: "operation op9", Plans: opPlans}}
	}
	st, err := NewStore("")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{got: map[string][]mavitem.MissionType{}, items: map[string][]mavitem.Item{}, params: map[string][]string{}, tags: map[string]Tag{}, reads: map[string]int{}}
	mux := httpapi.NewMux()
	Register(mux, Deps{Store: st, Uploader: rec, Airspace: airspace})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	code, body := do(t, "POST", srv.URL+"/api/v1/areas", string(src))
	if code != http.StatusCreated {
		t.Fatalf("area: %d %s", code, body)
	}
	var a struct{ ID string }
	_ = json.Unmarshal([]byte(body), &a)
	type planSet struct {
		ID        string
		OK        bool
		Conflicts []missions.Violation
	}
	plan := func(alt string) planSet {
		t.Helper()
		code, body := do(t, "POST", srv.URL+"/api/v1/areas/"+a.ID+"/plans", `{"pattern":"perimeter","alt":`+alt+`}`)
		if code != http.StatusCreated {
			t.Fatalf("plan at %s m: %d %s", alt, code, body)
		}
		var ps planSet
		if err := json.Unmarshal([]byte(body), &ps); err != nil {
			t.Fatal(err)
		}
		return ps
	}
	same := plan("60")
	if !same.OK || len(same.Conflicts) == 0 || same.Conflicts[0].Other == nil || same.Conflicts[0].Other.Plan != "operation op9" || same.Conflicts[0].Rule != missions.RuleSeparation {
		t.Fatalf("plan in the operation's layer: %+v", same)
	}
	if len(asked) == 0 || !asked[0][0].Equal(area.Starts) || !asked[0][1].Equal(area.Ends) {
		t.Errorf("airspace asked for %v, want the area's window %v–%v", asked, area.Starts, area.Ends)
	}
	if above := plan("80"); !above.OK || len(above.Conflicts) != 0 {
		t.Errorf("plan 20 m above: %+v", above)
	}
	code, body = do(t, "POST", srv.URL+"/api/v1/plans/"+same.ID+"/assign", `{"assignments":[{"drone":0,"vehicle_id":"v1"}]}`)
	if code != http.StatusConflict || !strings.Contains(body, "operation op9") || !strings.Contains(body, `"conflicts"`) {
		t.Fatalf("assign into the operation's airspace: %d %s", code, body)
	}
	if len(rec.got["v1"]) != 0 {
		t.Fatalf("refused assign uploaded %v", rec.got["v1"])
	}
	code, body = do(t, "POST", srv.URL+"/api/v1/plans/"+same.ID+"/assign", `{"assignments":[{"drone":0,"vehicle_id":"v1"}],"force":true}`)
	if code != http.StatusOK || len(rec.got["v1"]) == 0 {
		t.Fatalf("forced assign: %d %s", code, body)
	}
	// Now v1 flies it: the plan set is in the airspace of others while
	// the vehicle flies it, and not once it no longer does.
	fl := st.Flying(func(vid, pid string) bool { return vid == "v1" && pid == same.ID })
	if len(fl) != 1 || fl[0].Label != "plan "+same.ID || len(fl[0].Plans) != 1 || fl[0].Plans[0].Alt != 60 {
		t.Fatalf("flying: %+v", fl)
	}
	if fl := st.Flying(func(string, string) bool { return false }); len(fl) != 0 {
		t.Errorf("nothing flying: %+v", fl)
	}
}
