package app

import (
	"math"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/missions/operations"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// truthRecorder keeps where the in-process simulator really had every
// drone, stamped with the simulated clock of the drone's own model: the
// ground truth a safety verdict is about. The station's view of the same
// flight (the monitor's latest states, the stored samples) is stamped with
// the wall time the station received each state, and at a speedup of 60
// a receive delay of 50 ms under load is 3 s of flight (30 m at 10 m/s):
// two drones can look close together there that never were.
type truthRecorder struct {
	mu     sync.Mutex
	tracks map[string][]apPoint // by fleet vehicle ID; t in simulated seconds until align, then on the operation clock
	// clock pairs the simulated time of the first vehicle with the wall
	// time it was read at, to put the truth on the operation clock (align).
	clockSim  []float64
	clockWall []time.Time
	// maxGapS is the longest simulated time between two consecutive
	// airborne samples of one drone (the truth is joined linearly across
	// it), maxSkewS the largest difference between two drones' simulated
	// clocks read in the same round (the simulator steps its vehicles in
	// shards, each on its own clock).
	maxGapS, maxSkewS float64
	// ahead[i] is, for every round, how far vehicle i's clock was ahead
	// of vehicle 0's: its median (clockSpread) is the lasting difference
	// between the simulator's shards — a shard that missed more than 10
	// ticks falls behind for good — beside the tick's phase.
	ahead   [][]float64
	rounds  int
	offsetS float64 // simulated seconds less operation seconds (align)
}

// recordTruth samples every simulated drone's true position, its model's
// own clock and whether it is airborne (armed and more than 1 m above its
// home, as the stored-track check counts it) every `every` of wall time
// until stop is called. The vehicles are matched to the fleet's IDs by
// their UID, so the fleet must know them all (opsFleet waits for that).
func recordTruth(t *testing.T, a *App, every time.Duration) (r *truthRecorder, stop func()) {
	t.Helper()
	ids := make([]string, a.Sim.Len())
	for i := range ids {
		uid := a.Sim.Vehicle(i).UID()
		for _, v := range a.Fleet.List() {
			if v.UID == uid {
				ids[i] = v.ID
			}
		}
		if ids[i] == "" {
			t.Fatalf("simulated vehicle %d (uid %x) is not in the fleet", i, uid)
		}
	}
	xy := opsFrame()
	r = &truthRecorder{tracks: map[string][]apPoint{}, ahead: make([][]float64, len(ids))}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tk := time.NewTicker(every)
		defer tk.Stop()
		seg := make([]int, len(ids))
		prev := make([]float64, len(ids))
		for i := range prev {
			prev[i] = math.NaN()
		}
		for {
			select {
			case <-done:
				return
			case <-tk.C:
			}
			r.mu.Lock()
			lo, hi, first := math.Inf(1), math.Inf(-1), 0.0
			for i, id := range ids {
				var s vehicle.State
				var now time.Duration
				a.Sim.Vehicle(i).Do(func(v *vehicle.Vehicle) { s, now = v.State(), v.Now() })
				ts := now.Seconds()
				lo, hi = min(lo, ts), max(hi, ts)
				if i == 0 {
					r.clockSim, r.clockWall, first = append(r.clockSim, ts), append(r.clockWall, time.Now()), ts
				}
				r.ahead[i] = append(r.ahead[i], ts-first)
				if !s.Armed || s.RelAlt <= 1 {
					if !math.IsNaN(prev[i]) {
						seg[i]++
					}
					prev[i] = math.NaN()
					continue
				}
				if !math.IsNaN(prev[i]) {
					if ts == prev[i] {
						continue // not stepped since the last round
					}
					r.maxGapS = max(r.maxGapS, ts-prev[i])
				}
				prev[i] = ts
				x, y := xy(s.Lat, s.Lon)
				r.tracks[id] = append(r.tracks[id], apPoint{t: ts, x: x, y: y, z: s.AltMSL, seg: seg[i]})
			}
			r.maxSkewS = max(r.maxSkewS, hi-lo)
			r.rounds++
			r.mu.Unlock()
		}
	}()
	return r, func() { close(done); <-finished }
}

// align puts the truth on op's clock (seconds since op.Created, as the
// stored tracks are): the simulated clock and the operation clock both
// run at the time scale from the wall clock less the simulator's lag
// (App.operationsLag), so they differ by a constant, taken as the median
// over every round of the first vehicle's clock less the operation time
// of the wall time it was read at.
func (r *truthRecorder) align(a *App, op *operations.Operation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	offs := make([]float64, len(r.clockSim))
	for i, w := range r.clockWall {
		offs[i] = r.clockSim[i] - opsWall(a, w).Sub(op.Created).Seconds()*op.TimeScale
	}
	slices.Sort(offs)
	if len(offs) > 0 {
		r.offsetS = offs[len(offs)/2]
	}
	for id, tr := range r.tracks {
		for i := range tr {
			tr[i].t -= r.offsetS
		}
		r.tracks[id] = tr
	}
}

// clockSpread is the largest difference between the median clock
// differences of two drones (ahead): how far apart the simulator's shards
// ran, lastingly, so how far "the same simulated time" of two drones may
// be from the same wall time.
func (r *truthRecorder) clockSpread() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	lo, hi := 0.0, 0.0
	for _, d := range r.ahead {
		if len(d) == 0 {
			continue
		}
		d = slices.Clone(d)
		slices.Sort(d)
		lo, hi = min(lo, d[len(d)/2]), max(hi, d[len(d)/2])
	}
	return hi - lo
}

// errorOf is how far (metres, horizontally and vertically) a sample p of
// drone id, on the operation clock, is from where the drone really was
// then: +Inf when the truth has the drone on the ground or unsampled then
// (nothing bounds the sample's error).
func (r *truthRecorder) errorOf(id string, p apPoint) (h, v float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q, ok := trackAt(r.tracks[id], p.t)
	if !ok {
		return math.Inf(1), math.Inf(1)
	}
	return math.Hypot(p.x-q.x, p.y-q.y), math.Abs(p.z - q.z)
}

// snapshot is a copy of the truth's tracks.
func (r *truthRecorder) snapshot() map[string][]apPoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string][]apPoint, len(r.tracks))
	for id, tr := range r.tracks {
		out[id] = slices.Clone(tr)
	}
	return out
}

// errorStats summarises the horizontal errors (errH) of tracks' samples: the median, the
// 99th percentile and the largest finite one, and how many were +Inf.
func errorStats(tracks map[string][]apPoint) (p50, p99, maxM float64, unknown int) {
	var es []float64
	for _, tr := range tracks {
		for _, p := range tr {
			if math.IsInf(p.errH, 1) {
				unknown++
				continue
			}
			es = append(es, p.errH)
		}
	}
	if len(es) == 0 {
		return 0, 0, 0, unknown
	}
	sort.Float64s(es)
	return es[len(es)/2], es[len(es)*99/100], es[len(es)-1], unknown
}
