package scenario

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/burgut-uav/burgut/fleet/separation"
	"github.com/burgut-uav/burgut/internal/mavitem"
)

// launchClearBound is how long (simulated) a launched vehicle may take to
// get clear of the next one's home on a shared pad before the launch step
// gives up on the rest: a climb through the planner's separation at
// ArduCopter's 2.5 m/s takes seconds; a minute and a half means it never
// left.
const launchClearBound = 90 * time.Second

// enu is a point in metres east, north and up of a reference.
type enu [3]float64

// flatENU is where (lat, lon, alt) is from (lat0, lon0, alt0), in
// metres east, north and up: a flat earth, plenty over an event area.
// The one conversion of the runner's distances (the min_separation
// assertion's distance3D and the launch step's pad).
func flatENU(lat, lon, alt, lat0, lon0, alt0 float64) enu {
	const m = 111320.0
	return enu{(lon - lon0) * m * math.Cos((lat+lat0)/2*math.Pi/180), (lat - lat0) * m, alt - alt0}
}

func (a enu) dist(b enu) float64 {
	return math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
}

// sharePad says whether two homes are on one launch pad as the planner
// sees it: less than sep apart horizontally.
func sharePad(a, b enu, sep float64) bool {
	return math.Hypot(a[0]-b[0], a[1]-b[1]) < sep
}

// launchRounds splits the vehicles (by their index in homes) into rounds
// launched at once: in index order, a vehicle joins the first round with
// no other vehicle on its pad (sharePad) — so vehicles on pads of their
// own all launch in the first round, each round's climbs are apart, and
// two vehicles on one pad launch one after the other.
func launchRounds(homes []enu, sep float64) [][]int {
	var out [][]int
	for k := range homes {
		r := 0
		for ; r < len(out); r++ {
			if !slices.ContainsFunc(out[r], func(j int) bool { return sharePad(homes[j], homes[k], sep) }) {
				break
			}
		}
		if r == len(out) {
			out = append(out, nil)
		}
		out[r] = append(out[r], k)
	}
	return out
}

// launchOps is what sequenceLaunch needs of the world: the runner's
// station and simulator, a fake in the unit test.
type launchOps interface {
	// launch starts the vehicles ks at once; failed lists those that
	// did not start, with why.
	launch(ctx context.Context, ks []int) (failed map[int]error)
	// positions are every vehicle's positions now, as the station
	// reports them, in the frame of the homes.
	positions(ctx context.Context) ([]enu, error)
	// now is the simulated time.
	now() time.Duration
	// name names vehicle k in messages.
	name(k int) string
	// pause waits one poll interval.
	pause(ctx context.Context) error
	// atSpeedup runs f with the simulated world at the scenario's
	// speedup (a launch's API calls run at real time, see realTime).
	atSpeedup(f func() error) error
}

// launchRecord is one vehicle's launch: when, and how long the one
// before it on its pad took to get clear.
type launchRecord struct {
	k       int
	at      time.Duration
	waited  time.Duration // 0 for the first of its pad
	err     error         // the launch failed
	skipped bool          // never launched: the step gave up first
}

// climbDist is how far (3D) p is from the climb of a vehicle taking off
// from home to the altitude top (the frame's z; NaN when not known): the
// vertical segment from home up to top, or home alone when top is not
// known. A drone that stopped 30 m above a pad is 30 m from the home
// but in the climb of a neighbour taking off to 70 m: the marathon's
// second launch climbed through the first's altitude 6 m beside it
// (a separation warning, and a near miss had the first lingered).
func climbDist(p, home enu, top float64) float64 {
	z := home[2]
	if !math.IsNaN(top) && top > z {
		z = math.Max(home[2], math.Min(top, p[2]))
	}
	return p.dist(enu{home[0], home[1], z})
}

