// Package session holds the ground station's per-vehicle MAVLink protocol
// state machines: commands (COMMAND_LONG/COMMAND_INT with ACK, retries and
// IN_PROGRESS), mission/fence/rally transfer (upload, download, clear, set
// current) and parameters (read all, read one, set with verification).
//
// The groundstation dispatcher owns one *Vehicle per (link, system ID,
// component ID). It calls Handle for every frame that vehicle sends; Handle
// never blocks and only hands the message to the operation waiting for it.
// Operations (Command, Upload, ParamsAll, …) run in the caller's goroutine,
// send through the Sender the dispatcher supplies, and retry on timeouts
// because gomavlib drops writes silently when a link's queue is full:
// retries driven by replies are the only delivery guarantee.
//
// Concurrency rules: one mission transfer per (vehicle, mission type) and one
// full parameter download per vehicle at a time; a second one returns
// ErrBusy at once rather than queueing (the caller decides whether to wait).
// Commands run concurrently when their MAV_CMD differs (ACKs are matched by
// command id); a second Command with the same MAV_CMD while one is pending
// returns ErrBusy.
//
// The package starts no goroutines and reads no clock but time.Now and
// timers; Close fails whatever is pending with ErrClosed. Upload speed on
// links with latency is set by Options.UploadWindow (strict one item per
// request by default); see BENCHMARKS.md, "Ground station sessions".
package session

import (
	"errors"
	"log/slog"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/message"
)

// Sender sends one message to this vehicle; the groundstation implements it
// (it writes on the right gomavlib channel; it may return an error when the
// link is gone). Sessions fill target_system/target_component themselves.
type Sender interface {
	Send(msg message.Message) error
}

// SenderFunc lets a plain function act as a Sender (tests, adapters).
type SenderFunc func(msg message.Message) error

// Send calls f.
func (f SenderFunc) Send(msg message.Message) error { return f(msg) }

// Target is the MAVLink address of the vehicle a session talks to; it goes
// into every request's target_system/target_component.
type Target struct{ SystemID, ComponentID uint8 }

// Options tunes timeouts and retries. Zero values take the defaults noted on
// each field, so Options{} is a sensible configuration for real links.
type Options struct {
	CommandTimeout time.Duration // per attempt, default 1.5 s
	CommandRetries int           // extra attempts after the first, default 3 (confirmation field incremented per retry)
	// CommandProgressTimeout is how long to keep waiting, without resending,
	// after a MAV_RESULT_IN_PROGRESS ACK for the next ACK; default 10 s.
	CommandProgressTimeout time.Duration

	MissionItemTimeout time.Duration // per request/item, default 1.5 s
	MissionRetries     int           // per item / per phase, default 5
	// UploadWindow > 1 makes Upload stream up to that many items ahead of
	// the vehicle's MISSION_REQUEST instead of one item per round trip.
	// Vehicles that accept any item whose seq is the one they expect next
	// and answer others with a non-final INVALID_SEQUENCE (ArduPilot, the
	// Burgut simulator) then receive a 700-item mission in a few round
	// trips instead of 700; lost items are detected from the vehicle's
	// INVALID_SEQUENCE and repeated requests and resent. The default 1 is
	// the strict MAVLink sequence (one item per request), for autopilots
	// whose behaviour with early items is unknown.
	UploadWindow int
	// MissionWindow is how many MISSION_REQUEST_INTs a download keeps in
	// flight; default 8. 1 is the strict one-at-a-time MAVLink sequence.
	MissionWindow int

	ParamTimeout time.Duration // per request / per silent gap, default 1.5 s
	ParamRetries int           // default 5
	// ParamWindow is how many PARAM_REQUEST_READs for missing indices are
	// in flight at once during a full download; default 16.
	ParamWindow int

	// StationSystemID, when set, makes Command ignore COMMAND_ACKs that a
	// vehicle addressed to another ground station (MAVLink 2 target fields).
	StationSystemID uint8

	Log *slog.Logger // default slog.Default()
}

func (o Options) withDefaults() Options {
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 1500 * time.Millisecond
	}
	if o.CommandRetries <= 0 {
		o.CommandRetries = 3
	}
	if o.CommandProgressTimeout <= 0 {
		o.CommandProgressTimeout = 10 * time.Second
	}
	if o.MissionItemTimeout <= 0 {
		o.MissionItemTimeout = 1500 * time.Millisecond
	}
	if o.MissionRetries <= 0 {
		o.MissionRetries = 5
	}
	if o.MissionWindow <= 0 {
		o.MissionWindow = 16
	}
	if o.ParamTimeout <= 0 {
		o.ParamTimeout = 1500 * time.Millisecond
	}
	if o.ParamRetries <= 0 {
		o.ParamRetries = 5
	}
	if o.UploadWindow <= 0 {
		o.UploadWindow = 1
	}
	if o.ParamWindow <= 0 {
		o.ParamWindow = 16
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return o
}

// Errors every operation may return (wrapped); test with errors.Is.
var (
	// ErrTimeout: the vehicle did not answer within the last attempt.
	ErrTimeout = errors.New("vehicle did not answer in time")
	// ErrClosed: the session was closed (vehicle removed, station stopping).
	ErrClosed = errors.New("session closed")
	// ErrBusy: the same kind of operation is already running for this
	// vehicle (same MAV_CMD, same mission type, or a full param download).
	ErrBusy = errors.New("operation of the same kind already in progress")
	// ErrParamRejected: the vehicle echoed a value different from the one set.
	ErrParamRejected = errors.New("vehicle rejected the parameter value")
)

// newStoppedTimer returns a timer that fires only after Reset. With Go ≥
// 1.23 timer semantics Reset discards any stale tick, so no draining needed.
func newStoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}
