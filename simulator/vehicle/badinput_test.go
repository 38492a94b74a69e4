package vehicle

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/internal/mavitem"
)

// TestRandomAndHostileCallsNeverBreakTheModel drives vehicles with long
// random sequences of API calls whose arguments include NaN, infinities,
// huge and negative values and garbage mission items. Nothing may panic,
// and the state must stay finite and physical.
func TestRandomAndHostileCallsNeverBreakTheModel(t *testing.T) {
	nasty := []float64{math.NaN(), math.Inf(1), math.Inf(-1), -1e30, 1e30, -1, 0, 1, 45, 500, -91, 181}
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		f := func() float64 {
			if rng.IntN(3) == 0 {
				return nasty[rng.IntN(len(nasty))]
			}
			return (rng.Float64() - 0.5) * 200
		}
		item := func(seq int) mavitem.Item {
			return mavitem.Item{
				Seq: uint16(seq), Frame: uint8(rng.IntN(12)), Command: []uint16{16, 17, 19, 20, 21, 22, 177, 178, 5001, 5003, 5100, 999}[rng.IntN(12)],
				Param1: float32(f()), Param2: float32(f()), Param3: float32(f()), Param4: float32(f()),
				X: int32(rng.Uint32()), Y: int32(rng.Uint32()), Z: float32(f()), MissionType: mavitem.MissionType(rng.IntN(4)),
			}
		}
		items := func() []mavitem.Item {
			n := rng.IntN(8)
			out := make([]mavitem.Item, n)
			for i := range out {
				out[i] = item(i)
				if rng.IntN(10) == 0 {
					out[i].Seq = uint16(rng.IntN(20))
				}
			}
			return out
		}
		v := New(Config{SystemID: uint8(seed), Home: testHome, Seed: int64(seed), WindSpeed: f(), GustSpeed: math.Abs(f()), BatteryCapacityMAh: f()})
		lat, lon := testHome.Lat, testHome.Lon
		for step := 0; step < 400; step++ {
			switch rng.IntN(20) {
			case 0:
				v.Arm(rng.IntN(2) == 0)
			case 1:
				v.Disarm(rng.IntN(4) == 0)
			case 2:
				v.SetMode(uint32(rng.IntN(25)))
			case 3:
				v.Takeoff(f())
			case 4:
				v.GotoGlobal(lat+f()/1e4, lon+f()/1e4, f())
			case 5:
				v.GotoGlobal(f(), f(), f())
			case 6:
				v.SetSpeed(f())
			case 7:
				v.MissionStart(uint16(rng.IntN(10)), uint16(rng.IntN(10)))
			case 8:
				v.SetMissionCurrent(uint16(rng.IntN(12)))
			case 9:
				v.SetHome(rng.IntN(2) == 0, f(), f(), f())
			case 10:
				_ = v.SetMission(items())
			case 11:
				_ = v.SetFence(items())
			case 12:
				_ = v.SetRally(items())
			case 13:
				ps := v.Params()
				_, _ = v.SetParam(ps[rng.IntN(len(ps))].Name, f())
			case 14:
				v.InjectGPSLoss(time.Duration(f() * float64(time.Second)))
			case 15:
				v.InjectBatteryDrop(f())
			case 16:
				if rng.IntN(10) == 0 {
					v.InjectFailure()
				}
			case 17:
				v.InjectGust(f(), time.Duration(f()*float64(time.Second)))
			case 18:
				v.ValidateItem(item(1))
				v.GCSHeartbeat()
			default:
				v.Step(time.Duration(rng.IntN(3000)) * time.Millisecond)
			}
			v.DrainEvents()
			s := v.State()
			for name, x := range map[string]float64{"lat": s.Lat, "lon": s.Lon, "alt": s.AltMSL, "vn": s.VN, "vd": s.VD,
				"roll": s.Roll, "yaw": s.Yaw, "volt": s.BatteryVoltage, "gpslat": s.GPSLat, "speed": s.GroundSpeed} {
				if math.IsNaN(x) || math.IsInf(x, 0) {
					t.Fatalf("seed %d step %d: %s = %v", seed, step, name, x)
				}
			}
			if s.RelAlt+s.Home.AltMSL < testHome.AltMSL-0.01 && s.AltMSL < testHome.AltMSL-0.01 {
				t.Fatalf("seed %d step %d: below the ground at %.2f m MSL", seed, step, s.AltMSL)
			}
			if s.BatteryRemainingPct < 0 || s.BatteryRemainingPct > 100 {
				t.Fatalf("seed %d: battery %.1f %%", seed, s.BatteryRemainingPct)
			}
		}
	}
}
