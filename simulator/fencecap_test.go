package simulator

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavitem"
)

// ringFence is one inclusion polygon of n vertices 200 m around home.
func ringFence(n int) []mavitem.Item {
	h := homeLL()
	out := make([]mavitem.Item, n)
	for i := range out {
		th := 2 * math.Pi * float64(i) / float64(n)
		out[i] = mavitem.Item{Seq: uint16(i), Frame: mavitem.FrameGlobal, Command: mavitem.CmdFencePolyInclusion, Param1: float32(n),
			X: e7(h.Lat + 200*math.Cos(th)/111195), Y: e7(h.Lon + 200*math.Sin(th)/(111195*math.Cos(h.Lat*math.Pi/180))), MissionType: mavitem.TypeFence}
	}
	return out
}

// A ground station meets ArduCopter's fence storage in the simulator: more
// than 70 items is NO_SPACE at MISSION_COUNT, a fence whose records exceed
// 560 bytes is refused at the end with MAV_MISSION_ERROR and ArduPilot's
// STATUSTEXT, and one that fits is accepted.
func TestFenceUploadMeetsArduCopterStorage(t *testing.T) {
	g := newTestGCS(t, true)
	oneVehicle(t, g, nil)
	c := g.mark()
	g.send(1, &common.MessageMissionCount{TargetSystem: 1, TargetComponent: 1, Count: 71, MissionType: common.MAV_MISSION_TYPE_FENCE})
	a := g.waitMsg(&c, 1, 5*time.Second, isMsg[*common.MessageMissionAck])
	if a == nil || a.(*common.MessageMissionAck).Type != common.MAV_MISSION_NO_SPACE {
		t.Fatalf("MISSION_COUNT 71 for the fence: %v, want NO_SPACE", a)
	}
	c = g.mark()
	if r := g.upload(1, mavitem.TypeFence, ringFence(70)); r != common.MAV_MISSION_ERROR {
		t.Fatalf("70-vertex polygon (567 bytes): %v, want MAV_MISSION_ERROR", r)
	}
	txt := g.waitMsg(&c, 1, 5*time.Second, func(m message.Message) bool {
		s, ok := m.(*common.MessageStatustext)
		return ok && strings.Contains(s.Text, "exceeds storage")
	})
	if txt == nil {
		t.Error("no STATUSTEXT saying the fence exceeds storage")
	}
	if r := g.upload(1, mavitem.TypeFence, ringFence(69)); r != common.MAV_MISSION_ACCEPTED {
		t.Fatalf("69-vertex polygon (559 bytes): %v, want ACCEPTED", r)
	}
}
