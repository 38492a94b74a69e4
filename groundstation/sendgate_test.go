package groundstation

import (
	"runtime"
	"testing"
	"time"
)

// The gate lets sendGateLimit frames wait in gomavlib's queue, holds the
// next sender until a datagram is written, and sheds (never hands over) a
// frame whose remote is gone. Frames gomavlib wrote on its own (its
// HEARTBEAT) do not become credit beyond the limit.
func TestSendGateBoundsFramesInGomavlibsQueue(t *testing.T) {
	var g sendGate
	gone := make(chan struct{})
	close(gone)
	for range 10 {
		g.wrote() // gomavlib's own frames before any of ours
	}
	for i := range sendGateLimit {
		if waited, ok := g.acquire(nil, time.Minute); waited || !ok {
			t.Fatalf("frame %d of %d: waited %v ok %v, want a free slot", i+1, sendGateLimit, waited, ok)
		}
	}
	if waited, ok := g.acquire(gone, time.Minute); !waited || ok {
		t.Fatalf("frame past the limit to a closed remote: waited %v ok %v, want shed", waited, ok)
	}

	// a sender waiting for a slot gets it when gomavlib writes one
	res := make(chan [2]bool, 1)
	go func() {
		waited, ok := g.acquire(nil, time.Minute)
		res <- [2]bool{waited, ok}
	}()
	for {
		g.mu.Lock()
		n := g.waiting
		g.mu.Unlock()
		if n == 1 {
			break
		}
		runtime.Gosched()
	}
	g.wrote()
	if r := <-res; !r[0] || !r[1] {
		t.Fatalf("waiting sender after a write: waited %v ok %v, want it to get the slot", r[0], r[1])
	}
	if waited, ok := g.acquire(gone, time.Minute); !waited || ok {
		t.Fatal("the slot a write freed was given twice")
	}
	for range sendGateLimit {
		g.wrote()
	}
	if waited, ok := g.acquire(gone, time.Minute); waited || !ok {
		t.Fatalf("after the queue drained: waited %v ok %v, want a free slot", waited, ok)
	}
}
