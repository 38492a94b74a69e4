package groundstation

import (
	"strconv"
	"strings"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
)

// enumNames precomputes lower-case enum labels without their prefix
// ("MAV_TYPE_QUADROTOR" → "quadrotor") so the dispatcher's per-frame path
// does not allocate strings.
func enumNames(n int, prefix string, label func(i int) string) []string {
	out := make([]string, n)
	for i := range out {
		s := label(i)
		if s == "" || (s[0] >= '0' && s[0] <= '9') {
			out[i] = strconv.Itoa(i)
			continue
		}
		out[i] = strings.ToLower(strings.TrimPrefix(s, prefix))
	}
	return out
}

var (
	typeNames      = enumNames(64, "MAV_TYPE_", func(i int) string { return common.MAV_TYPE(i).String() })
	apNames        = enumNames(32, "MAV_AUTOPILOT_", func(i int) string { return common.MAV_AUTOPILOT(i).String() })
	stateNames     = enumNames(16, "MAV_STATE_", func(i int) string { return common.MAV_STATE(i).String() })
	landedNames    = enumNames(8, "MAV_LANDED_STATE_", func(i int) string { return common.MAV_LANDED_STATE(i).String() })
	videoTypeNames = []string{"rtsp", "rtpudp", "tcp-mpeg", "mpeg-ts"}
)

func lookup(tab []string, i int) string {
	if i >= 0 && i < len(tab) {
		return tab[i]
	}
	return strconv.Itoa(i)
}

// isVehicleHeartbeat tells an aircraft's autopilot from the other things
// that send HEARTBEATs (stations, cameras, gimbals, companion computers…):
// only autopilots become vehicles.
func isVehicleHeartbeat(typ common.MAV_TYPE, ap common.MAV_AUTOPILOT) bool {
	if ap == common.MAV_AUTOPILOT_INVALID {
		return false
	}
	switch typ {
	case common.MAV_TYPE_ANTENNA_TRACKER, common.MAV_TYPE_GCS, common.MAV_TYPE_ONBOARD_CONTROLLER,
		common.MAV_TYPE_GIMBAL, common.MAV_TYPE_ADSB, common.MAV_TYPE_CAMERA,
		common.MAV_TYPE_CHARGING_STATION, common.MAV_TYPE_FLARM, common.MAV_TYPE_SERVO,
		common.MAV_TYPE_ODID, common.MAV_TYPE_BATTERY, common.MAV_TYPE_PARACHUTE,
		common.MAV_TYPE_LOG, common.MAV_TYPE_OSD, common.MAV_TYPE_IMU, common.MAV_TYPE_GPS,
		common.MAV_TYPE_WINCH, common.MAV_TYPE_ILLUMINATOR, common.MAV_TYPE_GRIPPER,
		common.MAV_TYPE_RADIO:
		return false
	}
	return true
}
