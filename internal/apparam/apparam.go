// Package apparam holds ArduPilot's own rules for parameter values that
// both the station and the simulator need, so each rule has one owner:
// how a float sent in PARAM_SET becomes an integer parameter, and how the
// BRD_SD_* parameters size a storage file on the SD card.
package apparam

import "math"

// Int16 range, the type of BRD_SD_MISSION and BRD_SD_FENCE.
const (
	Int16Min = math.MinInt16
	Int16Max = math.MaxInt16
)

// Int is the integer ArduPilot stores when an integer parameter whose type
// spans lo..hi is set to value (AP_Param::set_float): it adds 0.01 (−0.01
// below zero) in float32 so that 2.9999 is not stored as 2, clamps to the
// type's range and truncates toward zero. So 0.5 is stored as 0, 0.995 as
// 1 and 2.7 as 2. ok is false for NaN and ±Inf, which ArduPilot ignores
// (the parameter keeps its value).
func Int(value float64, lo, hi int64) (n int64, ok bool) {
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return 0, false
	}
	add := float32(0.01)
	if value < 0 {
		add = -add
	}
	v := float32(value) + add
	v = float32(max(float64(lo), min(float64(hi), float64(v))))
	return int64(v), true // Go's float→int conversion truncates toward zero, as C's does
}

// SDStorageBytes is the size in bytes of the SD card file that
// BRD_SD_MISSION or BRD_SD_FENCE = kb gives the mission or the fence, or
// 0 when the list stays in the board's own storage. ArduPilot stores the
// parameter as an int16 (Int), reads it back as a uint16 kB count
// (AP_BoardConfig::get_sdcard_mission_kb), attaches a file only when that
// is above 0 and caps the file at 0xFFFF bytes because storage offsets are
// 16-bit (StorageAccess::attach_file). A negative value therefore gives
// the largest file, as on the autopilot (the documented range is 0–64).
func SDStorageBytes(kb float64) int {
	n, ok := Int(kb, Int16Min, Int16Max)
	if !ok {
		return 0
	}
	k := uint16(int16(n))
	if k == 0 {
		return 0
	}
	return min(0xFFFF, int(k)*1024)
}
