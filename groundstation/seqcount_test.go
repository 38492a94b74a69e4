package groundstation

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"

	"github.com/burgut-uav/burgut/groundstation/session"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/simulator"
)

// seqTap is a UDP relay between a simulated vehicle and the station's link
// that keeps, in order, the station's frames to the vehicle.
type seqTap struct {
	toSim  *net.UDPConn // the vehicle's side: the simulator sends here
	toStn  *net.UDPConn // the station's side: dialled to its link
	mu     sync.Mutex
	sim    *net.UDPAddr
	frames []frame.Frame
	bad    []string // datagrams from the station that did not decode as one frame
}

func newSeqTap(t *testing.T, stationPort int) *seqTap {
	t.Helper()
	a, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: stationPort})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*net.UDPConn{a, b} {
		_ = c.SetReadBuffer(4 << 20) // a starved relay must not drop what it judges
	}
	p := &seqTap{toSim: a, toStn: b}
	var wg sync.WaitGroup
	wg.Add(2)
	t.Cleanup(func() { a.Close(); b.Close(); wg.Wait() })
	go func() { // vehicle → station
		defer wg.Done()
		buf := make([]byte, 65536)
		for {
			n, from, err := a.ReadFromUDP(buf)
			if err != nil {
				return
			}
			p.mu.Lock()
			p.sim = from
			p.mu.Unlock()
			_, _ = b.Write(buf[:n])
		}
	}()
	go func() { // station → vehicle, noted
		defer wg.Done()
		dec := newFrameDecoder(testDialect)
		buf := make([]byte, 65536)
		for {
			n, err := b.Read(buf)
			if err != nil {
				return
			}
			f, used, derr := dec.decode(buf[:n])
			p.mu.Lock()
			if derr != nil || used != n {
				p.bad = append(p.bad, fmt.Sprintf("% x (%v)", buf[:n], derr))
			} else {
				p.frames = append(p.frames, f)
			}
			to := p.sim
			p.mu.Unlock()
			if to != nil {
				_, _ = a.WriteToUDP(buf[:n], to)
			}
		}
	}()
	return p
}

func (p *seqTap) port() int { return p.toSim.LocalAddr().(*net.UDPAddr).Port }

// heard returns the station's frames so far, and the datagrams that were
// not one valid frame.
func (p *seqTap) heard() ([]frame.Frame, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]frame.Frame(nil), p.frames...), append([]string(nil), p.bad...)
}

// Every frame the station sends a vehicle on a UDP server link is numbered
// on one count: its HEARTBEATs and the commands and uploads sent between
// them. MAVLink numbers all of a component's frames on one sequence, and a
// receiver (an autopilot's link statistics, pymavlink's mav_loss) counts
// any jump as lost frames. gomavlib numbers every frame of a channel on
// its writer's count; a station that sends its HEARTBEATs some other way
// (a sendmmsg of many remotes' HEARTBEATs was tried, and reverted, with a
// count of their own: BENCHMARKS.md) must keep them on that one count,
// and on a split count each command or upload frame between two
// HEARTBEATs is a jump this test sees. Nothing is lost on loopback, so
// every number must follow the one before.
func TestStationFramesToAVehicleOnOneSequence(t *testing.T) {
	port := testenv.FreeUDPPort(t)
	st, fl := startStation(t, testConfig(fmt.Sprintf("udp:127.0.0.1:%d", port)))
	tap := newSeqTap(t, port)
	startSimConfig(t, simulator.Config{Vehicles: 1, Seed: 5, Speedup: 1}, tap.port())
	id, home := waitOneVehicle(t, fl, 60*time.Second)

	// Commands and uploads until HEARTBEATs went out between them at
	// least four times (a HEARTBEAT right after a frame that is not one).
	interleaved := func(fs []frame.Frame) int {
		n := 0
		for i := 1; i < len(fs); i++ {
			_, hb := fs[i].GetMessage().(*common.MessageHeartbeat)
			_, prevHB := fs[i-1].GetMessage().(*common.MessageHeartbeat)
			if hb && !prevHB {
				n++
			}
		}
		return n
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for round := 0; ; round++ {
		fs, _ := tap.heard()
		if interleaved(fs) >= 4 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("after %d rounds: HEARTBEATs between commands %d times, want 4", round, interleaved(fs))
		}
		// Traffic, not results: an answer late on a loaded machine changes
		// nothing the station has numbered.
		if _, err := st.Upload(ctx, id, mavitem.TypeMission, patrol(home, 2+round%3), UploadOptions{Verify: true}); err != nil {
			t.Logf("upload: %v", err)
		}
		if _, err := st.SetMode(ctx, id, "GUIDED"); err != nil {
			t.Logf("GUIDED: %v", err)
		}
		if _, err := st.Command(ctx, id, session.CommandRequest{Command: uint16(common.MAV_CMD_REQUEST_MESSAGE),
			Params: [7]float32{float32((&common.MessageHomePosition{}).GetID())}}); err != nil {
			t.Logf("REQUEST_MESSAGE: %v", err)
		}
	}
	fs, bad := tap.heard()
	for _, c := range []*net.UDPConn{tap.toSim, tap.toStn} {
		if drops, _, err := udpSocketMemInfo(c); err == nil && drops > 0 {
			t.Skipf("the relay's own socket dropped %d datagrams (a starved machine): the sequence cannot be judged", drops)
		}
	}
	if len(bad) > 0 {
		t.Fatalf("%d datagrams from the station were not one valid frame, first %s", len(bad), bad[0])
	}
	station := DefaultConfig().SystemID
	var last frame.Frame
	n, hbs := 0, 0
	for _, f := range fs {
		if f.GetSystemID() != station || f.GetComponentID() != uint8(common.MAV_COMP_ID_MISSIONPLANNER) {
			t.Fatalf("a frame from %d/%d on the station's link", f.GetSystemID(), f.GetComponentID())
		}
		if _, ok := f.GetMessage().(*common.MessageHeartbeat); ok {
			hbs++
		}
		if last != nil && f.GetSequenceNumber() != last.GetSequenceNumber()+1 {
			t.Errorf("frame %d (%T) has sequence number %d after %d (%T): a jump of %d", n, f.GetMessage(),
				f.GetSequenceNumber(), last.GetSequenceNumber(), last.GetMessage(), f.GetSequenceNumber()-last.GetSequenceNumber()-1)
		}
		last = f
		n++
	}
	if hbs < 4 || n-hbs < 20 {
		t.Fatalf("%d HEARTBEATs and %d other frames, want ≥ 4 and ≥ 20", hbs, n-hbs)
	}
	t.Logf("%d frames (%d HEARTBEATs), on one count", n, hbs)
}
