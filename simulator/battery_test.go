package simulator

import (
	"io"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// The fleet's --endurance-min and --swap-min reach every vehicle model.
func TestFleetEnduranceAndSwap(t *testing.T) {
	s, err := New(Config{Vehicles: 2, GCS: []string{"udp:127.0.0.1:9"}, EnduranceMin: 25, SwapMin: 5, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 2 {
		s.Vehicle(i).Do(func(v *vehicle.Vehicle) {
			if p, _ := v.Param("BATT_CAPACITY"); math.Abs(p.Value-vehicle.CapacityForEndurance(25*time.Minute)) > 0.5 {
				t.Errorf("vehicle %d: BATT_CAPACITY %v, want %v", i, p.Value, vehicle.CapacityForEndurance(25*time.Minute))
			}
			// Drained and on the ground, disarmed: full again after 5 minutes.
			v.InjectBatteryDrop(60)
			v.Step(5*time.Minute + time.Second)
			if pct := v.State().BatteryRemainingPct; pct != 100 {
				t.Errorf("vehicle %d: %.0f %% after 5 min on the ground, want a swapped pack", i, pct)
			}
		})
	}
}

func TestBatteryFlagsRejected(t *testing.T) {
	for _, c := range []struct {
		end, swap float64
		want      string
	}{{-1, 0, "endurance-min"}, {math.NaN(), 0, "endurance-min"}, {0.1, 0, "endurance-min"}, {25, -5, "swap-min"}, {25, 1e9, "swap-min"}} {
		_, err := New(Config{Vehicles: 1, GCS: []string{"udp:127.0.0.1:9"}, EnduranceMin: c.end, SwapMin: c.swap})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("endurance %v swap %v: error %v, want one naming %s", c.end, c.swap, err, c.want)
		}
	}
}
