package operations

import (
	"fmt"
	"math"
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

// A patrol braked for a forced return is in the way of the drone coming
// along its loop behind it. Slot 1 of the square flies without the
// transit layer's return (RTL_ALT at its patrol layer, 60 m, no return
// layer: the stadium's case), so the straight return of its relieved
// drone "a", due home at its bound on the far side of the loop, crosses
// the loop's west leg at the patrol layer; "b", the slot's patrol, comes
// along that leg to where "a" crosses it about when "a" does, and "c",
// the slot's next relief joining, trails "b" by 30 m. Sixteenths 1–7 of
// the lap for "a" × four timings of "b". Braked alone (the old code), "b"
// stopped on the leg and "c" flew on into it: 4.0–9.9 m in 15 of the 28
// cases. Now "b" is braked only when the drones behind it keep clear of
// it over the yield: "c" is braked too (behind "b", or itself in a's
// way), and the two keep at least 21 m; "a" never enters anyone's
// critical zone and lands with its reserve, and no drone is left braked
// (each goes on with its mission, or home when "c" joined meanwhile and
// relieved "b").
func TestForcedReturnBrakesThePatrolsFollowerToo(t *testing.T) {
	sps := squarePlans(t)
	sp := &sps[1]
	sp.Plan = withRTLAlt(sp.Plan, 60)
	sp.ReturnAlt, sp.NoRaisedSeqs = 0, nil
	f := newFrame(sp.Plan.Home.Lat, sp.Plan.Home.Lon)
	lap := loopLen(*sp)
	home := p3{-20, 30, 0}
	worst, patrolYields, followerYields := math.Inf(1), 0, 0
	for pa := 1; pa <= 7; pa++ {
		sa := float64(pa) * lap / 16
		xa, qa := loopAt(*sp, f, sa)
		// Where a's straight way home crosses the loop, away from a.
		sx := -1.0
		for s := 0.0; s < lap; s++ {
			q, _ := loopAt(*sp, f, s)
			if hdist(q, xa) > 40 && segDist(p3{q.x, q.y, 0}, p3{xa.x, xa.y, 0}, p3{home.x, home.y, 0}) < 1 {
				sx = s
				break
			}
		}
		if sx < 0 {
			t.Fatalf("a's way home from %.0f,%.0f does not cross its loop", xa.x, xa.y)
		}
		xx, _ := loopAt(*sp, f, sx)
		lead := hdist(xx, xa) // a and b fly at the plan's speed
		for _, off := range []float64{-20, -10, 0, 10} {
			t.Run(fmt.Sprintf("a at %.0f m b %g m", sa, off), func(t *testing.T) {
				sb := math.Mod(sx-lead+off+2*lap, lap)
				xb, qb := loopAt(*sp, f, sb)
				xc, qc := loopAt(*sp, f, sb-30+lap)
				run := crossSlotFly(t, sps, "", 40, []csDrone{
					{id: "a", slot: 1, role: RoleReturning, p: xa, home: home, seq: qa, by: 0.01},
					{id: "b", slot: 1, role: RoleStation, p: xb, home: p3{0, -30, 0}, seq: qb},
					{id: "c", slot: 1, role: RoleTransit, p: xc, home: p3{10, 28, 0}, seq: qc, join: qc},
				})
				for _, n := range run.notes {
					t.Log(n.VehicleID, " ", n.Message)
					if n.Fields["action"] == "yield" {
						switch n.VehicleID {
						case "b":
							patrolYields++
						case "c":
							followerYields++
						}
					}
				}
				t.Logf("a crosses the loop at %.0f,%.0f; closest to a within %g m in height: %.1f m (%s); b and c: %.1f m (%s)",
					xx.x, xx.y, sepmin.CriticalVertical, run.leastH, run.where, run.pairH, run.pairWhere)
				worst = min(worst, run.pairH)
				if run.pairH < sepmin.CriticalHorizontal {
					t.Errorf("b and c came %.1f m apart horizontally within %g m in height (%s)", run.pairH, sepmin.CriticalVertical, run.pairWhere)
				}
				if run.leastH < sepmin.CriticalHorizontal {
					t.Errorf("a came within the critical zone of another drone: %.1f m (%s)", run.leastH, run.where)
				}
				// Each braked drone went on (yield_end), or was sent home
				// itself (relieved by c joining meanwhile).
				for _, v := range run.o.Vehicles {
					if v.YieldTo != "" {
						t.Errorf("%s still braked for %s when a landed", v.ID, v.YieldTo)
					}
				}
				if n := countNotes(run.notes, "return_unclear"); n > 0 {
					t.Errorf("a was sent home unclear")
				}
				// A slot whose patrol is braked is not covered: nobody
				// flies its loop.
				if run.coveredBraked > 0 {
					t.Errorf("slot counted covered at %d ticks while its drones on station were braked", run.coveredBraked)
				}
				if run.landedPct < run.o.Params.ReservePct {
					t.Errorf("a landed with %.1f %%, under the %.0f %% reserve", run.landedPct, run.o.Params.ReservePct)
				}
			})
		}
	}
	t.Logf("b and c closest over every case: %.1f m; b braked %d times, c behind it %d times", worst, patrolYields, followerYields)
	if patrolYields == 0 || followerYields == 0 {
		t.Errorf("b braked %d times, c %d: the cases do not exercise a braked patrol's follower", patrolYields, followerYields)
	}
}
