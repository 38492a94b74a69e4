package cputime

import "testing"

// The process's CPU time grows with work done (the counter is real, not
// a constant): spin until it moves, bounded by a count, not a clock.
func TestProcessGrowsWithWork(t *testing.T) {
	t0 := Process()
	if t0 <= 0 {
		t.Fatalf("CPU time %v at the start of a test: want > 0", t0)
	}
	x := 0
	for i := 0; i < 2_000_000_000 && Process() == t0; i++ {
		for j := range 10_000 {
			x += j ^ i
		}
	}
	if Process() <= t0 {
		t.Fatalf("CPU time did not grow with work (%d)", x)
	}
}
