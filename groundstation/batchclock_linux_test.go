package groundstation

import (
	"fmt"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/internal/testenv"
)

// Subscribers of one period share one clock, each gets its ticks while
// it waits, and the last to cancel stops it (a new subscriber then starts
// a new one).
func TestBatchClockTicksEverySubscriberAndStopsAfterTheLast(t *testing.T) {
	const period = 3 * time.Millisecond
	a, wantA, cancelA := subscribeBatchClock(period)
	b, wantB, cancelB := subscribeBatchClock(period)
	batchClocks.mu.Lock()
	c := batchClocks.m[period]
	batchClocks.mu.Unlock()
	if c == nil || len(c.subs) != 2 {
		t.Fatalf("clock %v, want one clock with 2 subscribers", c)
	}
	for i := range 3 {
		for _, sub := range []struct {
			name string
			ch   <-chan struct{}
			want func()
		}{{"a", a, wantA}, {"b", b, wantB}} {
			sub.want()
			select {
			case <-sub.ch:
			case <-time.After(10 * time.Second):
				t.Fatalf("subscriber %s got no tick %d", sub.name, i)
			}
		}
	}
	cancelA()
	cancelA() // twice is harmless
	select {
	case <-c.done:
		t.Fatal("the clock stopped while b still subscribes")
	default:
	}
	cancelB()
	select {
	case <-c.done: // cancel waited for it
	default:
		t.Fatal("the clock runs on after its last subscriber left")
	}
	batchClocks.mu.Lock()
	_, left := batchClocks.m[period]
	batchClocks.mu.Unlock()
	if left {
		t.Fatal("a stopped clock is still registered")
	}
	d, wantD, cancelD := subscribeBatchClock(period)
	defer cancelD()
	wantD()
	select {
	case <-d:
	case <-time.After(10 * time.Second):
		t.Fatal("a new subscriber after the stop got no tick")
	}
}

// A clock nobody waits for stops (no wake-ups on an idle station) and
// starts again when a subscriber asks: the asking subscriber gets its
// tick, and one that never waits is never sent one it would find stale.
func TestBatchClockStopsWhileNobodyWaitsAndStartsWhenAsked(t *testing.T) {
	const period = 7 * time.Millisecond // no other test's clock
	ch, want, cancel := subscribeBatchClock(period)
	defer cancel()
	batchClocks.mu.Lock()
	c := batchClocks.m[period]
	batchClocks.mu.Unlock()
	waitParks := func(n uint64) {
		t.Helper()
		testenv.Eventually(t, 10*time.Second, fmt.Sprintf("the clock stopped with nobody waiting (%d times)", n),
			func() bool { return c.parks.Load() >= n })
	}
	waitParks(1)
	select {
	case <-ch:
		t.Fatal("a tick was kept for a subscriber that was not waiting")
	default:
	}
	for round := range 3 {
		parks := c.parks.Load()
		want()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: no tick after asking the stopped clock", round)
		}
		waitParks(parks + 1) // and it stops again once nobody waits
	}
}
