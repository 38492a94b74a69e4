package session

import (
	"fmt"
	"strings"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
)

// ArgumentError is returned (wrapped) when a caller's argument is refused
// before anything is sent to the vehicle — a parameter value outside its
// type's range, a name MAVLink cannot carry — so an API can answer it as
// the caller's mistake (400 naming Arg), not as a failure of the vehicle
// or the link.
type ArgumentError struct {
	Arg    string // the argument at fault: "name", "value"
	Reason string
}

func (e *ArgumentError) Error() string { return e.Reason }

// MissionError is returned (wrapped) when the vehicle NACKs a mission
// transfer with a MAV_MISSION_RESULT other than ACCEPTED, so the caller can
// tell "the vehicle refused" (and why) from "the link failed".
type MissionError struct {
	Result uint8  // MAV_MISSION_RESULT
	Name   string // e.g. "MAV_MISSION_NO_SPACE"
	// Meaning is a short operator-facing explanation of Result.
	Meaning string
	// Seq is the item the refusal followed (-1 when it came before any item).
	Seq int
}

func (e *MissionError) Error() string {
	if e.Seq >= 0 {
		return fmt.Sprintf("vehicle refused the transfer after item %d: %s (%s)", e.Seq, e.Name, e.Meaning)
	}
	return fmt.Sprintf("vehicle refused the transfer: %s (%s)", e.Name, e.Meaning)
}

var missionResultMeaning = map[uint8]string{
	0:  "accepted",
	1:  "generic error, or the vehicle is not accepting mission commands right now",
	2:  "coordinate frame not supported",
	3:  "command not supported",
	4:  "mission has more items than the vehicle can store",
	5:  "a parameter has an invalid value",
	6:  "param1 has an invalid value",
	7:  "param2 has an invalid value",
	8:  "param3 has an invalid value",
	9:  "param4 has an invalid value",
	10: "x / latitude has an invalid value",
	11: "y / longitude has an invalid value",
	12: "z / altitude has an invalid value",
	13: "item received out of sequence",
	14: "vehicle is not accepting mission commands from this station",
	15: "transfer cancelled",
}

func newMissionError(result uint8, seq int) *MissionError {
	meaning, ok := missionResultMeaning[result]
	if !ok {
		meaning = "unknown result code"
	}
	return &MissionError{Result: result, Name: missionResultName(result), Meaning: meaning, Seq: seq}
}

// missionResultName returns the MAV_MISSION_RESULT enum name.
func missionResultName(r uint8) string {
	s := common.MAV_MISSION_RESULT(r).String()
	if !isEnumName(s) {
		return fmt.Sprintf("MAV_MISSION_RESULT_%d", r)
	}
	return s
}

// ResultName returns MAV_RESULT r without its prefix ("ACCEPTED", "DENIED"),
// as CommandResult.ResultName carries it.
func ResultName(r uint8) string {
	s := common.MAV_RESULT(r).String()
	if !isEnumName(s) {
		return fmt.Sprintf("MAV_RESULT_%d", r)
	}
	return strings.TrimPrefix(s, "MAV_RESULT_")
}

// isEnumName tells a real enum label from gomavlib's numeric fallback.
func isEnumName(s string) bool {
	return s != "" && (s[0] < '0' || s[0] > '9')
}
