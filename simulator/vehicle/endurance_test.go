package vehicle

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestCapacityForEndurance(t *testing.T) {
	// 12 A hover × (1 + 0.0025 × 10²) = 15 A at the 10 m/s cruise: 25 min is 6,250 mAh.
	if got := CapacityForEndurance(25 * time.Minute); math.Abs(got-6250) > 1e-6 {
		t.Fatalf("25 min: %v mAh, want 6250", got)
	}
	v := New(Config{Home: testHome, Endurance: 25 * time.Minute, BatteryCapacityMAh: 1000})
	if p, _ := v.Param("BATT_CAPACITY"); p.Value != 6250 {
		t.Fatalf("BATT_CAPACITY %v, want 6250 (endurance wins over the capacity)", p.Value)
	}
	if p, _ := New(Config{Home: testHome, Endurance: -time.Minute}).Param("BATT_CAPACITY"); p.Value != defaultCapacityMAh {
		t.Fatalf("negative endurance: BATT_CAPACITY %v, want the default", p.Value)
	}
}

// A minute of level cruise in still air uses a minute's share of the
// configured endurance: the mapping and the current model agree.
func TestEnduranceMatchesCruiseConsumption(t *testing.T) {
	const endurance = 10 * time.Minute
	v := newReady(t, Config{Endurance: endurance})
	takeoff(t, v, 20)
	lat, lon := offset(5000, 0)
	mustOK(t, "goto")(v.GotoGlobal(lat, lon, 20))
	runUntil(t, v, 60*time.Second, nil, func(s State) bool { return s.GroundSpeed > CruiseSpeed()-0.05 && math.Abs(s.VD) < 0.05 })
	before := v.State()
	v.Step(time.Minute)
	after := v.State()
	if after.GroundSpeed < CruiseSpeed()-0.2 {
		t.Fatalf("not cruising any more: %.2f m/s", after.GroundSpeed)
	}
	share := (after.BatteryConsumedMAh - before.BatteryConsumedMAh) / CapacityForEndurance(endurance)
	if want := time.Minute.Seconds() / endurance.Seconds(); math.Abs(share-want) > 0.01 {
		t.Fatalf("a minute of cruise used %.3f of the pack, want %.3f ± 0.01", share, want)
	}
}

// Landed and disarmed for SwapTime, the battery is full again; not a
// moment earlier, and never without SwapTime.
func TestBatterySwapOnTheGround(t *testing.T) {
	fly := func(swap time.Duration) *Vehicle {
		v := newReady(t, Config{Endurance: 10 * time.Minute, SwapTime: swap})
		takeoff(t, v, 20)
		v.Step(2 * time.Minute)
		mustOK(t, "land")(v.SetMode(ModeLand))
		runUntil(t, v, 2*time.Minute, nil, func(s State) bool { return !s.Armed })
		v.DrainEvents()
		return v
	}
	v := fly(5 * time.Minute)
	used := v.State().BatteryRemainingPct
	if used > 80 {
		t.Fatalf("after 2 min of a 10 min battery: %.0f %% left", used)
	}
	v.Step(5*time.Minute - time.Second)
	if s := v.State(); s.BatteryRemainingPct != used {
		t.Fatalf("swapped early: %.1f %% → %.1f %%", used, s.BatteryRemainingPct)
	}
	v.Step(2 * time.Second)
	s := v.State()
	if s.BatteryRemainingPct != 100 || s.BatteryConsumedMAh != 0 {
		t.Fatalf("after the swap time: %.1f %%, %.0f mAh used, want a full pack", s.BatteryRemainingPct, s.BatteryConsumedMAh)
	}
	swapped := 0
	for _, e := range v.DrainEvents() {
		if e.Kind == EventStatusText && strings.Contains(e.Text, "swapped") {
			swapped++
		}
	}
	if swapped != 1 {
		t.Fatalf("%d swap status texts, want 1", swapped)
	}
	// The fresh pack flies again.
	takeoff(t, v, 10)

	n := fly(0)
	left := n.State().BatteryRemainingPct
	n.Step(30 * time.Minute)
	if s := n.State(); s.BatteryRemainingPct != left {
		t.Fatalf("without a swap time the pack went %.1f → %.1f %%", left, s.BatteryRemainingPct)
	}
}
