package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/streamwriter"
)

// sink is a real UDP socket standing in for a ground-station link: it
// decodes every datagram and counts frames per (system ID, message name).
type sink struct {
	conn *net.UDPConn
	mu   sync.Mutex
	// counts[sysid][name]
	counts   map[uint8]map[string]int
	first    map[uint8]string       // name of each system's first frame
	addrs    map[uint8]*net.UDPAddr // where each system sends from
	notV2    int
	datagram int
	multi    int // datagrams holding more than one frame
	done     chan struct{}
}

func newSink(t *testing.T) *sink {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadBuffer(8 << 20)
	s := &sink{conn: c, counts: map[uint8]map[string]int{}, first: map[uint8]string{}, addrs: map[uint8]*net.UDPAddr{}, done: make(chan struct{})}
	go s.read()
	t.Cleanup(func() { c.Close(); <-s.done })
	return s
}

func (s *sink) target() string { return "udp:" + s.conn.LocalAddr().String() }

func (s *sink) read() {
	defer close(s.done)
	buf := make([]byte, 2048)
	for {
		n, from, err := s.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		r := &frame.Reader{BufByteReader: bufio.NewReader(bytes.NewReader(buf[:n])), DialectRW: dialectRW}
		if err := r.Initialize(); err != nil {
			panic(err)
		}
		s.mu.Lock()
		s.datagram++
		frames := 0
		for {
			f, err := r.Read()
			if err != nil {
				break
			}
			frames++
			if _, ok := f.(*frame.V2Frame); !ok {
				s.notV2++
			}
			sys := f.GetSystemID()
			name := nameOf(f.GetMessage())
			if s.counts[sys] == nil {
				s.counts[sys] = map[string]int{}
				s.first[sys] = name
				s.addrs[sys] = from
			}
			s.counts[sys][name]++
		}
		if frames > 1 {
			s.multi++
		}
		s.mu.Unlock()
	}
}

func nameOf(m any) string {
	switch m.(type) {
	case *common.MessageHeartbeat:
		return "HEARTBEAT"
	case *common.MessageGlobalPositionInt:
		return "GLOBAL_POSITION_INT"
	case *common.MessageAttitude:
		return "ATTITUDE"
	case *common.MessageVfrHud:
		return "VFR_HUD"
	case *common.MessageSysStatus:
		return "SYS_STATUS"
	case *common.MessageBatteryStatus:
		return "BATTERY_STATUS"
	case *common.MessageGpsRawInt:
		return "GPS_RAW_INT"
	case *common.MessageCommandAck:
		return "COMMAND_ACK"
	case *common.MessageAutopilotVersion:
		return "AUTOPILOT_VERSION"
	}
	return "other"
}

