// Package telemetrytest generates synthetic, deterministic telemetry for
// the tests and benchmarks of the telemetry packages: whole flights with
// arm, climb, cruise and landing, at exact timestamps.
package telemetrytest

import (
	"fmt"
	"math"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/telemetry"
)

// Flight returns n samples of one vehicle, one per step starting at start:
// 5 samples on the ground disarmed, then armed flying a circle of ~200 m
// around (41.31, 69.28) at up to 50 m, then landed and disarmed for the last
// 5 samples. Values vary per sample so every field is exercised.
func Flight(vehicle string, sysid uint8, start time.Time, n int, step time.Duration) []telemetry.Sample {
	out := make([]telemetry.Sample, n)
	for i := range out {
		armed := i >= 5 && i < n-5
		frac := float64(i) / float64(max(n-1, 1))
		alt := 0.0
		if armed {
			alt = 50 * math.Sin(math.Pi*float64(i-5)/float64(max(n-10, 1)))
		}
		ang := 2 * math.Pi * frac
		mode := "STABILIZE"
		if armed {
			mode = "AUTO"
		}
		out[i] = telemetry.Sample{
			Time:    start.Add(time.Duration(i) * step).UTC(),
			Vehicle: vehicle, Link: "udp:127.0.0.1:14550", SystemID: sysid, Type: "quadrotor",
			Mission: "patrol-1", EventArea: "",
			Lat: 41.31 + 0.0018*math.Sin(ang), Lon: 69.28 + 0.0024*math.Cos(ang),
			AltMSL: 455.5 + alt, RelativeAlt: alt, Heading: math.Mod(360*frac+90, 360),
			GroundSpeed: 7.25 + frac, AirSpeed: 7.5 + frac, Climb: 0.1 * math.Cos(ang),
			Roll: 1.5 * math.Sin(ang), Pitch: -2.25 * frac, Yaw: 360 * frac,
			BatteryPct: 100 - 40*frac, Voltage: 16.8 - 2*frac, Current: 12.5 + frac,
			Mode: mode, Armed: armed, GPSFix: 3, Satellites: int64(10 + i%5),
			LossPct: float64(i%7) / 10, RateHz: 15,
		}
	}
	return out
}

// Update applies a sample to a fleet, as the ground station would on
// receiving the corresponding MAVLink data at s.Time.
func Update(f *fleet.Fleet, s telemetry.Sample) {
	f.Update(s.Vehicle, s.Time, func(v *fleet.Vehicle) {
		v.SystemID, v.Link, v.Type, v.Mission, v.EventArea = s.SystemID, s.Link, s.Type, s.Mission, s.EventArea
		v.Lat, v.Lon, v.AltMSL, v.RelativeAlt, v.HeadingDeg = s.Lat, s.Lon, s.AltMSL, s.RelativeAlt, s.Heading
		v.GroundSpeed, v.AirSpeed, v.Climb = s.GroundSpeed, s.AirSpeed, s.Climb
		v.RollDeg, v.PitchDeg, v.YawDeg = s.Roll, s.Pitch, s.Yaw
		v.BatteryPct, v.BatteryVolt, v.BatteryAmp = s.BatteryPct, s.Voltage, s.Current
		v.Mode, v.Armed, v.GPSFix, v.Satellites = s.Mode, s.Armed, int(s.GPSFix), int(s.Satellites)
		v.LinkQuality.LossPct, v.LinkQuality.RateHz = s.LossPct, s.RateHz
	})
}

// VehicleID names the i-th synthetic vehicle.
func VehicleID(i int) string { return fmt.Sprintf("v%04d", i) }
