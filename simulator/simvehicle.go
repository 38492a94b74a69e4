package simulator

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialect"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/ardupilotmega"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavsign"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// Component IDs the simulated vehicle answers as.
const (
	compAutopilot = 1
	compCamera    = 100
)

// dialectRW is shared by every vehicle: it is read-only after Initialize.
var dialectRW = func() *dialect.ReadWriter {
	rw := &dialect.ReadWriter{Dialect: ardupilotmega.Dialect}
	if err := rw.Initialize(); err != nil {
		panic("simulator: ardupilotmega dialect: " + err.Error())
	}
	return rw
}()

// writerFunc adapts a function to io.Writer for frame.Writer.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// SimVehicle is one simulated vehicle with its own UDP socket: the model,
// the MAVLink protocol state and the link faults. All methods are safe for
// concurrent use; tests use them to inspect the vehicle and inject faults.
type SimVehicle struct {
	index    int
	sysid    uint8
	gcs      *net.UDPAddr
	conn     *net.UDPConn
	log      *slog.Logger
	uid      uint64
	videoURI string
	legacyMR bool
	// videoPort > 0: the camera streams RTP there (Config.Video, video.go).
	videoPort int
	videoText string // the overlay file ffmpeg reloads

	mu       sync.Mutex
	model    *vehicle.Vehicle
	modelCfg vehicle.Config
	apW      *compWriter
	camW     *compWriter
	inSrc    bytes.Reader
	inBuf    *bufio.Reader
	rd       *frame.Reader
	wallNow  time.Time

	streams   []stream
	camNextHB time.Duration
	// camWallNext, maxStreamSpeedup and tick pace the streams in wall
	// time (Config.MaxStreamSpeedup).
	camWallNext      time.Time
	maxStreamSpeedup float64
	tickEvery        time.Duration
	upload           upload
	lastUpload       finishedUpload
	plist            paramList
	extra            []vehicle.Param // inert parameters (Config.ExtraParams), after the model's
	ftp              ftpServer
	link             linkState
	pausedMode       int64 // mode before DO_PAUSE_CONTINUE pause, -1 when not paused
	tcp              map[*tcpClient]struct{}
	textID           uint16
	camPending       []message.Message
	videoStop        func() // kills the running encoder (RestartVideo)
	faults           []ScheduledFault
	speedup          float64
	gcsHBAt          time.Time // wall time of the last heartbeat from the GCS

	warnAt    time.Time
	warnCount int

	rxFrames, rxErrors, txFrames uint64
	// posSent counts GLOBAL_POSITION_INT frames handed to the ground
	// station's UDP socket past the simulated radio (PositionsSent).
	posSent uint64

	// MAVLink signing (signing.go): nil until SETUP_SIGNING gives a key.
	signing          *vehicleSigning
	signAccepted     uint64
	signRejected     [mavsign.Undecodable + 1]uint64
	signRejectedMsgs map[uint32]uint64
	signAcceptedMsgs map[uint32]uint64
	signSetupRefused uint64
}

func newSimVehicle(index int, a assignment, cfg *Config) (*SimVehicle, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(cfg.BindHost)})
	if err != nil {
		return nil, fmt.Errorf("vehicle %d: open UDP socket: %w", index, err)
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "burgut-sitl/%d/%d", cfg.Seed, index)
	sv := &SimVehicle{
		index:      index,
		sysid:      a.sysid,
		gcs:        a.gcs,
		conn:       conn,
		uid:        h.Sum64(),
		videoURI:   videoURI(cfg.VideoURI, a.sysid, index),
		legacyMR:   cfg.LegacyMissionRequest,
		pausedMode: -1,
		tcp:        map[*tcpClient]struct{}{},
		wallNow:    time.Now(),
		speedup:    cfg.Speedup,

		maxStreamSpeedup: cfg.MaxStreamSpeedup,
		tickEvery:        cfg.TickInterval,
	}
	sv.log = cfg.Log.With("vehicle", index, "sysid", a.sysid)
	if cfg.settings(index).video {
		sv.videoPort = cfg.videoPort(index)
		sv.videoURI = fmt.Sprintf("udp://%s:%d", a.gcs.IP, sv.videoPort)
	}
	sv.modelCfg = cfg.modelConfig(a, index)
	for _, f := range cfg.Scheduled {
		if f.Vehicle < 0 || f.Vehicle == index {
			sv.faults = append(sv.faults, f)
		}
	}
	sv.model = vehicle.New(sv.modelCfg)
	sv.extra = inertParams(cfg.ExtraParams)
	sv.streams = defaultStreams()
	sv.link = linkState{faults: cfg.Faults, rng: rand.New(rand.NewPCG(uint64(cfg.Seed)+uint64(index), 0x6c696e6b))}
	fw := &frame.Writer{ByteWriter: writerFunc(sv.emit), DialectRW: dialectRW}
	if err := fw.Initialize(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("vehicle %d: frame writer: %w", index, err)
	}
	sv.apW = &compWriter{fw: fw, sys: a.sysid, comp: compAutopilot}
	sv.camW = &compWriter{fw: fw, sys: a.sysid, comp: compCamera}
	sv.inBuf = bufio.NewReaderSize(&sv.inSrc, 512)
	sv.rd = &frame.Reader{BufByteReader: sv.inBuf, DialectRW: dialectRW}
	if err := sv.rd.Initialize(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("vehicle %d: frame reader: %w", index, err)
	}
	return sv, nil
}

