package operations

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/missions"
)

// Issue 13: the replacement "takes up the patrol where the incumbent
// is". Joining at the loop's entry whatever the incumbent's phase, the
// relief came onto the loop up to a lap behind it, and the stretch ahead
// of the incumbent, which it left when sent home, went unwatched until
// the relief came round. Here, at every eighth of the lap, the slot's
// handover is flown twice, with the plan's join waypoints (join_seqs) and
// with the loop's entry only, and flown on a lap after the relieved drone
// landed: joining behind the incumbent never leaves a point of the loop
// unvisited longer, and is shorter at some phases; the drones keep
// apart and the slot covered either way.
func TestJoinBehindTheIncumbentShortensTheRevisitAge(t *testing.T) {
	sp := stadiumPlan(t)
	if len(sp.JoinSeqs) < 2 {
		t.Fatalf("join_seqs %v: want several", sp.JoinSeqs)
	}
	entryOnly := sp
	entryOnly.JoinSeqs = nil
	lap := loopLen(sp) / planSpeed(sp)
	shorter, off := 0, 0
	for phase := 0; phase < 8; phase++ {
		t.Run(fmt.Sprint("phase ", phase), func(t *testing.T) {
			var age [2]float64
			for i, p := range []SlotPlan{sp, entryOnly} {
				run := &handoverRun{flyOn: lap + 30}
				least, o, _ := flyHandoverSeq(t, p, float64(phase)*lap/8, 0, run)
				s := o.Slots[0]
				age[i] = s.MaxRevisitS
				t.Logf("join_seqs %v: released to item %d (relieved drone flying to %d), max revisit %.0f s, least distance %.1f m", p.JoinSeqs, run.releaseSeq, run.incSeq, s.MaxRevisitS, least)
				if least < followSafeM {
					t.Errorf("the two drones of the slot came %.1f m apart", least)
				}
				if s.UncoveredS != 0 || s.Handovers != 1 {
					t.Errorf("uncovered %.1f s, handovers %d: want 0 and 1", s.UncoveredS, s.Handovers)
				}
				if i == 0 && run.releaseSeq != int(sp.Plan.LoopStart) {
					off++
				}
			}
			if age[0] > age[1] {
				t.Errorf("max revisit %.0f s joining behind the incumbent, %.0f s at the entry", age[0], age[1])
			}
			if age[0] < age[1] {
				shorter++
			}
		})
	}
	if off == 0 || shorter == 0 {
		t.Errorf("released off the entry in %d phases, shorter revisit in %d: the test no longer covers a join behind the incumbent", off, shorter)
	}
}

// releaseOnce is one scheduler tick of a slot whose drone "a" patrols,
// flying frac of the way along the leg into loop item seq, while its
// relief "b" waits at the hold: the item b is sent to (0: none), and
// the release event's fields.
func releaseOnce(t *testing.T, sp SlotPlan, seq int, frac float64) (int, map[string]any) {
	t.Helper()
	wall := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	o := &Operation{ID: "op1", SlotCount: 1, Created: wall.Add(-time.Hour), TimeScale: 1, State: StateRunning, Start: wall.Add(-30 * time.Minute), End: wall.Add(time.Hour)}
	o.Params.defaults()
	o.Plans = []SlotPlan{sp}
	o.Slots = []*Slot{{Index: 0, VehicleID: "a", Incoming: "b", Covered: true}}
	o.Last = wall
	o.VehicleIDs = []string{"a", "b"}
	o.Vehicles = []*VehicleState{
		{ID: "a", Role: RoleStation, Slot: 0, SeenAuto: true, Uploaded: 0, Since: wall.Add(-10 * time.Minute)},
		{ID: "b", Role: RoleTransit, Slot: 0, SeenAuto: true, Uploaded: 0, Since: wall.Add(-time.Minute)},
	}
	items := sp.Plan.MissionWithHome()
	first, jump := int(sp.Plan.LoopStart), int(sp.Plan.JumpSeq)
	prev := seq - 1
	if seq == first {
		prev = jump - 1
	}
	p, q, h := items[prev], items[seq], items[sp.Plan.HoldSeq]
	home := &fleet.Point{Lat: sp.Plan.Home.Lat, Lon: sp.Plan.Home.Lon}
	fvs := map[string]fleet.Vehicle{
		"a": {ID: "a", Connected: true, Armed: true, Mode: "AUTO", MissionSeq: seq, LandedState: "in_air", GPSFix: 3, Home: home, BatteryPct: 80,
			Lat:         (float64(p.X) + frac*float64(q.X-p.X)) / 1e7,
			Lon:         (float64(p.Y) + frac*float64(q.Y-p.Y)) / 1e7,
			RelativeAlt: float64(q.Z)},
		"b": {ID: "b", Connected: true, Armed: true, Mode: "AUTO", MissionSeq: int(sp.Plan.HoldSeq), LandedState: "in_air", GPSFix: 3, Home: home, BatteryPct: 95,
			Lat: float64(h.X) / 1e7, Lon: float64(h.Y) / 1e7, RelativeAlt: float64(h.Z)},
	}
	acts, notes := o.Step(wall, func(id string) (fleet.Vehicle, bool) { v, ok := fvs[id]; v.LastSeen = wall; return v, ok })
	for _, a := range acts {
		if a.Kind == ActContinue && a.VehicleID == "b" {
			for _, n := range notes {
				if n.Fields["action"] == "release" {
					t.Logf("%s", n.Message)
					return a.Seq, n.Fields
				}
			}
			t.Fatalf("released b to item %d without a release event", a.Seq)
		}
	}
	return 0, nil
}

