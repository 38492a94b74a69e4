package missions

import (
	"math"
	"testing"
)

// CapacityFromParams reads BRD_SD_* as ArduPilot stores them: a value the
// autopilot stores as 0 (0.5, say) keeps the board's storage — the base,
// not the package default — and fractions round the autopilot's way.
func TestCapacityFromParams(t *testing.T) {
	base := Capacity{MissionItems: 300, FenceItems: 40, FenceBytes: 400}
	cases := []struct {
		name   string
		params map[string]float64
		want   Capacity
	}{
		{"no parameters", nil, base},
		{"both zero", map[string]float64{ParamSDMission: 0, ParamSDFence: 0}, base},
		{"half a kB is stored as 0", map[string]float64{ParamSDMission: 0.5, ParamSDFence: 0.5}, base},
		{"0.995 is stored as 1", map[string]float64{ParamSDMission: 0.995}, Capacity{MissionItems: (1024 - 4) / 15, FenceItems: 40, FenceBytes: 400}},
		{"1.5 kB is 1 kB", map[string]float64{ParamSDMission: 1.5, ParamSDFence: 1.5}, Capacity{MissionItems: 68, FenceItems: 128, FenceBytes: 1024}},
		{"16 kB", map[string]float64{ParamSDMission: 16, ParamSDFence: 16}, Capacity{MissionItems: (16384 - 4) / 15, FenceItems: 255, FenceBytes: 16384}},
		{"64 kB capped to 16-bit offsets", map[string]float64{ParamSDMission: 64}, Capacity{MissionItems: (65535 - 4) / 15, FenceItems: 40, FenceBytes: 400}},
		{"NaN ignored", map[string]float64{ParamSDMission: math.NaN(), ParamSDFence: math.Inf(1)}, base},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := CapacityFromParams(base, func(name string) (float64, bool) { v, ok := c.params[name]; return v, ok })
			if got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
	// A zero base takes the package defaults.
	if got := CapacityFromParams(Capacity{}, func(string) (float64, bool) { return 0.5, true }); got != (Capacity{}).WithDefaults() {
		t.Fatalf("zero base with BRD_SD_* = 0.5: %+v", got)
	}
}
