package groundstation

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/burgut-uav/burgut/groundstation/session"
)

// ArduPilot flight modes by custom_mode number, per vehicle family. The
// names are ArduPilot's own (as MAVProxy and QGroundControl show them).
var (
	copterModes = map[uint32]string{
		0: "STABILIZE", 1: "ACRO", 2: "ALT_HOLD", 3: "AUTO", 4: "GUIDED", 5: "LOITER",
		6: "RTL", 7: "CIRCLE", 9: "LAND", 11: "DRIFT", 13: "SPORT", 14: "FLIP",
		15: "AUTOTUNE", 16: "POSHOLD", 17: "BRAKE", 18: "THROW", 19: "AVOID_ADSB",
		20: "GUIDED_NOGPS", 21: "SMART_RTL", 22: "FLOWHOLD", 23: "FOLLOW", 24: "ZIGZAG",
		25: "SYSTEMID", 26: "AUTOROTATE", 27: "AUTO_RTL", 28: "TURTLE",
	}
	planeModes = map[uint32]string{
		0: "MANUAL", 1: "CIRCLE", 2: "STABILIZE", 3: "TRAINING", 4: "ACRO", 5: "FBWA",
		6: "FBWB", 7: "CRUISE", 8: "AUTOTUNE", 10: "AUTO", 11: "RTL", 12: "LOITER",
		13: "TAKEOFF", 14: "AVOID_ADSB", 15: "GUIDED", 17: "QSTABILIZE", 18: "QHOVER",
		19: "QLOITER", 20: "QLAND", 21: "QRTL", 22: "QAUTOTUNE", 23: "QACRO",
		24: "THERMAL", 25: "LOITER_ALT_QLAND",
	}
	roverModes = map[uint32]string{
		0: "MANUAL", 1: "ACRO", 3: "STEERING", 4: "HOLD", 5: "LOITER", 6: "FOLLOW",
		7: "SIMPLE", 8: "DOCK", 9: "CIRCLE", 10: "AUTO", 11: "RTL", 12: "SMART_RTL",
		15: "GUIDED", 16: "INITIALISING",
	}
	px4MainModes = map[uint32]string{
		1: "MANUAL", 2: "ALTCTL", 3: "POSCTL", 4: "AUTO", 5: "ACRO", 6: "OFFBOARD",
		7: "STABILIZED", 8: "RATTITUDE",
	}
	px4AutoModes = map[uint32]string{
		1: "AUTO_READY", 2: "AUTO_TAKEOFF", 3: "AUTO_LOITER", 4: "AUTO_MISSION",
		5: "AUTO_RTL", 6: "AUTO_LAND", 8: "AUTO_FOLLOW_TARGET", 9: "AUTO_PRECLAND",
	}
	copterModeByName = func() map[string]uint32 {
		m := make(map[string]uint32, len(copterModes))
		for n, s := range copterModes {
			m[s] = n
		}
		return m
	}()
)

// modeName turns a HEARTBEAT's custom_mode into the name operators know,
// using the table of the autopilot and vehicle family; unknown numbers
// come out as "MODE_<n>" so they are still visible.
func modeName(autopilot common.MAV_AUTOPILOT, typ common.MAV_TYPE, baseMode common.MAV_MODE_FLAG, custom uint32) string {
	if baseMode&common.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED == 0 && autopilot != common.MAV_AUTOPILOT_ARDUPILOTMEGA {
		return "MODE_" + strconv.FormatUint(uint64(custom), 10)
	}
	var table map[uint32]string
	switch autopilot {
	case common.MAV_AUTOPILOT_PX4:
		main := (custom >> 16) & 0xff
		sub := (custom >> 24) & 0xff
		if main == 4 {
			if s, ok := px4AutoModes[sub]; ok {
				return s
			}
		}
		if s, ok := px4MainModes[main]; ok {
			return s
		}
		return "MODE_" + strconv.FormatUint(uint64(custom), 10)
	case common.MAV_AUTOPILOT_ARDUPILOTMEGA:
		switch {
		case isPlane(typ):
			table = planeModes
		case typ == common.MAV_TYPE_GROUND_ROVER || typ == common.MAV_TYPE_SURFACE_BOAT:
			table = roverModes
		default:
			table = copterModes
		}
	default:
		table = copterModes
	}
	if s, ok := table[custom]; ok {
		return s
	}
	return "MODE_" + strconv.FormatUint(uint64(custom), 10)
}

func isPlane(t common.MAV_TYPE) bool {
	switch t {
	case common.MAV_TYPE_FIXED_WING, common.MAV_TYPE_VTOL_TAILSITTER_DUOROTOR,
		common.MAV_TYPE_VTOL_TAILSITTER_QUADROTOR, common.MAV_TYPE_VTOL_TILTROTOR,
		common.MAV_TYPE_VTOL_FIXEDROTOR, common.MAV_TYPE_VTOL_TAILSITTER,
		common.MAV_TYPE_VTOL_TILTWING:
		return true
	}
	return false
}

// ModeNames lists the ArduCopter mode names SetMode accepts, in
// custom_mode order, for help texts and API errors.
func ModeNames() []string {
	nums := make([]uint32, 0, len(copterModes))
	for n := range copterModes {
		nums = append(nums, n)
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	out := make([]string, len(nums))
	for i, n := range nums {
		out[i] = copterModes[n]
	}
	return out
}

// CopterMode returns the ArduCopter custom_mode number of a mode name
// (case-insensitive), or an error naming the valid modes.
func CopterMode(name string) (uint32, error) {
	n, ok := copterModeByName[strings.ToUpper(strings.TrimSpace(name))]
	if !ok {
		return 0, fmt.Errorf("unknown mode %q: valid modes are %s", name, strings.Join(ModeNames(), ", "))
	}
	return n, nil
}

// SetMode switches a vehicle to an ArduCopter flight mode by name with
// MAV_CMD_DO_SET_MODE (custom mode), as QGroundControl and MAVProxy do.
// The vehicle's refusal comes back in the result, not as an error.
func (s *Station) SetMode(ctx context.Context, vehicleID, mode string) (session.CommandResult, error) {
	n, err := CopterMode(mode)
	if err != nil {
		return session.CommandResult{}, err
	}
	return s.Command(ctx, vehicleID, session.CommandRequest{
		Command: uint16(common.MAV_CMD_DO_SET_MODE),
		Params:  [7]float32{float32(common.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED), float32(n)},
	})
}