// sequenceLaunch launches the vehicles with homes as a crew launches
// from a shared pad: vehicles whose homes are within sep of each other
// (sharePad) one at a time, the next only once every vehicle launched
// before it from its pad is at least sep (3D) from its climb (climbDist:
// the column from its home up to its takeoff altitude tops[k], NaN when
// not known), so two drones never climb through each other's layers;
// vehicles on pads of their own together. Launches go in rounds (launchRounds),
// each once the one before is clear, and the waiting between rounds runs
// at the scenario's speedup. A vehicle still in the way bound (simulated) after
// the round started fails the step; the vehicles not launched are
// listed. A vehicle whose launch failed stays on the ground and is no
// obstacle to the others.
func sequenceLaunch(ctx context.Context, ops launchOps, homes []enu, tops []float64, sep float64, bound time.Duration) ([]launchRecord, error) {
	recs := make([]launchRecord, len(homes))
	for i := range recs {
		recs[i] = launchRecord{k: i, skipped: true}
	}
	for n, ks := range launchRounds(homes, sep) {
		if n > 0 {
			start := ops.now()
			err := ops.atSpeedup(func() error {
				for {
					pos, err := ops.positions(ctx)
					if err != nil {
						return err
					}
					stuck := inTheWay(recs, ks, homes, tops, pos, sep, ops.name)
					if stuck == "" {
						return nil
					}
					if ops.now()-start >= bound {
						return fmt.Errorf("still in the way after %v: %s (minimum %g m)", bound, stuck, sep)
					}
					if err := ops.pause(ctx); err != nil {
						return err
					}
				}
			})
			if err != nil {
				return recs, err
			}
			for _, k := range ks {
				recs[k].waited = ops.now() - start
			}
		}
		at := ops.now()
		failed := ops.launch(ctx, ks)
		for _, k := range ks {
			recs[k].at, recs[k].skipped, recs[k].err = at, false, failed[k]
		}
	}
	return recs, nil
}

// inTheWay names a vehicle launched from the pad of one of ks that is
// still closer than sep (3D) to its climb (climbDist), or is "" when
// there is none.
func inTheWay(recs []launchRecord, ks []int, homes []enu, tops []float64, pos []enu, sep float64, name func(int) string) string {
	for _, k := range ks {
		for j, x := range recs {
			if x.skipped || x.err != nil || !sharePad(homes[j], homes[k], sep) {
				continue
			}
			if d := climbDist(pos[j], homes[k], tops[k]); d < sep {
				if math.IsNaN(tops[k]) {
					return fmt.Sprintf("%s is %.1f m from the home of %s", name(j), d, name(k))
				}
				return fmt.Sprintf("%s is %.1f m from the climb of %s (from its home to %.0f m)", name(j), d, name(k), tops[k]-homes[k][2])
			}
		}
	}
	return ""
}

// stepLaunch is what `burgut run` does to start a patrol: GUIDED, arm,
// mission start, each vehicle on its own and all in parallel — but
// vehicles sharing a launch pad (homes within the pad clearance,
// separation.Config.PadClearance: the station's separation warning
// distance, as the operations scheduler and the console sequence their
// pads) one after the other (sequenceLaunch), as the planner leaves
// their climbs to be sequenced in time: launched at once, drones a few
// metres apart climb side by side and the station's separation monitor
// raises a critical conflict right after launch; sequenced at the
// planner's 10 m separation it still warned after each launch. The
// clearance is the station's own (padClearance): a station started with
// another --separation-warn warns at that distance.
// ArduCopter disarms a vehicle left armed on the ground for DISARM_DELAY
// (10 s): a busy machine can lose the race between arm and mission start
// (the vehicle refuses with "Disarming motors"). Like an operator, the
// step then arms and starts again, up to three times, and says how often
// it had to.
func (r *runner) stepLaunch(ctx context.Context, sel VehicleSel, trig int) (string, error) {
	vs, err := r.targets(sel, trig)
	if err != nil {
		return "", err
	}
	ops := &runnerLaunch{r: r, vs: vs, retries: make([]int, len(vs))}
	homes, err := ops.homes(ctx)
	if err != nil {
		return "", err
	}
	pad, note, err := r.padClearance(ctx)
	if err != nil {
		return "", err
	}
	tops := ops.takeoffTops(ctx, homes, pad)
	recs, err := sequenceLaunch(ctx, ops, homes, tops, pad, launchClearBound)
	var bad, skipped []string
	retries := 0
	for _, x := range recs {
		retries += ops.retries[x.k]
		switch {
		case x.skipped:
			skipped = append(skipped, r.vnameIdx(vs[x.k]))
		case x.err != nil:
			bad = append(bad, r.vnameIdx(vs[x.k])+": "+x.err.Error())
		}
	}
	order := launchOrder(r, vs, recs)
	if err != nil {
		return "", fmt.Errorf("launch stopped: %w; not launched: %s (launched: %s)", err, strings.Join(skipped, ", "), order)
	}
	if len(bad) > 0 {
		return "", fmt.Errorf("launch failed on %d of %d vehicles: %s", len(bad), len(vs), strings.Join(bad, "; "))
	}
	text := fmt.Sprintf("%d vehicles launched (GUIDED, armed, mission started): %s", len(vs), order)
	if retries > 0 {
		text += fmt.Sprintf("; %d re-armed after disarming on the ground before the mission started", retries)
	}
	return text + note, nil
}

