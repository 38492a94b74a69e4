package simulator

import (
	"net"
	"testing"
	"time"
)

// streamCounts ticks one parked vehicle at the given speedup on a
// synthetic wall clock (20 ms ticks, as the scheduler's) and returns the
// positions and all other frames it sent.
func streamCounts(t *testing.T, speedup, maxStreamSpeedup float64, ticks int) (positions, others uint64) {
	t.Helper()
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	s, err := New(Config{Vehicles: 1, GCS: []string{"udp:" + sink.LocalAddr().String()}, Speedup: speedup,
		MaxStreamSpeedup: maxStreamSpeedup, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	sv := s.Vehicle(0)
	const tick = 20 * time.Millisecond
	simDt := time.Duration(float64(tick) * speedup)
	now := time.Now()
	for range 50 { // settle: GPS fix, home
		now = now.Add(tick)
		sv.tick(now, simDt)
	}
	_, _, tx0 := sv.Stats()
	pos0 := sv.PositionsSent()
	for range ticks {
		now = now.Add(tick)
		sv.tick(now, simDt)
	}
	_, _, tx := sv.Stats()
	positions = sv.PositionsSent() - pos0
	return positions, tx - tx0 - positions
}

// Faster than MaxStreamSpeedup a vehicle's streams are thinned in wall
// time, the position excepted; at or under it nothing changes.
func TestStreamsThinnedFasterThanTheCap(t *testing.T) {
	const ticks = 500 // 10 s of wall time
	// Speedup 60: every stream is due in simulated time on every tick
	// (1.2 s each). Uncapped, each of the ~11 streams goes out every tick.
	pos, others := streamCounts(t, 60, -1, ticks)
	t.Logf("speedup 60, no cap: %d positions, %d other frames in %d ticks", pos, others, ticks)
	if pos != ticks || others < 9*ticks {
		t.Fatalf("uncapped: %d positions, %d others; want %d and at least %d", pos, others, ticks, 9*ticks)
	}
	// Capped at 5: a 1 Hz stream at most every 190 ms of wall time (one
	// tick in ten), a 2 Hz one every 90 ms; the position still every tick.
	pos, capped := streamCounts(t, 60, 5, ticks)
	t.Logf("speedup 60, cap 5: %d positions, %d other frames", pos, capped)
	if pos != ticks {
		t.Fatalf("capped: %d positions in %d ticks, want one per tick", pos, ticks)
	}
	if capped > others/4 {
		t.Fatalf("capped: %d other frames, uncapped %d: not thinned", capped, others)
	}
	// Speedup 5, at the cap: simulated time paces every stream, the cap
	// holds none back.
	pos5, others5 := streamCounts(t, 5, 5, ticks)
	posU, othersU := streamCounts(t, 5, -1, ticks)
	t.Logf("speedup 5: %d/%d positions, %d/%d other frames (cap 5 / none)", pos5, posU, others5, othersU)
	if pos5 != posU || others5 != othersU {
		t.Fatalf("speedup 5: capped %d positions %d others, uncapped %d and %d: want the same", pos5, others5, posU, othersU)
	}
}
