// Package separation predicts conflicts between the station's own airborne
// drones and turns them into episodes: a pair predicted to come closer
// than Warn horizontally and WarnVertical vertically at once over the next
// Horizon raises one warning, than Critical and CriticalVertical one
// critical, and the episode ends (one "cleared") only once the pair stays
// outside the warning minima grown by ClearFactor (Warn×ClearFactor
// horizontally or WarnVertical×ClearFactor vertically at every moment).
// The gap is the hysteresis that keeps a pair flying along the threshold
// from flapping.
//
// The package is pure: tracks in, changes out, no clock, no goroutines. The
// app feeds it the fleet's state once per tick and acts on the changes
// (app/separation.go).
//
// Separation is a horizontal AND a vertical minimum, as in aviation and
// UTM practice and as the mission planner plans it (missions: a
// horizontal separation and a vertical layer step; two legs conflict only
// where both are lost at once): a pair conflicts when, at one moment of
// the horizon, it is closer than Warn horizontally and closer than
// WarnVertical vertically at the same time — a cylinder, not a sphere.
// With a 3D sphere of 30 m every crossing of two drones on adjacent
// planned layers (10 m apart) warned, although the planner had approved
// it: nuisance alerts that teach operators to ignore the real ones.
//
// Prediction is linear extrapolation of position and velocity in a local
// east/north/up frame. One exception, because copters do not climb for
// ever: a drone whose target altitude is known (Track.TargetZ — the
// altitude of the mission item it flies to) and that climbs or descends
// towards it levels off there, so its vertical extrapolation stops at
// that altitude. Without it, a drone climbing at 2.5 m/s after takeoff
// was projected 50 m up over a 20 s horizon, into a drone hovering above
// its pad at a higher layer it never reaches. Horizontal motion is still
// extrapolated as it is: a drone turning at its waypoint is caught within
// a tick or two of the turn. The relative motion is so piecewise linear
// (at most three pieces), and on each piece the conflict measure
// max(horizontal/H, vertical/V) is the maximum of two convex functions of
// time: its least value is at one of a few closed-form candidate times
// (Approach).
//
// Candidate pairs come from an R-tree (github.com/tidwall/rtree, already
// used by the planner) over each drone's horizontal swept box — its
// position now and at the horizon, grown by half the clear distance — so
// only pairs whose boxes overlap are checked exactly: O(n log n) per tick
// instead of n²/2 (2,000 drones are 2 million pairs). An R-tree rather
// than a uniform grid because the swept boxes vary from a few metres (a
// hovering drone) to hundreds (a 15 m/s transit over 30 s): a grid needs
// one cell size, and any fixed choice either puts fast drones in many
// cells or hovering drones many to a cell.
package separation

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/tidwall/rtree"

	"github.com/burgut-uav/burgut/internal/sepmin"
)

// Config sets the thresholds. Distances are metres.
type Config struct {
	// Warn and Critical are the horizontal predicted miss distances
	// under which a pair raises a warning and a critical conflict — when
	// at the same moment it is also closer than WarnVertical
	// (CriticalVertical) vertically.
	Warn     float64
	Critical float64
	// WarnVertical and CriticalVertical are the vertical minima.
	WarnVertical     float64
	CriticalVertical float64
	// Horizon is how far ahead closest approach is predicted.
	Horizon time.Duration
	// ClearFactor times Warn is the predicted miss distance above which
	// an episode ends (hysteresis; > 1).
	ClearFactor float64
}

// DefaultConfig is the one source of the defaults of the station's flags.
// The distances are internal/sepmin's, which the planner's separation
// rule keeps too (see there for why these numbers); 20 s ahead gives a
// pilot (or the brake action) time to act at multirotor speeds. A drone
// climbing or descending through another's layer (takeoff, landing, RTL)
// is inside 8 m vertically for the seconds it takes and warns if it is
// horizontally within 30 m then.
func DefaultConfig() Config {
	return Config{Warn: sepmin.WarnHorizontal, Critical: sepmin.CriticalHorizontal, WarnVertical: sepmin.WarnVertical, CriticalVertical: sepmin.CriticalVertical,
		Horizon: 20 * time.Second, ClearFactor: 1.25}
}