// With the incumbent anywhere on the loop, the relief waiting at its hold
// is sent onto the loop where it comes in behind the incumbent, not to
// the loop's entry whatever the phase (before, the release always sent it
// to LoopStart): the item it is sent to is one of join_seqs, the incumbent
// will have passed it when the relief gets there (flying straight from the
// hold at the plan's speed), and no other item of join_seqs would have it
// join nearer behind the incumbent unless that one was not clear. The
// release event names the item and why. An item left out of join_seqs is
// never chosen: taking the chosen one out, the next tick chooses another.
func TestReleaseJoinsBehindTheIncumbent(t *testing.T) {
	sp := stadiumPlan(t)
	loop := loopSeqs(sp)
	first := int(sp.Plan.LoopStart)
	offEntry := 0
	for _, seq := range loop {
		for _, frac := range []float64{0.2, 0.8} {
			got, fields := releaseOnce(t, sp, seq, frac)
			if got == 0 {
				continue // nowhere clear this tick: it waits
			}
			if fields["seq"] != got || fields["join_seq"] != got || fields["reason"] == "" {
				t.Errorf("a at %.1f of the leg into %d: release event %v, sent to %d", frac, seq, fields, got)
			}
			if got != first {
				offEntry++
			}
			if !slices.Contains(sp.JoinSeqs, got) {
				t.Errorf("a at %.1f of the leg into %d: sent to item %d, not in join_seqs %v", frac, seq, got, sp.JoinSeqs)
			}
			behind := func(s int) float64 { return joinGapCheck(sp, seq, frac, s) }
			if b := behind(got); b < releaseSafeM {
				t.Errorf("a at %.1f of the leg into %d: sent to item %d, joining %.0f m behind it", frac, seq, got, b)
			}
			if b := behind(first); b < behind(got) {
				t.Errorf("a at %.1f of the leg into %d: sent to item %d (%.0f m behind it) where the entry joins %.0f m behind", frac, seq, got, behind(got), b)
			}
			// Take the chosen item out of join_seqs: not chosen again.
			less := sp
			less.JoinSeqs = slices.DeleteFunc(slices.Clone(sp.JoinSeqs), func(s int) bool { return s == got })
			if again, _ := releaseOnce(t, less, seq, frac); again == got && got != first {
				t.Errorf("a at %.1f of the leg into %d: item %d taken out of join_seqs and chosen still", frac, seq, got)
			}
		}
	}
	if offEntry == 0 {
		t.Error("every release went to the loop's entry")
	}
}

// joinGapCheck is, computed apart from the scheduler, how far behind the
// incumbent (frac of the way along the leg into loop item seq) a relief
// flying straight from the hold to loop item s at the plan's speed (and
// at the copter's climb or descent rate, the slower) comes onto the loop,
// the incumbent flying on along the loop at the same speed.
func joinGapCheck(sp SlotPlan, seq int, frac float64, s int) float64 {
	items := sp.Plan.MissionWithHome()
	loop := loopSeqs(sp)
	ll := func(i int) (float64, float64) { return float64(items[i].X) / 1e7, float64(items[i].Y) / 1e7 }
	cum := map[int]float64{loop[0]: 0}
	total := 0.0
	for i := range loop {
		a1, o1 := ll(loop[i])
		a2, o2 := ll(loop[(i+1)%len(loop)])
		total += distM(a1, o1, a2, o2)
		if i+1 < len(loop) {
			cum[loop[i+1]] = total
		}
	}
	prev := slices.Index(loop, seq) - 1
	if prev < 0 {
		prev = len(loop) - 1
	}
	a1, o1 := ll(loop[prev])
	a2, o2 := ll(seq)
	at := cum[loop[prev]] + frac*distM(a1, o1, a2, o2)
	h := items[sp.Plan.HoldSeq]
	hl, ho := ll(int(sp.Plan.HoldSeq))
	sl, so := ll(s)
	dt := math.Max(distM(hl, ho, sl, so)/planSpeed(sp), math.Abs(float64(items[s].Z-h.Z))/downRate)
	if s == int(sp.Plan.LoopStart) {
		dt = wayTime(sp, newFrame(sp.Plan.Home.Lat, sp.Plan.Home.Lon), newFrame(sp.Plan.Home.Lat, sp.Plan.Home.Lon).at(hl, ho, float64(h.Z)), joinChoice{send: entrySend(sp), join: s})
	}
	return math.Mod(math.Mod(at+planSpeed(sp)*dt-cum[s], total)+total, total)
}

