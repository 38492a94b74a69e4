package groundstation

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
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
	// signing is the vehicle's MAVLink signing state, nil without a key
	// (signing.go).
	signing atomic.Pointer[recSigning]
	// rtt is the round trip of the last command answered on its first
	// attempt (send to COMMAND_ACK), in nanoseconds; 0 until measured.
	rtt atomic.Int64

	idMu sync.RWMutex
	id   string // "" until published
	// ref is the vehicle's entry in the fleet for the dispatcher's updates
	// (fleet.UpdateRef), filled in by the first.
	ref fleet.Ref

	// Frames to and from the vehicle go to the station's frame taps (the
	// tlog recorder) under tapMu, so received and sent frames keep their
	// order. Until the vehicle is published it has no ID to file them
	// under: they wait in tapPending (bounded; the excess is counted) and
	// go to the taps at publication, so a tlog starts with the first frame.
	tapMu      sync.Mutex
	tapID      string
	tapPending []tappedFrame
	sentSeq    uint8

	uid          atomic.Uint64
	duplicates   atomic.Uint64
	rateRequests atomic.Int64
	setups       atomic.Int64
	reboots      atomic.Int64
	// clockRate is math.Float64bits of how many boot-clock seconds the
	// vehicle counted per second of the station's clock over its last
	// complete window (0: not measured yet). See Station.ClockRate.
	clockRate atomic.Uint64
	// clockOffset is math.Float64bits of the vehicle's clock offset over
	// its last complete offset window (see observeClock); 0 = none yet.
	clockOffset atomic.Uint64
	streamsOK   atomic.Bool
	autopilot   atomic.Uint32 // MAV_AUTOPILOT, for the stream-request fallback
	// missionItems is the mission length this station last uploaded or
	// downloaded (0 = unknown): its last item reached is mission_complete.
	missionItems atomic.Int64
	// lists keeps the on-board mission, fence and rally lists as last
	// read, for every console that shows them (listcache.go).
	lists listCache

	// dispatcher-owned
	published    bool
	pendingSince time.Time
	pre          fleet.Vehicle // state gathered while waiting for the UID
	preHeard     []heardState  // each message's state meanwhile, replayed to stores at publication
	connected    bool
	lastHB       time.Time
	lastFrame    time.Time
	lastLQ       time.Time
	received     uint64
	lost         int64
	win          window
	lossLong     lossEWMA // the long-horizon loss an upload's copies start from (uploadLoss)
	// lossToSess is the uploadLoss last given to the session (attach):
	// it is stored there only when it changes, because the store is an
	// atomic write to the session's memory, which a frame otherwise never
	// touches — at 36,000 frames a second over 2,000 vehicles that line
	// is never in cache, and the write's miss was a third of attach's own
	// CPU in a perf profile of serve (BENCHMARKS.md).
	lossToSess float64
	lastBootMs uint32
	// clockBootMs and clockAt start the window over which the vehicle's
	// boot clock is compared with the station's (observeClock).
	clockBootMs uint32
	clockAt     time.Time
	// offAt starts the window whose least offset is offMin (observeClock).
	offAt        time.Time
	offMin       float64
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
// last heard on, and hands the frame to the frame taps, so a tlog shows
// what the station asked as well as what the vehicle answered. gomavlib
// drops silently when that channel's queue is full; the session's retries
// cover it. A keyed vehicle's frames are signed (signing.go), as are
// those to a vehicle not yet published whose system ID a stored key
// guards: it must be asked for its UID in a way it accepts.
func (r *vehicleRec) Send(msg message.Message) error {
	vs := r.signing.Load()
	if vs == nil {
		vs = r.ln.signedSys[r.sys].Load()
	}
	if vs != nil {
		return r.sendWith(vs, msg)
	}
	return r.sendPlain(msg)
}

