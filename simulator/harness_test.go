package simulator

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/ardupilotmega"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// testGCS is the ground station of the tests: a real gomavlib Node on a
// loopback UDP port, recording every frame it receives.
type testGCS struct {
	t      testing.TB
	node   *gomavlib.Node
	port   int
	mu     sync.Mutex
	frames []*gomavlib.EventFrame
	chans  map[uint8]*gomavlib.Channel
	notify chan struct{}
	done   chan struct{}
}

func newTestGCS(t testing.TB, heartbeats bool) *testGCS {
	t.Helper()
	g := &testGCS{t: t, port: testenv.FreeUDPPort(t), chans: map[uint8]*gomavlib.Channel{}, notify: make(chan struct{}), done: make(chan struct{})}
	g.node = &gomavlib.Node{
		Endpoints:        []gomavlib.EndpointConf{gomavlib.EndpointUDPServer{Address: fmt.Sprintf("127.0.0.1:%d", g.port)}},
		Dialect:          ardupilotmega.Dialect,
		OutVersion:       gomavlib.V2,
		OutSystemID:      255,
		OutComponentID:   190,
		HeartbeatDisable: !heartbeats,
		HeartbeatPeriod:  100 * time.Millisecond, // fast enough for the GCS failsafe at --speedup 20
	}
	if err := g.node.Initialize(); err != nil {
		t.Fatalf("ground station node: %v", err)
	}
	go func() {
		defer close(g.done)
		for ev := range g.node.Events() {
			if fr, ok := ev.(*gomavlib.EventFrame); ok {
				g.mu.Lock()
				g.frames = append(g.frames, fr)
				g.chans[fr.SystemID()] = fr.Channel
				close(g.notify)
				g.notify = make(chan struct{})
				g.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		g.node.Close()
		<-g.done
	})
	return g
}

func (g *testGCS) addr() string { return fmt.Sprintf("udp:127.0.0.1:%d", g.port) }

// mark is a cursor: waits started from it see only later frames.
func (g *testGCS) mark() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.frames)
}

// waitFrom returns the first frame at or after cursor *from that matches,
// advancing the cursor past it, or nil after timeout.
func (g *testGCS) waitFrom(from *int, timeout time.Duration, match func(*gomavlib.EventFrame) bool) *gomavlib.EventFrame {
	deadline := time.After(timeout)
	for {
		g.mu.Lock()
		for ; *from < len(g.frames); *from++ {
			if fr := g.frames[*from]; match(fr) {
				*from++
				g.mu.Unlock()
				return fr
			}
		}
		ch := g.notify
		g.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			return nil
		}
	}
}

func (g *testGCS) waitMsg(from *int, sysid uint8, timeout time.Duration, match func(message.Message) bool) message.Message {
	fr := g.waitFrom(from, timeout, func(fr *gomavlib.EventFrame) bool {
		return fr.SystemID() == sysid && match(fr.Message())
	})
	if fr == nil {
		return nil
	}
	return fr.Message()
}

// channel waits for the first frame of a vehicle so replies can go to it.
func (g *testGCS) channel(sysid uint8) *gomavlib.Channel {
	g.t.Helper()
	c := 0
	if g.waitFrom(&c, 10*time.Second, func(fr *gomavlib.EventFrame) bool { return fr.SystemID() == sysid }) == nil {
		g.t.Fatalf("no frame from system %d within 10 s", sysid)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.chans[sysid]
}

func (g *testGCS) send(sysid uint8, m message.Message) {
	g.t.Helper()
	if err := g.node.WriteMessageTo(g.channel(sysid), m); err != nil {
		g.t.Fatalf("send %T: %v", m, err)
	}
}

// command sends COMMAND_LONG and waits for its ACK, retrying like a ground
// station on a lossy link. Returns the result.
func (g *testGCS) command(sysid, comp uint8, cmd common.MAV_CMD, p ...float32) common.MAV_RESULT {
	g.t.Helper()
	var pp [7]float32
	copy(pp[:], p)
	m := &common.MessageCommandLong{TargetSystem: sysid, TargetComponent: comp, Command: cmd,
		Param1: pp[0], Param2: pp[1], Param3: pp[2], Param4: pp[3], Param5: pp[4], Param6: pp[5], Param7: pp[6]}
	for range 10 {
		c := g.mark()
		g.send(sysid, m)
		if ack := g.waitMsg(&c, sysid, time.Second, func(msg message.Message) bool {
			a, ok := msg.(*common.MessageCommandAck)
			return ok && a.Command == cmd
		}); ack != nil {
			return ack.(*common.MessageCommandAck).Result
		}
		m.Confirmation++
	}
	g.t.Fatalf("no COMMAND_ACK for %v from system %d", cmd, sysid)
	return 0
}

// upload runs the ground-station side of a mission upload, retrying what
// gets lost. Returns the final MISSION_ACK type.
func (g *testGCS) upload(sysid uint8, typ mavitem.MissionType, items []mavitem.Item) common.MAV_MISSION_RESULT {
	g.t.Helper()
	mt := common.MAV_MISSION_TYPE(typ)
	count := &common.MessageMissionCount{TargetSystem: sysid, TargetComponent: 1, Count: uint16(len(items)), MissionType: mt}
	var last message.Message = count
	c := g.mark()
	g.send(sysid, count)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		msg := g.waitMsg(&c, sysid, 250*time.Millisecond, func(m message.Message) bool {
			switch m := m.(type) {
			case *common.MessageMissionRequestInt:
				return m.MissionType == mt
			case *common.MessageMissionRequest:
				return m.MissionType == mt
			case *common.MessageMissionAck:
				return m.MissionType == mt
			}
			return false
		})
		var seq uint16
		switch m := msg.(type) {
		case nil:
			g.send(sysid, last) // lost somewhere: repeat ourselves
			continue
		case *common.MessageMissionAck:
			if m.Type == common.MAV_MISSION_INVALID_SEQUENCE {
				continue // a duplicate of ours was refused; the transfer goes on
			}
			return m.Type
		case *common.MessageMissionRequestInt:
			seq = m.Seq
		case *common.MessageMissionRequest:
			seq = m.Seq
		}
		if int(seq) >= len(items) {
			g.t.Fatalf("vehicle requested item %d of %d", seq, len(items))
		}
		it := items[seq]
		last = &common.MessageMissionItemInt{TargetSystem: sysid, TargetComponent: 1, Seq: seq, Frame: common.MAV_FRAME(it.Frame),
			Command: common.MAV_CMD(it.Command), Current: it.Current, Autocontinue: it.Autocontinue,
			Param1: it.Param1, Param2: it.Param2, Param3: it.Param3, Param4: it.Param4, X: it.X, Y: it.Y, Z: it.Z, MissionType: mt}
		g.send(sysid, last)
	}
	g.t.Fatalf("upload of %d %s items to system %d did not finish", len(items), typ, sysid)
	return 0
}

