package groundstation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/dialect"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/ardupilotmega"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation/session"
)

// Config configures a Station. The zero value of every field but Links
// takes the default noted on it.
type Config struct {
	// Links are MAVLink link specs, optionally named: [NAME=]KIND:ADDRESS
	// with KIND udp (UDP server: vehicles send here), udpc (UDP client),
	// tcp (TCP client), tcps (TCP server) or serial (serial:DEVICE:BAUD).
	// Without a name the link is named after its kind and port, e.g.
	// "udp14550"; the name is part of the IDs of vehicles that do not tell
	// their UID. Grammar and parser: internal/linkspec.
	Links []string
	// SystemID is the station's own MAVLink system ID (default 255,
	// ArduPilot's SYSID_MYGCS default).
	SystemID uint8
	// HeartbeatTimeout marks a vehicle link_lost after this long without a
	// HEARTBEAT (default 5 s).
	HeartbeatTimeout time.Duration
	// LinkLostMaxDefer bounds how long past HeartbeatTimeout a link-lost
	// decision is put off while the station is behind its link (default
	// 30 s). A station judges silence against the last moment it had
	// handled everything the link gave it, so its own lateness never reads
	// as a silent vehicle; but a station that has not caught up with a
	// link for this long cannot vouch for its vehicles either, and a
	// vehicle really silent must still be declared lost: it then is, and
	// the decision is counted (LinkInfo.LinkLostUnverified) and logged.
	LinkLostMaxDefer time.Duration
	// StreamRateHz is the telemetry rate requested from every vehicle
	// (default 4 Hz); HOME_POSITION is requested at a tenth of it.
	StreamRateHz float64
	// Session tunes the per-vehicle protocol timeouts and retries.
	Session session.Options

	// IdentityFile persists the autopilot UID → vehicle ID map so an
	// aircraft keeps its ID across links and restarts ("" = memory only).
	IdentityFile string
	// IdentityWait is how long a newly heard vehicle may wait for its
	// AUTOPILOT_VERSION (UID) before it is published under a link-derived
	// ID (default 2 s).
	IdentityWait time.Duration
	// SetupConcurrency bounds how many vehicles are being set up (identity,
	// stream rates, camera discovery) at once, so thousands connecting
	// together do not flood the links (default 64).
	SetupConcurrency int
	// UDPReceiveBuffer is the socket receive buffer asked for on UDP server
	// links, in bytes (default 4 MiB; the kernel grants at most
	// net.core.rmem_max, see Station.SocketBuffer). A larger buffer rides
	// out the station's scheduling hiccups instead of dropping datagrams.
	UDPReceiveBuffer int
	// UDPBatchWait is how long a busy UDP server link's reader waits,
	// after emptying its socket, before reading it again (default 2 ms;
	// negative: never wait). Reading a busy socket in batches instead of
	// waking for every datagram roughly halves the station's thread
	// switches; a datagram is delayed by at most this much, and a link
	// carrying fewer than 1,000 datagrams/s is read at once.
	UDPBatchWait time.Duration
	// ClockScale is how fast the vehicles' boot clocks are expected to run
	// against the station's: a simulator's speedup (the operations time
	// scale), 1 for real autopilots (0 = 1). It turns each vehicle's boot
	// clock into an offset on the station's clock (Station.ClockOffsets),
	// from which a lagging simulator's lag is followed.
	ClockScale float64
	// EveryMessage hands every message an autopilot sends to the fleet's
	// subscribers as the cause of an update, also the messages that change
	// no state (COMMAND_ACK, PARAM_VALUE, an AUTOPILOT_VERSION repeating a
	// known UID, ...): at telemetry interval 0 the recorder stores one point
	// per message received, as Telegraf does, and a message that is not the
	// cause of any update never reaches it. Off, such messages update
	// nothing, so the default interval's samples are exactly what they were.
	EveryMessage bool
	// SigningKeyFile keeps the per-vehicle MAVLink signing keys (mode
	// 0600; "" = memory only, keys are lost at exit).
	SigningKeyFile string
	// Log receives the station's logs (default slog.Default()).
	Log *slog.Logger

	// udpMaxStaged bounds the datagrams a UDP server link stages for its
	// dispatcher (default udpMaxStaged; tests overflow a small one).
	udpMaxStaged int
}