// PadClearance is the distance (metres, 3D, not the monitor's cylinder) takeoffs and landings on a
// shared launch pad are sequenced at — the operations scheduler's, the
// scenario runner's launch step's and the console's group launch: the
// warning distance, so that drones sequenced at it raise no separation
// event. (Sequenced at the planner's 10 m separation they kept clear of
// the critical distance but warned after every launch.) The console's
// copy (web/src/lib/commands.js, PAD_SEPARATION_M) is checked against
// the default by a test.
func (c Config) PadClearance() float64 { return c.Warn }

// Validate names the setting at fault.
func (c Config) Validate() error {
	switch {
	case !(c.Critical > 0) || c.Critical > 10000:
		return fmt.Errorf("separation-critical %v: must be in (0, 10000] m", c.Critical)
	case !(c.Warn >= c.Critical) || c.Warn > 10000:
		return fmt.Errorf("separation-warn %v: must be at least separation-critical (%v) and at most 10000 m", c.Warn, c.Critical)
	case !(c.CriticalVertical > 0) || c.CriticalVertical > 10000:
		return fmt.Errorf("separation-critical-vertical %v: must be in (0, 10000] m", c.CriticalVertical)
	case !(c.WarnVertical >= c.CriticalVertical) || c.WarnVertical > 10000:
		return fmt.Errorf("separation-warn-vertical %v: must be at least separation-critical-vertical (%v) and at most 10000 m", c.WarnVertical, c.CriticalVertical)
	case c.Horizon <= 0 || c.Horizon > 10*time.Minute:
		return fmt.Errorf("separation-horizon %v: must be in (0, 10m]", c.Horizon)
	case !(c.ClearFactor >= 1) || c.ClearFactor > 10:
		return fmt.Errorf("separation clear factor %v: must be in [1, 10]", c.ClearFactor)
	}
	return nil
}

// Track is one airborne drone in a local east/north/up frame, metres and
// metres per second.
type Track struct {
	ID         string
	X, Y, Z    float64
	VX, VY, VZ float64
	// TargetZ is the altitude (same reference as Z) the drone is known to
	// be flying to, when HasTargetZ: it levels off there (levelOff).
	TargetZ    float64
	HasTargetZ bool
	// Patrol is true while the drone flies its patrol (AUTO mission); a
	// drone not on patrol (in transit, guided, returning) yields to it.
	Patrol bool
}

// levelOff is when (seconds from now) the track's vertical motion stops:
// when it reaches its target altitude climbing or descending towards it,
// else never (+Inf). A drone moving away from its target (overshooting
// it, or a target that is stale) is extrapolated as it moves — the
// prediction is only ever shortened by an intent the drone's own motion
// agrees with.
func (t *Track) levelOff() float64 {
	if !t.HasTargetZ {
		return math.Inf(1)
	}
	dz := t.TargetZ - t.Z
	switch {
	case t.VZ > 0 && dz >= 0, t.VZ < 0 && dz <= 0:
		return dz / t.VZ
	}
	return math.Inf(1)
}

// ClosestApproach returns when (seconds from now, in [0, horizon]) and at
// what 3D distance two tracks are closest if both keep their velocity —
// but for vertical motion, which stops where a track levels off
// (TargetZ). The relative motion is then linear between the level-off
// times, so the closest approach is the least of at most three linear
// pieces'. The monitor judges pairs with Approach (the cylinder); this is
// the plain distance, for callers that want it.
func ClosestApproach(a, b Track, horizon float64) (tca, dist float64) {
	ps, n := relPieces(&a, &b, horizon)
	dist = math.Inf(1)
	for _, p := range ps[:n] {
		t, d := closestLinear(p.dx, p.dy, p.dz, p.wx, p.wy, p.wz, p.dur)
		if d < dist {
			tca, dist = p.s0+t, d
		}
	}
	return tca, dist
}

// piece is one stretch [s0, s0+dur] of the pair's relative motion that is
// linear: relative position d at s0, relative velocity w.
type piece struct {
	s0, dur    float64
	dx, dy, dz float64
	wx, wy, wz float64
}

