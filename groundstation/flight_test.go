package groundstation

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation/session"
	"github.com/burgut-uav/burgut/internal/testenv"
)

// TestFenceBreachSurfaces flies a simulated copter through the station
// (parameters, mode, arm, takeoff) into an altitude fence and expects the
// breach, the autopilot's RTL and its STATUSTEXT as fleet events.
func TestFenceBreachSurfaces(t *testing.T) {
	port := testenv.FreeUDPPort(t)
	st, fl := startStation(t, testConfig(fmt.Sprintf("udp:127.0.0.1:%d", port)))
	sim := startSim(t, 1, 3, port)
	id, _ := waitOneVehicle(t, fl, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sess, err := st.Session(id)
	if err != nil {
		t.Fatal(err)
	}
	for name, val := range map[string]float64{"FENCE_ALT_MAX": 12, "FENCE_ENABLE": 1} {
		if _, err := sess.ParamSet(ctx, name, val); err != nil {
			t.Fatalf("set %s: %v", name, err)
		}
	}
	since := lastSeq(fl)
	mustAccept := func(what string, res session.CommandResult, err error) {
		t.Helper()
		if err != nil || !res.Accepted() {
			t.Fatalf("%s: result %+v, error %v", what, res, err)
		}
	}
	res, err := st.SetMode(ctx, id, "GUIDED")
	mustAccept("GUIDED", res, err)
	res, err = st.Command(ctx, id, session.CommandRequest{Command: uint16(common.MAV_CMD_COMPONENT_ARM_DISARM), Params: [7]float32{1}})
	mustAccept("arm", res, err)
	res, err = st.Command(ctx, id, session.CommandRequest{Command: uint16(common.MAV_CMD_NAV_TAKEOFF), Params: [7]float32{6: 30}})
	mustAccept("takeoff", res, err)
	// Commands answered on their first attempt measure the link's round trip.
	testenv.Eventually(t, 10*time.Second, "a measured command round trip", func() bool {
		v, _ := fl.Get(id)
		return v.LinkQuality.LatencyS > 0 && v.LinkQuality.LatencyS < 5
	})

	waitEvent(t, fl, since, id, fleet.EventArmed, 20*time.Second)
	breach := waitEvent(t, fl, since, id, fleet.EventFenceBreach, 60*time.Second)
	if breach.Severity != fleet.SeverityCritical {
		t.Errorf("fence breach severity %s", breach.Severity)
	}
	testenv.Eventually(t, 20*time.Second, "mode RTL after the breach", func() bool {
		v, _ := fl.Get(id)
		return v.Mode == "RTL"
	})
	var sawText bool
	for _, e := range fl.Events(since, id, 0) {
		if e.Kind == fleet.EventStatusText {
			sawText = true
		}
	}
	if !sawText {
		t.Error("no STATUSTEXT event during the flight")
	}
	if s := sim.Vehicle(0).State(); !s.FenceBreached && s.FenceBreachCount == 0 {
		t.Errorf("simulator reports no breach: %+v", s)
	}
}