// ErrUnknownVehicle is returned (wrapped) for a vehicle ID the station has
// never published; the HTTP API maps it to 404.
var ErrUnknownVehicle = errors.New("unknown vehicle")

// Station is the MAVLink ground station: it owns the links, the
// dispatchers, the per-vehicle sessions and the goroutines that set
// vehicles up. Build it with New, start it with Run.
type Station struct {
	cfg      Config
	fleet    *fleet.Fleet
	log      *slog.Logger
	links    []*link
	taps     atomic.Pointer[[]frameTaps] // copy-on-write: AddFrameTap may race with a running dispatcher
	reg      *registry
	dialect  *dialect.ReadWriter // encodes what the station sends, for the frame taps
	setupSem chan struct{}
	ready    chan struct{}
	keys     *keyStore  // MAVLink signing keys (signing.go)
	signMu   sync.Mutex // one signing key change at a time

	mu      sync.Mutex
	started bool
	running []*linkRT
	runCtx  context.Context
	sockBuf SocketBuffer
	wg      sync.WaitGroup // setup goroutines
}

// New validates cfg (every link spec, with an error naming the bad one)
// and prepares a Station; nothing is opened until Run.
func New(cfg Config, fl *fleet.Fleet, log *slog.Logger) (*Station, error) {
	if fl == nil {
		return nil, errors.New("groundstation: fleet is nil")
	}
	if log == nil {
		log = slog.Default()
	}
	cfg = cfg.withDefaults()
	links, err := parseLinks(cfg.Links)
	if err != nil {
		return nil, err
	}
	reg, err := newRegistry(cfg.IdentityFile)
	if err != nil {
		return nil, err
	}
	keys, err := openKeyStore(cfg.SigningKeyFile, log)
	if err != nil {
		return nil, err
	}
	rw := &dialect.ReadWriter{Dialect: ardupilotmega.Dialect}
	if err := rw.Initialize(); err != nil {
		return nil, fmt.Errorf("groundstation: ardupilotmega dialect: %w", err)
	}
	return &Station{cfg: cfg, fleet: fl, log: log, links: links, reg: reg, dialect: rw, keys: keys,
		setupSem: make(chan struct{}, cfg.SetupConcurrency), ready: make(chan struct{})}, nil
}

