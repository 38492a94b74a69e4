package session

import (
	"context"
	"errors"
)

// CommandRequest is one MAV_CMD to send, as COMMAND_LONG or COMMAND_INT.
type CommandRequest struct {
	Command uint16     // MAV_CMD
	Params  [7]float32 // COMMAND_LONG params 1..7 (COMMAND_INT uses 1..4)
	// Int sends COMMAND_INT: Frame, X (lat ×1e7), Y (lon ×1e7), Z replace params 5..7.
	Int             bool
	Frame           uint8
	X, Y            int32
	Z               float32
	TargetComponent uint8 // 0 = the session's target component
}

// CommandResult is what the vehicle answered. A non-ACCEPTED Result is not
// an error: the caller decides (the HTTP API returns it with its MAV_RESULT).
type CommandResult struct {
	Result       uint8  // MAV_RESULT
	ResultName   string // "ACCEPTED", "DENIED", …
	Progress     uint8  // last IN_PROGRESS percentage
	ResultParam2 int32
	Attempts     int
	Text         string // STATUSTEXT the vehicle sent while the command was pending (e.g. "PreArm: GPS 1: Bad fix")
}

// Command sends req and waits for its COMMAND_ACK.
func (v *Vehicle) Command(ctx context.Context, req CommandRequest) (CommandResult, error) {
	return CommandResult{}, errors.New("not implemented yet")
}
