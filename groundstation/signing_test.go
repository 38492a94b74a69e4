package groundstation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation/session"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/internal/mavsign"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/simulator"
)

// lockedBuf collects log output from several goroutines.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// injector sends hand-made frames to a UDP address from its own socket,
// as an attacker on the link would.
type injector struct {
	t    *testing.T
	conn *net.UDPConn
	to   *net.UDPAddr
	seq  uint8
}

func newInjector(t *testing.T, to string) *injector {
	t.Helper()
	addr, err := net.ResolveUDPAddr("udp4", to)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &injector{t: t, conn: conn, to: addr}
}

// frameBytes encodes m as a MAVLink 2 frame from (sys, comp), signed with
// s (link ID from s) at time at when s is not nil.
func frameBytes(t *testing.T, sys, comp, seq uint8, m message.Message, s *mavsign.Signer, at time.Time) []byte {
	t.Helper()
	rw := testDialect
	mp := rw.GetMessage(m.GetID())
	f := &frame.V2Frame{SequenceNumber: seq, SystemID: sys, ComponentID: comp, Message: mp.Write(m, true)}
	if s != nil {
		s.Sign(f, mp.CRCExtra(), at)
	} else {
		f.Checksum = f.GenerateChecksum(mp.CRCExtra())
	}
	return marshalFrame(t, f)
}

