package operations

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
)

// rotationRun is what flyRotation saw: every gap the forecast announced
// (the tick it was first seen, its slot and predicted start and end) and
// every gap flown (its slot, start and length), on the operation clock.
type rotationRun struct {
	o         *Operation
	predicted []seenGap // the coverage_gap_predicted alerts
	cleared   []seenGap // the coverage_gap_cleared events
	flown     []flownGap
	// ticks in the window, and those with a gap predicted
	ticks, ticksWithGap int
	// mostSlots is the most slots with a gap predicted at one tick.
	mostSlots int
	// history is the forecast's gaps at each tick in the window.
	history []tickGaps
	// landedPct is each landing's charge left, in order.
	landedPct []float64
}

type tickGaps struct {
	at   time.Time
	gaps []PredictedGap
}

type seenGap struct {
	at         time.Time // when the forecast first showed it
	slot       int
	start, end time.Time
}

type flownGap struct {
	slot  int
	start time.Time
	s     float64
}

// flyRotation flies a 3-slot stadium operation with the kinematic double
// (double_test.go) from its launch to the last landing: drones drones
// parked on the stadium's pad ring, packs of enduranceMin minutes at the
// flyers' drain, a swap of swapMin minutes on the ground after each
// landing (the simulator's swap), and the operation told both as the API
// tells it. Every tick it records the forecast's gaps; the coverage gaps
// flown come from the operation's own events.
func flyRotation(t *testing.T, drones int, enduranceMin, swapMin float64, window time.Duration) rotationRun {
	t.Helper()
	sps := padPlans(t)
	wall := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	o := &Operation{ID: "op1", SlotCount: len(sps), Created: wall, TimeScale: 1, State: StateScheduled, Start: wall.Add(5 * time.Minute)}
	o.End = o.Start.Add(window)
	o.Params.EnduranceS, o.Params.SwapS = enduranceMin*60, swapMin*60
	o.Params.defaults()
	o.Plans = sps
	for i := range sps {
		o.Slots = append(o.Slots, &Slot{Index: i})
	}
	d := newDouble(o, sps, wall)
	d.launchWait, d.drain = 3, 100/(enduranceMin*60)
	homes := ringSpots(8, 32)
	for i := range drones {
		id := fmt.Sprintf("d%d", i)
		o.VehicleIDs = append(o.VehicleIDs, id)
		o.Vehicles = append(o.Vehicles, &VehicleState{ID: id, Role: RolePool, Slot: -1, Uploaded: -1})
		h := homes[i%len(homes)]
		d.add(&flyer{id: id, pct: 100, mode: "GUIDED", home: h, p: h}, 0)
	}
	run := rotationRun{o: o}
	down := map[string]float64{} // when each landed flyer touched down (double seconds)
	moved := func(now float64) bool {
		for _, id := range d.ids {
			k := d.fl[id]
			if k.armed || !k.started || k.pct >= 95 {
				delete(down, id)
				continue
			}
			at, ok := down[id]
			if !ok {
				down[id] = now
				run.landedPct = append(run.landedPct, k.pct)
				continue
			}
			if now-at >= swapMin*60 {
				k.pct = 100 // swapped
				delete(down, id)
			}
		}
		return false
	}
	seen := 0
	ticked := func() bool {
		for _, n := range d.notes[seen:] {
			if n.Kind == fleet.EventCoverageGap {
				run.flown = append(run.flown, flownGap{slot: n.Fields["slot"].(int), start: n.Fields["since"].(time.Time)})
			}
			if n.Fields["action"] == "gap_ended" {
				slot := n.Fields["slot"].(int)
				for i := len(run.flown) - 1; i >= 0; i-- {
					if run.flown[i].slot == slot {
						run.flown[i].s, _ = n.Fields["gap_s"].(float64)
						break
					}
				}
			}
		}
		for _, n := range d.notes[seen:] {
			if n.Kind == fleet.EventCoverageGapPredicted {
				run.predicted = append(run.predicted, seenGap{at: o.Now(d.wall), slot: n.Fields["slot"].(int),
					start: n.Fields["gap_start"].(time.Time), end: n.Fields["gap_end"].(time.Time)})
			}
			if n.Fields["action"] == "coverage_gap_cleared" {
				run.cleared = append(run.cleared, seenGap{at: o.Now(d.wall), slot: n.Fields["slot"].(int),
					start: n.Fields["gap_start"].(time.Time), end: n.Fields["gap_end"].(time.Time)})
			}
		}
		seen = len(d.notes)
		if now := o.Now(d.wall); !now.Before(o.Start) && now.Before(o.End) {
			run.ticks++
			if len(o.Gaps) > 0 {
				run.ticksWithGap++
			}
			run.history = append(run.history, tickGaps{at: now, gaps: append([]PredictedGap(nil), o.Gaps...)})
			slots := map[int]bool{}
			for _, g := range o.Gaps {
				slots[g.Slot] = true
			}
			run.mostSlots = max(run.mostSlots, len(slots))
		}
		return d.over()
	}
	limit := (5*time.Minute + window + 30*time.Minute).Seconds()
	if !d.fly(limit, moved, ticked) {
		t.Fatalf("the drones did not all land within %.0f min", limit/60)
	}
	flownS := 0.0
	for _, g := range run.flown {
		flownS += g.s
	}
	predS := 0.0
	for _, g := range run.predicted {
		predS += g.end.Sub(g.start).Seconds()
	}
	t.Logf("%d alerts (gaps of %.0f s in all), %d of %d ticks in the window with a gap predicted; %d gaps flown (%.0f s in all)",
		len(run.predicted), predS, run.ticksWithGap, run.ticks, len(run.flown), flownS)
	if n := len(run.landedPct); n > 0 {
		l := slices.Sorted(slices.Values(run.landedPct))
		t.Logf("%d landings, charge left: least %.0f %%, median %.0f %%, most %.0f %%", n, l[0], l[n/2], l[n-1])
	}
	for i, g := range run.predicted {
		if i < 8 {
			t.Logf("  alert at +%4.0f s: slot %d from +%4.0f s for %4.0f s", g.at.Sub(o.Start).Seconds(), g.slot, g.start.Sub(o.Start).Seconds(), g.end.Sub(g.start).Seconds())
		}
	}
	for i, g := range run.cleared {
		if i < 8 {
			t.Logf("  cleared at +%4.0f s: slot %d from +%4.0f s for %4.0f s", g.at.Sub(o.Start).Seconds(), g.slot, g.start.Sub(o.Start).Seconds(), g.end.Sub(g.start).Seconds())
		}
	}
	t.Logf("%d cleared, of which %d overlapped a gap flown later", len(run.cleared), len(run.wrongClears()))
	for i, g := range run.flown {
		if i < 8 {
			t.Logf("  flown: slot %d from +%4.0f s for %4.0f s", g.slot, g.start.Sub(o.Start).Seconds(), g.s)
		}
	}
	t.Logf("slots %v", slotSummary(o))
	return run
}

