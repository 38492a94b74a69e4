// Package latency counts how long data takes to move through the
// station, stage by stage, in fixed-bucket histograms cheap enough for
// the ingest path (one atomic add per observation, no lock, no
// allocation). The parts that move the data own their histograms and
// observe into them; /metrics reads them at scrape time (package metrics
// knows nothing of the parts, and the parts nothing of Prometheus).
//
// Issue 10's latency target (a datagram's arrival to its delivery on a
// WebSocket client) is a sum of hand-offs between goroutines; a single
// end-to-end figure does not say which hand-off holds a frame. Every
// stage is measured from the same origin — the kernel's receive
// timestamp of the datagram — so the stages read as a cumulative
// breakdown: each one's quantiles include the stages before it.
package latency

import (
	"math"
	"math/bits"
	"slices"
	"sync/atomic"
	"time"
)

// bounds are the buckets' upper bounds in seconds: fine around the 25 and
// 50 ms targets, coarse beyond a second.
var bounds = []float64{
	0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05,
	0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10,
}

// boundsNs are bounds in nanoseconds, for Observe's search.
var boundsNs = func() []int64 {
	out := make([]int64, len(bounds))
	for i, b := range bounds {
		out[i] = int64(math.Round(b * 1e9))
	}
	return out
}()

// bucketSteps is the most bounds between two powers of two (in ns): how
// far bucket may have to step from where bucketFrom starts it
// (TestBucketIsTheFirstBoundAtOrAbove fails if a new bound needs more).
const bucketSteps = 3

// boundsPad is boundsNs with bucketSteps bounds no duration passes, so
// bucket's steps need no length check.
var boundsPad = func() (out [len(Histogram{}.counts) - 1 + bucketSteps]int64) {
	for i := range out {
		out[i] = math.MaxInt64
	}
	copy(out[:], boundsNs)
	return out
}()

// bucketFrom is, by bits.Len64 of a duration in ns, the first bucket whose
// bound is at least the least duration of that length (0 for 0).
var bucketFrom = func() (out [65]uint8) {
	for k := range out {
		least := int64(0)
		if k > 0 {
			least = int64(min(uint64(1)<<(k-1), math.MaxInt64))
		}
		i, _ := slices.BinarySearch(boundsNs, least)
		out[k] = uint8(i)
	}
	return out
}()

// bucket is the index of the first bound >= ns (len(bounds): +Inf), for
// ns >= 0. It is slices.BinarySearch(boundsNs, ns) by a table and at most
// bucketSteps comparisons: every WebSocket writer observes each state it
// sends (~200,000 a second at 2,000 vehicles and 10 clients), and the
// binary search's five unpredictable branches per observation were ~1 %
// of the station's CPU in a profile at that load.
func bucket(ns int64) int {
	i := int(bucketFrom[bits.Len64(uint64(ns))])
	if ns > boundsPad[i] {
		i++
	}
	if ns > boundsPad[i] {
		i++
	}
	if ns > boundsPad[i] {
		i++
	}
	return i
}

// Histogram counts durations. The zero value is ready to use; it is safe
// for concurrent use.
type Histogram struct {
	counts [27]atomic.Uint64 // len(bounds)+1: the last is +Inf
	sumNs  atomic.Int64
}

// Observe counts one duration; a negative one (clocks disagreeing by a
// hair) counts as zero.
func (h *Histogram) Observe(d time.Duration) {
	ns := max(int64(d), 0)
	h.counts[bucket(ns)].Add(1)
	h.sumNs.Add(ns)
}

// ObserveSince counts now-at, both in Unix nanoseconds.
func (h *Histogram) ObserveSince(at, now int64) { h.Observe(time.Duration(now - at)) }

// Local counts durations for one goroutine, to be added to a Histogram
// in one go (Histogram.AddLocal): a WebSocket writer observes every state
// of its frame (~2,000 at 2,000 vehicles, 10 times a second, ten writers),
// and two atomic adds on cache lines shared by every writer per state
// cost more than the counting itself. The zero value is ready to use;
// not for concurrent use.
type Local struct {
	counts [len(Histogram{}.counts)]uint64
	sumNs  int64
}

// ObserveSince counts now-at, both in Unix nanoseconds.
func (l *Local) ObserveSince(at, now int64) {
	ns := max(now-at, 0)
	l.counts[bucket(ns)]++
	l.sumNs += ns
}

// AddLocal adds what l counted to h and empties l.
func (h *Histogram) AddLocal(l *Local) {
	for i, n := range l.counts {
		if n > 0 {
			h.counts[i].Add(n)
		}
	}
	h.sumNs.Add(l.sumNs)
	*l = Local{}
}

// Snapshot is a histogram's state at one moment.
type Snapshot struct {
	// Bounds are the buckets' upper bounds in seconds (shared: do not
	// modify); Counts[i] counts observations in (Bounds[i-1], Bounds[i]],
	// and Counts[len(Bounds)] those above the last bound.
	Bounds []float64
	Counts []uint64
	Count  uint64
	// Sum is the total of the observations in seconds.
	Sum float64
}

// Snapshot reads the histogram. Concurrent observations may or may not
// be included; Count is always the sum of Counts.
func (h *Histogram) Snapshot() Snapshot {
	s := Snapshot{Bounds: bounds, Counts: make([]uint64, len(h.counts)), Sum: float64(h.sumNs.Load()) / 1e9}
	for i := range h.counts {
		s.Counts[i] = h.counts[i].Load()
		s.Count += s.Counts[i]
	}
	return s
}

// Cumulative returns the count of observations <= each bound (Prometheus'
// buckets), keyed by the bound in seconds.
func (s Snapshot) Cumulative() map[float64]uint64 {
	out := make(map[float64]uint64, len(s.Bounds))
	var n uint64
	for i, b := range s.Bounds {
		n += s.Counts[i]
		out[b] = n
	}
	return out
}

// Quantile estimates the q-quantile (0 < q <= 1) in seconds by linear
// interpolation within its bucket, as Prometheus' histogram_quantile
// does; NaN when empty. Above the last bound it returns the last bound.
func (s Snapshot) Quantile(q float64) float64 {
	if s.Count == 0 || q <= 0 || q > 1 {
		return math.NaN()
	}
	rank := q * float64(s.Count)
	var n float64
	for i, c := range s.Counts {
		if c == 0 {
			continue
		}
		if n+float64(c) >= rank {
			if i == len(s.Bounds) {
				return s.Bounds[len(s.Bounds)-1]
			}
			lo := 0.0
			if i > 0 {
				lo = s.Bounds[i-1]
			}
			return lo + (s.Bounds[i]-lo)*(rank-n)/float64(c)
		}
		n += float64(c)
	}
	return s.Bounds[len(s.Bounds)-1]
}

// Add returns the observations of s and o together (the same stage
// measured by several owners, e.g. one per link).
func (s Snapshot) Add(o Snapshot) Snapshot {
	if s.Counts == nil {
		return o
	}
	out := Snapshot{Bounds: s.Bounds, Counts: slices.Clone(s.Counts), Count: s.Count + o.Count, Sum: s.Sum + o.Sum}
	for i := range o.Counts {
		out.Counts[i] += o.Counts[i]
	}
	return out
}