// join_seqs lists only the loop waypoints whose straight leg from the
// hold passes the planner's checks. A no-fly zone put in the middle of
// the stadium (clear of the loop and of the way in) cuts the legs across
// the field: every leg passing nearer its edge than the check's margin is
// left out, every leg well clear of it is kept. The same zone as an
// exclusion circle of the drone's own fence leaves out the legs that
// would leave the fence (with the fence margin). Released with such a
// plan, the relief is never sent to an item left out.
func TestJoinSeqsLeaveOutLegsAcrossANoFlyZoneOrOutOfTheFence(t *testing.T) {
	a, plans, eff := stadiumPlans(t)
	opt := eff.CheckOptions(missions.CheckOptions{})
	dp := plans[0]
	items := dp.MissionWithHome()
	loop := loopSeqs(slotPlan(dp))
	f := newFrame(dp.Home.Lat, dp.Home.Lon)
	xy := func(s int) p3 { return f.at(float64(items[s].X)/1e7, float64(items[s].Y)/1e7, 0) }
	var c p3
	for _, s := range loop {
		q := xy(s)
		c.x, c.y = c.x+q.x/float64(len(loop)), c.y+q.y/float64(len(loop))
	}
	const radius = 15.0
	center := f.ll(c)
	hold := xy(int(dp.HoldSeq))
	// segDist is the least distance from the leg hold → s to the centre.
	segDist := func(s int) float64 {
		b := xy(s)
		dx, dy := b.x-hold.x, b.y-hold.y
		u := math.Max(0, math.Min(1, ((c.x-hold.x)*dx+(c.y-hold.y)*dy)/(dx*dx+dy*dy)))
		return math.Hypot(hold.x+u*dx-c.x, hold.y+u*dy-c.y)
	}
	margin := opt.Margin
	if margin == 0 {
		margin = 10
	}
	fenceMargin := opt.FenceMargin
	if fenceMargin == 0 {
		fenceMargin = margin / 2
	}
	judge := func(name string, js []int, keep float64) {
		t.Helper()
		cut, kept := 0, 0
		for _, s := range loop {
			d := segDist(s)
			in := slices.Contains(js, s)
			switch {
			case d < keep && in:
				t.Errorf("%s: the leg from the hold to item %d passes %.1f m from the centre, under %.1f m, and is in join_seqs %v", name, s, d, keep, js)
			case d > keep+2 && !in:
				t.Errorf("%s: the leg from the hold to item %d passes %.1f m from the centre and is not in join_seqs %v", name, s, d, js)
			}
			if in {
				kept++
			} else {
				cut++
			}
		}
		t.Logf("%s: join_seqs %v (%d left out)", name, js, cut)
		if cut == 0 || kept == 0 {
			t.Errorf("%s: %d left out, %d kept: the zone no longer cuts some legs and not others", name, cut, kept)
		}
	}
	all := joinSeqs(missions.NewChecker(a, opt), plans, 0)
	if len(all) != len(loop) {
		t.Fatalf("without the zone join_seqs %v, want every loop waypoint %v", all, loop)
	}

	zoned := *a
	zoned.NoFly = append(slices.Clone(a.NoFly), missions.NoFly{Name: "stage", Center: center, Radius: radius})
	noFly := joinSeqs(missions.NewChecker(&zoned, opt), plans, 0)
	judge("no-fly zone", noFly, radius+margin)

	fenced := *dp
	fenced.Fence = append(slices.Clone(dp.Fence), mavitem.Item{Frame: mavitem.FrameGlobal, Command: mavitem.CmdFenceCircleExclusion,
		Param1: radius, X: int32(math.Round(center[1] * 1e7)), Y: int32(math.Round(center[0] * 1e7))})
	for i := range fenced.Fence {
		fenced.Fence[i].Seq = uint16(i)
	}
	withFence := slices.Clone(plans)
	withFence[0] = &fenced
	inFence := joinSeqs(missions.NewChecker(a, opt), withFence, 0)
	judge("fence exclusion", inFence, radius+fenceMargin)

	// Released with the zone's join_seqs, wherever the incumbent is, the
	// relief goes only to an item in them.
	sp := stadiumPlan(t)
	sp.JoinSeqs = noFly
	for _, seq := range loop {
		if got, _ := releaseOnce(t, sp, seq, 0.5); got != 0 && got != int(sp.Plan.LoopStart) && !slices.Contains(noFly, got) {
			t.Errorf("the incumbent flying to item %d: relief sent to item %d, whose leg crosses the zone", seq, got)
		}
	}
}
