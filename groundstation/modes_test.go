package groundstation

import (
	"strings"
	"testing"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
)

func TestModeName(t *testing.T) {
	apm := common.MAV_AUTOPILOT_ARDUPILOTMEGA
	custom := common.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
	tests := []struct {
		ap   common.MAV_AUTOPILOT
		typ  common.MAV_TYPE
		mode uint32
		want string
	}{
		{apm, common.MAV_TYPE_QUADROTOR, 3, "AUTO"},
		{apm, common.MAV_TYPE_HEXAROTOR, 6, "RTL"},
		{apm, common.MAV_TYPE_QUADROTOR, 17, "BRAKE"},
		{apm, common.MAV_TYPE_QUADROTOR, 99, "MODE_99"},
		{apm, common.MAV_TYPE_FIXED_WING, 10, "AUTO"},
		{apm, common.MAV_TYPE_GROUND_ROVER, 4, "HOLD"},
		{common.MAV_AUTOPILOT_PX4, common.MAV_TYPE_QUADROTOR, 4<<16 | 4<<24, "AUTO_MISSION"},
		{common.MAV_AUTOPILOT_PX4, common.MAV_TYPE_QUADROTOR, 3 << 16, "POSCTL"},
	}
	for _, tc := range tests {
		if got := modeName(tc.ap, tc.typ, custom, tc.mode); got != tc.want {
			t.Errorf("modeName(%v, %v, %d) = %q, want %q", tc.ap, tc.typ, tc.mode, got, tc.want)
		}
	}
}

func TestCopterMode(t *testing.T) {
	for name, want := range map[string]uint32{"GUIDED": 4, "auto": 3, " Land ": 9, "ALT_HOLD": 2, "BRAKE": 17, "STABILIZE": 0} {
		got, err := CopterMode(name)
		if err != nil || got != want {
			t.Errorf("CopterMode(%q) = %d, %v; want %d", name, got, err, want)
		}
	}
	_, err := CopterMode("WARP")
	if err == nil || !strings.Contains(err.Error(), `"WARP"`) || !strings.Contains(err.Error(), "GUIDED") {
		t.Fatalf("unknown mode error %v should name the mode and the valid ones", err)
	}
	names := ModeNames()
	if names[0] != "STABILIZE" || len(names) != len(copterModes) {
		t.Fatalf("ModeNames() = %v", names)
	}
}

func TestIsVehicleHeartbeat(t *testing.T) {
	if !isVehicleHeartbeat(common.MAV_TYPE_QUADROTOR, common.MAV_AUTOPILOT_ARDUPILOTMEGA) {
		t.Error("quadrotor with ArduPilot is a vehicle")
	}
	for _, typ := range []common.MAV_TYPE{common.MAV_TYPE_GCS, common.MAV_TYPE_CAMERA, common.MAV_TYPE_GIMBAL, common.MAV_TYPE_ONBOARD_CONTROLLER} {
		if isVehicleHeartbeat(typ, common.MAV_AUTOPILOT_ARDUPILOTMEGA) {
			t.Errorf("%v is not a vehicle", typ)
		}
	}
	if isVehicleHeartbeat(common.MAV_TYPE_QUADROTOR, common.MAV_AUTOPILOT_INVALID) {
		t.Error("autopilot INVALID is not a vehicle")
	}
}