// relPieces splits the horizon at the tracks' level-off times.
func relPieces(a, b *Track, horizon float64) (ps [3]piece, n int) {
	la, lb := a.levelOff(), b.levelOff()
	if la >= horizon && lb >= horizon { // the common case: one piece
		ps[0] = piece{0, horizon, b.X - a.X, b.Y - a.Y, b.Z - a.Z, b.VX - a.VX, b.VY - a.VY, b.VZ - a.VZ}
		return ps, 1
	}
	cuts := [4]float64{0, min(la, lb, horizon), min(max(la, lb), horizon), horizon}
	for i := range 3 {
		s0, s1 := cuts[i], cuts[i+1]
		if i > 0 && s1 <= s0 {
			continue
		}
		// Vertical speed and altitude of each track at s0.
		vza, vzb := a.VZ, b.VZ
		za, zb := a.Z+a.VZ*min(s0, la), b.Z+b.VZ*min(s0, lb)
		if s0 >= la {
			vza = 0
		}
		if s0 >= lb {
			vzb = 0
		}
		ps[n] = piece{s0, s1 - s0, b.X - a.X + (b.VX-a.VX)*s0, b.Y - a.Y + (b.VY-a.VY)*s0, zb - za,
			b.VX - a.VX, b.VY - a.VY, vzb - vza}
		n++
	}
	return ps, n
}

// Predicted is a pair's predicted closest approach in the cylinder
// measure: at TCA (seconds from now) the pair is Horizontal metres apart
// horizontally and Vertical vertically (Distance in 3D), and Ratio is
// max(Horizontal/H, Vertical/V) there, the least over the horizon: under
// 1 the pair loses both minima at once.
type Predicted struct {
	TCA, Ratio, Horizontal, Vertical, Distance float64
}

// Approach finds the moment over [0, horizon] where the pair is nearest
// to losing both the horizontal minimum h and the vertical minimum v:
// the least of max(horizontal/h, vertical/v). On each linear piece that
// is the maximum of two convex functions of time, so its least value is
// at the least of either alone (when that one is the larger there), where
// the two are equal, or at an end of the piece: Approach evaluates those
// few candidates, exactly. Ties (a pair level within the vertical minimum
// for a while) go to the smallest 3D distance.
func Approach(a, b Track, horizon, h, v float64) Predicted {
	ps, n := relPieces(&a, &b, horizon)
	best := Predicted{Ratio: math.Inf(1), Distance: math.Inf(1)}
	for _, p := range ps[:n] {
		approachLinear(&p, h, v, &best)
	}
	return best
}

// approachLinear updates best with the candidates of one linear piece.
func approachLinear(p *piece, h, v float64, best *Predicted) {
	try := func(t float64) {
		if !(t >= 0) { // also NaN
			t = 0
		}
		t = min(t, p.dur)
		x, y, z := p.dx+p.wx*t, p.dy+p.wy*t, p.dz+p.wz*t
		dh, dv := math.Hypot(x, y), math.Abs(z)
		r := max(dh/h, dv/v)
		d := math.Sqrt(dh*dh + dv*dv)
		if r < best.Ratio-1e-12 || r <= best.Ratio+1e-12 && d < best.Distance {
			*best = Predicted{TCA: p.s0 + t, Ratio: r, Horizontal: dh, Vertical: dv, Distance: d}
		}
	}
	try(0)
	try(p.dur)
	wh2 := p.wx*p.wx + p.wy*p.wy
	if wh2 > 1e-12 {
		try(-(p.dx*p.wx + p.dy*p.wy) / wh2)
	}
	if math.Abs(p.wz) > 1e-12 {
		try(-p.dz / p.wz)
	}
	// Where horizontal/h = vertical/v: the roots of
	// |d_h + w_h t|²/h² − (dz + wz t)²/v² = 0.
	h2, v2 := h*h, v*v
	qa := wh2/h2 - p.wz*p.wz/v2
	qb := 2*(p.dx*p.wx+p.dy*p.wy)/h2 - 2*p.dz*p.wz/v2
	qc := (p.dx*p.dx+p.dy*p.dy)/h2 - p.dz*p.dz/v2
	switch {
	case math.Abs(qa) > 1e-12:
		if disc := qb*qb - 4*qa*qc; disc >= 0 {
			sq := math.Sqrt(disc)
			try((-qb - sq) / (2 * qa))
			try((-qb + sq) / (2 * qa))
		}
	case math.Abs(qb) > 1e-12:
		try(-qc / qb)
	}
}

