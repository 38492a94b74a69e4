package app

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/latlon"
	"github.com/burgut-uav/burgut/missions/operations"
)

// transitSquareGeoJSON is a 400 m square 150 m east of the pad at (lat,
// lon), band [30, 100] m, with no zone between patrol and pad: every
// straight RTL from the patrol is clear.
func transitSquareGeoJSON(lat, lon float64) string {
	pt := func(e, n float64) string {
		return fmt.Sprintf("[%.7f,%.7f]", lon+e/(111320*math.Cos(lat*math.Pi/180)), lat+n/111320)
	}
	return fmt.Sprintf(`{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"kind":"event-area","name":"Transit square","min_alt_m":30,"max_alt_m":100},
  "geometry":{"type":"Polygon","coordinates":[[%s,%s,%s,%s,%s]]}},
 {"type":"Feature","properties":{"kind":"launch","name":"Pad","radius_m":%d},"geometry":{"type":"Point","coordinates":%s}}
]}`, pt(150, -200), pt(550, -200), pt(550, 200), pt(150, 200), pt(150, -200), opsPadSpread+5, pt(0, 0))
}

// An operation flies its transit layer — on by default, the body does
// not ask for it — in the real simulator: the drone climbs to the transit layer (60 m, 10 m above its
// 50 m patrol), patrols at 50 m, and when the window ends and it is sent
// home its RTL climbs back to 60 m (RTL_ALT from the plan) before it
// flies home and lands.
func TestOperationFliesItsTransitLayer(t *testing.T) {
	a, _, ids := opsFleet(t, 1, nil)
	pt, _ := latlon.Parse("41.3111,69.2797", "")
	var area struct{ ID string }
	if code := postRaw(t, "http://"+a.HTTPAddr()+"/api/v1/areas", transitSquareGeoJSON(pt.Lat, pt.Lon), &area); code != http.StatusCreated {
		t.Fatalf("area: %d", code)
	}
	type sample struct {
		alt     float64
		mode    string
		seq     int
		armed   bool
		mission string
	}
	var mu sync.Mutex
	var track []sample
	sub := a.Fleet.Subscribe(fleet.SubscribeOptions{KeepAll: true, Name: "transit-test", MaxQueue: 1 << 20})
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-sub.C:
			}
			for _, v := range sub.Next().Vehicles {
				mu.Lock()
				track = append(track, sample{alt: v.RelativeAlt, mode: v.Mode, seq: v.MissionSeq, armed: v.Armed, mission: v.Mission})
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { close(done); sub.Close() })

	now := time.Now()
	body := fmt.Sprintf(`{"area_id":%q,"pattern":"perimeter","slots":1,"vehicle_ids":[%s],"alt":50,"start":%q,"end":%q,"speed":10}`,
		area.ID, strconv.Quote(ids[0]), now.Format(time.RFC3339Nano), now.Add(15*time.Minute).Format(time.RFC3339Nano))
	var o operations.OperationView
	if code := postRaw(t, "http://"+a.HTTPAddr()+"/api/v1/operations", body, &o); code != http.StatusCreated {
		t.Fatalf("create: %d %+v", code, o)
	}
	if len(o.Plans) != 1 || o.Plans[0].Alt != 50 {
		t.Fatalf("plans: %+v", o.Plans)
	}
	op, err := a.Operations.Get(o.ID)
	if err != nil {
		t.Fatal(err)
	}
	plan := op.Plans[0].Plan
	if plan.TransitAlt != 60 {
		t.Fatalf("transit alt %g", plan.TransitAlt)
	}
	// The window ends; the drone is sent home and lands.
	o = waitOp(t, a, o.ID, 3*time.Minute, func(o operations.OperationView) bool {
		if o.State != operations.StateFinished {
			return false
		}
		for _, v := range o.Vehicles {
			if v.Role != operations.RolePool {
				return false
			}
		}
		return true
	})
	if o.Slots[0].OnStationS <= 0 {
		t.Fatalf("never on station: %+v", o.Slots[0])
	}
	mu.Lock()
	defer mu.Unlock()
	var transitMax, patrolMin, patrolMax, rtlMax float64
	patrolMin = math.Inf(1)
	for _, s := range track {
		switch {
		case s.armed && s.mode == "AUTO" && s.seq > 0 && s.seq < int(plan.LoopStart)-1:
			transitMax = math.Max(transitMax, s.alt)
		case s.armed && s.mode == "AUTO" && s.seq > int(plan.LoopStart)+1 && s.seq <= int(plan.JumpSeq):
			patrolMin, patrolMax = math.Min(patrolMin, s.alt), math.Max(patrolMax, s.alt)
		case s.armed && s.mode == "RTL":
			rtlMax = math.Max(rtlMax, s.alt)
		}
	}
	var why []string
	if math.Abs(transitMax-60) > 3 {
		why = append(why, fmt.Sprintf("transit flew up to %.1f m, want the 60 m transit layer", transitMax))
	}
	if math.Abs(patrolMin-50) > 3 || math.Abs(patrolMax-50) > 3 {
		why = append(why, fmt.Sprintf("patrol flew %.1f–%.1f m, want its 50 m layer", patrolMin, patrolMax))
	}
	if math.Abs(rtlMax-60) > 3 {
		why = append(why, fmt.Sprintf("RTL flew up to %.1f m, want the 60 m transit layer", rtlMax))
	}
	if len(why) > 0 {
		t.Fatal(strings.Join(why, "; "))
	}
	t.Logf("transit up to %.1f m, patrol %.1f–%.1f m, RTL up to %.1f m", transitMax, patrolMin, patrolMax, rtlMax)
}
