package operations

import (
	"fmt"
	"testing"

	"github.com/burgut-uav/burgut/internal/sepmin"
)

// Issue 13's forced return: drone "a" of slot 1, relieved, patrols its
// loop's south leg (item 6) at its bound (ReturnBy), where no return is
// clear — its return layer's climb from that leg passes the other slot's
// flight (NoRaisedSeqs), and its return at the transit layer (70 m) flies
// over the spot from which slot 0's relief "c" has just taken off, on its
// way to its hold. It used to be sent home anyway ("the safer of the
// two"), across c's climb. The one in transit yields: c is braked where
// it is (BRAKE) until a has passed, or, when that does not clear the way
// and a's battery margin allows, a flies on a little longer; either way
// a never enters c's critical zone, lands with its reserve, and c goes
// on with its mission afterwards.
func TestForcedReturnMakesTheReliefInTransitYield(t *testing.T) {
	sps := squarePlans(t)
	// a lands at a spot north-west of the pad; c parks on a's way in, 10 m
	// from the pad's centre line, and climbs there.
	aHome, cHome := p3{-20, 30, 0}, p3{10, 28, 0}
	worst, yields := 1e9, 0
	for _, mode := range []string{"", PadOff} {
		for _, x := range []float64{150, 200, 250, 300, 350, 400} {
			for _, cz := range []float64{0, 10, 25, 40} {
				t.Run(fmt.Sprintf("pad %q a at %g c at %g m", mode, x, cz), func(t *testing.T) {
					ds := []csDrone{
						{id: "a", slot: 1, role: RoleReturning, p: p3{x, 9, 60}, home: aHome, seq: 6, by: 0.01},
						{id: "d", slot: 1, role: RoleStation, p: p3{446, 186, 60}, home: p3{0, -30, 0}, seq: 8},
						{id: "b", slot: 0, role: RoleStation, p: p3{446, -186, 50}, home: p3{30, 0, 0}, seq: 8},
						{id: "c", slot: 0, role: RoleTransit, p: p3{cHome.x, cHome.y, cz}, home: cHome, seq: 1},
					}
					run := crossSlotFly(t, sps, mode, 40, ds)
					for _, n := range run.notes {
						t.Log(n.VehicleID, " ", n.Message)
					}
					t.Logf("a flew home at %g m and landed with %.1f %%; closest within %g m in height: %.1f m horizontally (%s); closest 3D %.1f m (%s)",
						run.rtlAlt, run.landedPct, sepmin.CriticalVertical, run.leastH, run.where, run.least3, run.where3)
					worst = min(worst, run.leastH)
					yields += countNotes(run.notes, "yield")
					if y, e := countNotes(run.notes, "yield"), countNotes(run.notes, "yield_end"); y != e {
						t.Errorf("%d drones braked to yield, %d sent on again", y, e)
					}
					if n := countNotes(run.notes, "return_unclear"); n > 0 {
						t.Errorf("a was sent home unclear")
					}
					if run.leastH < sepmin.CriticalHorizontal {
						t.Errorf("a came within the critical zone of another drone: %.1f m horizontally, under %g m in height (%s)", run.leastH, sepmin.CriticalVertical, run.where)
					}
					if run.landedPct < run.o.Params.ReservePct {
						t.Errorf("a landed with %.1f %%, under the %.0f %% reserve", run.landedPct, run.o.Params.ReservePct)
					}
				})
			}
		}
	}
	t.Logf("closest within %g m in height over every case: %.1f m horizontally; %d yields", sepmin.CriticalVertical, worst, yields)
	if yields == 0 {
		t.Errorf("no drone yielded: the case does not exercise the forced return")
	}
}