// DefaultConfig holds the value every zero field of Config but Links takes
// (Session: session.DefaultOptions): the one source for these defaults
// (burgut serve's flags start from them).
func DefaultConfig() Config {
	return Config{
		SystemID:         255,
		HeartbeatTimeout: 5 * time.Second,
		LinkLostMaxDefer: 30 * time.Second,
		StreamRateHz:     4,
		Session:          session.DefaultOptions(),
		IdentityWait:     2 * time.Second,
		UDPBatchWait:     2 * time.Millisecond,
		SetupConcurrency: 64,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.SystemID == 0 {
		c.SystemID = d.SystemID
	}
	if c.HeartbeatTimeout <= 0 {
		c.HeartbeatTimeout = d.HeartbeatTimeout
	}
	if c.LinkLostMaxDefer <= 0 {
		c.LinkLostMaxDefer = d.LinkLostMaxDefer
	}
	if c.StreamRateHz <= 0 {
		c.StreamRateHz = d.StreamRateHz
	}
	if c.IdentityWait <= 0 {
		c.IdentityWait = d.IdentityWait
	}
	if c.SetupConcurrency <= 0 {
		c.SetupConcurrency = d.SetupConcurrency
	}
	if c.UDPReceiveBuffer <= 0 {
		c.UDPReceiveBuffer = 4 << 20
	}
	if c.UDPBatchWait == 0 {
		c.UDPBatchWait = d.UDPBatchWait
	}
	if c.udpMaxStaged <= 0 {
		c.udpMaxStaged = udpMaxStaged
	}
	return c
}

// Run opens every link and serves until ctx is cancelled; it owns the
// gomavlib nodes and every goroutine, and returns nil once all stopped.
//
// A link that cannot be opened (port in use, no serial device) fails Run
// with an error naming it. Every link gets its own gomavlib Node (station
// heartbeat at 1 Hz, MAV_TYPE_GCS, MAVLink 2, ardupilotmega dialect) and
// its own dispatcher goroutine.
func (s *Station) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("groundstation: Run called twice")
	}
	s.started = true
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.runCtx = ctx
	var lns []*linkRT
	closeNodes := func() {
		for _, ln := range lns {
			ln.node.Close()
		}
	}
	if sb, err := probeSocketBuffer(s.cfg.UDPReceiveBuffer); err != nil {
		s.log.Warn("udp receive buffer unknown", "error", err)
	} else {
		s.sockBuf = sb
		lvl := slog.LevelInfo
		if sb.Effective < sb.Requested {
			lvl = slog.LevelWarn // rmem_max caps it: raise net.core.rmem_max
		}
		s.log.Log(ctx, lvl, "udp receive buffer", "requested", sb.Requested, "effective_so_rcvbuf", sb.Effective, "rmem_max", sb.RmemMax)
	}
	for _, l := range s.links {
		ln := newLinkRT(s, l)
		ep := l.endpoint
		if u, ok := ep.(gomavlib.EndpointUDPServer); ok {
			ep = udpServerEndpoint(u.Address, s.cfg.UDPReceiveBuffer, s.cfg.udpMaxStaged, s.cfg.UDPBatchWait, func(l *udpListener) { ln.udp.Store(l) })
		} else {
			ep = ln.gatedEndpoint(ep)
		}
		ln.node = &gomavlib.Node{
			Endpoints:      []gomavlib.EndpointConf{ep},
			Dialect:        ardupilotmega.Dialect,
			OutVersion:     gomavlib.V2,
			OutSystemID:    s.cfg.SystemID,
			OutComponentID: uint8(common.MAV_COMP_ID_MISSIONPLANNER),
			// The station sends its HEARTBEAT itself, spread over the
			// second (heartbeat.go): gomavlib's wakes every channel's
			// writer goroutine at the same instant.
			HeartbeatDisable: true,
		}
		if err := ln.node.Initialize(); err != nil {
			closeNodes()
			s.mu.Unlock()
			return fmt.Errorf("open mavlink link %s (%s): %w", l.name, l.spec, err)
		}
		lns = append(lns, ln)
	}
	s.running = lns
	s.armStoredKeys(lns)
	s.mu.Unlock()
	close(s.ready)
	s.spawn(s.signedHeartbeats)
	s.spawn(s.heartbeats)
	s.log.Info("ground station running", "links", len(lns), "sysid", s.cfg.SystemID)

	var dwg sync.WaitGroup
	for _, ln := range lns {
		dwg.Add(1)
		go func() {
			defer dwg.Done()
			ln.run(ctx)
		}()
	}
	dwg.Add(1)
	go func() {
		defer dwg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.reg.save(); err != nil {
					s.log.Warn("vehicle identities not saved", "error", err)
				}
			}
		}
	}()

	<-ctx.Done()
	dwg.Wait()
	s.wg.Wait()
	for _, rec := range s.allRecs() {
		rec.sess.Close()
	}
	closeNodes()
	for _, ln := range lns {
		ln.logUndispatched()
	}
	if err := s.reg.save(); err != nil {
		s.log.Warn("vehicle identities not saved", "error", err)
	}
	s.log.Info("ground station stopped")
	return nil
}

// Ready is closed once Run has opened every link (servers are listening).
func (s *Station) Ready() <-chan struct{} { return s.ready }

// spawn runs fn in a goroutine owned by the Station; Run cancels its
// context and waits for it.
func (s *Station) spawn(fn func(ctx context.Context)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn(s.runCtx)
	}()
}

func (s *Station) hasTaps() bool { return s.taps.Load() != nil }

func (s *Station) tapFrame(vehicleID, link string, at time.Time, f frame.Frame, raw []byte, sent bool) {
	if taps := s.taps.Load(); taps != nil {
		for _, t := range *taps {
			if t.one != nil {
				t.one(vehicleID, link, at, f, raw, sent)
			} else {
				t.many([]TappedFrame{{VehicleID: vehicleID, Link: link, At: at, Frame: f, Raw: raw, Sent: sent}})
			}
		}
	}
}

