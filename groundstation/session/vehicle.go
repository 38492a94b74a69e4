package session

import (
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavitem"
)

// inboxSize bounds how many replies an operation may have queued. Handle
// drops beyond it (it must never block the dispatcher); retries recover.
const inboxSize = 1024

// Vehicle is the protocol side of one aircraft (one per link, system ID and
// component ID). It is safe for concurrent use: the dispatcher calls Handle
// while any number of goroutines run operations.
type Vehicle struct {
	send   Sender
	target Target
	opts   Options
	log    *slog.Logger
	clock  Clock
	// autopilot is MAV_AUTOPILOT+1 as the ground station last reported
	// it (0 = not known yet); it picks the upload plan.
	autopilot atomic.Uint32
	// linkLoss is the ground station's measured loss on the vehicle's
	// link (float64 bits, fraction; 0 = none measured), the prior of an
	// upload's own loss estimate.
	linkLoss atomic.Uint64

	mu        sync.Mutex
	closed    bool
	done      chan struct{}
	waiters   map[*waiter]struct{}
	commands  map[uint16]bool              // MAV_CMDs with a pending Command
	transfers map[mavitem.MissionType]bool // mission types with a running transfer
	paramsAll bool                         // a full parameter download is running
	paramType map[string]uint8             // last seen MAV_PARAM_TYPE per name
	// paramCount is the vehicle's parameter count as its last indexed
	// PARAM_VALUE (or the FTP parameter file) said; 0 = not known. With
	// as many names in paramType the table is complete (paramTable).
	paramCount int
	caps       uint64     // AUTOPILOT_VERSION capabilities (MAV_PROTOCOL_CAPABILITY)
	capsKnown  bool       // an AUTOPILOT_VERSION has been seen
	swVersion  uint32     // its flight_sw_version (major<<24 | minor<<16 | patch<<8 | type)
	ftp        ftpState   // MAVLink FTP client state (ftp.go)
	link       linkMemory // what the last windowed upload measured
}

// waiter is one running operation's mailbox. Handle offers it the messages
// its filter accepts; the operation reads them from ch in its own goroutine.
type waiter struct {
	accept func(msg message.Message) bool
	ch     chan message.Message
}

// New creates the session for one vehicle. Nothing is sent until an
// operation is called.
func New(send Sender, target Target, opts Options) *Vehicle {
	opts = opts.withDefaults()
	return &Vehicle{
		send:      send,
		target:    target,
		opts:      opts,
		log:       opts.Log.With("sysid", target.SystemID, "compid", target.ComponentID),
		clock:     opts.Clock,
		done:      make(chan struct{}),
		waiters:   make(map[*waiter]struct{}),
		commands:  make(map[uint16]bool),
		transfers: make(map[mavitem.MissionType]bool),
		paramType: make(map[string]uint8),
	}
}

// Capabilities returns the MAV_PROTOCOL_CAPABILITY bits of the vehicle's
// last AUTOPILOT_VERSION; known is false until one has been seen. Protocol
// choices that depend on the autopilot (parameters over FTP, upload
// windows) read them here rather than asking the vehicle again.
func (v *Vehicle) Capabilities() (caps uint64, known bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.caps, v.capsKnown
}

// version returns the vehicle's last AUTOPILOT_VERSION: capabilities and
// flight_sw_version; known is false until one has been seen.
func (v *Vehicle) version() (caps uint64, sw uint32, known bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.caps, v.swVersion, v.capsKnown
}

// Target returns the address the session sends to.
func (v *Vehicle) Target() Target { return v.target }

// SetAutopilot tells the session which autopilot the vehicle runs
// (MAV_AUTOPILOT from its HEARTBEAT). The ground station owns that fact
// and passes it on each HEARTBEAT; the session only uses it to choose how
// mission uploads stream (see Options.UploadWindow). Cheap: one atomic store.
func (v *Vehicle) SetAutopilot(ap uint8) { v.autopilot.Store(uint32(ap) + 1) }

