package groundstation

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ClockRate is how fast the connected vehicles' boot clocks run against the
// station's clock: the (lower) median, over the vehicles measured so far, of the
// boot-clock seconds each counted per station second over its last
// 10-second window; vehicles is how many were measured (0: rate is 0,
// nothing known yet). Real autopilots read about 1; a `burgut sitl` at
// --speedup 20 reads about 20, less while it lags. The median keeps one
// vehicle with a drifting or restarted clock from moving it.
func (s *Station) ClockRate() (rate float64, vehicles int) {
	var rates []float64
	s.eachConnected(func(_ string, rec *vehicleRec) {
		if r := math.Float64frombits(rec.clockRate.Load()); r > 0 {
			rates = append(rates, r)
		}
	})
	if len(rates) == 0 {
		return 0, 0
	}
	return median(rates), len(rates)
}

// ClockOffset is one vehicle's clock offset: the station time, in seconds
// since the Unix epoch, at which its boot clock run back at the station's
// ClockScale would read zero — the least over its last second of frames.
// It stays put while the vehicle's clock keeps pace with the scale and
// moves later by the station time a lagging simulator lost. Boot counts
// the vehicle's reboots seen: offsets of different boots do not compare.
type ClockOffset struct {
	ID     string
	Boot   int64
	Offset float64
}

// ClockOffsets lists the clock offsets of the connected vehicles measured
// so far (the operations clock follows an external simulator's lag from
// them: app's worldLag).
func (s *Station) ClockOffsets() []ClockOffset {
	var out []ClockOffset
	s.eachConnected(func(id string, rec *vehicleRec) {
		// The reboot count read on both sides of the offset: a reboot in
		// between (which clears the offset first) skips the vehicle.
		b := rec.reboots.Load()
		off := math.Float64frombits(rec.clockOffset.Load())
		if off != 0 && rec.reboots.Load() == b {
			out = append(out, ClockOffset{ID: id, Boot: b, Offset: off})
		}
	})
	return out
}

// eachConnected calls fn for every vehicle the fleet holds connected, on
// a snapshot of the registry taken under its lock (fn runs outside it).
func (s *Station) eachConnected(fn func(id string, rec *vehicleRec)) {
	s.reg.mu.RLock()
	ids := make([]string, 0, len(s.reg.byID))
	recs := make([]*vehicleRec, 0, len(s.reg.byID))
	for id, rec := range s.reg.byID {
		ids, recs = append(ids, id), append(recs, rec)
	}
	s.reg.mu.RUnlock()
	for i, rec := range recs {
		if v, ok := s.fleet.Get(ids[i]); ok && v.Connected {
			fn(ids[i], rec)
		}
	}
}

// LagFollower follows how far the vehicles' world has fallen behind the
// station's clock at ClockScale: a simulator run outside the station
// (`burgut sitl --speedup 20` beside `burgut serve --operations-time-scale
// 20`) that a loaded machine slows or stalls. The operations clock runs
// from the wall clock less this lag (operations.Config.Lag), as it does
// from the in-process simulator's own lag under burgut run; without it the
// scheduler counted minutes of coverage, battery and transit that were
// never flown.
//
// Each vehicle's lag is its clock offset (ClockOffsets) less the offset it
// had when first seen (or rebooted), plus the lag followed then; the lag
// is their median, so one vehicle that stalls alone does not move it. It
// never grows faster than the wall clock (the operation clock stands
// still, never runs back), shrinks at most half as fast (a world catching
// up runs the operation clock at most 1.5 times as fast), and is never
// negative. A world that stops sending altogether is seen only when it
// sends again; its lag then arrives at the wall clock's rate.
type LagFollower struct {
	st  *Station
	lag atomic.Int64 // time.Duration

	mu   sync.Mutex // Update, State
	base map[string]lagBase
	at   time.Time
	// prior is the state a station before this one left (NewLagFollower):
	// a vehicle heard again with its clock where that state puts it takes
	// its base back, so a restart does not forget the lag.
	prior *LagState
}

