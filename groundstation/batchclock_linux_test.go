package groundstation

import (
	"testing"
	"time"
)

// Subscribers of one period share one clock, each gets its ticks, and
// the last to cancel stops it (a new subscriber then starts a new one).
func TestBatchClockTicksEverySubscriberAndStopsAfterTheLast(t *testing.T) {
	const period = 3 * time.Millisecond
	a, cancelA := subscribeBatchClock(period)
	b, cancelB := subscribeBatchClock(period)
	batchClocks.mu.Lock()
	c := batchClocks.m[period]
	batchClocks.mu.Unlock()
	if c == nil || len(c.subs) != 2 {
		t.Fatalf("clock %v, want one clock with 2 subscribers", c)
	}
	for i := range 3 {
		for name, ch := range map[string]<-chan struct{}{"a": a, "b": b} {
			select {
			case <-ch:
			case <-time.After(10 * time.Second):
				t.Fatalf("subscriber %s got no tick %d", name, i)
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
	d, cancelD := subscribeBatchClock(period)
	defer cancelD()
	select {
	case <-d:
	case <-time.After(10 * time.Second):
		t.Fatal("a new subscriber after the stop got no tick")
	}
}