func marshalFrame(t *testing.T, f frame.Frame) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := &frame.Writer{ByteWriter: &buf, DialectRW: testDialect}
	if err := w.Initialize(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(f); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (in *injector) send(b []byte) {
	in.t.Helper()
	if _, err := in.conn.WriteToUDP(b, in.to); err != nil {
		in.t.Fatal(err)
	}
}

func (in *injector) frame(sys, comp uint8, m message.Message, s *mavsign.Signer, at time.Time) {
	in.t.Helper()
	in.seq++
	in.send(frameBytes(in.t, sys, comp, in.seq, m, s, at))
}

func rejected(st *Station, reason string) uint64 {
	var n uint64
	for _, l := range st.Links() {
		n += l.SigningRejected[reason]
	}
	return n
}

// TestSignedVehicleFliesMission keys a simulated vehicle through the
// station, flies a mission with everything signed, and checks every way
// in: unsigned commands injected on the vehicle's link are ignored by the
// vehicle; unsigned, replayed, foreign-key and stale frames claiming its
// system ID are dropped by the station, counted and alerted on. The key is
// in the key file (0600) and nowhere in the logs.
func TestSignedVehicleFliesMission(t *testing.T) {
	port := testenv.FreeUDPPort(t)
	cfg := testConfig(fmt.Sprintf("udp:127.0.0.1:%d", port))
	cfg.SigningKeyFile = filepath.Join(t.TempDir(), "signing-keys.json")
	logs := &lockedBuf{}
	cfg.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st, fl := startStation(t, cfg)
	sim := startSimConfig(t, simulator.Config{Vehicles: 1, Seed: 21, Speedup: 4}, port)
	sv := sim.Vehicle(0)

	// Capture a frame the vehicle signs, to replay it later.
	var capMu sync.Mutex
	var captured *frame.V2Frame
	st.AddFrameTap(func(_, _ string, _ time.Time, f frame.Frame, _ []byte, sent bool) {
		ff, ok := f.(*frame.V2Frame)
		if sent || !ok || !ff.IsSigned() {
			return
		}
		if _, gp := ff.Message.(*common.MessageGlobalPositionInt); gp {
			capMu.Lock()
			if captured == nil {
				c := *ff
				captured = &c
			}
			capMu.Unlock()
		}
	})

	id, _ := waitOneVehicle(t, fl, 60*time.Second)
	if v, _ := fl.Get(id); v.Signing != SigningUnsigned {
		t.Fatalf("an unkeyed vehicle shows signing %q, want unsigned", v.Signing)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	key, err := mavsign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.SetSigningKey(ctx, id, key)
	if err != nil {
		t.Fatalf("SetSigningKey: %v", err)
	}
	if info.State != SigningSigned || info.Fingerprint != key.Fingerprint() {
		t.Fatalf("after SetSigningKey: %+v", info)
	}
	if s := sv.Signing(); !s.Keyed || s.Fingerprint != key.Fingerprint() {
		t.Fatalf("the simulator was not given the key: %+v", s)
	}
	if v, _ := fl.Get(id); v.Signing != SigningSigned {
		t.Fatalf("fleet shows signing %q, want signed", v.Signing)
	}
	fi, err := os.Stat(cfg.SigningKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := st.SetSigningKey(ctx, id, mavsign.Key{}); !errors.Is(err, ErrSigningZeroKey) {
		t.Fatalf("zero key: %v, want ErrSigningZeroKey", err)
	}

	// Fly a mission: upload, GUIDED, arm, MISSION_START — all signed. The
	// simulated ArduCopter has its GCS failsafe on: it only hears the
	// station's signed heartbeats now.
	since := lastSeq(fl)
	home, _ := fl.Get(id)
	lat, lon := home.Home.Lat, home.Home.Lon
	e7 := func(d float64) int32 { return int32(d * 1e7) }
	items := []mavitem.Item{
		{Seq: 0, Frame: mavitem.FrameGlobal, Command: mavitem.CmdNavWaypoint, Autocontinue: 1, X: e7(lat), Y: e7(lon)},
		{Seq: 1, Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavTakeoff, Autocontinue: 1, Z: 10},
		{Seq: 2, Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavWaypoint, Autocontinue: 1, X: e7(lat + 0.0003), Y: e7(lon), Z: 10},
		{Seq: 3, Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavLand, Autocontinue: 1, X: e7(lat + 0.0003), Y: e7(lon)},
	}
	if _, err := st.Upload(ctx, id, mavitem.TypeMission, items, UploadOptions{Verify: true}); err != nil {
		t.Fatalf("signed mission upload: %v", err)
	}
	mustAccept := func(what string, res session.CommandResult, err error) {
		t.Helper()
		if err != nil || !res.Accepted() {
			t.Fatalf("%s: result %+v, error %v", what, res, err)
		}
	}
	res, err := st.SetMode(ctx, id, "GUIDED")
	mustAccept("GUIDED", res, err)
	res, err = st.Command(ctx, id, session.CommandRequest{Command: uint16(common.MAV_CMD_COMPONENT_ARM_DISARM), Params: [7]float32{1}})
	mustAccept("arm", res, err)
	testenv.Eventually(t, 10*time.Second, "armed in the fleet", func() bool { v, _ := fl.Get(id); return v.Armed })
	if _, err := st.SetSigningKey(ctx, id, key); err != nil {
		t.Fatalf("the key already in force, while armed: %v", err)
	}
	if _, err := st.ClearSigningKey(ctx, id); !errors.Is(err, ErrSigningArmed) {
		t.Fatalf("clearing while armed: %v, want ErrSigningArmed", err)
	}
	res, err = st.Command(ctx, id, session.CommandRequest{Command: uint16(common.MAV_CMD_MISSION_START)})
	mustAccept("MISSION_START", res, err)
	testenv.Eventually(t, 30*time.Second, "mode AUTO", func() bool { v, _ := fl.Get(id); return v.Mode == "AUTO" })

	// The vehicle's side: an unsigned RTL injected on its link is ignored
	// and counted; it keeps flying its mission.
	toVehicle := newInjector(t, sv.LocalAddr())
	before := sv.Signing().RejectedMsgs[76]
	toVehicle.frame(255, 190, &common.MessageCommandLong{TargetSystem: sv.SystemID(), TargetComponent: 1, Command: common.MAV_CMD_NAV_RETURN_TO_LAUNCH}, nil, time.Now())
	testenv.Eventually(t, 10*time.Second, "the vehicle counts the unsigned COMMAND_LONG", func() bool { return sv.Signing().RejectedMsgs[76] > before })
	if m := sv.State().CustomMode; m == 6 {
		t.Fatal("an unsigned RTL switched the keyed vehicle to RTL")
	}

	// The station's side: frames claiming the vehicle's system ID.
	toStation := newInjector(t, fmt.Sprintf("127.0.0.1:%d", port))
	sys := sv.SystemID()
	fake := &common.MessageHeartbeat{Type: common.MAV_TYPE_QUADROTOR, Autopilot: common.MAV_AUTOPILOT_ARDUPILOTMEGA,
		CustomMode: 9, SystemStatus: common.MAV_STATE_STANDBY} // "LAND", disarmed
	alertsBefore := lastSeq(fl)
	toStation.frame(sys, 1, fake, nil, time.Now())
	testenv.Eventually(t, 10*time.Second, "unsigned frame dropped by the station", func() bool { return rejected(st, "unsigned") >= 1 })
	alert := waitEvent(t, fl, alertsBefore, id, fleet.EventSigningRejected, 10*time.Second)
	if alert.Severity != fleet.SeverityCritical || alert.Fields["reason"] != "unsigned" {
		t.Fatalf("signing alert %+v", alert)
	}
	toStation.frame(sys, 1, fake, mavsign.NewSigner(testKey(3), 1), time.Now())
	testenv.Eventually(t, 10*time.Second, "frame signed with another key dropped", func() bool { return rejected(st, "bad_signature") >= 1 })
	toStation.frame(sys, 1, fake, mavsign.NewSigner(key, 77), time.Now().Add(-2*time.Minute))
	testenv.Eventually(t, 10*time.Second, "stale signed frame on a new stream dropped", func() bool { return rejected(st, "too_old") >= 1 })
	capMu.Lock()
	replay := captured
	capMu.Unlock()
	if replay == nil {
		t.Fatal("no signed GLOBAL_POSITION_INT captured from the vehicle")
	}
	toStation.send(marshalFrame(t, replay))
	testenv.Eventually(t, 10*time.Second, "replayed signed frame dropped", func() bool { return rejected(st, "replayed") >= 1 })
	if v, _ := fl.Get(id); v.Mode == "LAND" || !v.Armed {
		t.Fatalf("a dropped frame changed the vehicle's state: mode %s armed %v", v.Mode, v.Armed)
	}
	in, err := st.Signing(id)
	if err != nil {
		t.Fatal(err)
	}
	if in.Accepted == 0 || in.Rejected["unsigned"] == 0 || in.Rejected["bad_signature"] == 0 || in.Rejected["replayed"] == 0 || in.Rejected["too_old"] == 0 {
		t.Fatalf("vehicle signing counters %+v", in)
	}

	// The mission ends: landed and disarmed, without a GCS failsafe.
	waitEvent(t, fl, since, id, fleet.EventMissionComplete, 2*time.Minute)
	testenv.Eventually(t, 90*time.Second, "disarmed after landing", func() bool { v, _ := fl.Get(id); return !v.Armed })
	for _, e := range fl.Events(since, id, 0) {
		if e.Kind == fleet.EventFailsafe {
			t.Fatalf("failsafe during the signed flight: %+v", e)
		}
	}
	// Everything the station sent arrived signed: the vehicle refused
	// none of its commands, mission items or mode changes (only the
	// station's unsigned gomavlib heartbeat, message 0, and the injected
	// RTL above).
	vs := sv.Signing()
	for msgID, n := range vs.RejectedMsgs {
		if msgID != 0 && !(msgID == 76 && n == before+1) {
			t.Errorf("the vehicle refused %d frame(s) of message %d from the station", n, msgID)
		}
	}
	if vs.Accepted == 0 {
		t.Error("the vehicle verified no signed frame")
	}
	if vs.AcceptedMsgs[0] == 0 {
		t.Error("the vehicle verified no signed HEARTBEAT from the station: its GCS failsafe would see no ground station")
	}

	// Turn signing off again.
	info, err = st.ClearSigningKey(ctx, id)
	if err != nil || info.State != SigningUnsigned {
		t.Fatalf("ClearSigningKey: %+v, %v", info, err)
	}
	if sv.Signing().Keyed {
		t.Fatal("the simulator still has a key")
	}
	res, err = st.SetMode(ctx, id, "LOITER")
	mustAccept("unsigned LOITER after clearing", res, err)
	if b, err := os.ReadFile(cfg.SigningKeyFile); err != nil || strings.Contains(string(b), key.Hex()) {
		t.Fatalf("key file after clearing: %v, still holds the key: %v", err, strings.Contains(string(b), key.Hex()))
	}
	if strings.Contains(strings.ToLower(logs.String()), key.Hex()) {
		t.Fatal("the signing key appears in the station's log")
	}
	if !strings.Contains(logs.String(), key.Fingerprint()) {
		t.Fatal("the station's log does not name the key by its fingerprint")
	}
}

func testKey(b byte) mavsign.Key {
	var k mavsign.Key
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

// TestSigningKeySurvivesRestart: a station started with the key file of
// an earlier run guards the keyed vehicle's system ID on its link from its
// first frame — an unsigned impostor heard before the real vehicle is
// dropped — and takes the real vehicle back as signed.
func TestSigningKeySurvivesRestart(t *testing.T) {
	port := testenv.FreeUDPPort(t)
	cfg := testConfig(fmt.Sprintf("udp:127.0.0.1:%d", port))
	cfg.SigningKeyFile = filepath.Join(t.TempDir(), "signing-keys.json")
	st1, fl1, stop1 := runStation(t, cfg)
	sim := startSimConfig(t, simulator.Config{Vehicles: 1, Seed: 33, Speedup: 2}, port)
	sv := sim.Vehicle(0)
	var id string
	testenv.Eventually(t, 60*time.Second, "vehicle published", func() bool {
		vs := fl1.List()
		if len(vs) == 1 && vs[0].UID != 0 {
			id = vs[0].ID
		}
		return id != ""
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	key := testKey(42)
	if _, err := st1.SetSigningKey(ctx, id, key); err != nil {
		t.Fatalf("SetSigningKey: %v", err)
	}
	stop1()

	st2, fl2, _ := runStation(t, cfg)
	impostor := newInjector(t, fmt.Sprintf("127.0.0.1:%d", port))
	impostor.frame(sv.SystemID(), 1, &common.MessageHeartbeat{Type: common.MAV_TYPE_QUADROTOR, Autopilot: common.MAV_AUTOPILOT_ARDUPILOTMEGA}, nil, time.Now())
	testenv.Eventually(t, 10*time.Second, "the impostor's unsigned frame dropped", func() bool { return rejected(st2, "unsigned") >= 1 })
	testenv.Eventually(t, 60*time.Second, "the keyed vehicle back, signed", func() bool {
		v, ok := fl2.Get(id)
		return ok && v.Signing == SigningSigned
	})
	if n := len(fl2.List()); n != 1 {
		t.Fatalf("%d vehicles after the restart, want 1 (the impostor must not appear)", n)
	}
	// GUIDED needs a 3D fix, which the simulated GPS reaches a few
	// simulated seconds after start; a fast setup gets here before it.
	testenv.Eventually(t, 60*time.Second, "the vehicle's 3D fix", func() bool {
		v, _ := fl2.Get(id)
		return v.GPSFix >= 3
	})
	res, err := st2.SetMode(ctx, id, "GUIDED")
	if err != nil || !res.Accepted() {
		t.Fatalf("signed GUIDED after the restart: %+v, %v", res, err)
	}
	if sv.Signing().RejectedMsgs[11] != 0 || sv.Signing().RejectedMsgs[76] != 0 {
		t.Fatalf("the vehicle refused commands from the restarted station: %+v", sv.Signing())
	}
}
