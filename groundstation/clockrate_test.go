package groundstation

import (
	"math"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
)

// A vehicle whose boot clock runs 20 times faster than the station's (a
// simulator at --speedup 20) reads about 20; one on wall time about 1; the
// median of three is the middle one, and a reboot starts a new window
// rather than producing a negative or huge rate.
func TestClockRateFollowsTheVehiclesBootClocks(t *testing.T) {
	o := newOffline(t)
	if r, n := o.st.ClockRate(); n != 0 || r != 0 {
		t.Fatalf("before any vehicle: %v from %d, want nothing", r, n)
	}
	speeds := map[uint8]float64{7: 20, 8: 1, 9: 19}
	for sys := range speeds {
		o.send(sys, 1, copterHB(5, false))
		o.send(sys, 1, &common.MessageAutopilotVersion{Uid: uint64(sys)})
	}
	t0 := o.at
	// Each vehicle's boot clock: 5 s at t0, then its speed times the
	// station's (the harness's) clock.
	bootAt := func(sys uint8) uint32 { return uint32(5_000 + speeds[sys]*float64(o.at.Sub(t0).Milliseconds())) }
	// Positions about every 100 ms of station time.
	step := func() {
		for sys := range speeds {
			o.send(sys, 1, &common.MessageGlobalPositionInt{TimeBootMs: bootAt(sys)})
		}
		o.wait(70 * time.Millisecond)
	}
	for range 60 { // 6 s: no window complete yet
		step()
	}
	if r, n := o.st.ClockRate(); n != 0 {
		t.Fatalf("after 6 s: %v from %d vehicles, want none measured yet", r, n)
	}
	for range 60 {
		step()
		if o.at.Second()%5 == 0 {
			for sys := range speeds {
				o.send(sys, 1, copterHB(5, false)) // stay connected
			}
		}
	}
	r, n := o.st.ClockRate()
	if n != 3 || math.Abs(r-19) > 0.5 {
		t.Fatalf("rate %v from %d vehicles, want about 19 (the median of 20, 19, 1) from 3", r, n)
	}
	if got := math.Float64frombits(o.st.reg.get(uidID(8)).clockRate.Load()); math.Abs(got-1) > 0.05 {
		t.Fatalf("vehicle 8 on wall time reads %v, want about 1", got)
	}
	// Vehicle 7 reboots: its window restarts, the others keep theirs.
	o.send(7, 1, &common.MessageGlobalPositionInt{TimeBootMs: 100})
	if got := math.Float64frombits(o.st.reg.get(uidID(7)).clockRate.Load()); math.Abs(got-20) > 0.5 {
		t.Fatalf("vehicle 7's last window %v, want about 20 kept through the reboot", got)
	}
	if rec := o.st.reg.get(uidID(7)); rec.clockBootMs != 100 {
		t.Fatalf("vehicle 7's window starts at boot %d ms, want 100 (the new boot clock)", rec.clockBootMs)
	}
}
