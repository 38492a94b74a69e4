package groundstation

import (
	"math"
	"slices"
)

// ClockRate is how fast the connected vehicles' boot clocks run against the
// station's clock: the median, over the vehicles measured so far, of the
// boot-clock seconds each counted per station second over its last
// 10-second window; vehicles is how many were measured (0: rate is 0,
// nothing known yet). Real autopilots read about 1; a `burgut sitl` at
// --speedup 20 reads about 20, less while it lags. The median keeps one
// vehicle with a drifting or restarted clock from moving it.
func (s *Station) ClockRate() (rate float64, vehicles int) {
	s.reg.mu.RLock()
	ids := make([]string, 0, len(s.reg.byID))
	recs := make([]*vehicleRec, 0, len(s.reg.byID))
	for id, rec := range s.reg.byID {
		ids, recs = append(ids, id), append(recs, rec)
	}
	s.reg.mu.RUnlock()
	var rates []float64
	for i, rec := range recs {
		r := math.Float64frombits(rec.clockRate.Load())
		if r <= 0 {
			continue
		}
		if v, ok := s.fleet.Get(ids[i]); !ok || !v.Connected {
			continue
		}
		rates = append(rates, r)
	}
	if len(rates) == 0 {
		return 0, 0
	}
	slices.Sort(rates)
	m := len(rates) / 2
	if len(rates)%2 == 0 {
		return (rates[m-1] + rates[m]) / 2, len(rates)
	}
	return rates[m], len(rates)
}