// closestLinear is the closest approach over [0, horizon] of a relative
// position d moving at relative velocity w.
func closestLinear(dx, dy, dz, wx, wy, wz, horizon float64) (tca, dist float64) {
	w2 := wx*wx + wy*wy + wz*wz
	if w2 > 1e-12 {
		tca = -(dx*wx + dy*wy + dz*wz) / w2
		tca = math.Max(0, math.Min(horizon, tca))
	}
	x, y, z := dx+wx*tca, dy+wy*tca, dz+wz*tca
	return tca, math.Sqrt(x*x + y*y + z*z)
}

// Level is a pair's state in its episode.
type Level int

// Levels, from none to critical.
const (
	None Level = iota
	Warning
	Critical
)

func (l Level) String() string {
	switch l {
	case Warning:
		return "warning"
	case Critical:
		return "critical"
	}
	return "none"
}

// Change is one thing that happened to a pair this step: Level Warning or
// Critical when it was raised (or escalated), None when the episode
// ended. A and B are ordered (A < B); Yield is the one that should give
// way (A or B).
type Change struct {
	A, B  string
	Level Level
	// Previous is the level before this change.
	Previous Level
	// DistanceM is the predicted miss distance (3D), HorizontalM and
	// VerticalM its horizontal and vertical parts, TCA the seconds until
	// that closest approach (in the cylinder measure, Approach) and NowM
	// the distance now (3D). For a cleared pair whose drone is no longer
	// tracked (landed, lost) they are NaN.
	DistanceM, TCA, NowM   float64
	HorizontalM, VerticalM float64
	Yield                  string
}

type pair struct{ a, b string }

// episode is an active pair's level and the drone named to yield when it
// was raised (kept so the cleared change names the same one).
type episode struct {
	level Level
	yield string
}

// Monitor keeps the episodes between steps. It is not safe for concurrent
// use; one owner steps it.
type Monitor struct {
	cfg    Config
	active map[pair]episode
	tree   rtree.RTreeG[int32]
	seen   map[pair]struct{}
	// Checked counts exact closest-approach computations of the last
	// step (the candidate pairs the index returned).
	Checked int
}

// New returns a monitor; cfg must be valid.
func New(cfg Config) *Monitor {
	return &Monitor{cfg: cfg, active: make(map[pair]episode), seen: make(map[pair]struct{})}
}

// Active returns the pairs in an episode and their level, ordered.
func (m *Monitor) Active() []Change {
	out := make([]Change, 0, len(m.active))
	for p, e := range m.active {
		out = append(out, Change{A: p.a, B: p.b, Level: e.level, Yield: e.yield})
	}
	slices.SortFunc(out, func(x, y Change) int { return cmp.Or(cmp.Compare(x.A, y.A), cmp.Compare(x.B, y.B)) })
	return out
}

