package groundstation

import (
	"fmt"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"

	"github.com/burgut-uav/burgut/internal/testenv"
)

// Over the heartbeatSlots slots of one period every open channel is in
// exactly one: each gets one HEARTBEAT a period, whatever their number.
func TestHeartbeatSlotsCoverEveryChannelOnce(t *testing.T) {
	for _, n := range []int{0, 1, heartbeatSlots - 1, heartbeatSlots, 2*heartbeatSlots + 7, 2000} {
		ln := &linkRT{}
		var order []*gomavlib.Channel
		for range n {
			order = append(order, &gomavlib.Channel{})
		}
		ln.setHeartbeatOrder(order)
		seen := map[*gomavlib.Channel]int{}
		largest := 0
		for slot := range heartbeatSlots {
			chs := ln.heartbeatSlot(nil, slot)
			largest = max(largest, len(chs))
			for _, ch := range chs {
				seen[ch]++
			}
		}
		if len(seen) != n {
			t.Errorf("%d channels: %d got a heartbeat", n, len(seen))
		}
		for _, c := range seen {
			if c != 1 {
				t.Fatalf("%d channels: one got %d heartbeats a period", n, c)
			}
		}
		// Spread: no slot carries more than its share (rounded up).
		if want := (n + heartbeatSlots - 1) / heartbeatSlots; largest > want {
			t.Errorf("%d channels: a slot of %d, want at most %d", n, largest, want)
		}
	}
}

// A vehicle on a UDP link hears the station's own HEARTBEAT (a GCS, as
// gomavlib's was), now that the station sends it itself.
func TestVehicleHearsStationHeartbeat(t *testing.T) {
	port := testenv.FreeUDPPort(t)
	startStation(t, testConfig(fmt.Sprintf("udp:127.0.0.1:%d", port)))
	veh := &gomavlib.Node{
		Endpoints:              []gomavlib.EndpointConf{gomavlib.EndpointUDPClient{Address: fmt.Sprintf("127.0.0.1:%d", port)}},
		Dialect:                common.Dialect,
		OutVersion:             gomavlib.V2,
		OutSystemID:            7,
		HeartbeatPeriod:        100 * time.Millisecond,
		HeartbeatSystemType:    int(common.MAV_TYPE_QUADROTOR),
		HeartbeatAutopilotType: int(common.MAV_AUTOPILOT_ARDUPILOTMEGA),
	}
	if err := veh.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer veh.Close()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev := <-veh.Events():
			if f, ok := ev.(*gomavlib.EventFrame); ok {
				if hb, ok := f.Message().(*common.MessageHeartbeat); ok && hb.Type == common.MAV_TYPE_GCS {
					return
				}
			}
		case <-deadline:
			t.Fatal("no GCS heartbeat from the station within 30 s")
		}
	}
}
