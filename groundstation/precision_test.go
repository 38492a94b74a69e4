package groundstation

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
)

func TestRoundTo(t *testing.T) {
	for _, c := range []struct{ x, unit, want float64 }{
		{float64(float32(12.3)), speedResolution, 12.3},
		{-float64(float32(0.1)), speedResolution, -0.1},
		{float64(float32(0.1)) * 180 / math.Pi, angleResolution, 5.7296},
		{17.934728161, rateResolution, 17.93},
		{1e9 + 0.00049, speedResolution, 1e9},
	} {
		if got := roundTo(c.x, c.unit); got != c.want {
			t.Errorf("roundTo(%v, %v) = %v, want %v", c.x, c.unit, got, c.want)
		}
	}
	for _, x := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := roundTo(x, angleResolution); !(math.IsNaN(x) && math.IsNaN(got)) && got != x {
			t.Errorf("roundTo(%v) = %v, want it as it is", x, got)
		}
	}
}

// The quantities the station derives from float32 fields and from its
// own conversions are reported at their resolutions — in the fleet's
// state and so in every encoding of it — not with the conversions' noise
// digits (a VFR_HUD airspeed of 12.3 was 12.300000190734863); a yaw that
// rounds up to 360° is 0°.
func TestDerivedQuantitiesAtTheirResolution(t *testing.T) {
	o := newOffline(t)
	o.send(7, 1, copterHB(5, false))
	o.send(7, 1, &common.MessageAutopilotVersion{Uid: 0xabd})
	id := uidID(0xabd)
	for range 20 {
		o.send(7, 1, &common.MessageGlobalPositionInt{Lat: 413111000, Lon: 692797000, Vx: 123, Vy: 457, Hdg: 9050})
	}
	o.wait(time.Second)
	v, ok := o.fl.Get(id)
	if !ok {
		t.Fatalf("vehicle %s not in the fleet", id)
	}
	if v.GroundSpeed != 4.733 { // hypot(1.23, 4.57) = 4.73263…
		t.Errorf("ground speed from GLOBAL_POSITION_INT %v, want 4.733", v.GroundSpeed)
	}
	o.send(7, 1, &common.MessageVfrHud{Airspeed: 12.3, Groundspeed: 11.7, Climb: -0.2})
	o.send(7, 1, &common.MessageAttitude{Roll: 0.1, Pitch: -0.05, Yaw: -0.0000005})
	v, _ = o.fl.Get(id)
	if v.AirSpeed != 12.3 || v.GroundSpeed != 11.7 || v.Climb != -0.2 || v.RollDeg != 5.7296 || v.PitchDeg != -2.8648 || v.YawDeg != 0 {
		t.Errorf("airspeed %v, ground speed %v, climb %v, roll %v, pitch %v, yaw %v; want 12.3, 11.7, -0.2, 5.7296, -2.8648, 0",
			v.AirSpeed, v.GroundSpeed, v.Climb, v.RollDeg, v.PitchDeg, v.YawDeg)
	}
	lq := v.LinkQuality
	if lq.RateHz <= 0 || roundTo(lq.RateHz, rateResolution) != lq.RateHz || roundTo(lq.LossPct, rateResolution) != lq.LossPct {
		t.Errorf("link rate %v Hz, loss %v %%: want both to 0.01", lq.RateHz, lq.LossPct)
	}
	js := string(v.AppendJSONFields(nil))
	for _, want := range []string{`"air_speed_mps":12.3,`, `"roll_deg":5.7296,`, `"ground_speed_mps":11.7,`} {
		if !strings.Contains(js, want) {
			t.Errorf("state JSON lacks %s: %s", want, js)
		}
	}
}
