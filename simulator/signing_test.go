package simulator

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavsign"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// rawGCS is a ground station at the byte level: a real UDP socket that
// records every frame the vehicle sends and sends hand-built datagrams,
// so a test can sign, leave unsigned, or replay exact bytes.
type rawGCS struct {
	t      *testing.T
	conn   *net.UDPConn
	to     *net.UDPAddr
	seq    uint8
	mu     sync.Mutex
	frames []frame.Frame
	done   chan struct{}
}

func newRawGCS(t *testing.T) *rawGCS {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	g := &rawGCS{t: t, conn: conn, done: make(chan struct{})}
	go func() {
		defer close(g.done)
		buf := make([]byte, 65536)
		for {
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			rd := &frame.Reader{BufByteReader: bufio.NewReader(bytes.NewReader(append([]byte(nil), buf[:n]...))), DialectRW: dialectRW}
			if rd.Initialize() != nil {
				return
			}
			for {
				f, err := rd.Read()
				if err != nil {
					break
				}
				g.mu.Lock()
				g.frames = append(g.frames, f)
				g.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); <-g.done })
	return g
}

func (g *rawGCS) addr() string { return "udp:" + g.conn.LocalAddr().String() }

func (g *rawGCS) mark() int { g.mu.Lock(); defer g.mu.Unlock(); return len(g.frames) }

// since returns the frames received from cursor c on.
func (g *rawGCS) since(c int) []frame.Frame {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]frame.Frame(nil), g.frames[c:]...)
}

// encode frames m from the GCS (255/190), signed when s is not nil.
func (g *rawGCS) encode(m message.Message, s *mavsign.Signer) []byte {
	mp := dialectRW.GetMessage(m.GetID())
	f := &frame.V2Frame{SequenceNumber: g.seq, SystemID: 255, ComponentID: 190, Message: mp.Write(m, true)}
	g.seq++
	if s != nil {
		s.Sign(f, mp.CRCExtra(), time.Now())
	} else {
		f.Checksum = f.GenerateChecksum(mp.CRCExtra())
	}
	var buf bytes.Buffer
	w := &frame.Writer{ByteWriter: &buf, DialectRW: dialectRW}
	if err := w.Initialize(); err != nil {
		g.t.Fatal(err)
	}
	if err := w.Write(f); err != nil {
		g.t.Fatal(err)
	}
	return buf.Bytes()
}

func (g *rawGCS) sendBytes(b []byte) {
	if _, err := g.conn.WriteToUDP(b, g.to); err != nil {
		g.t.Fatalf("send: %v", err)
	}
}

// command sends COMMAND_LONG (signed with s, or not) and returns its
// ACK's result, repeating the same command (new frame, new signature)
// until one arrives.
func (g *rawGCS) command(s *mavsign.Signer, cmd common.MAV_CMD, p ...float32) common.MAV_RESULT {
	g.t.Helper()
	var pp [7]float32
	copy(pp[:], p)
	m := &common.MessageCommandLong{TargetSystem: 1, TargetComponent: 1, Command: cmd, Param1: pp[0], Param2: pp[1], Param3: pp[2], Param4: pp[3]}
	for range 10 {
		c := g.mark()
		g.sendBytes(g.encode(m, s))
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			for _, f := range g.since(c) {
				if a, ok := f.GetMessage().(*common.MessageCommandAck); ok && a.Command == cmd {
					return a.Result
				}
			}
		}
	}
	g.t.Fatalf("no COMMAND_ACK for %v", cmd)
	return 0
}

func testKey(b byte) mavsign.Key {
	var k mavsign.Key
	for i := range k {
		k[i] = b ^ byte(i*7)
	}
	return k
}

// rejected waits until the vehicle has refused n frames of message id
// in total.
func waitRejected(t *testing.T, sv *SimVehicle, id uint32, n uint64, reason string) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, fmt.Sprintf("%d refused frames of message %d (%s)", n, id, reason), func() bool {
		st := sv.Signing()
		return st.RejectedMsgs[id] >= n && st.Rejected[reason] > 0
	})
}

