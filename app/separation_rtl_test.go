package app

import (
	"testing"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/fleet/separation"
)

// An operation's drone climbing in RTL levels off at its slot's RTL
// altitude: the monitor predicts it there, not 50 m up after 20 s of
// climbing, so a drone hovering 30 m above that altitude beside it raises
// nothing; the same climb without a known RTL altitude warns, as does one
// whose RTL altitude reaches the other drone.
func TestRTLClimbLevelsOffAtTheRTLAltitude(t *testing.T) {
	home := &fleet.Point{Lat: 41.3, Lon: 69.2, AltMSL: 400}
	// A climbs at 2.5 m/s from 30 m in RTL; B hovers 15 m east of it at
	// 70 m.
	a := fleet.Vehicle{ID: "a", Connected: true, Armed: true, LandedState: "in_air", Mode: "RTL",
		Lat: home.Lat, Lon: home.Lon, AltMSL: home.AltMSL + 30, RelativeAlt: 30, Climb: 2.5, Home: home}
	b := fleet.Vehicle{ID: "b", Connected: true, Armed: true, LandedState: "in_air", Mode: "GUIDED",
		Lat: home.Lat, Lon: home.Lon + 15/(111320*0.7513), AltMSL: home.AltMSL + 70, RelativeAlt: 70, Home: home}
	warned := func(rtlAlt func(string) (float64, bool)) bool {
		t.Helper()
		target := func(v *fleet.Vehicle) (float64, bool) {
			if v.Mode != "RTL" {
				return 0, false
			}
			return rtlTarget(v, rtlAlt)
		}
		mon := separation.New(separation.DefaultConfig())
		return len(mon.Step(separation.Tracks(nil, []fleet.Vehicle{a, b}, target))) > 0
	}
	known := func(alt float64) func(string) (float64, bool) {
		return func(id string) (float64, bool) { return alt, id == "a" }
	}
	if warned(known(40)) {
		t.Error("an RTL climb levelling off at 40 m warned against a drone hovering at 70 m")
	}
	if !warned(func(string) (float64, bool) { return 0, false }) {
		t.Error("an RTL climb of unknown altitude, extrapolated through 70 m, did not warn")
	}
	if !warned(known(70)) {
		t.Error("an RTL climb to 70 m did not warn against a drone hovering at 70 m beside it")
	}
	// Descending (landing), the RTL altitude says nothing.
	a.Climb = -1
	if _, ok := rtlTarget(&a, known(40)); ok {
		t.Error("a descending RTL was given its climb's target")
	}
}
