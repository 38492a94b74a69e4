package yield

import (
	"testing"
	"time"
)

// A slice that has worked past its Budget yields, at the next look at
// the clock, and starts over; one that has not, does not.
func TestSliceYieldsOncePastItsBudget(t *testing.T) {
	var s Slice
	for range 10 * checkEvery { // no time passes to speak of
		if s.Tick() && time.Since(s.start) < Budget {
			t.Fatal("yielded before its budget was used")
		}
	}
	s = Slice{}
	s.Tick()
	s.start = s.start.Add(-Budget) // the work so far took the whole budget
	for i := 2; i < checkEvery; i++ {
		if s.Tick() {
			t.Fatalf("yielded at tick %d, between two looks at the clock", i)
		}
	}
	if !s.Tick() || s.Yields != 1 {
		t.Fatalf("did not yield at the look at the clock past its budget (yields %d)", s.Yields)
	}
	// A new slice starts at the next tick.
	s.Tick()
	for range checkEvery - 1 {
		if s.Tick() {
			t.Fatal("the new slice yielded at once")
		}
	}
}

// Due and Yield split Tick for a caller that must release a lock first;
// Reset starts a new slice after the goroutine blocked.
func TestSliceDueThenYieldAndReset(t *testing.T) {
	var s Slice
	s.Due()
	s.start = s.start.Add(-Budget)
	due := false
	for range checkEvery {
		due = s.Due() || due
	}
	if !due || s.Yields != 0 {
		t.Fatalf("due %v, yields %d: Due must report and not yield", due, s.Yields)
	}
	s.Reset()
	s.Due()
	for range checkEvery {
		if s.Due() {
			t.Fatal("due right after Reset")
		}
	}
}
