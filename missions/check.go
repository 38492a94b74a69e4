package missions

import (
	"fmt"
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"

	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/internal/sepmin"
)

// CheckOptions are the rules a plan must pass before upload. Zero values
// take the defaults on each field.
type CheckOptions struct {
	Margin      float64 `json:"margin"`       // from the area edge and no-fly zones; default 10 m
	FenceMargin float64 `json:"fence_margin"` // inside the drone's own fence; default Margin/2
	MaxItems    int     `json:"max_items"`    // mission items incl. home; default DefaultMissionItems
	FenceItems  int     `json:"fence_items"`  // fence items the vehicle stores; default DefaultFenceItems
	FenceBytes  int     `json:"fence_bytes"`  // fence storage bytes (FenceStorageBytes); default DefaultFenceBytes
	Endurance   float64 `json:"endurance_s"`  // battery endurance at cruise, seconds; default 1500
	Reserve     float64 `json:"reserve"`      // fraction kept in reserve; default 0.2
	// Separation and LayerStep are the separation minima between two
	// drones' level flight (patrol legs, transits at a layer):
	// horizontally Separation (default DefaultSeparation, 30 m: the live
	// monitor's warning distance), vertically LayerStep (default 10 m,
	// the planner's layer spacing: drones on adjacent layers are
	// separated). Two pieces conflict where they come closer than both at
	// once (see separation). ClimbSeparation is the horizontal minimum
	// where either piece climbs or descends through the other's height
	// (default DefaultClimbSeparation, 10 m: the monitor's critical
	// distance): those pass within the warning distance only while the
	// scheduler's launches, holds and pad sequencing keep the two apart
	// in time; it is also the width of a shared pad's zone.
	Separation      float64 `json:"separation"`
	ClimbSeparation float64 `json:"climb_separation"`
	LayerStep       float64 `json:"layer_step"`
	ClimbRate       float64 `json:"climb_rate"`   // m/s, default 2.5
	DescentRate     float64 `json:"descent_rate"` // m/s, default 1.5
}

func (o *CheckOptions) defaults() {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Margin, 10)
	def(&o.FenceMargin, o.Margin/2)
	def(&o.Endurance, 1500)
	def(&o.Reserve, 0.2)
	def(&o.Separation, DefaultSeparation)
	def(&o.ClimbSeparation, DefaultClimbSeparation)
	def(&o.LayerStep, DefaultLayerStep)
	def(&o.ClimbRate, 2.5)
	def(&o.DescentRate, 1.5)
	c := Capacity{MissionItems: o.MaxItems, FenceItems: o.FenceItems, FenceBytes: o.FenceBytes}.WithDefaults()
	o.MaxItems, o.FenceItems, o.FenceBytes = c.MissionItems, c.FenceItems, c.FenceBytes
}

// DefaultSeparation is the separation rule's horizontal minimum between
// two drones' level flight less than LayerStep apart vertically, metres
// (CheckOptions.Separation when unset): the live separation monitor's
// warning distance (internal/sepmin owns both), so two legs the planner
// accepts on one layer — or on layers closer than LayerStep — are never
// close enough for the monitor to warn, whenever the drones fly them.
const DefaultSeparation = sepmin.WarnHorizontal

// DefaultClimbSeparation is CheckOptions.ClimbSeparation when unset: the
// monitor's critical distance. Homes closer than it share a launch pad,
// whose climbs and descents the planner leaves to be spaced out in time
// (see separation), so whoever launches the drones (the crew, the
// operations scheduler, a scenario's launch step) sequences them — at the
// monitor's pad clearance.
const DefaultClimbSeparation = sepmin.CriticalHorizontal

// DefaultPartGap is PlanOptions.Separation when unset: the horizontal
// gap the pattern builder keeps between neighbouring drones' parts and
// landing spots, metres. Neighbours fly different layers; two parts on
// one layer (more drones than the band has layers) closer than
// DefaultSeparation are refused by the separation rule.
const DefaultPartGap = 10.0