// download reads a list back with MISSION_REQUEST_LIST / MISSION_REQUEST_INT.
func (g *testGCS) download(sysid uint8, typ mavitem.MissionType) []mavitem.Item {
	g.t.Helper()
	mt := common.MAV_MISSION_TYPE(typ)
	var n int = -1
	for range 20 {
		c := g.mark()
		g.send(sysid, &common.MessageMissionRequestList{TargetSystem: sysid, TargetComponent: 1, MissionType: mt})
		if m := g.waitMsg(&c, sysid, 500*time.Millisecond, func(m message.Message) bool {
			mc, ok := m.(*common.MessageMissionCount)
			return ok && mc.MissionType == mt
		}); m != nil {
			n = int(m.(*common.MessageMissionCount).Count)
			break
		}
	}
	if n < 0 {
		g.t.Fatalf("no MISSION_COUNT for %s from system %d", typ, sysid)
	}
	out := make([]mavitem.Item, 0, n)
	for seq := 0; seq < n; seq++ {
		var got *common.MessageMissionItemInt
		for range 20 {
			c := g.mark()
			g.send(sysid, &common.MessageMissionRequestInt{TargetSystem: sysid, TargetComponent: 1, Seq: uint16(seq), MissionType: mt})
			if m := g.waitMsg(&c, sysid, 500*time.Millisecond, func(m message.Message) bool {
				it, ok := m.(*common.MessageMissionItemInt)
				return ok && it.MissionType == mt && int(it.Seq) == seq
			}); m != nil {
				got = m.(*common.MessageMissionItemInt)
				break
			}
		}
		if got == nil {
			g.t.Fatalf("item %d of %s not received from system %d", seq, typ, sysid)
		}
		out = append(out, mavitem.Item{Seq: got.Seq, Frame: uint8(got.Frame), Command: uint16(got.Command), Current: got.Current,
			Autocontinue: got.Autocontinue, Param1: got.Param1, Param2: got.Param2, Param3: got.Param3, Param4: got.Param4,
			X: got.X, Y: got.Y, Z: got.Z, MissionType: typ})
	}
	g.send(sysid, &common.MessageMissionAck{TargetSystem: sysid, TargetComponent: 1, Type: common.MAV_MISSION_ACCEPTED, MissionType: mt})
	return out
}

// startSim runs a simulator for the test's lifetime.
func startSim(t testing.TB, cfg Config) *Sim {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = testLogger(t)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("simulator: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v", err)
		}
	})
	return s
}

// testLogger sends simulator logs to the test log (visible with -v or on failure).
func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

type vehicleT = vehicle.Vehicle

func homeLL() vehicle.LatLonAlt { return vehicle.LatLonAlt{Lat: 41.3123, Lon: 69.2716, AltMSL: 455} }

func homeAt(lat, lon float64) vehicle.LatLonAlt { return vehicle.LatLonAlt{Lat: lat, Lon: lon} }

func isMsg[T message.Message](m message.Message) bool { _, ok := m.(T); return ok }

// waitHome waits until the vehicle has a GPS fix and home, as ArduCopter
// needs before it arms or reports home.
func waitHome(t testing.TB, sv *SimVehicle) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if st := sv.State(); st.HomeSet && st.GPSFixType >= 3 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("vehicle %d: no GPS fix and home within 30 s: %+v", sv.Index(), sv.State())
}
