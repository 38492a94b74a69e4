package simulator

import (
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/ardupilotmega"

	"github.com/burgut-uav/burgut/internal/testenv"
)

// PositionsSent counts the GLOBAL_POSITION_INT frames that left for the
// ground station, not those the simulated radio dropped: with 40 % loss,
// once the radio is silenced, the ground station received exactly as many
// as the vehicle says it sent, while the link dropped some.
func TestPositionsSentIsWhatLeftTheRadio(t *testing.T) {
	g := newTestGCS(t, true)
	s := oneVehicle(t, g, func(c *Config) { c.Speedup = 10 })
	sv := s.Vehicle(0)
	count := func() int {
		g.mu.Lock()
		defer g.mu.Unlock()
		n := 0
		for _, fr := range g.frames {
			if _, ok := fr.Message().(*ardupilotmega.MessageGlobalPositionInt); ok && fr.SystemID() == 1 {
				n++
			}
		}
		return n
	}
	sv.SetLinkFaults(LinkFaults{LossPct: 40})
	testenv.Eventually(t, 60*time.Second, "30 positions through a 40 % lossy link", func() bool { return count() >= 30 })
	sv.LinkDown(0)
	sent := sv.PositionsSent()
	testenv.Eventually(t, 30*time.Second, "every position sent received", func() bool { return uint64(count()) >= sent })
	if got := count(); uint64(got) != sent {
		t.Fatalf("ground station received %d positions, the vehicle says it sent %d", got, sent)
	}
	sv.mu.Lock()
	dropped := sv.link.out.dropped
	sv.mu.Unlock()
	if dropped == 0 {
		t.Fatal("the lossy link dropped nothing, so the test shows nothing")
	}
}
