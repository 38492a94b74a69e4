package latency

import (
	"math"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestBucketsMatchBounds(t *testing.T) {
	var h Histogram
	if len(h.counts) != len(bounds)+1 {
		t.Fatalf("%d counters for %d bounds: want one more (+Inf)", len(h.counts), len(bounds))
	}
	for i := 1; i < len(bounds); i++ {
		if bounds[i] <= bounds[i-1] {
			t.Fatalf("bounds not increasing at %d: %v", i, bounds[i])
		}
	}
}

func TestObserveCountsIntoTheRightBucket(t *testing.T) {
	var h Histogram
	h.Observe(-time.Millisecond)      // clocks disagreeing: zero, first bucket
	h.Observe(100 * time.Microsecond) // exactly on the first bound: first bucket
	h.Observe(101 * time.Microsecond) // second bucket
	h.Observe(20 * time.Millisecond)  // the 0.02 bucket
	h.Observe(time.Minute)            // beyond the last bound
	s := h.Snapshot()
	if s.Count != 5 {
		t.Fatalf("count %d, want 5", s.Count)
	}
	want := map[int]uint64{0: 2, 1: 1, 10: 1, len(bounds): 1}
	for i, c := range s.Counts {
		if c != want[i] {
			t.Errorf("bucket %d (≤ %v): %d, want %d", i, append(bounds, math.Inf(1))[i], c, want[i])
		}
	}
	if wantSum := 60 + 0.0001 + 0.000101 + 0.02; math.Abs(s.Sum-wantSum) > 1e-9 {
		t.Errorf("sum %v, want %v", s.Sum, wantSum)
	}
	cum := s.Cumulative()
	if cum[0.0001] != 2 || cum[0.02] != 4 || cum[10] != 4 {
		t.Errorf("cumulative %v", cum)
	}
}

func TestQuantileInterpolatesWithinTheBucket(t *testing.T) {
	var h Histogram
	if q := h.Snapshot().Quantile(0.5); !math.IsNaN(q) {
		t.Fatalf("empty: %v, want NaN", q)
	}
	// 100 observations in (10 ms, 15 ms]: the median is halfway.
	for range 100 {
		h.Observe(12 * time.Millisecond)
	}
	s := h.Snapshot()
	if q := s.Quantile(0.5); math.Abs(q-0.0125) > 1e-9 {
		t.Errorf("p50 %v, want 0.0125", q)
	}
	if q := s.Quantile(1); math.Abs(q-0.015) > 1e-9 {
		t.Errorf("p100 %v, want the bucket's bound 0.015", q)
	}
	h.Observe(time.Hour)
	if q := h.Snapshot().Quantile(1); q != 10 {
		t.Errorf("p100 beyond the last bound: %v, want 10", q)
	}
}

func TestConcurrentObserve(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				h.Observe(time.Duration(g*i) * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	if n := h.Snapshot().Count; n != 4000 {
		t.Fatalf("count %d, want 4000", n)
	}
}

// A Local's observations, added in one go, count as the same
// observations made one by one on the histogram.
func TestLocalAddsAsObserve(t *testing.T) {
	var one, batched Histogram
	var l Local
	for _, d := range []int64{-5, 0, 50_000, 1_000_000, 1_000_001, 24_999_999, 60_000_000, 20_000_000_000} {
		one.ObserveSince(100, 100+d)
		l.ObserveSince(100, 100+d)
	}
	batched.AddLocal(&l)
	a, b := one.Snapshot(), batched.Snapshot()
	if !slices.Equal(a.Counts, b.Counts) || a.Count != b.Count || a.Sum != b.Sum {
		t.Fatalf("one by one %+v, batched %+v", a, b)
	}
	if l != (Local{}) {
		t.Fatalf("AddLocal left %+v in the Local", l)
	}
}

// bucket is the binary search it replaces, for every bound, its
// neighbours, every power of two and spread values between them.
func TestBucketIsTheFirstBoundAtOrAbove(t *testing.T) {
	var probes []int64
	for _, b := range boundsNs {
		probes = append(probes, b-1, b, b+1)
	}
	for k := range 63 {
		p := int64(1) << k
		probes = append(probes, p-1, p, p+1, p+p/3, p+p/2, p+2*p/3)
	}
	probes = append(probes, 0, math.MaxInt64)
	for _, ns := range probes {
		if ns < 0 {
			continue
		}
		want, _ := slices.BinarySearch(boundsNs, ns)
		if got := bucket(ns); got != want {
			t.Errorf("bucket(%d) = %d, want %d", ns, got, want)
		}
	}
	// The table holds only if no power of two spans more than
	// bucketSteps bounds.
	for k := 1; k < 64; k++ {
		lo, hi := int64(1)<<(k-1), int64(min(uint64(1)<<k-1, math.MaxInt64))
		i0, _ := slices.BinarySearch(boundsNs, lo)
		i1, _ := slices.BinarySearch(boundsNs, hi)
		if i1-i0 > bucketSteps {
			t.Errorf("[%d, %d] ns spans %d bounds, bucket steps %d", lo, hi, i1-i0, bucketSteps)
		}
	}
}

func BenchmarkLocalObserveSince(b *testing.B) {
	var l Local
	at := make([]int64, 4096)
	for i := range at {
		at[i] = int64(i) * 9_973 // 0 to 41 ms, spread over the dense buckets
	}
	b.ResetTimer()
	for i := range b.N {
		l.ObserveSince(0, at[i&4095])
	}
}
