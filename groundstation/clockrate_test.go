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

// The lag followed from the vehicles' clocks is what a simulator at
// --speedup 20 really lost against the station's clock at scale 20: none
// while it keeps pace, half the station's time while it runs at 10, the
// whole of a stall in which it sent nothing — and neither one vehicle
// stalling alone, nor a reboot, nor a vehicle first heard late moves it.
func TestLagFollowerFollowsASimulatorFallingBehind(t *testing.T) {
	o := newOffline(t)
	o.st.cfg.ClockScale = 20
	f := o.st.NewLagFollower(nil)
	sys := []uint8{7, 8, 9}
	for _, s := range sys {
		o.send(s, 1, copterHB(5, false))
		o.send(s, 1, &common.MessageAutopilotVersion{Uid: uint64(s)})
	}
	world := 0.0 // the simulated world's time since the start, ms
	last := o.at
	boot := map[uint8]float64{7: 5000, 8: 5000, 9: 5000} // each boot clock at world 0
	stalled := map[uint8]bool{}
	lastHB := o.at
	// run flies the world at rate (its speedup) for d of station time,
	// every vehicle sending a position about every 100 ms.
	run := func(rate float64, d time.Duration) {
		end := o.at.Add(d)
		for o.at.Before(end) {
			world += rate * float64(o.at.Sub(last).Microseconds()) / 1000
			last = o.at
			for _, s := range sys {
				if !stalled[s] {
					o.send(s, 1, &common.MessageGlobalPositionInt{TimeBootMs: uint32(boot[s] + world)})
				}
			}
			if o.at.Sub(lastHB) >= time.Second {
				for _, s := range sys {
					o.send(s, 1, copterHB(5, false))
				}
				lastHB = o.at
			}
			o.wait(70 * time.Millisecond)
			f.Update(o.at)
		}
	}
	near := func(what string, want float64) {
		t.Helper()
		if got := f.Lag().Seconds(); math.Abs(got-want) > 0.15 {
			t.Fatalf("%s: lag %.3f s, want %.1f s", what, got, want)
		}
	}
	run(20, 5*time.Second)
	near("keeping pace", 0)

	// One vehicle stalls alone for 3 s (its own process starved): the
	// median does not follow it.
	stalled[9] = true
	run(20, 3*time.Second)
	stalled[9] = false
	boot[9] -= 3 * 20 * 1000 // its boot clock lost the 3 s of world time
	run(20, 3*time.Second)
	near("one vehicle stalled", 0)

	// The simulator slows to half its speedup for 10 s. An offset is the
	// least of a second's frames, published at the second's end: the lag
	// is followed about a second late, so it is read once the pace is
	// back.
	run(10, 10*time.Second)
	run(20, 2*time.Second)
	near("after half the speedup for 10 s", 5)

	// The whole simulator stalls for 3 s, sending nothing.
	world += 20 * float64(o.at.Sub(last).Microseconds()) / 1000
	o.wait(3 * time.Second)
	last = o.at
	// Its lag arrives once a second's frames after it are in, at most at
	// the wall clock's rate (the operation clock stands still meanwhile).
	run(20, 5*time.Second)
	near("after a 3 s stall", 8)

	// Vehicle 8 reboots (its boot clock starts again at 0.1 s) and a
	// fourth vehicle is first heard: neither moves the lag.
	boot[8] = 100 - world
	sys = append(sys, 10)
	boot[10] = 7000 - world
	o.send(10, 1, copterHB(5, false))
	o.send(10, 1, &common.MessageAutopilotVersion{Uid: 10})
	run(20, 5*time.Second)
	near("after a reboot and a new vehicle", 8)
	if got := len(o.st.ClockOffsets()); got != 4 {
		t.Fatalf("%d vehicles' offsets, want 4", got)
	}
	run(10, 4*time.Second)
	run(20, 2*time.Second)
	near("after half the speedup again for 4 s", 10)

	// The station restarts; the simulator flies on at half its speedup
	// for the 6 s it is down (3 s lost), and vehicle 7 reboots meanwhile.
	// The new station takes the lag back from the old one's state.
	state := f.State(o.at)
	down := o.at
	world += 10 * float64(o.at.Sub(last).Microseconds()) / 1000
	o = newOffline(t)
	o.st.cfg.ClockScale = 20
	o.at = down.Add(6 * time.Second)
	world += 10 * 6000
	last = o.at
	boot[7] = 300 - world
	f = o.st.NewLagFollower(&state)
	near("right after the restart", 10)
	for _, s := range sys {
		o.send(s, 1, copterHB(5, false))
		o.send(s, 1, &common.MessageAutopilotVersion{Uid: uint64(s)})
	}
	lastHB = o.at
	run(20, 5*time.Second)
	near("after a restart 6 s long at half the speedup", 13)
	if _, ok := state.Vehicles[uidID(7)]; !ok || len(state.Vehicles) != 4 {
		t.Fatalf("the state kept %d vehicles (%v), want 4 with vehicle 7", len(state.Vehicles), state.Vehicles)
	}
	if b := f.base[uidID(7)].base; b == state.Vehicles[uidID(7)].BaseS {
		t.Fatalf("vehicle 7, rebooted while the station was down, kept its old base")
	}
}
