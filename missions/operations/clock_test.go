package operations

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
)

// A state's age is the operation time since it was received. Under burgut
// run the scheduler's clock is the wall clock less the simulator's lag,
// while a state carries the wall time it was received: the age came out
// as (now − lag) − received, negative as soon as the simulator had ever
// fallen behind by more than the state's age, so every state counted as
// new and no track was taken along; taken as (now − received) × speedup
// instead, it counts the wall time the simulator was slowed as flight.
func TestStateAgeIsOperationTimeWhileTheSimulatorLags(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	wall, lag := t0, 3*time.Second // an earlier stall set the simulated world 3 s behind
	ff := &fakeFleet{vs: map[string]fleet.Vehicle{}}
	m, err := New(Config{Fleet: ff, TimeScale: 60, Now: func() time.Time { return wall }, Lag: func() time.Duration { return lag }})
	if err != nil {
		t.Fatal(err)
	}
	o := &Operation{ID: "op1", TimeScale: 60, Created: m.now()}
	age := func(received time.Time) float64 {
		t.Helper()
		ff.vs["u1"] = fleet.Vehicle{ID: "u1", LastSeen: received}
		w := m.now() // the tick
		st := &step{o: o, wall: w, now: o.Now(w), look: m.observe}
		fv, ok := st.look("u1")
		if !ok {
			t.Fatal("u1 not observed")
		}
		if a, b := st.stateAgeS(fv), st.ageS(fv); a != b && b != maxAgeS {
			t.Errorf("the must-leave time's age %v s and the track's %v s differ", a, b)
		}
		return st.stateAgeS(fv)
	}
	check := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-6 {
			t.Errorf("%s: age %.3f s, want %.3f s", what, got, want)
		}
	}

	// Received at a tick; 100 ms later, the simulator having run at half
	// its speed meanwhile (50 ms more lag): 50 ms of simulated time, 3 s
	// at speedup 60 — not 0 (the shifted clock against the receive
	// time), not 6 (the wall time at full speed).
	m.now()
	wall, lag = t0.Add(100*time.Millisecond), lag+50*time.Millisecond
	check("received at the last tick", age(t0), 3)

	// Received between two ticks: the lag then is interpolated. Ticks at
	// t0+100 ms and t0+300 ms, the simulator at half speed throughout;
	// received at t0+200 ms, 50 ms of lag after the first tick.
	wall, lag = t0.Add(300*time.Millisecond), lag+100*time.Millisecond
	check("received between ticks", age(t0.Add(200*time.Millisecond)), 3)

	// A stall now: 2 s of wall time in which the simulated world moved
	// 0.1 s. A state received at t0+300 ms is 6 s of flight old.
	wall, lag = t0.Add(2300*time.Millisecond), lag+1900*time.Millisecond
	check("received before a stall", age(t0.Add(300*time.Millisecond)), 6)

	// Received after the last tick (the tick reads the clock, then the
	// fleet): not old.
	check("received after the tick", age(wall.Add(time.Millisecond)), 0)
	check("never received", age(time.Time{}), 0)
}

// Without a lag (real drones, an external simulator) the scheduler's clock
// is the wall clock and a state's age is the wall time since it was
// received, at the time scale.
func TestStateAgeWithoutLagIsWallTimeAtTheTimeScale(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	wall := t0
	ff := &fakeFleet{vs: map[string]fleet.Vehicle{"u1": {ID: "u1", LastSeen: t0}}}
	m, err := New(Config{Fleet: ff, TimeScale: 20, Now: func() time.Time { return wall }})
	if err != nil {
		t.Fatal(err)
	}
	o := &Operation{ID: "op1", TimeScale: 20, Created: t0}
	wall = t0.Add(250 * time.Millisecond)
	w := m.now()
	if !w.Equal(wall) {
		t.Fatalf("scheduler clock %v, want the wall clock %v", w, wall)
	}
	st := &step{o: o, wall: w, now: o.Now(w)}
	fv, _ := m.observe("u1")
	if got := st.stateAgeS(fv); math.Abs(got-5) > 1e-9 {
		t.Errorf("age %v s, want 5 (250 ms at 20×)", got)
	}
}

// The lag history reaches back clockSamples samples; a receive time before
// the oldest is timed with the oldest sample's lag, and samples closer
// than clockEvery are not taken.
func TestClockHistoryIsBounded(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	wall, lag := t0, time.Duration(0)
	c := newClock(func() time.Time { return wall }, func() time.Duration { return lag })
	for i := range clockSamples + 10 {
		wall, lag = t0.Add(time.Duration(i)*clockEvery), time.Duration(i)*time.Millisecond
		c.Now()
		c.Now() // same instant: not a second sample
	}
	if c.n != clockSamples {
		t.Fatalf("%d samples kept, want %d", c.n, clockSamples)
	}
	// The oldest kept is sample 10 (lag 10 ms).
	if got, want := c.At(t0), t0.Add(-10*time.Millisecond); !got.Equal(want) {
		t.Errorf("before the history: %v, want %v", got, want)
	}
	at := t0.Add(20*clockEvery + clockEvery/2) // between samples 20 and 21
	if got, want := c.At(at), at.Add(-20500*time.Microsecond); !got.Equal(want) {
		t.Errorf("between samples: %v, want %v", got, want)
	}
	if got := c.At(time.Time{}); !got.IsZero() {
		t.Errorf("zero time: %v, want zero", got)
	}
}

// slowRTL is an Actuator whose RTL takes a second of wall time, during
// which the simulated world falls 0.5 s behind (the simulator slowed to
// half its speed while the station was behind).
type slowRTL struct {
	recorder
	advance func()
}

func (s *slowRTL) ReturnHome(ctx context.Context, id string, alt float64) error {
	s.advance()
	return s.recorder.ReturnHome(ctx, id, alt)
}

// A command's latency is the operation time it took — on the scheduler's
// clock, like a state's age — not its wall time at the time scale: the
// session's retries wait in wall time (a reply crosses the link and the
// station's queues, wall-time delays at any speedup), and what the wait
// costs the operation is the simulated time that passed meanwhile.
func TestCommandLatencyIsOperationTime(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	wall, lag := t0, 2*time.Second
	act := &slowRTL{advance: func() {
		mu.Lock()
		defer mu.Unlock()
		wall, lag = wall.Add(time.Second), lag+500*time.Millisecond
	}}
	ff := &fakeFleet{vs: map[string]fleet.Vehicle{}}
	m, err := New(Config{Fleet: ff, Act: act, TimeScale: 60,
		Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return wall },
		Lag: func() time.Duration { mu.Lock(); defer mu.Unlock(); return lag }})
	if err != nil {
		t.Fatal(err)
	}
	o := &Operation{ID: "op1", TimeScale: 60, Created: m.now(), Vehicles: []*VehicleState{{ID: "u1", Role: RoleReturning, Slot: 0}}}
	m.mu.Lock()
	m.start(context.Background(), o, []Action{{Kind: ActReturn, VehicleID: "u1"}})
	m.mu.Unlock()
	m.wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(act.done) != 1 {
		t.Fatalf("commands sent: %v, want one RTL", act.done)
	}
	// 1 s of wall time, 0.5 s of it lag: 0.5 s of simulated time, 30 s at
	// speedup 60.
	if math.Abs(o.LatencyS-30) > 1e-6 {
		t.Errorf("latency %.3f s, want 30 s of operation time", o.LatencyS)
	}
}
