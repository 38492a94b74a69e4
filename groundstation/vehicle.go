package groundstation

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation/session"
)

// errLinkDown is returned by a vehicle's Sender while no channel to it is
// open (e.g. its UDP channel idled out); the session's retries recover
// once the vehicle is heard again.
var errLinkDown = errors.New("no open channel to the vehicle")

type vkey struct{ sys, comp uint8 }

type compRole uint8

const (
	roleIgnored compRole = iota
	roleAutopilot
	roleCamera
	roleOther
)

// compRec is one (system, component) heard on a link: the vehicle it
// belongs to and its own sequence accounting.
type compRec struct {
	rec    *vehicleRec
	role   compRole
	id     uint8 // component ID
	seq    seqTracker
	lastHB time.Time
}

// vehicleRec is the station's record of one vehicle on one link. Fields
// under "dispatcher-owned" are only touched by its link's dispatcher.
type vehicleRec struct {
	st   *Station
	ln   *linkRT
	sys  uint8
	comp uint8
	base string
	sess *session.Vehicle
	ch   atomic.Pointer[gomavlib.Channel]
	// rtt is the round trip of the last command answered on its first
	// attempt (send to COMMAND_ACK), in nanoseconds; 0 until measured.
	rtt atomic.Int64

	idMu sync.RWMutex
	id   string // "" until published

	uid          atomic.Uint64
	duplicates   atomic.Uint64
	rateRequests atomic.Int64
	setups       atomic.Int64
	reboots      atomic.Int64
	streamsOK    atomic.Bool
	autopilot    atomic.Uint32 // MAV_AUTOPILOT, for the stream-request fallback
	// missionItems is the mission length this station last uploaded or
	// downloaded (0 = unknown): its last item reached is mission_complete.
	missionItems atomic.Int64

	// dispatcher-owned
	published    bool
	pendingSince time.Time
	pre          fleet.Vehicle // state gathered while waiting for the UID
	connected    bool
	lastHB       time.Time
	lastFrame    time.Time
	lastLQ       time.Time
	received     uint64
	lost         int64
	win          window
	lastBootMs   uint32
	fenceStatus  bool // FENCE_STATUS seen: trust it over SYS_STATUS bits
	missionTotal int
	completeSent bool
	video        map[uint16]fleet.VideoStream
	camInfo      map[uint8][2]string
	textChunks   map[uint16]string

	// setup work (identity, rates, cameras), run by one goroutine at a time
	setupMu      sync.Mutex
	setupRunning bool
	wantRates    bool
	wantIdentity bool
	wantCams     map[uint8]bool
	setupReason  string
}

// Send implements session.Sender: it writes on the channel the vehicle was
// last heard on. gomavlib drops silently when that channel's queue is
// full; the session's retries cover it.
func (r *vehicleRec) Send(msg message.Message) error {
	ch := r.ch.Load()
	if ch == nil {
		return errLinkDown
	}
	return r.ln.node.WriteMessageTo(ch, msg)
}

// ID returns the published vehicle ID ("" while pending).
func (r *vehicleRec) ID() string {
	r.idMu.RLock()
	defer r.idMu.RUnlock()
	return r.id
}

func (r *vehicleRec) setID(id string) {
	r.idMu.Lock()
	r.id = id
	r.idMu.Unlock()
}

func (r *vehicleRec) linkQuality(at time.Time) fleet.LinkQuality {
	rate, loss := r.win.stats(at)
	lost := r.lost
	if lost < 0 {
		lost = 0
	}
	return fleet.LinkQuality{Received: r.received, Lost: uint64(lost), LossPct: loss, RateHz: rate,
		LatencyS: time.Duration(r.rtt.Load()).Seconds()}
}

// lastMissionSeq is the sequence number of the mission's last item, or 0
// when unknown. A transfer through this station knows it exactly;
// otherwise MISSION_CURRENT's total is used, which ArduPilot counts
// without its home item 0 (so the last seq equals the total).
func (r *vehicleRec) lastMissionSeq() int {
	if n := r.missionItems.Load(); n > 0 {
		return int(n) - 1
	}
	if r.missionTotal <= 0 {
		return 0
	}
	if common.MAV_AUTOPILOT(r.autopilot.Load()) == common.MAV_AUTOPILOT_ARDUPILOTMEGA {
		return r.missionTotal
	}
	return r.missionTotal - 1
}