func TestSigningAsArduPilot(t *testing.T) {
	g := newRawGCS(t)
	tcpBase := testenv.FreeTCPPort(t)
	s := startSim(t, Config{Vehicles: 1, GCS: []string{g.addr()}, Home: homeLL(), Speedup: 2, Seed: 11, TCPBasePort: tcpBase})
	sv := s.Vehicle(0)
	to, err := net.ResolveUDPAddr("udp4", sv.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	g.to = to
	waitHome(t, sv)
	key, other := testKey(0x5a), testKey(0xa5)
	gcs := mavsign.NewSigner(key, 2)
	const cmdID = 76 // COMMAND_LONG

	// Unkeyed: it sends unsigned frames and takes unsigned commands.
	c := g.mark()
	mustAccept(t, "GUIDED unsigned before keying", g.command(nil, common.MAV_CMD_DO_SET_MODE, 1, float32(vehicle.ModeGuided)))
	for _, f := range g.since(c) {
		if f.(*frame.V2Frame).IsSigned() {
			t.Fatal("an unkeyed vehicle signed a frame")
		}
	}

	// SETUP_SIGNING over the link (no key yet, so it is taken unsigned).
	g.sendBytes(g.encode(&common.MessageSetupSigning{TargetSystem: 1, TargetComponent: 1, SecretKey: key, InitialTimestamp: mavsign.Timestamp(time.Now())}, nil))
	testenv.Eventually(t, 5*time.Second, "vehicle keyed", func() bool { return sv.Signing().Keyed })
	if fp := sv.Signing().Fingerprint; fp != key.Fingerprint() {
		t.Fatalf("fingerprint %q, want %q", fp, key.Fingerprint())
	}

	// Everything it sends from now on is signed with the key and passes the
	// station-side rules (including increasing timestamps per stream).
	c = g.mark()
	testenv.Eventually(t, 10*time.Second, "30 frames after keying", func() bool { return len(g.since(c)) >= 30 })
	v := mavsign.NewVerifier(key)
	for i, f := range g.since(c) {
		if r := v.Verify(dialectRW, f, time.Now()); r != mavsign.OK {
			t.Fatalf("frame %d (%T) from the keyed vehicle: %v", i, f.GetMessage(), r)
		}
	}

	// An unsigned command is ignored (no ACK, no effect) and counted.
	c = g.mark()
	g.sendBytes(g.encode(&common.MessageCommandLong{TargetSystem: 1, TargetComponent: 1, Command: common.MAV_CMD_COMPONENT_ARM_DISARM, Param1: 1}, nil))
	waitRejected(t, sv, cmdID, 1, "unsigned")
	for _, f := range g.since(c) {
		if _, ok := f.GetMessage().(*common.MessageCommandAck); ok {
			t.Fatal("the vehicle answered an unsigned command")
		}
	}
	if sv.State().Armed {
		t.Fatal("an unsigned arm command armed the keyed vehicle")
	}
	// RADIO_STATUS is taken unsigned (radios inject it), as ArduPilot does.
	g.sendBytes(g.encode(&common.MessageRadioStatus{Rssi: 200, Remrssi: 190}, nil))

	// Signed commands work: arm.
	mustAccept(t, "signed arm", g.command(gcs, common.MAV_CMD_COMPONENT_ARM_DISARM, 1))
	if !sv.State().Armed {
		t.Fatal("signed arm accepted but not armed")
	}
	// SETUP_SIGNING is refused while armed, even signed.
	g.sendBytes(g.encode(&common.MessageSetupSigning{TargetSystem: 1, TargetComponent: 1, SecretKey: other, InitialTimestamp: 1}, gcs))
	testenv.Eventually(t, 5*time.Second, "SETUP_SIGNING refused while armed", func() bool { return sv.Signing().SetupRefused == 1 })

	// Disarm (signed), then replay the exact bytes of a signed arm: the
	// repeated timestamp is refused.
	armBytes := g.encode(&common.MessageCommandLong{TargetSystem: 1, TargetComponent: 1, Command: common.MAV_CMD_COMPONENT_ARM_DISARM, Param1: 0}, gcs)
	g.sendBytes(armBytes) // a signed disarm
	testenv.Eventually(t, 5*time.Second, "disarmed", func() bool { return !sv.State().Armed })
	g.sendBytes(armBytes)
	waitRejected(t, sv, cmdID, 2, "replayed")

	// A command signed with another key is refused.
	g.sendBytes(g.encode(&common.MessageCommandLong{TargetSystem: 1, TargetComponent: 1, Command: common.MAV_CMD_COMPONENT_ARM_DISARM, Param1: 1}, mavsign.NewSigner(other, 2)))
	waitRejected(t, sv, cmdID, 3, "bad_signature")
	if sv.State().Armed {
		t.Fatal("a command signed with another key armed the vehicle")
	}

	// An attacker on the radio link cannot re-key or un-key it with an
	// unsigned SETUP_SIGNING.
	g.sendBytes(g.encode(&common.MessageSetupSigning{TargetSystem: 1, TargetComponent: 1}, nil))
	waitRejected(t, sv, 256, 1, "unsigned")
	st := sv.Signing()
	if !st.Keyed || st.Fingerprint != key.Fingerprint() {
		t.Fatalf("unsigned SETUP_SIGNING changed the key: %+v", st)
	}
	if st.RejectedMsgs[109] != 0 {
		t.Fatalf("unsigned RADIO_STATUS refused: %+v", st)
	}
	if st.Rejected["unsigned"] < 2 || st.Rejected["replayed"] != 1 || st.Rejected["bad_signature"] != 1 {
		t.Fatalf("refusal counters %+v", st.Rejected)
	}

	// The trusted channel (the TCP port, ArduPilot's channel 0) takes an
	// unsigned SETUP_SIGNING: the zero key turns signing off.
	conn, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", tcpBase))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(g.encode(&common.MessageSetupSigning{TargetSystem: 1, TargetComponent: 1}, nil)); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "signing off over the trusted channel", func() bool { return !sv.Signing().Keyed })
	mustAccept(t, "unsigned arm after signing is off", g.command(nil, common.MAV_CMD_COMPONENT_ARM_DISARM, 1))
}