// Step checks every pair of tracks (each ID at most once) and returns the
// changes, ordered by pair: new and escalated episodes, and episodes that
// ended because the pair separated or one of its drones is no longer
// among the tracks.
func (m *Monitor) Step(tracks []Track) []Change {
	h := m.cfg.Horizon.Seconds()
	clear := m.cfg.Warn * m.cfg.ClearFactor
	r := clear / 2
	m.tree.Clear()
	for i, t := range tracks {
		ex, ey := t.X+t.VX*h, t.Y+t.VY*h
		m.tree.Insert([2]float64{math.Min(t.X, ex) - r, math.Min(t.Y, ey) - r},
			[2]float64{math.Max(t.X, ex) + r, math.Max(t.Y, ey) + r}, int32(i))
	}
	var out []Change
	clearSeen(m.seen)
	m.Checked = 0
	for i := range tracks {
		a := &tracks[i]
		ex, ey := a.X+a.VX*h, a.Y+a.VY*h
		m.tree.Search([2]float64{math.Min(a.X, ex) - r, math.Min(a.Y, ey) - r},
			[2]float64{math.Max(a.X, ex) + r, math.Max(a.Y, ey) + r}, func(_, _ [2]float64, j int32) bool {
				if int(j) <= i {
					return true
				}
				b := &tracks[j]
				m.Checked++
				if c, ok := m.judge(a, b, h); ok {
					out = append(out, c)
				}
				return true
			})
	}
	// Episodes whose pair the index did not return are separated beyond
	// the clear distance (their swept boxes no longer overlap) or lost a
	// drone: they end.
	for p, e := range m.active {
		if _, ok := m.seen[p]; ok {
			continue
		}
		delete(m.active, p)
		out = append(out, Change{A: p.a, B: p.b, Level: None, Previous: e.level, Yield: e.yield,
			DistanceM: math.NaN(), TCA: math.NaN(), NowM: math.NaN(), HorizontalM: math.NaN(), VerticalM: math.NaN()})
	}
	slices.SortFunc(out, func(x, y Change) int { return cmp.Or(cmp.Compare(x.A, y.A), cmp.Compare(x.B, y.B)) })
	return out
}

func clearSeen(s map[pair]struct{}) {
	for k := range s {
		delete(s, k)
	}
}

// judge predicts one candidate pair's closest approach over the horizon
// and applies the hysteresis. The critical measure is computed only for
// pairs inside the warning cylinder (Validate keeps the critical one
// inside it), the rare case.
func (m *Monitor) judge(a, b *Track, horizon float64) (Change, bool) {
	if b.ID < a.ID {
		a, b = b, a
	}
	c := &m.cfg
	p := pair{a.ID, b.ID}
	ep, inEpisode := m.active[p]
	// Most candidates the index returns never come within the clear
	// distance horizontally (their swept boxes merely overlap), and the
	// horizontal motion is one linear piece: those without an episode
	// are done without the piecewise cylinder search.
	if !inEpisode {
		dx, dy, wx, wy := b.X-a.X, b.Y-a.Y, b.VX-a.VX, b.VY-a.VY
		t := 0.0
		if w2 := wx*wx + wy*wy; w2 > 1e-12 {
			t = max(0, min(horizon, -(dx*wx+dy*wy)/w2))
		}
		if math.Hypot(dx+wx*t, dy+wy*t) > c.Warn*c.ClearFactor {
			return Change{}, false
		}
	}
	pr := Approach(*a, *b, horizon, c.Warn, c.WarnVertical)
	prev := ep.level
	next := prev
	switch {
	case pr.Ratio < 1:
		if cr := Approach(*a, *b, horizon, c.Critical, c.CriticalVertical); cr.Ratio < 1 {
			next, pr = Critical, cr
		} else {
			next = max(prev, Warning) // no de-escalation within an episode
		}
	case pr.Ratio > c.ClearFactor:
		next = None
	}
	if next != None {
		m.seen[p] = struct{}{}
	}
	if next == prev || next < prev && next != None {
		return Change{}, false
	}
	if prev == None {
		ep.yield = Yielder(*a, *b)
	}
	if next == None {
		delete(m.active, p)
	} else {
		m.active[p] = episode{next, ep.yield}
	}
	dx, dy, dz := b.X-a.X, b.Y-a.Y, b.Z-a.Z
	return Change{A: a.ID, B: b.ID, Level: next, Previous: prev, DistanceM: pr.Distance, TCA: pr.TCA,
		HorizontalM: pr.Horizontal, VerticalM: pr.Vertical,
		NowM: math.Sqrt(dx*dx + dy*dy + dz*dz), Yield: ep.yield}, true
}

// Yielder names the drone that gives way: the one not on patrol yields
// to the one on patrol; otherwise the higher vehicle ID.
func Yielder(a, b Track) string {
	if a.Patrol != b.Patrol {
		if a.Patrol {
			return b.ID
		}
		return a.ID
	}
	return max(a.ID, b.ID)
}
