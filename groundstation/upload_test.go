package groundstation

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation/session"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/simulator"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// patrol builds a short mission around home: home, takeoff, a square of
// waypoints 40 m out, then RTL.
func patrol(home fleet.Point, legs int) []mavitem.Item {
	const m = 1e-7
	dLat := 40.0 / 111320 / m
	dLon := 40.0 / (111320 * math.Cos(home.Lat*math.Pi/180)) / m
	lat, lon := int32(home.Lat/m), int32(home.Lon/m)
	items := []mavitem.Item{
		{Command: mavitem.CmdNavWaypoint, Frame: mavitem.FrameGlobal, X: lat, Y: lon, Z: float32(home.AltMSL), Autocontinue: 1},
		{Command: mavitem.CmdNavTakeoff, Frame: mavitem.FrameGlobalRelativeAlt, Z: 15, Autocontinue: 1},
	}
	corners := [][2]float64{{1, 0}, {1, 1}, {0, 1}, {0, 0}}
	for i := 0; i < legs; i++ {
		c := corners[i%4]
		items = append(items, mavitem.Item{Command: mavitem.CmdNavWaypoint, Frame: mavitem.FrameGlobalRelativeAlt,
			X: lat + int32(c[0]*dLat), Y: lon + int32(c[1]*dLon), Z: 15 + float32(i%3), Autocontinue: 1})
	}
	return append(items, mavitem.Item{Command: mavitem.CmdNavReturnToLaunch, Frame: mavitem.FrameMission, Autocontinue: 1})
}

// TestGroupUploadUnderLossThenFly uploads a mission to 20 simulated
// vehicles in parallel through Group + verified Upload with 30 % loss,
// duplication and reordering on every link, checks every vehicle's stored
// mission in the simulator, then flies all 20 through it (GUIDED, arm,
// takeoff, AUTO) to mission_complete.
func TestGroupUploadUnderLossThenFly(t *testing.T) {
	port := testenv.FreeUDPPort(t)
	cfg := testConfig(fmt.Sprintf("udp:127.0.0.1:%d", port))
	// Streams run on simulated time: at 4× and the harness's 10 Hz each
	// vehicle sent ~110 frames/s, 2,200/s for the fleet — more than a -race
	// station on a loaded 2-core machine kept up with, so its per-vehicle
	// queues (256 datagrams: 2.3 s at that rate) overflowed, shedding
	// frames (counted in backlog_dropped), and a MISSION_ITEM_REACHED was
	// among them. 4 Hz is ~45 frames/s per vehicle, still 2.5× what a
	// real vehicle sends; the test is about the mission, not throughput.
	cfg.StreamRateHz = 4
	st, fl := startStation(t, cfg)
	sim := startSimConfig(t, simulator.Config{Vehicles: 20, Seed: 11, Speedup: 4}, port)
	testenv.Eventually(t, 60*time.Second, "20 vehicles ready to arm", func() bool {
		vs := fl.List()
		if len(vs) != 20 {
			return false
		}
		for _, v := range vs {
			if v.GPSFix < 3 || v.Home == nil {
				return false
			}
		}
		return true
	})
	ids := idByUID(t, fl, sim)
	plans := map[string][]mavitem.Item{}
	for _, id := range ids {
		v, _ := fl.Get(id)
		plans[id] = patrol(*v.Home, 4)
	}

	faults := simulator.LinkFaults{LossPct: 30, DupPct: 30, ReorderPct: 30}
	for i := 0; i < sim.Len(); i++ {
		sim.Vehicle(i).SetLinkFaults(faults)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	results := st.Group(ctx, ids, 20, func(ctx context.Context, id string) (any, error) {
		return st.Upload(ctx, id, mavitem.TypeMission, plans[id], UploadOptions{Verify: true, Attempts: 5})
	})
	for i, r := range results {
		rep, _ := r.Result.(UploadReport)
		if r.VehicleID != ids[i] || !r.OK || !rep.Verified {
			t.Errorf("%s: ok %v verified %v error %q", r.VehicleID, r.OK, rep.Verified, r.Error)
		}
	}
	for i := 0; i < sim.Len(); i++ {
		sim.Vehicle(i).SetLinkFaults(simulator.LinkFaults{})
	}
	// The simulator's stored missions are what was planned.
	for i, id := range ids {
		var stored []mavitem.Item
		sim.Vehicle(i).Do(func(v *vehicle.Vehicle) { stored = v.Mission() })
		if d := sameItems(mavitem.TypeMission, plans[id], stored); d != "" {
			t.Errorf("%s: simulator holds a different mission: %s", id, d)
		}
	}
	if t.Failed() {
		return
	}

	since := lastSeq(fl)
	flown := st.Group(ctx, ids, 20, func(ctx context.Context, id string) (any, error) {
		steps := []struct {
			name string
			do   func() (session.CommandResult, error)
		}{
			{"GUIDED", func() (session.CommandResult, error) { return st.SetMode(ctx, id, "GUIDED") }},
			{"arm", func() (session.CommandResult, error) {
				return st.Command(ctx, id, session.CommandRequest{Command: uint16(common.MAV_CMD_COMPONENT_ARM_DISARM), Params: [7]float32{1}})
			}},
			{"takeoff", func() (session.CommandResult, error) {
				return st.Command(ctx, id, session.CommandRequest{Command: uint16(common.MAV_CMD_NAV_TAKEOFF), Params: [7]float32{6: 10}})
			}},
			{"AUTO", func() (session.CommandResult, error) { return st.SetMode(ctx, id, "AUTO") }},
		}
		for _, s := range steps {
			res, err := s.do()
			if err != nil {
				return res, fmt.Errorf("%s: %w", s.name, err)
			}
			if !res.Accepted() {
				return res, fmt.Errorf("%s: %s %s", s.name, res.ResultName, res.Text)
			}
		}
		return nil, nil
	})
	for _, r := range flown {
		if !r.OK {
			t.Fatalf("%s: %s", r.VehicleID, r.Error)
		}
	}
	for _, id := range ids {
		waitEvent(t, fl, since, id, fleet.EventMissionComplete, 120*time.Second)
		reached := map[int]bool{}
		for _, e := range fl.Events(since, id, 0) {
			if e.Kind == fleet.EventMissionItemReached {
				reached[e.Fields["seq"].(int)] = true
			}
		}
		for seq := 2; seq < len(plans[id])-1; seq++ {
			if !reached[seq] {
				t.Errorf("%s: no mission_item_reached for item %d (got %v)", id, seq, reached)
			}
		}
	}
	if t.Failed() {
		// Frames the station shed (or the kernel dropped) say why an
		// event is missing.
		for _, l := range st.Links() {
			t.Logf("link %s: %d frames, backlog dropped %d, socket %+v", l.Name, l.Frames, l.BacklogDropped, l.Socket)
		}
	}
}