type lagBase struct {
	boot int64
	base float64 // lag in seconds less the offset when first seen
	lag  float64 // the vehicle's lag at the last Update
}

// LagState is what a LagFollower keeps over a station restart (State,
// NewLagFollower): the lag, and each vehicle's lag and base (its lag less
// its clock offset, which is station time and so still means the same
// after a restart).
type LagState struct {
	SavedAt  time.Time                  `json:"saved_at"`
	LagS     float64                    `json:"lag_s"`
	Vehicles map[string]LagStateVehicle `json:"vehicles"`
}

// LagStateVehicle is one vehicle's part of a LagState.
type LagStateVehicle struct {
	LagS  float64 `json:"lag_s"`
	BaseS float64 `json:"base_s"`
}

// NewLagFollower starts following the vehicles' clocks: at lag 0, or where
// prior (a State of the station before a restart, nil for none) left it.
// Call Update periodically.
func (s *Station) NewLagFollower(prior *LagState) *LagFollower {
	f := &LagFollower{st: s, base: map[string]lagBase{}, prior: prior}
	if prior != nil && prior.LagS > 0 {
		f.lag.Store(int64(prior.LagS * float64(time.Second)))
	}
	return f
}

// Lag is the lag as last updated.
func (f *LagFollower) Lag() time.Duration { return time.Duration(f.lag.Load()) }

// State is what to keep over a restart, as of the last Update at now.
func (f *LagFollower) State(now time.Time) LagState {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := LagState{SavedAt: now, LagS: f.Lag().Seconds(), Vehicles: make(map[string]LagStateVehicle, len(f.base))}
	if f.prior != nil { // vehicles not heard again yet keep their part
		for id, v := range f.prior.Vehicles {
			st.Vehicles[id] = v
		}
	}
	for id, b := range f.base {
		st.Vehicles[id] = LagStateVehicle{LagS: b.lag, BaseS: b.base}
	}
	return st
}

// priorSlack is how far a vehicle's lag, taken back from a prior state,
// may lie outside what the time since may have added (offsets are each a
// second's least).
const priorSlack = 1.0

// Update takes the connected vehicles' clock offsets at station time now
// and returns the lag followed.
func (f *LagFollower) Update(now time.Time) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur := f.Lag().Seconds()
	if f.at.IsZero() {
		f.at = now
	}
	dt := max(now.Sub(f.at).Seconds(), 0)
	f.at = now
	var lags []float64
	for _, o := range f.st.ClockOffsets() {
		b, ok := f.base[o.ID]
		if !ok || b.boot != o.Boot {
			b = lagBase{boot: o.Boot, base: cur - o.Offset}
			// Heard before a restart with its clock where it was then
			// (its lag since no less, and no more than the station time
			// that passed could add): it keeps the base it had. A reboot
			// moves its offset by its uptime, and it starts afresh.
			if p, ok := f.prior.vehicle(o.ID); ok && o.Boot == 0 {
				if l := o.Offset + p.BaseS; l >= p.LagS-priorSlack && l <= p.LagS+now.Sub(f.prior.SavedAt).Seconds()+priorSlack {
					b.base = p.BaseS
				}
			}
		}
		b.lag = o.Offset + b.base
		f.base[o.ID] = b
		lags = append(lags, b.lag)
	}
	if len(lags) == 0 {
		return f.Lag()
	}
	next := min(max(median(lags), cur-dt/2, 0), cur+dt)
	f.lag.Store(int64(next * float64(time.Second)))
	return f.Lag()
}

func (s *LagState) vehicle(id string) (LagStateVehicle, bool) {
	if s == nil {
		return LagStateVehicle{}, false
	}
	v, ok := s.Vehicles[id]
	return v, ok
}

// median of xs, which it sorts; xs must not be empty. Of an even count it
// is the lower middle one, a value some vehicle really has: while a
// rebooted vehicle's offset is not measured yet, the mean of two others'
// lags was neither's, and a vehicle first heard then took it as its own.
func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[(len(xs)-1)/2]
}
