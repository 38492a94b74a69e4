// Package session holds the ground station's per-vehicle MAVLink protocol
// state machines: commands (COMMAND_LONG/COMMAND_INT with ACK, retries and
// IN_PROGRESS), mission/fence/rally transfer (upload, download, clear, set
// current), parameters (read all, read one, set with verification) and
// MAVLink FTP (read file, list directory, CRC32; ftp.go), which reads all
// parameters at once when the autopilot advertises it.
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
// The package starts no goroutines; Close fails whatever is pending with
// ErrClosed. Every operation takes its time from Options.Clock: mission
// transfers are state machines (upload.go, download.go, transfer.go)
// driven by Vehicle.run, commands, parameters and FTP wait through
// Vehicle.next (clock.go), so tests run them all on a virtual clock. Upload speed on links with latency comes from
// streaming items ahead of the vehicle's requests, chosen per vehicle by
// its autopilot (SetAutopilot, AUTOPILOT_VERSION) unless Options.UploadWindow overrides it;
// see BENCHMARKS.md, "Ground station sessions".
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
	CommandRetries int           // extra attempts after the first, default 3, negative = none (confirmation field incremented per retry)
	// CommandProgressTimeout is how long to keep waiting, without resending,
	// after a MAV_RESULT_IN_PROGRESS ACK for the next ACK; default 10 s.
	CommandProgressTimeout time.Duration
	// RefusalTextWindow is how long Command keeps listening for the
	// vehicle's STATUSTEXT after a refusal (an ACK other than ACCEPTED):
	// ArduPilot queues the explanation ("Arm: AUTO mode not armable") and
	// sends it just after the COMMAND_ACK. Collection ends early once texts
	// have arrived and a fifth of the window passes without another.
	// Default 1 s; negative turns it off (a refusal returns at once).
	RefusalTextWindow time.Duration

	MissionItemTimeout time.Duration // per request/item, default 1.5 s
	MissionRetries     int           // per item / per phase, default 5, negative = none
	// UploadWindow is how many items an upload streams ahead of the
	// vehicle's MISSION_REQUEST. 0 (the default) chooses per vehicle:
	// ArduPilot (HEARTBEAT autopilot; once AUTOPILOT_VERSION is known,
	// release 4.0 or later: streamsEarlyItems), which takes any item whose
	// seq is the one it expects next and answers others with a non-final
	// INVALID_SEQUENCE, gets an adaptive window (16 growing to 64, copies and retransmission
	// timeouts from the measured loss and round trip); any other or a not
	// yet known autopilot gets the strict MAVLink sequence, one item per
	// request. 1 forces strict for every vehicle; N > 1 forces a fixed
	// window of N for every vehicle.
	UploadWindow int
	// MissionWindow is how many MISSION_REQUEST_INTs a download keeps in
	// flight, one copy each; default 16. 1 is the strict one-at-a-time
	// MAVLink sequence. Vehicles whose upload is adaptive (ArduPilot,
	// UploadWindow 0) read back faster instead, on any link: requests in
	// copies from the measured loss, a window of request frames (copies
	// included) growing from 32 to 128 that halves when the round trip
	// shows a queue, and lost items asked again after a retransmission
	// timeout (see downloadTransfer).
	MissionWindow int

	ParamTimeout time.Duration // per request / per silent gap, default 1.5 s
	ParamRetries int           // default 5, negative = none
	// ParamNameTimeout bounds a read by name (ParamGet, and ParamSet's
	// type lookup) while the vehicle's parameter table is not known in
	// full: ArduPilot answers nothing for a name it lacks, so silence this
	// long ends in ErrTimeout ("unknown name?"). Once the table is known
	// (a full download, or as many names seen as PARAM_VALUE's
	// param_count), a name outside it fails at once with ErrUnknownParam. Default 3 s; requests go out
	// every sixth of it (or ParamTimeout, if shorter).
	ParamNameTimeout time.Duration
	// ParamWindow is how many PARAM_REQUEST_READs for missing indices are
	// in flight at once during a full download; default 16.
	ParamWindow int

	// StationSystemID, when set, makes Command ignore COMMAND_ACKs that a
	// vehicle addressed to another ground station (MAVLink 2 target fields).
	StationSystemID uint8

	Log *slog.Logger // default slog.Default()
	// Clock times every operation (timeouts, retries, the refusal window,
	// FTP round trips); default the wall clock.
	Clock Clock
}

// DefaultOptions holds the value every zero field of Options takes: the
// one source for these defaults (burgut serve's flags start from them).
func DefaultOptions() Options {
	return Options{
		CommandTimeout:         1500 * time.Millisecond,
		CommandRetries:         3,
		CommandProgressTimeout: 10 * time.Second,
		RefusalTextWindow:      time.Second,
		MissionItemTimeout:     1500 * time.Millisecond,
		MissionRetries:         5,
		MissionWindow:          16,
		ParamTimeout:           1500 * time.Millisecond,
		ParamRetries:           5,
		ParamNameTimeout:       3 * time.Second,
		UploadWindow:           0, // auto: by autopilot
		ParamWindow:            16,
		Clock:                  realClock{},
	}
}

// withDefaults fills zero fields from DefaultOptions. A negative retry
// count means no retries (0 after this), since 0 itself asks for the
// default.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	dur := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	num := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	retries := func(v *int, def int) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			*v = 0
		}
	}
	dur(&o.CommandTimeout, d.CommandTimeout)
	retries(&o.CommandRetries, d.CommandRetries)
	dur(&o.CommandProgressTimeout, d.CommandProgressTimeout)
	if o.RefusalTextWindow == 0 { // negative: off
		o.RefusalTextWindow = d.RefusalTextWindow
	}
	dur(&o.MissionItemTimeout, d.MissionItemTimeout)
	retries(&o.MissionRetries, d.MissionRetries)
	num(&o.MissionWindow, d.MissionWindow)
	dur(&o.ParamTimeout, d.ParamTimeout)
	retries(&o.ParamRetries, d.ParamRetries)
	dur(&o.ParamNameTimeout, d.ParamNameTimeout)
	if o.UploadWindow < 0 {
		o.UploadWindow = d.UploadWindow
	}
	num(&o.ParamWindow, d.ParamWindow)
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = d.Clock
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
	// ErrUnknownParam: the vehicle's parameter table is known in full and
	// does not hold the name; nothing was sent.
	ErrUnknownParam = errors.New("vehicle has no parameter of that name")
)
