package app

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/audit"
	"github.com/burgut-uav/burgut/internal/latlon"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/missions/operations"
	"github.com/burgut-uav/burgut/simulator"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// A station restarted together with its simulated fleet (as `burgut run`
// is) finds drones without missions: the pool drone that flew the slot
// before is relaunched with a fresh upload and flies, though the saved
// operation says it holds the slot's plan. Before, the relaunch trusted
// the saved uploaded_slot, skipped the upload and failed ("no
// MISSION_CURRENT with seq 1"), one pool drone after the other.
func TestOperationRestartWithAFreshFleetUploadsAgain(t *testing.T) {
	if testing.Short() {
		t.Skip("flies a rotation, then restarts the station and its simulator")
	}
	dir := t.TempDir()
	port := testenv.FreeUDPPort(t)
	pt, _ := latlon.Parse("41.3111,69.2797", "")
	fleetSim := func() func() {
		_, stop := runSim(t, simulator.Config{Vehicles: 2, GCS: []string{fmt.Sprintf("udp:127.0.0.1:%d", port)},
			Home: vehicle.LatLonAlt{Lat: pt.Lat, Lon: pt.Lon, AltMSL: vehicle.DefaultHome.AltMSL}, Speedup: opsSpeedup(),
			EnduranceMin: 12, SwapMin: 1, Spread: opsPadSpread, Seed: 7})
		return stop
	}
	station := restartableStation(t, dir, port)
	stopSim := fleetSim()
	a, stop := station()
	area, ids := stadiumWithReadyFleet(t, a, pt.Lat, pt.Lon, 2)
	o := createOp(t, a, area.ID, 1, ids, 2*time.Minute, 90*time.Minute)
	// One rotation: the first drone was relieved, landed and holds the
	// slot's plan in the pool.
	var flown string
	before := waitOp(t, a, o.ID, 3*time.Minute, func(o operations.OperationView) bool {
		for _, v := range o.Vehicles {
			if v.Role == operations.RolePool && v.Uploaded == 0 && v.Launches > 0 {
				flown = v.ID
				return true
			}
		}
		return false
	})
	t.Logf("before the restart: %s", slotsString(before))
	down := time.Now()
	stop()
	stopSim()
	fleetSim() // fresh drones: on the ground, no mission
	a, _ = station()
	// The drone that was flying is on the ground now: it is replaced,
	// and the pool drone that flew the slot before is relaunched.
	after := waitOp(t, a, o.ID, 2*time.Minute, func(o operations.OperationView) bool {
		for _, v := range o.Vehicles {
			if v.ID == flown && (v.Role == operations.RoleStation || v.Role == operations.RoleFailed) {
				return true
			}
		}
		return false
	})
	t.Logf("after the restart: %s", slotsString(after))
	for _, v := range after.Vehicles {
		if v.ID == flown && v.Role != operations.RoleStation {
			t.Fatalf("%s after the restart: %s (%s), want back on station", v.ID, v.Role, v.Reason)
		}
	}
	es, err := a.Audit.Query(audit.Filter{Since: down, Vehicle: flown, Route: "operations/"})
	if err != nil {
		t.Fatal(err)
	}
	var verified, uploaded bool
	for _, e := range es {
		t.Logf("audit %s %s %s %s", e.Route, e.Result, e.Detail, e.Body)
		switch {
		case strings.HasSuffix(e.Route, "verify_mission") && e.Detail == operations.ReasonMissionChanged:
			verified = true
		case strings.HasSuffix(e.Route, "launch") && e.Result == "ok" && strings.Contains(e.Body, `"upload":true`):
			uploaded = verified
		}
	}
	if !uploaded {
		t.Fatalf("%s: no launch with an upload after a mission_changed check in the audit log", flown)
	}
}