// padClearance is the distance (3D) vehicles sharing a launch pad are
// sequenced at: the station's (GET /api/v1/separation, its
// --separation-warn), read at each launch step so a station given by URL
// is followed too. A station too old to publish it (404) gets the
// default, and the step's text says so.
func (r *runner) padClearance(ctx context.Context) (pad float64, note string, err error) {
	var st struct {
		Pad *float64 `json:"pad_clearance_m"`
	}
	err = r.st.do(ctx, "GET", "/api/v1/separation", nil, &st)
	var ae *apiError
	switch {
	case errors.As(err, &ae) && ae.Status == 404:
		d := separation.DefaultConfig().PadClearance()
		return d, fmt.Sprintf("; the station does not publish its separation settings (GET /api/v1/separation: 404), pads sequenced at the default %g m", d), nil
	case err != nil:
		return 0, "", fmt.Errorf("launch: read the station's pad clearance: %w", err)
	case st.Pad == nil:
		return 0, "", errors.New("launch: the station's GET /api/v1/separation has no pad_clearance_m")
	case !(*st.Pad > 0) || math.IsInf(*st.Pad, 0):
		return 0, "", fmt.Errorf("launch: the station's pad clearance (GET /api/v1/separation pad_clearance_m) is %v, want a positive distance", *st.Pad)
	}
	return *st.Pad, "", nil
}

