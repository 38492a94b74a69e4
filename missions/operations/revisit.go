package operations

import (
	"math"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/mavitem"
)

// The revisit age of a perimeter is kept per point along the loop's legs,
// not only per waypoint: a drone that leaves the loop part way along a
// leg (sent home at a handover, failed) leaves the rest of that leg
// unvisited while both its waypoints are revisited by the relief coming
// round, so the waypoints alone read a lap less than the points between
// them went unwatched (issue 13: "the maximum revisit age of any point
// of the route").

// pointSpacingM is how far apart (metres along the loop) the points whose
// revisit age is kept lie; maxLoopPoints bounds them per slot.
const (
	pointSpacingM = 10.0
	maxLoopPoints = 4096
	// backJitterM: a drone whose position along the loop moved back by
	// less than this (its projection around a corner) has not lapped.
	backJitterM = 50.0
)

// loopGeom is a slot's patrol loop on a local frame: its waypoints
// (items LoopStart…JumpSeq-1) and the loop distance of each.
type loopGeom struct {
	f   frame
	pts []p3
	cum []float64 // cum[k]: loop distance of pts[k]; cum[len(pts)] the loop's length
}

func (g *loopGeom) total() float64 { return g.cum[len(g.pts)] }

// loopOf is p's loop, nil when it has none or an item of it is not a
// plain waypoint (the revisit age is then kept per waypoint only).
func loopOf(p SlotPlan) *loopGeom {
	first, jump := int(p.Plan.LoopStart), int(p.Plan.JumpSeq)
	items := p.Plan.MissionWithHome()
	if first <= 0 || jump <= first+1 || jump >= len(items) {
		return nil
	}
	g := &loopGeom{f: newFrame(p.Plan.Home.Lat, p.Plan.Home.Lon), cum: []float64{0}}
	for i := first; i < jump; i++ {
		it := items[i]
		if it.Command != mavitem.CmdNavWaypoint {
			return nil
		}
		g.pts = append(g.pts, g.f.at(float64(it.X)/1e7, float64(it.Y)/1e7, 0))
	}
	n := len(g.pts)
	for k := 0; k < n; k++ {
		a, b := g.pts[k], g.pts[(k+1)%n]
		g.cum = append(g.cum, g.cum[k]+math.Hypot(b.x-a.x, b.y-a.y))
	}
	if g.total() < pointSpacingM {
		return nil
	}
	return g
}

// pos is how far along the loop fv is, flying to item seq: on the leg
// into seq (the closing leg for LoopStart), projected onto it.
func (g *loopGeom) pos(first, seq int, fv fleet.Vehicle) float64 {
	n := len(g.pts)
	k := (seq - first - 1 + n) % n // the leg from pts[k] to pts[k+1]
	a, b := g.pts[k], g.pts[(k+1)%n]
	q := g.f.at(fv.Lat, fv.Lon, 0)
	dx, dy := b.x-a.x, b.y-a.y
	l2 := dx*dx + dy*dy
	t := 0.0
	if l2 > 0 {
		t = math.Max(0, math.Min(1, ((q.x-a.x)*dx+(q.y-a.y)*dy)/l2))
	}
	return g.cum[k] + t*math.Sqrt(l2)
}

// points is how many points of the loop are kept.
func (g *loopGeom) points() int {
	return max(len(g.pts), min(maxLoopPoints, int(math.Ceil(g.total()/pointSpacingM))))
}

// loop is slot i's loop geometry, computed once per operation (nil: none).
func (o *Operation) loop(i int) *loopGeom {
	if o.loops == nil {
		o.loops = map[int]*loopGeom{}
	}
	g, ok := o.loops[i]
	if !ok {
		g = loopOf(o.Plans[i])
		o.loops[i] = g
	}
	return g
}

// visitedPoints records the points of sl's loop v passed since the last
// tick: those after where it was then up to where it is now (around the
// loop's end), each with the age it had. Where v was is not known after
// a launch or a station restart: it is then only noted.
func (st *step) visitedPoints(sl *Slot, g *loopGeom, first int, v *VehicleState, fv fleet.Vehicle, seq int) {
	n := g.points()
	if len(sl.points) != n {
		st.initPoints(sl, g, n)
	}
	cur := g.pos(first, seq, fv)
	if !v.posKnown {
		v.lastPos, v.posKnown = cur, true
		return
	}
	total := g.total()
	d := cur - v.lastPos
	if d < 0 {
		d += total
	}
	if d > total-backJitterM {
		return // moved back a little: not a lap
	}
	step := total / float64(n)
	o := st.o
	k0 := int(math.Floor(v.lastPos / step))
	for j := k0 + 1; float64(j)*step <= v.lastPos+d; j++ {
		i := j % n
		if !st.now.Before(o.Start) {
			if age := minTime(st.now, o.End).Sub(maxTime(sl.points[i], o.Start)).Seconds(); age > sl.MaxRevisitS {
				sl.MaxRevisitS = age
			}
		}
		sl.points[i] = st.now
	}
	v.lastPos = cur
}

// initPoints sets up sl's points: each last visited when the older of its
// leg's two waypoints was (never, at the start; after a station restart,
// which does not keep the points, the waypoints' visits bound them).
func (st *step) initPoints(sl *Slot, g *loopGeom, n int) {
	sl.points = make([]time.Time, n)
	if len(sl.Visits) != len(g.pts) {
		return
	}
	step := g.total() / float64(n)
	k := 0
	for i := range sl.points {
		s := float64(i) * step
		for k+1 < len(g.pts) && g.cum[k+1] <= s {
			k++
		}
		a, b := sl.Visits[k], sl.Visits[(k+1)%len(g.pts)]
		sl.points[i] = minTime(a, b)
	}
}