// SystemID is the vehicle's MAVLink system ID on its ground-station address.
func (sv *SimVehicle) SystemID() uint8 { return sv.sysid }

// Index is the vehicle's 0-based position in the fleet.
func (sv *SimVehicle) Index() int { return sv.index }

// LocalAddr is the address of the vehicle's UDP socket: the source address
// of everything it sends, and where a ground station's replies must go.
func (sv *SimVehicle) LocalAddr() string { return sv.conn.LocalAddr().String() }

// GCSAddr is the ground-station address this vehicle sends to.
func (sv *SimVehicle) GCSAddr() string { return sv.gcs.String() }

// UID is the stable unique ID reported in AUTOPILOT_VERSION.
func (sv *SimVehicle) UID() uint64 { return sv.uid }

// State returns a snapshot of the model.
func (sv *SimVehicle) State() vehicle.State {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return sv.model.State()
}

// Do runs fn on the model under the vehicle's lock: the way tests inject
// model faults (GPS loss, battery drop, failure, gusts) or inspect it. Events
// fn causes are sent on the next tick.
func (sv *SimVehicle) Do(fn func(v *vehicle.Vehicle)) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	fn(sv.model)
}

// SetLinkFaults replaces this vehicle's link faults (both directions).
func (sv *SimVehicle) SetLinkFaults(f LinkFaults) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.link.faults = f
}

// LinkDown drops everything in both directions for d of wall time
// (0 = until LinkUp), like a radio out of range.
func (sv *SimVehicle) LinkDown(d time.Duration) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.link.down = true
	sv.link.downUntil = time.Time{}
	if d > 0 {
		sv.link.downUntil = time.Now().Add(d)
	}
}

// LinkUp ends a LinkDown early.
func (sv *SimVehicle) LinkUp() {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.link.down = false
}

// Stats reports frames received, frames that failed to parse and frames
// sent, for tests and benchmarks.
func (sv *SimVehicle) Stats() (rx, rxErrors, tx uint64) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return sv.rxFrames, sv.rxErrors, sv.txFrames
}

// PositionsSent is how many GLOBAL_POSITION_INT frames the vehicle wrote
// to the ground station's UDP address: after the simulated radio's faults
// (a frame a link_loss fault dropped was not sent), so a station that
// stores every position must hold exactly this many.
func (sv *SimVehicle) PositionsSent() uint64 {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return sv.posSent
}

// frameMsgID reads the message ID of one encoded MAVLink 1 or 2 frame.
func frameMsgID(b []byte) (uint32, bool) {
	switch {
	case len(b) >= 10 && b[0] == 0xFD:
		return uint32(b[7]) | uint32(b[8])<<8 | uint32(b[9])<<16, true
	case len(b) >= 6 && b[0] == 0xFE:
		return uint32(b[5]), true
	}
	return 0, false
}

// warn logs a protocol problem, at most a few lines per second per vehicle
// so a flood of garbage cannot flood the log.
func (sv *SimVehicle) warn(msg string, args ...any) {
	now := sv.wallNow
	if now.Sub(sv.warnAt) > time.Second {
		if sv.warnCount > 5 {
			sv.log.Warn("suppressed further protocol warnings", "count", sv.warnCount-5)
		}
		sv.warnAt = now
		sv.warnCount = 0
	}
	sv.warnCount++
	if sv.warnCount <= 5 {
		sv.log.Warn(msg, args...)
	}
}

// emit is the frame writers' byte sink: one call per encoded frame. The
// slice is reused by the writer, so anything kept is copied. Called with
// sv.mu held.
func (sv *SimVehicle) emit(b []byte) (int, error) {
	sv.txFrames++
	for c := range sv.tcp {
		c.send(b)
	}
	sv.linkOut(b)
	return len(b), nil
}