// DefaultLayerStep is the planner's vertical distance between drones'
// altitude layers, metres (PlanOptions.LayerStep and
// CheckOptions.LayerStep when unset): the vertical separation minimum
// the checker requires. The station's separation monitor warns only
// under a vertical minimum strictly below it (fleet/separation
// DefaultConfig, checked by a test there), so drones planned on adjacent
// layers do not warn when they cross.
const DefaultLayerStep = 10.0

// Rules a Violation can name.
const (
	RuleArea       = "area"       // a patrol leg leaves the event area or comes within the margin of its edge
	RuleNoFly      = "no-fly"     // a leg enters or comes within the margin of a no-fly zone
	RuleFence      = "fence"      // a leg leaves the drone's own fence
	RuleAltitude   = "altitude"   // an item's altitude is outside the band
	RuleItems      = "items"      // more mission or fence items (or fence bytes) than the vehicle holds
	RuleBattery    = "battery"    // flight time exceeds endurance minus reserve
	RuleSeparation = "separation" // two drones' legs closer than the separation horizontally and vertically at once
	RuleReturn     = "return"     // an RTL from the patrol flies home through a no-fly zone or out of the fence (plans with a transit layer)
)

// Violation is one failed check: which drone, which leg (index into the
// drone's legs, with the seq of the item the leg arrives at), which rule.
type Violation struct {
	Drone   int    `json:"drone"`
	Leg     int    `json:"leg"`
	Seq     uint16 `json:"seq"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
	// Other is the other side of a separation violation: the drone and
	// leg met, and which plan set it belongs to when it is not the one
	// checked (CheckAgainst).
	Other *OtherLeg `json:"other,omitempty"`
}

// OtherLeg names the drone, leg and plan a separation violation is with.
type OtherLeg struct {
	Drone int    `json:"drone"`
	Leg   int    `json:"leg"`
	Seq   uint16 `json:"seq"`
	// Plan is the label of the other plan set (e.g. "operation op1",
	// "plan p3"); empty when it is a drone of the same set.
	Plan string `json:"plan,omitempty"`
}

func (v Violation) String() string {
	if v.Leg < 0 {
		return fmt.Sprintf("drone %d: %s: %s", v.Drone, v.Rule, v.Message)
	}
	return fmt.Sprintf("drone %d leg %d (to item %d): %s: %s", v.Drone, v.Leg, v.Seq, v.Rule, v.Message)
}

// Leg is one straight piece of flight, from one position to the next, as
// the autopilot will fly it (DO_JUMP and RTL included). The autopilot
// changes altitude linearly along a leg, from FromAlt to Alt (a takeoff
// climbs from the ground where it stands).
type Leg struct {
	From, To orb.Point // lon/lat
	FromSeq  uint16
	ToSeq    uint16
	FromAlt  float64
	Alt      float64
	Transit  bool
}

// Legs reconstructs the flown legs from the mission items, so the checker
// looks at what will be uploaded rather than at the planner's intentions.
func (dp *DronePlan) Legs() []Leg {
	items := dp.MissionWithHome()
	transit := map[uint16]bool{}
	for _, s := range dp.Transit {
		transit[s] = true
	}
	home := orb.Point{dp.Home.Lon, dp.Home.Lat}
	cur, curSeq, alt := home, uint16(0), 0.0
	posOf := map[uint16]orb.Point{}
	altOf := map[uint16]float64{}
	var legs []Leg
	for _, it := range items[1:] {
		switch it.Command {
		case mavitem.CmdNavTakeoff:
			p := cur
			if it.X != 0 || it.Y != 0 {
				p = llOf(it)
			}
			from := alt
			alt = float64(it.Z)
			legs = append(legs, Leg{From: cur, To: p, FromSeq: curSeq, ToSeq: it.Seq, FromAlt: from, Alt: alt, Transit: true})
			cur, curSeq = p, it.Seq
			posOf[it.Seq], altOf[it.Seq] = p, alt
		case mavitem.CmdNavWaypoint, mavitem.CmdNavLoiterUnlim, mavitem.CmdNavLoiterTime, mavitem.CmdNavLand:
			p := llOf(it)
			from := alt
			if it.Command != mavitem.CmdNavLand {
				alt = float64(it.Z)
			}
			legs = append(legs, Leg{From: cur, To: p, FromSeq: curSeq, ToSeq: it.Seq, FromAlt: from, Alt: alt, Transit: transit[it.Seq]})
			cur, curSeq = p, it.Seq
			posOf[it.Seq], altOf[it.Seq] = p, alt
		case mavitem.CmdDoJump:
			if p, ok := posOf[uint16(it.Param1)]; ok {
				legs = append(legs, Leg{From: cur, To: p, FromSeq: curSeq, ToSeq: it.Seq, FromAlt: alt, Alt: altOf[uint16(it.Param1)], Transit: transit[it.Seq]})
			}
		case mavitem.CmdNavReturnToLaunch:
			to := dp.RTLTarget(cur)
			legs = append(legs, Leg{From: cur, To: to, FromSeq: curSeq, ToSeq: it.Seq, FromAlt: alt, Alt: alt, Transit: true})
			cur, curSeq = to, it.Seq
		}
	}
	return legs
}

// param returns the value of a parameter the plan sets (FenceParams).
func (dp *DronePlan) param(name string) (float64, bool) {
	for _, p := range dp.FenceParams {
		if p.Name == name {
			return p.Value, true
		}
	}
	return 0, false
}

// RTLTarget is where ArduCopter's RTL commanded at p (lon/lat) flies: the
// nearest rally point when it lies within RALLY_LIMIT_KM of p (0: no
// limit) and, with RALLY_INCL_HOME, nearer than home; home otherwise. The
// two parameters are read from FenceParams, ArduCopter's defaults (0.3 km,
// 1) when the plan does not set them — the simulator flies the same rule.
func (dp *DronePlan) RTLTarget(p orb.Point) orb.Point {
	home := orb.Point{dp.Home.Lon, dp.Home.Lat}
	if len(dp.Rally) == 0 {
		return home
	}
	limit, ok := dp.param("RALLY_LIMIT_KM")
	if !ok {
		limit = 0.3
	}
	incl, ok := dp.param("RALLY_INCL_HOME")
	if !ok {
		incl = 1
	}
	best, bd := home, math.Inf(1)
	for _, r := range dp.Rally {
		q := llOf(r)
		if d := geo.Distance(p, q); d < bd {
			best, bd = q, d
		}
	}
	if limit > 0 && bd > limit*1000 {
		return home
	}
	if incl == 1 && geo.Distance(p, home) < bd {
		return home
	}
	return best
}

// Checker holds an area's geometry prepared for checking many plans.
type Checker struct {
	area   *Area
	opt    CheckOptions
	pr     projection
	inArea *space // inclusion polygons only
	noFly  *space // everything outside the no-fly zones
	zones  []zoneGeom
}

type zoneGeom struct {
	name string
	poly orb.Polygon
	c    circle
}

// NewChecker prepares the area for Check; keep one per area when checking
// repeatedly.
func NewChecker(a *Area, o CheckOptions) *Checker {
	o.defaults()
	pr := newProjection(a.Bound())
	c := &Checker{area: a, opt: o, pr: pr}
	incl := make([]orb.Polygon, len(a.Include))
	for i, p := range a.Include {
		incl[i] = pr.polygon(p)
	}
	c.inArea = newSpace(incl, nil, nil, o.Margin)
	polys, circles := a.noFlyParts(pr)
	world := orb.Polygon{orb.Bound{Min: orb.Point{-1e8, -1e8}, Max: orb.Point{1e8, 1e8}}.ToRing()}
	c.noFly = newSpace([]orb.Polygon{world}, polys, circles, o.Margin)
	for _, z := range a.NoFly {
		if z.IsCircle() {
			c.zones = append(c.zones, zoneGeom{name: z.Name, c: circle{pr.toXY(z.Center), z.Radius}})
		} else {
			c.zones = append(c.zones, zoneGeom{name: z.Name, poly: pr.polygon(z.Polygon)})
		}
	}
	return c
}

// Check runs every rule over the plans and returns all violations (none
// means the plans may be uploaded).
func Check(a *Area, plans []*DronePlan, o CheckOptions) []Violation {
	return NewChecker(a, o).Check(plans)
}

// Check runs every rule; see the package-level Check.
func (c *Checker) Check(plans []*DronePlan) []Violation {
	var out []Violation
	allLegs := make([][]Leg, len(plans))
	for i, dp := range plans {
		legs := dp.Legs()
		allLegs[i] = legs
		out = append(out, c.checkOne(dp, legs)...)
	}
	out = append(out, c.separation(plans, allLegs)...)
	return out
}

func (c *Checker) xy(p orb.Point) orb.Point { return c.pr.toXY(p) }

func (c *Checker) checkOne(dp *DronePlan, legs []Leg) []Violation {
	var out []Violation
	v := func(leg int, seq uint16, rule, format string, args ...any) {
		out = append(out, Violation{Drone: dp.Drone, Leg: leg, Seq: seq, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
	items := dp.MissionWithHome()
	if len(items) > c.opt.MaxItems {
		v(-1, 0, RuleItems, "%d mission items (with home), the vehicle holds %d", len(items), c.opt.MaxItems)
	}
	for _, it := range items[1:] {
		switch it.Command {
		case mavitem.CmdNavTakeoff, mavitem.CmdNavWaypoint, mavitem.CmdNavLoiterUnlim, mavitem.CmdNavLoiterTime:
			if z := float64(it.Z); z < c.area.MinAlt || z > c.area.MaxAlt {
				v(-1, it.Seq, RuleAltitude, "item %d altitude %g m outside the band [%g, %g] m", it.Seq, z, c.area.MinAlt, c.area.MaxAlt)
			}
		}
	}
	if ok, why := FenceUsageOf(dp.Fence).fits(Capacity{MissionItems: c.opt.MaxItems, FenceItems: c.opt.FenceItems, FenceBytes: c.opt.FenceBytes}); !ok {
		v(-1, 0, RuleItems, "%s", why)
	}
	fence, ferr := c.fenceSpace(dp.Fence)
	if ferr != nil {
		v(-1, 0, RuleFence, "%v", ferr)
	}
	// A leg that passed ends inside, so the next leg starting there needs
	// only the boundary test (saves a point-in-polygon per leg and rule).
	var lastArea, lastNoFly, lastFence orb.Point
	okArea, okNoFly, okFence := false, false, false
	for i, l := range legs {
		a, b := c.xy(l.From), c.xy(l.To)
		if !l.Transit {
			ok := false
			if okArea && lastArea == a {
				ok = c.inArea.segClear(a, b)
			} else {
				ok = c.inArea.segOK(a, b)
			}
			okArea, lastArea = ok, b
			if !ok {
				v(i, l.ToSeq, RuleArea, "leg from item %d to item %d leaves the event area or comes within %g m of its edge", l.FromSeq, l.ToSeq, c.opt.Margin)
			}
		} else {
			okArea = false
		}
		ok := false
		if okNoFly && lastNoFly == a {
			ok = c.noFly.segClear(a, b)
		} else {
			ok = c.noFly.segOK(a, b)
		}
		okNoFly, lastNoFly = ok, b
		if !ok {
			v(i, l.ToSeq, RuleNoFly, "leg from item %d to item %d %s", l.FromSeq, l.ToSeq, c.whichZone(a, b))
		}
		if fence != nil {
			if okFence && lastFence == a {
				ok = fence.segClear(a, b)
			} else {
				ok = fence.segOK(a, b)
			}
			okFence, lastFence = ok, b
			if !ok {
				v(i, l.ToSeq, RuleFence, "leg from item %d to item %d leaves the drone's fence or comes within %g m of it", l.FromSeq, l.ToSeq, c.opt.FenceMargin)
			}
		}
	}
	out = append(out, c.returns(dp, legs, fence)...)
	if t, avail, what := c.flightTime(dp, legs); t > avail {
		v(-1, 0, RuleBattery, "%s takes %.1f min at %.1f m/s, the battery allows %.1f min (%.0f min endurance, %.0f%% reserve)", what, t/60, dp.speed(), avail/60, c.opt.Endurance/60, c.opt.Reserve*100)
	}
	return out
}

func (dp *DronePlan) speed() float64 {
	if dp.Speed > 0 {
		return dp.Speed
	}
	if dp.CruiseSpeed > 0 {
		return dp.CruiseSpeed
	}
	return 10
}

func (c *Checker) whichZone(a, b orb.Point) string {
	for _, z := range c.zones {
		var d float64
		if z.poly != nil {
			if polygonContains(z.poly, a) || polygonContains(z.poly, b) {
				d = 0
			} else {
				d = math.Inf(1)
				for _, r := range z.poly {
					for i := 0; i+1 < len(r); i++ {
						d = math.Min(d, segSegDist(a, b, r[i], r[i+1]))
					}
				}
			}
		} else {
			d = math.Max(0, pointSegDist(z.c.c, a, b)-z.c.r)
		}
		if d < c.opt.Margin {
			return fmt.Sprintf("comes within %.1f m of no-fly zone %q (margin %g m)", d, z.name, c.opt.Margin)
		}
	}
	return fmt.Sprintf("comes within %g m of a no-fly zone", c.opt.Margin)
}

// fenceSpace rebuilds the fence from its items: polygons are runs of
// vertex items whose param1 is the vertex count.
func (c *Checker) fenceSpace(items []mavitem.Item) (*space, error) {
	return fenceSpaceOf(items, c.xy, c.opt.FenceMargin)
}

// fenceSpaceOf is fenceSpace in any projection xy with any margin (the
// planner uses it to keep rally points inside the fence it built).
func fenceSpaceOf(items []mavitem.Item, xy func(orb.Point) orb.Point, margin float64) (*space, error) {
	if len(items) == 0 {
		return nil, nil
	}
	var incl, excl []orb.Polygon
	var circles []circle
	var inclCircles []circle
	for i := 0; i < len(items); {
		it := items[i]
		switch it.Command {
		case mavitem.CmdFencePolyInclusion, mavitem.CmdFencePolyExclusion:
			n := int(it.Param1)
			if n < 3 || i+n > len(items) {
				return nil, fmt.Errorf("fence item %d: polygon of %d vertices does not fit the %d items", i, n, len(items))
			}
			var r orb.Ring
			for k := 0; k < n; k++ {
				if items[i+k].Command != it.Command || int(items[i+k].Param1) != n {
					return nil, fmt.Errorf("fence item %d: polygon vertex %d of %d has command %d / count %g", i+k, k, n, items[i+k].Command, items[i+k].Param1)
				}
				r = append(r, xy(llOf(items[i+k])))
			}
			r = append(r, r[0])
			if it.Command == mavitem.CmdFencePolyInclusion {
				incl = append(incl, orb.Polygon{r})
			} else {
				excl = append(excl, orb.Polygon{r})
			}
			i += n
		case mavitem.CmdFenceCircleInclusion, mavitem.CmdFenceCircleExclusion:
			ci := circle{xy(llOf(it)), float64(it.Param1)}
			if it.Command == mavitem.CmdFenceCircleInclusion {
				inclCircles = append(inclCircles, ci)
			} else {
				circles = append(circles, ci)
			}
			i++
		default:
			return nil, fmt.Errorf("fence item %d: command %d is not a fence command", i, it.Command)
		}
	}
	for _, ci := range inclCircles {
		incl = append(incl, orb.Polygon{inscribedRing(ci.c, ci.r, 64)})
	}
	if len(incl) == 0 {
		incl = []orb.Polygon{{orb.Bound{Min: orb.Point{-1e8, -1e8}, Max: orb.Point{1e8, 1e8}}.ToRing()}}
	}
	return newSpace(incl, excl, circles, margin), nil
}

// inscribedRing is a polygon inside the circle: an inclusion circle is
// checked conservatively.
func inscribedRing(c orb.Point, r float64, n int) orb.Ring {
	out := make(orb.Ring, n+1)
	for i := 0; i < n; i++ {
		th := 2 * math.Pi * float64(i) / float64(n)
		out[i] = orb.Point{c[0] + r*math.Cos(th), c[1] + r*math.Sin(th)}
	}
	out[n] = out[0]
	return out
}

// flightTime estimates the mission's duration: climb, horizontal legs at
// cruise speed (the repeated part as often as it repeats; once when it
// repeats indefinitely, since then the battery failsafe ends it), descent.
func (c *Checker) flightTime(dp *DronePlan, legs []Leg) (t, avail float64, what string) {
	horiz, loop := 0.0, 0.0
	for _, l := range legs {
		a, b := c.xy(l.From), c.xy(l.To)
		d := math.Hypot(b[0]-a[0], b[1]-a[1])
		horiz += d
		if dp.JumpSeq != 0 && l.ToSeq > dp.LoopStart && l.ToSeq <= dp.JumpSeq {
			loop += d
		}
	}
	reps := 0
	what = "the mission"
	if dp.JumpSeq != 0 && dp.Repeat > 0 {
		reps = dp.Repeat
		what = fmt.Sprintf("the mission with %d repeats", dp.Repeat)
	} else if dp.Repeat < 0 {
		what = "one round of the endlessly repeated mission"
	}
	total := horiz + float64(reps)*loop
	t = dp.Alt/c.opt.ClimbRate + total/dp.speed() + dp.Alt/c.opt.DescentRate
	if up := dp.TransitAlt - dp.Alt; up > 0 {
		// Out at the transit layer, down to the patrol, up again to go home.
		t += 2*up/c.opt.ClimbRate + 2*up/c.opt.DescentRate
	}
	return t, c.opt.Endurance * (1 - c.opt.Reserve), what
}

// BatteryUse is one drone plan's estimated flight time against its
// battery budget: the numbers the battery rule judges, given to the plan
// preview so an operator sees how close each drone is, not only which
// drones are over.
type BatteryUse struct {
	Drone      int     `json:"drone"`
	FlightS    float64 `json:"flight_s"`    // estimated flight time (climb, legs at cruise, descent)
	BudgetS    float64 `json:"budget_s"`    // endurance minus reserve
	EnduranceS float64 `json:"endurance_s"` // battery endurance at cruise
	Reserve    float64 `json:"reserve"`     // fraction kept in reserve
	Speed      float64 `json:"speed"`       // cruise speed the estimate assumes, m/s
	What       string  `json:"what"`        // what was counted ("the mission with 3 repeats", …)
	Over       bool    `json:"over"`        // FlightS > BudgetS: the battery rule fails
}

// Battery estimates each plan's flight time against the battery budget,
// with the same estimate as the battery rule (one owner of that estimate).
func (c *Checker) Battery(plans []*DronePlan) []BatteryUse {
	out := make([]BatteryUse, 0, len(plans))
	for _, dp := range plans {
		t, avail, what := c.flightTime(dp, dp.Legs())
		out = append(out, BatteryUse{Drone: dp.Drone, FlightS: t, BudgetS: avail, EnduranceS: c.opt.Endurance, Reserve: c.opt.Reserve, Speed: dp.speed(), What: what, Over: t > avail})
	}
	return out
}

// FromPlan wraps a plan that did not come from PlanArea (a .plan uploaded
// through the API, a .waypoints file) so Check can judge it. Without the
// planner's knowledge, legs that leave from or return to the home position
// count as transit (a launch pad beside the area is normal); every other
// leg must stay inside the area. The layer is the highest waypoint
// altitude.
func FromPlan(drone int, p *Plan) *DronePlan {
	dp := &DronePlan{Drone: drone, Plan: *p, Speed: p.CruiseSpeed}
	home := orb.Point{p.Home.Lon, p.Home.Lat}
	for _, it := range p.Mission {
		if it.Command == mavitem.CmdNavWaypoint || it.Command == mavitem.CmdNavTakeoff {
			dp.Alt = math.Max(dp.Alt, float64(it.Z))
		}
		if it.Command == mavitem.CmdDoJump && dp.JumpSeq == 0 {
			dp.JumpSeq, dp.LoopStart, dp.Repeat = it.Seq, uint16(it.Param1), int(it.Param2)
		}
	}
	legs := dp.Legs()
	for i, l := range legs {
		if i > 0 && (l.From == home || l.To == home || legs[i-1].ToSeq == legs[0].ToSeq) {
			dp.Transit = append(dp.Transit, l.ToSeq)
		}
	}
	return dp
}