// tapFrames gives every tap a batch of frames, in order.
func (s *Station) tapFrames(frames []TappedFrame) {
	if len(frames) == 0 {
		return
	}
	if taps := s.taps.Load(); taps != nil {
		for _, t := range *taps {
			if t.many != nil {
				t.many(frames)
				continue
			}
			for i := range frames {
				tf := &frames[i]
				t.one(tf.VehicleID, tf.Link, tf.At, tf.Frame, tf.Raw, tf.Sent)
			}
		}
	}
}

func (s *Station) allRecs() []*vehicleRec {
	var out []*vehicleRec
	for _, ln := range s.running {
		out = append(out, ln.recs...)
	}
	return out
}

// Session returns the protocol session of a vehicle, for operations the
// Station does not wrap (parameters, clear, set current).
func (s *Station) Session(vehicleID string) (*session.Vehicle, error) {
	rec := s.reg.get(vehicleID)
	if rec == nil {
		return nil, fmt.Errorf("vehicle %q: %w", vehicleID, ErrUnknownVehicle)
	}
	return rec.sess, nil
}

// Command sends one MAV_CMD to a vehicle and waits for its COMMAND_ACK.
func (s *Station) Command(ctx context.Context, vehicleID string, req session.CommandRequest) (session.CommandResult, error) {
	sess, err := s.Session(vehicleID)
	if err != nil {
		return session.CommandResult{}, err
	}
	start := time.Now()
	res, err := sess.Command(ctx, req)
	if err == nil && res.Attempts == 1 && res.Progress == 0 {
		// Answered at once: a clean measure of the link's round trip
		// (IN_PROGRESS or retried commands measure the vehicle, not the link).
		if rec := s.reg.get(vehicleID); rec != nil {
			rec.rtt.Store(int64(time.Since(start)))
		}
	}
	return res, err
}

// FrameTap receives every frame the station decodes (sent false) and
// every frame it sends to a vehicle (sent true), with the vehicle it was
// attributed to ("" when none) and the link name. A vehicle's frames from
// before it is published (while it waits for its UID) are held and
// delivered, in order and with their original times, when it gets its ID.
// raw is the frame exactly as received, when the link has it (UDP server
// links decode datagrams themselves; nil for other links and for frames
// sent): a recorder can store those bytes instead of encoding the frame
// again. It is called from a dispatcher or a sender and must not block;
// the frame and raw are shared by every tap, which may keep but must
// not modify them.
type FrameTap func(vehicleID, link string, at time.Time, f frame.Frame, raw []byte, sent bool)

// TappedFrame is one frame as a FrameBatchTap receives it: FrameTap's
// arguments.
type TappedFrame struct {
	VehicleID, Link string
	At              time.Time
	Frame           frame.Frame
	Raw             []byte
	Sent            bool
}

// FrameBatchTap is a FrameTap that takes frames in batches: a
// dispatcher's received frames at the end of its batch (a few
// milliseconds of a link's datagrams), in the order received; a frame
// sent, or held before its vehicle was published, on its own — so a frame
// sent while a batch is dispatched may reach the tap before received
// frames that preceded it by up to that batch (their times say the
// order). frames is only valid during the call (the frames and their
// bytes may be kept). For a recorder that takes a lock per call: once per
// batch instead of once per frame.
type FrameBatchTap func(frames []TappedFrame)

// frameTaps is one registered tap: one of the two set.
type frameTaps struct {
	one  FrameTap
	many FrameBatchTap
}

// AddFrameTap registers a tap. It is safe while Run is active (the App
// starts the station before the telemetry part adds its tlog tap); frames
// delivered before the call are not seen by the tap.
func (s *Station) AddFrameTap(tap FrameTap) { s.addTap(frameTaps{one: tap}) }

// AddFrameBatchTap registers a tap that takes frames in batches, like
// AddFrameTap.
func (s *Station) AddFrameBatchTap(tap FrameBatchTap) { s.addTap(frameTaps{many: tap}) }

func (s *Station) addTap(tap frameTaps) {
	for {
		old := s.taps.Load()
		var n []frameTaps
		if old != nil {
			n = append(n, *old...)
		}
		n = append(n, tap)
		if s.taps.CompareAndSwap(old, &n) {
			return
		}
	}
}