func (sv *SimVehicle) sendUDP(b []byte) {
	if _, err := sv.conn.WriteToUDP(b, sv.gcs); err != nil {
		if !errors.Is(err, net.ErrClosed) {
			sv.warn("send to ground station failed", "gcs", sv.gcs, "err", err)
		}
		return
	}
	if id, ok := frameMsgID(b); ok && id == msgGlobalPositionInt {
		sv.posSent++
	}
}

// send writes a message from the autopilot component.
func (sv *SimVehicle) send(m message.Message) {
	if err := sv.apW.write(m, sv.signing); err != nil {
		sv.log.Error("encode message", "msg", fmt.Sprintf("%T", m), "err", err)
	}
}

// sendCam writes a message from the camera component.
func (sv *SimVehicle) sendCam(m message.Message) {
	if err := sv.camW.write(m, sv.signing); err != nil {
		sv.log.Error("encode message", "msg", fmt.Sprintf("%T", m), "err", err)
	}
}

// receiveDatagram handles one UDP datagram from the socket: link faults
// first, then decoding.
func (sv *SimVehicle) receiveDatagram(b []byte, now time.Time) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.wallNow = now
	sv.linkIn(b)
}

// decodeDatagram parses every frame in one datagram and handles each;
// malformed bytes are counted, logged (rate-limited) and skipped.
func (sv *SimVehicle) decodeDatagram(b []byte) {
	sv.inSrc.Reset(b)
	sv.inBuf.Reset(&sv.inSrc)
	for {
		fr, err := sv.rd.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			var re frame.ReadError
			if errors.As(err, &re) || errors.Is(err, io.ErrUnexpectedEOF) {
				sv.rxErrors++
				sv.warn("malformed MAVLink frame dropped", "err", err)
				continue
			}
			sv.rxErrors++
			sv.warn("malformed MAVLink input dropped", "err", err)
			return
		}
		sv.handleFrame(fr, false)
	}
}

// tick advances the model by simDt and sends whatever became due. Called by
// the scheduler with wall time now.
func (sv *SimVehicle) tick(now time.Time, simDt time.Duration) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.wallNow = now
	sv.linkFlush(now)
	// A late tick at high speedup simulates many seconds at once (up to
	// 10 ticks × speedup): a ground station that was heard within the
	// grace is present all along, so its heartbeat is given every
	// simulated second of the step rather than once after it, which would
	// trip FS_GCS_TIMEOUT inside a step for a busy machine's sake.
	alive := sv.gcsAlive(now)
	for simDt > 0 {
		d := min(simDt, time.Second)
		if alive {
			sv.model.GCSHeartbeat()
		}
		sv.model.Step(d)
		simDt -= d
	}
	sv.applyDueFaults()
	sv.keepGCSAlive(now)
	sv.flushEvents()
	sv.sendDueStreams()
	sv.missionTimers(now)
	sv.paramListStep()
	sv.ftpStep()
}

// minGCSGrace is the least wall time after a real GCS heartbeat that the
// vehicle still counts the ground station as present when running faster
// than real time.
const minGCSGrace = 1500 * time.Millisecond

// keepGCSAlive bridges wall and simulated time for the GCS failsafe: a
// ground station sends heartbeats at 1 Hz of wall time, which at --speedup 5
// are 5 simulated seconds apart and would trip FS_GCS_TIMEOUT although
// nothing is wrong. Faster than real time, a heartbeat younger than
// FS_GCS_TIMEOUT of wall time (at least minGCSGrace) counts as a heartbeat
// on every tick, so a station whose heartbeats are delayed by a busy
// machine is judged as ArduCopter would judge it at real time; the
// failsafe then fires that grace (wall) + FS_GCS_TIMEOUT (simulated) after
// the ground station falls silent. At real time only real heartbeats
// count, exactly as in ArduCopter.
func (sv *SimVehicle) keepGCSAlive(now time.Time) {
	if sv.gcsAlive(now) {
		sv.model.GCSHeartbeat()
	}
}

// gcsAlive reports whether, faster than real time, the ground station's
// last heartbeat is within the wall-time grace (see keepGCSAlive).
func (sv *SimVehicle) gcsAlive(now time.Time) bool {
	if sv.speedup <= 1 || sv.gcsHBAt.IsZero() {
		return false
	}
	grace := minGCSGrace
	if p, ok := sv.model.Param("FS_GCS_TIMEOUT"); ok {
		grace = max(grace, time.Duration(p.Value*float64(time.Second)))
	}
	return now.Sub(sv.gcsHBAt) < grace
}