// total waits until the sink has seen want frames (the loopback hand-off
// is asynchronous to Run's return) and returns what it counted.
func (s *sink) total(t *testing.T, want int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		n := 0
		for _, m := range s.counts {
			for _, c := range m {
				n += c
			}
		}
		s.mu.Unlock()
		if n >= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunSendsExactCountsPerTypeAndVehicle(t *testing.T) {
	a, b := newSink(t), newSink(t)
	res, err := Run(context.Background(), Config{
		Vehicles: 30, Targets: []string{a.target(), b.target()}, PerTarget: 20, Duration: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"GLOBAL_POSITION_INT": 20, "ATTITUDE": 4, "VFR_HUD": 4, "HEARTBEAT": 2, "SYS_STATUS": 2, "BATTERY_STATUS": 2, "GPS_RAW_INT": 2}
	for name, per := range want {
		if got := res.Sent[name]; got != per*30 {
			t.Errorf("Sent[%s] = %d, want %d (30 vehicles × %d)", name, got, per*30, per)
		}
	}
	if res.SentTotal != 30*2*MessagesPerSecond || res.SendErrors != 0 {
		t.Fatalf("sent %d (errors %d), want %d", res.SentTotal, res.SendErrors, 30*2*MessagesPerSecond)
	}
	if len(res.Targets) != 2 || res.Targets[0].Vehicles != 15 || res.Targets[1].Vehicles != 15 {
		t.Fatalf("targets %+v: want the fleet spread 15/15", res.Targets)
	}
	if len(res.PerVehicle) != 30 {
		t.Fatalf("per-vehicle results: %d", len(res.PerVehicle))
	}
	for _, v := range res.PerVehicle {
		if v.Positions != 20 || v.Sent != 36 {
			t.Errorf("vehicle %+v: want 20 positions, 36 frames", v)
		}
	}
	for i, s := range []*sink{a, b} {
		got := s.total(t, int(res.Targets[i].Sent))
		if uint64(got) != res.Targets[i].Sent {
			t.Errorf("target %d received %d frames, loadgen counted %d", i, got, res.Targets[i].Sent)
		}
		s.mu.Lock()
		if len(s.counts) != 15 || s.notV2 != 0 || s.multi != 0 {
			t.Errorf("target %d: %d systems (want 15), %d MAVLink 1 frames, %d multi-frame datagrams", i, len(s.counts), s.notV2, s.multi)
		}
		for sys, m := range s.counts {
			if sys < 1 || sys > 15 {
				t.Errorf("target %d: unexpected system ID %d", i, sys)
			}
			if s.first[sys] != "HEARTBEAT" {
				t.Errorf("target %d sysid %d: first frame %s, want HEARTBEAT", i, sys, s.first[sys])
			}
			for name, per := range want {
				if m[name] != int(per) {
					t.Errorf("target %d sysid %d: %s %d, want %d", i, sys, name, m[name], per)
				}
			}
		}
		s.mu.Unlock()
	}
	if res.CPUPercent <= 0 {
		t.Errorf("CPU not measured: %+v", res)
	}
}

// A ground station registering a vehicle asks for AUTOPILOT_VERSION and
// sets stream rates with COMMAND_LONG: the vehicle must answer both.
func TestVehicleAnswersCommands(t *testing.T) {
	s := newSink(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type out struct {
		res *Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		r, err := Run(ctx, Config{Vehicles: 3, Targets: []string{s.target()}})
		done <- out{r, err}
	}()
	// Wait for vehicle 2's address, then command it as station 255.
	var to *net.UDPAddr
	for deadline := time.Now().Add(5 * time.Second); to == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		s.mu.Lock()
		to = s.addrs[2]
		s.mu.Unlock()
	}
	if to == nil {
		t.Fatal("vehicle 2 never sent")
	}
	var buf bytes.Buffer
	fw := &frame.Writer{ByteWriter: &buf, DialectRW: dialectRW}
	if err := fw.Initialize(); err != nil {
		t.Fatal(err)
	}
	sw := &streamwriter.Writer{FrameWriter: fw, Version: streamwriter.V2, SystemID: 255, ComponentID: 190}
	if err := sw.Initialize(); err != nil {
		t.Fatal(err)
	}
	send := func(m *common.MessageCommandLong) {
		buf.Reset()
		if err := sw.Write(m); err != nil {
			t.Fatal(err)
		}
		if _, err := s.conn.WriteToUDP(buf.Bytes(), to); err != nil {
			t.Fatal(err)
		}
	}
	send(&common.MessageCommandLong{TargetSystem: 2, TargetComponent: 1, Command: common.MAV_CMD_REQUEST_MESSAGE, Param1: 148})
	send(&common.MessageCommandLong{TargetSystem: 2, TargetComponent: 1, Command: common.MAV_CMD_SET_MESSAGE_INTERVAL, Param1: 33, Param2: 250000})
	send(&common.MessageCommandLong{TargetSystem: 3, TargetComponent: 1, Command: common.MAV_CMD_SET_MESSAGE_INTERVAL, Param1: 33}) // not for vehicle 2: ignored
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		s.mu.Lock()
		acks, ver := s.counts[2]["COMMAND_ACK"], s.counts[2]["AUTOPILOT_VERSION"]
		s.mu.Unlock()
		if acks >= 2 && ver >= 1 {
			break
		}
	}
	cancel()
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Sent["COMMAND_ACK"] != 2 || o.res.Sent["AUTOPILOT_VERSION"] != 1 || o.res.Commands != 2 {
		t.Fatalf("answers: acks %d, versions %d, commands %d; want 2, 1, 2", o.res.Sent["COMMAND_ACK"], o.res.Sent["AUTOPILOT_VERSION"], o.res.Commands)
	}
	s.total(t, int(o.res.SentTotal))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts[2]["COMMAND_ACK"] != 2 || s.counts[2]["AUTOPILOT_VERSION"] != 1 || s.counts[3]["COMMAND_ACK"] != 0 {
		t.Fatalf("received answers: %v / vehicle 3 %v", s.counts[2], s.counts[3])
	}
}

func TestConfigErrorsNameTheSetting(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Vehicles: 0, Targets: []string{"udp:127.0.0.1:14550"}}, "vehicles 0"},
		{Config{Vehicles: 1}, "target"},
		{Config{Vehicles: 251, Targets: []string{"udp:127.0.0.1:14550"}}, "need 2 targets"},
		{Config{Vehicles: 10, Targets: []string{"udp:127.0.0.1:14550"}, PerTarget: 300}, "per-link 300"},
		{Config{Vehicles: 1, Targets: []string{"tcp:127.0.0.1:14550"}}, `target "tcp:127.0.0.1:14550"`},
		{Config{Vehicles: 1, Targets: []string{"udp:nohost"}}, `target "udp:nohost"`},
		{Config{Vehicles: 1, Targets: []string{"udp:[::1]:14550"}}, "IPv4"},
	} {
		_, err := Run(context.Background(), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want it to mention %q", tc.cfg, err, tc.want)
		}
	}
}

// Cancelling the context ends the run early with what was sent so far.
func TestRunStopsOnCancel(t *testing.T) {
	s := newSink(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	res, err := Run(ctx, Config{Vehicles: 5, Targets: []string{s.target()}})
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	if res.SentTotal == 0 || res.Sent["HEARTBEAT"] != 5 {
		t.Fatalf("sent %v: want every vehicle's first heartbeat", res.Sent)
	}
}
