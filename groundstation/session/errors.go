package session

import "fmt"

// MissionError is returned (wrapped) when the vehicle NACKs a mission
// transfer with a MAV_MISSION_RESULT other than ACCEPTED.
type MissionError struct {
	Result uint8  // MAV_MISSION_RESULT
	Name   string // e.g. "MAV_MISSION_NO_SPACE"
}

func (e *MissionError) Error() string {
	return fmt.Sprintf("vehicle answered %s", e.Name)
}