// sendPlain is Send for a vehicle without a signing key.
func (r *vehicleRec) sendPlain(msg message.Message) error {
	ch := r.ch.Load()
	if ch == nil {
		return errLinkDown
	}
	if !r.st.hasTaps() {
		return r.ln.gated(ch, func() error { return r.ln.node.WriteMessageTo(ch, msg) })
	}
	// Encode once, here: gomavlib sends the encoded message as is, and the
	// taps get bytes no later change to msg (callers resend and reuse
	// messages) can alter.
	mp := r.st.dialect.GetMessage(msg.GetID())
	if mp == nil {
		return fmt.Errorf("message %d is not in the dialect", msg.GetID())
	}
	raw := mp.Write(msg, true)
	// The tap lock is held across the write: the vehicle's answer, which
	// the link's reader may handle before this goroutine runs again, is
	// tapped after the frame it answers (gomavlib's node never waits for
	// the taps, so this cannot deadlock). It is taken after the send
	// gate, which may wait.
	return r.ln.gated(ch, func() error {
		r.tapMu.Lock()
		defer r.tapMu.Unlock()
		at := time.Now()
		if err := r.ln.node.WriteMessageTo(ch, raw); err != nil {
			return err
		}
		// gomavlib numbers frames per channel internally; the logged frame
		// carries the station's own per-vehicle count instead.
		r.sentSeq++
		f := &frame.V2Frame{SequenceNumber: r.sentSeq, SystemID: r.st.cfg.SystemID,
			ComponentID: uint8(common.MAV_COMP_ID_MISSIONPLANNER), Message: raw}
		f.Checksum = f.GenerateChecksum(mp.CRCExtra())
		r.tapLocked(tappedFrame{at: at, f: f, sent: true})
		return nil
	})
}

// heardState is the state right after one message of a vehicle not yet
// published.
type heardState struct {
	at    time.Time
	cause any
	v     fleet.Vehicle
}

// maxPreHeard bounds the states kept for a vehicle waiting for its ID
// (beyond it they are counted in LinkInfo.TapPendingDropped).
const maxPreHeard = 512

// tappedFrame is a frame waiting for its vehicle's ID.
type tappedFrame struct {
	at   time.Time
	f    frame.Frame
	raw  []byte // as received (nil: not known, or sent)
	sent bool
}

// maxTapPending bounds the frames kept for a vehicle waiting for its ID
// (IdentityWait at ~20 frames/s is ~40; a vehicle streaming fast for the
// full wait loses its oldest beyond this, counted in TapDropped).
const maxTapPending = 1024

// tap hands a frame of this vehicle to the station's taps, or keeps it
// until the vehicle is published.
func (r *vehicleRec) tap(at time.Time, f frame.Frame, raw []byte) {
	r.tapMu.Lock()
	r.tapLocked(tappedFrame{at: at, f: f, raw: raw})
	r.tapMu.Unlock()
}

func (r *vehicleRec) tapLocked(t tappedFrame) {
	if r.tapID != "" {
		r.st.tapFrame(r.tapID, r.ln.l.name, t.at, t.f, t.raw, t.sent)
		return
	}
	if len(r.tapPending) >= maxTapPending {
		r.ln.tapDropped.Add(1)
		return
	}
	// A shallow copy: gomavlib hands each event its own frame and message,
	// and nobody modifies them; the copy only outlives the event.
	switch ff := t.f.(type) {
	case *frame.V1Frame:
		c := *ff
		t.f = &c
	case *frame.V2Frame:
		c := *ff
		t.f = &c
	}
	r.tapPending = append(r.tapPending, t)
}

// tapPublish gives the vehicle's frames their ID: the frames kept while it
// was pending go to the taps first, in order.
func (r *vehicleRec) tapPublish(id string) {
	r.tapMu.Lock()
	defer r.tapMu.Unlock()
	r.tapID = id
	for _, t := range r.tapPending {
		r.st.tapFrame(id, r.ln.l.name, t.at, t.f, t.raw, t.sent)
	}
	r.tapPending = nil
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

// uploadLoss is the loss rate (0..1) the vehicle's session sizes a mission
// transfer's copies from: the larger of the 5 s window's figure, which
// sees a link that just got worse first, and the long-horizon count,
// which is precise where the window's 75-odd telemetry frames are not
// (lossEWMA). The larger, because an estimate too low costs a stall of
// a retransmission timeout per lost item and one too high only a copy.
func (r *vehicleRec) uploadLoss(at time.Time) float64 {
	_, pct := r.win.stats(at)
	return max(pct/100, r.lossLong.frac())
}

func (r *vehicleRec) linkQuality(at time.Time) fleet.LinkQuality {
	rate, loss := r.win.stats(at)
	lost := r.lost
	if lost < 0 {
		lost = 0
	}
	return fleet.LinkQuality{Received: r.received, Lost: uint64(lost), LossPct: roundTo(loss, rateResolution), RateHz: roundTo(rate, rateResolution),
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