// SetLinkLoss tells the session the loss the ground station measures on
// the vehicle's link (0..1, from MAVLink sequence gaps). An upload starts
// its copies from it instead of from a guess, so the first items of a
// windowed upload on a lossy link do not stall. Cheap: one atomic store.
func (v *Vehicle) SetLinkLoss(frac float64) {
	if !(frac >= 0) { // NaN or negative: nothing measured
		frac = 0
	}
	v.linkLoss.Store(math.Float64bits(min(frac, 1)))
}

// LinkLoss returns what SetLinkLoss last set (0 before).
func (v *Vehicle) LinkLoss() float64 { return math.Float64frombits(v.linkLoss.Load()) }

// Autopilot returns what SetAutopilot last set; ok is false before.
func (v *Vehicle) Autopilot() (ap uint8, ok bool) {
	a := v.autopilot.Load()
	return uint8(a - 1), a != 0
}

// Handle is called by the dispatcher for every frame received from this
// vehicle. It never blocks: it hands the message to whichever operation is
// waiting for it, or drops it. Telemetry the sessions do not care about
// returns after one type switch.
func (v *Vehicle) Handle(msg message.Message) {
	switch m := msg.(type) {
	case *common.MessageCommandAck, *common.MessageStatustext,
		*common.MessageMissionRequestInt, *common.MessageMissionRequest,
		*common.MessageMissionAck, *common.MessageMissionCount,
		*common.MessageMissionItemInt, *common.MessageMissionItem,
		*common.MessageMissionCurrent, *common.MessageFileTransferProtocol:
	case *common.MessageAutopilotVersion:
		v.mu.Lock()
		v.caps, v.capsKnown, v.swVersion = uint64(m.Capabilities), true, m.FlightSwVersion
		v.mu.Unlock()
		return
	case *common.MessageParamValue:
		v.mu.Lock()
		v.paramType[m.ParamId] = uint8(m.ParamType)
		if m.ParamCount != 0 && m.ParamCount != paramIndexNone {
			v.paramCount = int(m.ParamCount)
		}
		v.mu.Unlock()
	default:
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for w := range v.waiters {
		if !w.accept(msg) {
			continue
		}
		select {
		case w.ch <- msg:
		default:
			v.log.Debug("session inbox full, dropping reply", "msg_id", msg.GetID())
		}
	}
}

// Close fails every pending and future operation with ErrClosed. It may be
// called more than once.
func (v *Vehicle) Close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.closed {
		v.closed = true
		close(v.done)
	}
}

// commandInbox bounds a command's mailbox: its COMMAND_ACKs (a few
// IN_PROGRESS, then the result) and the STATUSTEXTs meanwhile, taken as
// they come. inboxSize (1,024 replies, 16 KiB) for each of the dozen or so
// commands a vehicle is sent as it connects was a tenth of `burgut
// serve`'s allocation while 2,000 vehicles connected.
const commandInbox = 64

// subscribe registers a mailbox of inboxSize before the request goes out,
// so no reply can slip past. The returned func unregisters it.
func (v *Vehicle) subscribe(accept func(message.Message) bool) (*waiter, func(), error) {
	return v.subscribeN(inboxSize, accept)
}

// subscribeN is subscribe with a mailbox of n replies.
func (v *Vehicle) subscribeN(n int, accept func(message.Message) bool) (*waiter, func(), error) {
	w := &waiter{accept: accept, ch: make(chan message.Message, n)}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil, nil, ErrClosed
	}
	v.waiters[w] = struct{}{}
	return w, func() {
		v.mu.Lock()
		delete(v.waiters, w)
		v.mu.Unlock()
	}, nil
}

// sendMsg sends one message, wrapping a link error with what was being sent.
func (v *Vehicle) sendMsg(msg message.Message) error {
	if err := v.send.Send(msg); err != nil {
		return fmt.Errorf("send %T to vehicle %d/%d: %w", msg, v.target.SystemID, v.target.ComponentID, err)
	}
	return nil
}