// launchOrder says who was launched when, and for a vehicle on a shared
// pad how long it waited for the one before it to get clear.
func launchOrder(r *runner, vs []int, recs []launchRecord) string {
	var done []launchRecord
	for _, x := range recs {
		if !x.skipped {
			done = append(done, x)
		}
	}
	slices.SortStableFunc(done, func(a, b launchRecord) int { return int(a.at - b.at) })
	var parts []string
	for _, x := range done {
		s := fmt.Sprintf("%s at %s", r.ids[vs[x.k]], clock(x.at))
		if x.waited > 0 {
			s += fmt.Sprintf(" (after %.0f s for its pad to clear)", x.waited.Seconds())
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// runnerLaunch is sequenceLaunch's world in a run: the station's API and
// the simulator's clock. ks index vs.
type runnerLaunch struct {
	r       *runner
	vs      []int
	ref     struct{ lat, lon, alt float64 }
	retries []int
}

// homes reads the vehicles' homes from the station, in metres from the
// first one's.
func (o *runnerLaunch) homes(ctx context.Context) ([]enu, error) {
	byID, err := o.states(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(o.vs))
	for k, v := range o.vs {
		ids[k] = o.r.ids[v]
	}
	out, err := padHomes(ids, byID, o.name)
	if err == nil && len(out) > 0 {
		h := byID[ids[0]].Home
		o.ref.lat, o.ref.lon, o.ref.alt = h.Lat, h.Lon, h.AltMSL
	}
	return out, err
}

// padHomes are the homes of the vehicles ids (as the station reports
// them, byID) in metres from the first one's. A vehicle without a known
// home cannot be sequenced on its pad — launched in the first round it
// would climb beside a neighbour it does not know of — so the step
// refuses before launching anything, naming every such vehicle (name(k)
// names ids[k]).
func padHomes(ids []string, byID map[string]vstate, name func(int) string) ([]enu, error) {
	var missing []string
	for k, id := range ids {
		if s, ok := byID[id]; !ok || s.Home == nil {
			missing = append(missing, name(k))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("launch: the station reports no home for %s (where a vehicle armed is what sequences a shared launch pad); nothing was launched", strings.Join(missing, ", "))
	}
	out := make([]enu, len(ids))
	ref := byID[ids[0]].Home
	for k, id := range ids {
		h := byID[id].Home
		out[k] = flatENU(h.Lat, h.Lon, h.AltMSL, ref.Lat, ref.Lon, ref.AltMSL)
	}
	return out, nil
}

// takeoffTops are the altitudes (in the frame of homes) the vehicles
// take off to: their missions' first NAV_TAKEOFF, read from the station
// (its copy of what it uploaded). Only vehicles sharing a pad with
// another need it; a mission that cannot be read or has no takeoff
// leaves NaN (the home alone is kept clear, as before): its launch then
// fails on the vehicle's refusal, not here.
func (o *runnerLaunch) takeoffTops(ctx context.Context, homes []enu, sep float64) []float64 {
	tops := make([]float64, len(homes))
	for k := range tops {
		tops[k] = math.NaN()
		shared := false
		for j := range homes {
			shared = shared || j != k && sharePad(homes[j], homes[k], sep)
		}
		if !shared {
			continue
		}
		var list struct {
			Items []struct {
				Command uint16  `json:"command"`
				Frame   uint8   `json:"frame"`
				Z       float64 `json:"z"`
			} `json:"items"`
		}
		if err := o.r.st.do(ctx, "GET", "/api/v1/vehicles/"+url.PathEscape(o.r.ids[o.vs[k]])+"/mission", nil, &list); err != nil {
			continue
		}
		for _, it := range list.Items {
			if it.Command != mavitem.CmdNavTakeoff {
				continue
			}
			switch it.Frame {
			case mavitem.FrameGlobalRelativeAlt, mavitem.FrameGlobalRelAltInt:
				tops[k] = homes[k][2] + it.Z
			case mavitem.FrameGlobal, mavitem.FrameGlobalInt:
				tops[k] = it.Z - o.ref.alt
			}
			break
		}
	}
	return tops
}

func (o *runnerLaunch) states(ctx context.Context) (map[string]vstate, error) {
	var vs []vstate
	if err := o.r.st.do(ctx, "GET", "/api/v1/vehicles", nil, &vs); err != nil {
		return nil, fmt.Errorf("launch: read the vehicles: %w", err)
	}
	byID := make(map[string]vstate, len(vs))
	for _, v := range vs {
		byID[v.ID] = v
	}
	return byID, nil
}

func (o *runnerLaunch) enu(lat, lon, alt float64) enu {
	return flatENU(lat, lon, alt, o.ref.lat, o.ref.lon, o.ref.alt)
}

func (o *runnerLaunch) positions(ctx context.Context) ([]enu, error) {
	byID, err := o.states(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]enu, len(o.vs))
	for k, v := range o.vs {
		s, ok := byID[o.r.ids[v]]
		if !ok {
			return nil, fmt.Errorf("launch: the station no longer lists %s", o.r.vnameIdx(v))
		}
		// Height from the vehicle's own home and relative altitude, not its
		// GPS altitude: the two MSL figures a vehicle reports can disagree
		// by tens of metres (the console's launch saw 39 m on the pad,
		// web/src/lib/commands.js), which would make a drone still on the
		// pad look clear of the next one's home.
		alt := s.AltMSL
		if s.Home != nil {
			alt = s.Home.AltMSL + s.RelAlt
		}
		out[k] = o.enu(s.Lat, s.Lon, alt)
	}
	return out, nil
}

func (o *runnerLaunch) now() time.Duration { return o.r.clockNow() }

func (o *runnerLaunch) name(k int) string { return o.r.vnameIdx(o.vs[k]) }

func (o *runnerLaunch) pause(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-waitTick():
		return nil
	}
}

func (o *runnerLaunch) atSpeedup(f func() error) error { return o.r.atSpeedup(f) }

func (o *runnerLaunch) launch(ctx context.Context, ks []int) map[int]error {
	failed := map[int]error{}
	var mu sync.Mutex
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, k := range ks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			tries, err := o.r.launchOne(ctx, o.r.ids[o.vs[k]])
			mu.Lock()
			defer mu.Unlock()
			o.retries[k] = tries
			if err != nil {
				failed[k] = err
			}
		}()
	}
	wg.Wait()
	return failed
}

// launchOne is GUIDED, arm, mission start for one vehicle, arming again
// (up to three times) when it disarmed on the ground in between; it says
// how many times it had to.
func (r *runner) launchOne(ctx context.Context, id string) (int, error) {
	base := "/api/v1/vehicles/" + url.PathEscape(id) + "/commands/"
	if err := r.st.do(ctx, "POST", base+"mode", map[string]any{"mode": "GUIDED"}, nil); err != nil {
		return 0, fmt.Errorf("mode GUIDED: %w", err)
	}
	for try := 0; ; try++ {
		err := r.st.do(ctx, "POST", base+"arm", map[string]any{}, nil)
		if err == nil {
			err = r.st.do(ctx, "POST", base+"mission_start", map[string]any{}, nil)
			if err == nil {
				return try, nil
			}
			err = fmt.Errorf("mission_start: %w", err)
		} else {
			err = fmt.Errorf("arm: %w", err)
		}
		var ae *apiError
		if try == 2 || !errors.As(err, &ae) || ae.Status != 422 {
			return try, err
		}
	}
}
