package operations

import (
	"math"

	"github.com/burgut-uav/burgut/fleet"
)

// A drone that reports no charge.
//
// The fleet holds battery −1 until a drone's first SYS_STATUS, and a
// drone with no reading on its patrol gets no must-leave time
// (predictionAt): right after a station restart that is right — the
// drone reports within a second or two, and reading −1 as a charge sent
// every drone on station home at once. But a drone whose battery
// telemetry never comes (a failed power module, a stream switched off,
// a link that passes HEARTBEATs but drops SYS_STATUS) would then never be
// sent home, and fall out of the sky at the end of its pack. So a drone
// flying for the operation that has reported no charge on this patrol
// for batteryUnknownGraceS is reckoned: its charge is taken to fall from
// a full pack at its launch at the consumption the operation expects of
// it (its learned rate, else the fleet's, else the endurance prior), and
// it is sent home by that; the operator is warned once (battery_unknown,
// a warning) and told when it reports again.

// batteryUnknownGraceS is how long (operation seconds) a drone flying for
// the operation may report no charge before it is reckoned: several
// SYS_STATUS periods even when the simulator thins them at speedup.
const batteryUnknownGraceS = 30

// watchBattery follows whether v reports its charge (observe, while it
// flies for a slot).
func (st *step) watchBattery(v *VehicleState, fv fleet.Vehicle) {
	if fv.BatteryPct >= 0 || len(v.samples) > 0 {
		if v.batteryAlarmed {
			st.note(v.ID, fleet.SeverityInfo, "battery_known", "%s reports its charge again (%.0f %%)", v.ID, fv.BatteryPct)
		}
		v.BatteryUnknownSince, v.reckoning, v.batteryAlarmed = nil, false, false
		return
	}
	if v.BatteryUnknownSince == nil {
		t := st.now
		v.BatteryUnknownSince = &t
	}
	silent := st.now.Sub(*v.BatteryUnknownSince).Seconds()
	if silent < batteryUnknownGraceS {
		return
	}
	// From a full pack at its launch: the launch's own time when this
	// station started it, else (after a restart) when it took its role,
	// less the slot's measured transit for a drone already on station.
	launched := v.launchAt
	if launched.IsZero() {
		launched = v.Since
		if v.Role == RoleStation && v.Slot >= 0 {
			launched = launched.Add(-secs(st.o.Slots[v.Slot].TransitS))
		}
	}
	flown := math.Max(st.now.Sub(launched).Seconds(), silent)
	v.reckoned = math.Max(0, 100-st.o.priorRate(v)*flown)
	v.reckoning = true
	if !v.batteryAlarmed {
		v.batteryAlarmed = true
		st.note(v.ID, fleet.SeverityWarning, "battery_unknown", "%s has reported no charge for %.0f s: reckoned at %.0f %% from %.0f s of flight at the expected consumption, and sent home by that until it reports",
			v.ID, silent, v.reckoned, flown)
		st.lastNote()["reckoned_pct"] = math.Round(v.reckoned)
		if v.Slot >= 0 {
			st.lastNote()["slot"] = v.Slot
		}
	}
}