func slotSummary(o *Operation) string {
	s := ""
	for _, sl := range o.Slots {
		s += fmt.Sprintf("[%d unc=%.0f h=%d r=%d]", sl.Index, sl.UncoveredS, sl.Handovers, sl.Replacement)
	}
	return s
}

// wrongClears lists the cleared gaps that came after all: a gap flown
// that overlaps the cleared one or starts within gapMoved of it and
// begins after the clearing.
func (r rotationRun) wrongClears() []seenGap {
	var out []seenGap
	for _, c := range r.cleared {
		for _, f := range r.flown {
			end := f.start.Add(secs(math.Max(f.s, 1)))
			if f.start.After(c.at) && sameGap(PredictedGap{Start: c.start, End: c.end}, PredictedGap{Start: f.start, End: end}) {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// missed lists the flown gaps the forecast did not show at the last tick
// before they began (a gap of the slot overlapping it or starting within
// gapMoved of it, in o.Gaps: what the API shows); missedAnySlot those it
// did not show for any slot.
func (r rotationRun) missed() (missed, missedAnySlot []flownGap) {
	for _, f := range r.flown {
		var last *tickGaps
		for i := range r.history {
			if r.history[i].at.Before(f.start) {
				last = &r.history[i]
			}
		}
		if last == nil {
			continue // began with the window: the alerts before it count (below)
		}
		end := f.start.Add(secs(math.Max(f.s, 1)))
		same, any := false, false
		for _, g := range last.gaps {
			if sameGap(g, PredictedGap{Start: f.start, End: end}) {
				any = true
				same = same || g.Slot == f.slot
			}
		}
		if !same {
			missed = append(missed, f)
		}
		if !any {
			missedAnySlot = append(missedAnySlot, f)
		}
	}
	return missed, missedAnySlot
}

// The pool forecast against the rotation the scheduler flies, in the
// kinematic double (deterministic: the bounds are counts, not timings).
// Before this test the forecast modelled each relieved drone as leaving
// at its must-leave time and flying home for a whole lead, and took a
// pack's way out and home as two leads of the estimate (its 60 s setup
// included): on pools that covered every slot it predicted a gap at
// 2,844 (12-minute packs) and 3,168 (10-minute) of the window's 3,600
// ticks, none of which came; and it kept only the first gap.
//
// Now (the bounds below are what it does, with some room): pools that
// cover predict a gap at 0 and 2 of the 3,600 ticks (want at most 1 %;
// before the first flights the forecast has only the planning
// estimates, and on the 10-minute pool those still raise 14 alerts for
// gaps that do not come — each called off (coverage_gap_cleared) once
// the first flights show the pool covers, 93 s before the window opens);
// short pools call off none that came after all (1 each is called off,
// near the end of the window), announce the
// first gap before it begins with its start within gapMoved, show 28 of
// 33 (27 for their own slot) and 4 of 4 gaps flown at the tick before
// they begin (the misses are short, 7–33 s: a drone leaving a little
// before its relief arrives), raise one
// alert per gap, not per tick (23 for 33, 3 for 4), and see gaps in more
// than one slot at once.
func TestForecastAgainstTheRotationFlown(t *testing.T) {
	for _, c := range []struct {
		name                  string
		drones                int
		enduranceMin, swapMin float64
		covers                bool
	}{
		{"8 drones, 12-min packs", 8, 12, 2, true},
		{"8 drones, 10-min packs", 8, 10, 2, true},
		{"5 drones, 10-min packs", 5, 10, 2, false},
		{"4 drones, 25-min packs, 5-min swaps", 4, 25, 5, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := flyRotation(t, c.drones, c.enduranceMin, c.swapMin, time.Hour)
			if c.covers {
				if len(r.flown) != 0 {
					t.Fatalf("the pool did not cover: %d gaps flown (the double changed?)", len(r.flown))
				}
				if r.ticksWithGap > r.ticks/100 {
					t.Errorf("a gap was predicted at %d of %d ticks of a window the pool covered (want at most 1 %%)", r.ticksWithGap, r.ticks)
				}
				// Every alert raised for a gap that never came is called
				// off before the gap would have begun.
				for _, a := range r.predicted {
					ok := false
					for _, c := range r.cleared {
						ok = ok || c.slot == a.slot && c.start.Equal(a.start) && c.at.After(a.at) && c.at.Before(a.start)
					}
					if !ok {
						t.Errorf("the alert raised at %s for slot %d from %s (a gap that never came) was not called off before it", a.at, a.slot, a.start)
					}
				}
				return
			}
			if len(r.flown) == 0 {
				t.Fatal("the short pool flew no gap (the double changed?)")
			}
			first := r.flown[0]
			if len(r.predicted) == 0 || !r.predicted[0].at.Before(first.start) {
				t.Fatalf("no alert before the first gap flown (slot %d from %s)", first.slot, first.start)
			}
			if d := math.Abs(r.predicted[0].start.Sub(first.start).Seconds()); d >= gapMoved {
				t.Errorf("the first alert put the gap at %s, %.0f s off the first gap flown (%s): want within %d s", r.predicted[0].start, d, first.start, gapMoved)
			}
			m, ma := r.missed()
			t.Logf("gaps flown not shown for their slot at the tick before they began: %d of %d; for no slot: %d", len(m), len(r.flown), len(ma))
			for _, f := range m {
				t.Logf("  not shown for its slot: slot %d from +%.0f s for %.0f s", f.slot, f.start.Sub(r.o.Start).Seconds(), f.s)
			}
			if len(ma) > len(r.flown)/5 {
				t.Errorf("%d of %d gaps flown were shown for no slot before they began (want at most a fifth), the first: slot %d from %s for %.0f s", len(ma), len(r.flown), ma[0].slot, ma[0].start, ma[0].s)
			}
			if w := r.wrongClears(); len(w) > 0 {
				t.Errorf("%d gaps called off came after all, the first: slot %d from %s, called off at %s", len(w), w[0].slot, w[0].start, w[0].at)
			}
			if len(r.predicted) > len(r.flown) {
				t.Errorf("%d alerts for %d gaps flown: a gap is announced once", len(r.predicted), len(r.flown))
			}
			if r.mostSlots < 2 {
				t.Errorf("never more than %d slot with a gap predicted at once; every slot of this pool went uncovered", r.mostSlots)
			}
		})
	}
}
