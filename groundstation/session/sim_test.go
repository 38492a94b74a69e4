package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/ardupilotmega"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/simulator"
	"github.com/burgut-uav/burgut/simulator/simtest"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// simStation is a minimal ground station for the integration tests: a
// real gomavlib Node with a UDP server on loopback, one dispatcher
// goroutine draining Events (never blocking) and routing each autopilot
// frame to that vehicle's session — the shape groundstation/ uses.
//
// Like the groundstation dispatcher it tells each session the vehicle's
// autopilot (from HEARTBEAT; hideAutopilot plays an autopilot the station
// does not know) and the loss it measures from MAVLink sequence numbers.
// It also records, per vehicle, the highest mission item requested and how
// many items went out ahead of the vehicle's request, so tests can tell a
// strict upload from a windowed one.
type simStation struct {
	node          *gomavlib.Node
	addr          string
	opts          Options
	hideAutopilot bool

	mu       sync.Mutex
	sessions map[uint8]*Vehicle // by system ID (one link here)
	ready    map[uint8]chan struct{}
	links    map[uint8]*simLinkStats
	done     chan struct{}
}

// simLinkStats is one vehicle's traffic as the station saw it.
type simLinkStats struct {
	lastSeq  uint8
	seen     bool
	lost     int // frames missing in the sequence since resetLoss
	recv     int
	maxReq   int // highest MISSION_REQUEST(_INT) seq heard
	items    int // MISSION_ITEM_INTs sent
	ahead    int // of them, sent for a seq above maxReq
	maxAhead int // the most an item's seq was above maxReq
	requests int
	sent     int // every frame handed to gomavlib for this vehicle
}

type channelSender struct {
	st   *simStation
	sys  uint8
	node *gomavlib.Node
	ch   *gomavlib.Channel
}

func (s channelSender) Send(m message.Message) error {
	s.st.mu.Lock()
	s.st.links[s.sys].sent++
	s.st.mu.Unlock()
	if it, ok := m.(*common.MessageMissionItemInt); ok {
		s.st.mu.Lock()
		ls := s.st.links[s.sys]
		ls.items++
		if d := int(it.Seq) - ls.maxReq; d > 0 {
			ls.ahead++
			ls.maxAhead = max(ls.maxAhead, d)
		}
		s.st.mu.Unlock()
	}
	return s.node.WriteMessageTo(s.ch, m)
}

// stats returns a copy of what the station counted for sysid.
func (s *simStation) stats(sysid uint8) simLinkStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.links[sysid]
}

// resetTransferStats starts counting items and requests afresh.
func (s *simStation) resetTransferStats(sysid uint8) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := s.links[sysid]
	ls.maxReq, ls.items, ls.ahead, ls.maxAhead, ls.requests, ls.sent = -1, 0, 0, 0, 0, 0
}

// observe does the station's bookkeeping for one autopilot frame; with
// s.mu held.
func (s *simStation) observe(v *Vehicle, ls *simLinkStats, fr *gomavlib.EventFrame) {
	seq := fr.Frame.GetSequenceNumber()
	if ls.seen {
		switch d := seq - ls.lastSeq; {
		case d == 0 || d > 128: // duplicate or late
		default:
			ls.lost += int(d - 1)
			ls.recv++
			ls.lastSeq = seq
		}
	} else {
		ls.seen, ls.lastSeq = true, seq
	}
	if ls.recv+ls.lost >= 20 {
		v.SetLinkLoss(float64(ls.lost) / float64(ls.recv+ls.lost))
	}
	switch m := fr.Message().(type) {
	case *common.MessageHeartbeat:
		if !s.hideAutopilot {
			v.SetAutopilot(uint8(m.Autopilot))
		}
	case *common.MessageMissionRequestInt:
		ls.requests++
		ls.maxReq = max(ls.maxReq, int(m.Seq))
	case *common.MessageMissionRequest:
		ls.requests++
		ls.maxReq = max(ls.maxReq, int(m.Seq))
	}
}

func newSimStation(t testing.TB, opts Options) *simStation {
	t.Helper()
	port := testenv.FreeUDPPort(t)
	s := &simStation{addr: fmt.Sprintf("127.0.0.1:%d", port), opts: opts,
		sessions: map[uint8]*Vehicle{}, ready: map[uint8]chan struct{}{}, links: map[uint8]*simLinkStats{}, done: make(chan struct{})}
	s.node = &gomavlib.Node{
		Endpoints:       []gomavlib.EndpointConf{gomavlib.EndpointUDPServer{Address: s.addr}},
		Dialect:         ardupilotmega.Dialect,
		OutVersion:      gomavlib.V2,
		OutSystemID:     255,
		OutComponentID:  190,
		HeartbeatPeriod: 200 * time.Millisecond, // keeps the GCS failsafe quiet at speedup
	}
	if err := s.node.Initialize(); err != nil {
		t.Fatalf("ground station node: %v", err)
	}
	go func() {
		defer close(s.done)
		for ev := range s.node.Events() {
			fr, ok := ev.(*gomavlib.EventFrame)
			if !ok || fr.ComponentID() != 1 {
				continue
			}
			s.mu.Lock()
			v := s.sessions[fr.SystemID()]
			if v == nil {
				s.links[fr.SystemID()] = &simLinkStats{maxReq: -1}
				v = New(channelSender{s, fr.SystemID(), s.node, fr.Channel}, Target{SystemID: fr.SystemID(), ComponentID: 1}, s.opts)
				s.sessions[fr.SystemID()] = v
				if r, ok := s.ready[fr.SystemID()]; ok {
					close(r)
				} else {
					r := make(chan struct{})
					close(r)
					s.ready[fr.SystemID()] = r
				}
			}
			s.observe(v, s.links[fr.SystemID()], fr)
			s.mu.Unlock()
			v.Handle(fr.Message())
		}
	}()
	t.Cleanup(func() {
		s.mu.Lock()
		for _, v := range s.sessions {
			v.Close()
		}
		s.mu.Unlock()
		s.node.Close()
		<-s.done
	})
	return s
}

// vehicle waits for the first frame of system sysid and returns its session.
func (s *simStation) vehicle(t testing.TB, sysid uint8) *Vehicle {
	t.Helper()
	s.mu.Lock()
	r, ok := s.ready[sysid]
	if !ok {
		r = make(chan struct{})
		s.ready[sysid] = r
	}
	s.mu.Unlock()
	select {
	case <-r:
	case <-time.After(15 * time.Second):
		t.Fatalf("no frame from system %d", sysid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[sysid]
}

// startSim runs the bundled simulator against the station until the test ends.
func startSim(t testing.TB, st *simStation, cfg simulator.Config) *simulator.Sim {
	t.Helper()
	cfg.GCS = []string{"udp:" + st.addr}
	return simtest.Start(t, cfg)
}

func simOpts() Options {
	return Options{
		CommandTimeout: 500 * time.Millisecond, MissionItemTimeout: 300 * time.Millisecond, MissionRetries: 20,
		ParamTimeout: 300 * time.Millisecond, ParamRetries: 20,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

const (
	modeGuided = 4
	cmdSetMode = uint16(common.MAV_CMD_DO_SET_MODE)
	cmdArm     = uint16(common.MAV_CMD_COMPONENT_ARM_DISARM)
)

func TestSimCommandsAcceptedAndDenied(t *testing.T) {
	st := newSimStation(t, simOpts())
	sim := startSim(t, st, simulator.Config{Vehicles: 2, Speedup: 5, Seed: 11})
	sim.Vehicle(1).Do(func(v *vehicle.Vehicle) { v.InjectGPSLoss(time.Hour) })
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// vehicle 2 has no GPS: arming is refused, with ArduCopter's reason.
	v2 := st.vehicle(t, 2)
	res, err := v2.Command(ctx, CommandRequest{Command: cmdArm, Params: [7]float32{1}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted() || res.ResultName == "" || !strings.Contains(res.Text, "GPS") {
		t.Fatalf("arm without GPS: %+v; want a refusal naming GPS", res)
	}

	// vehicle 1: GUIDED and arm once its GPS and pre-arm checks are good, take off.
	v1 := st.vehicle(t, 1)
	untilAccepted(ctx, t, v1, CommandRequest{Command: cmdSetMode, Params: [7]float32{1, modeGuided}})
	untilAccepted(ctx, t, v1, CommandRequest{Command: cmdArm, Params: [7]float32{1}})
	res, err = v1.Command(ctx, CommandRequest{Command: uint16(common.MAV_CMD_NAV_TAKEOFF), Params: [7]float32{6: 10}})
	if err != nil || !res.Accepted() {
		t.Fatalf("takeoff: %+v %v", res, err)
	}
	// an unknown command comes back UNSUPPORTED, not as an error
	res, err = v1.Command(ctx, CommandRequest{Command: 31999})
	if err != nil || res.ResultName != "UNSUPPORTED" {
		t.Fatalf("unknown command: %+v %v", res, err)
	}
}

// untilAccepted repeats a command the vehicle refuses while it is still
// getting ready (GPS fix, EKF), as an operator would.
func untilAccepted(ctx context.Context, t *testing.T, v *Vehicle, req CommandRequest) {
	t.Helper()
	for {
		res, err := v.Command(ctx, req)
		if err != nil {
			t.Fatalf("command %d: %v", req.Command, err)
		}
		if res.Accepted() {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("command %d never accepted; last answer %+v", req.Command, res)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// simMission is a mission in the form ArduCopter stores it, so what comes
// back equals what went up except seq 0, which the vehicle sets to home.
func simMission(n int) []mavitem.Item {
	items := []mavitem.Item{{Frame: mavitem.FrameGlobal, Command: mavitem.CmdNavWaypoint, Autocontinue: 1, X: 413123000, Y: 692716000}}
	items = append(items, mavitem.Item{Seq: 1, Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavTakeoff, Autocontinue: 1, Z: 15})
	for i := 2; len(items) < n-1; i++ {
		items = append(items, mavitem.Item{Seq: uint16(i), Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavWaypoint,
			Autocontinue: 1, X: 413123000 + int32(i)*97, Y: 692716000 - int32(i)*131, Z: 20 + float32(i%10)})
	}
	items = append(items, mavitem.Item{Seq: uint16(len(items)), Frame: mavitem.FrameGlobal, Command: mavitem.CmdNavReturnToLaunch, Autocontinue: 1})
	return items
}

func simFence() []mavitem.Item {
	return []mavitem.Item{{Frame: mavitem.FrameGlobal, Command: mavitem.CmdFenceCircleInclusion, Param1: 400, X: 413123000, Y: 692716000, MissionType: mavitem.TypeFence}}
}

func simRally() []mavitem.Item {
	return []mavitem.Item{
		{Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavRallyPoint, X: 413133000, Y: 692716000, Z: 50, MissionType: mavitem.TypeRally},
		{Seq: 1, Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavRallyPoint, X: 413113000, Y: 692726000, Z: 50, MissionType: mavitem.TypeRally},
	}
}

// sameStored compares a read-back with the upload; for the mission, seq 0
// (home, rewritten by the vehicle) is skipped.
func sameStored(t *testing.T, mt mavitem.MissionType, got, want []mavitem.Item) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: read back %d items, uploaded %d", mt, len(got), len(want))
	}
	start := 0
	if mt == mavitem.TypeMission {
		start = 1
	}
	for i := start; i < len(want); i++ {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("%s item %d read back as %+v, uploaded %+v", mt, i, got[i], want[i])
		}
	}
}

func TestSimMissionFenceRallyRoundTrip(t *testing.T) {
	st := newSimStation(t, simOpts())
	startSim(t, st, simulator.Config{Vehicles: 1, Speedup: 5, Seed: 3})
	v := st.vehicle(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, c := range []struct {
		mt    mavitem.MissionType
		items []mavitem.Item
	}{{mavitem.TypeMission, simMission(30)}, {mavitem.TypeFence, simFence()}, {mavitem.TypeRally, simRally()}} {
		var progress int
		if err := v.Upload(ctx, c.mt, c.items, func(d, _ int) { progress = d }); err != nil {
			t.Fatal(err)
		}
		if progress != len(c.items) {
			t.Fatalf("%s upload progress ended at %d", c.mt, progress)
		}
		got, err := v.Download(ctx, c.mt, nil)
		if err != nil {
			t.Fatal(err)
		}
		sameStored(t, c.mt, got, c.items)
	}
	if err := v.SetCurrent(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := v.Clear(ctx, mavitem.TypeRally); err != nil {
		t.Fatal(err)
	}
	if got, err := v.Download(ctx, mavitem.TypeRally, nil); err != nil || len(got) != 0 {
		t.Fatalf("rally after clear: %v %v", got, err)
	}
	// over the vehicle's capacity (700 mission items): a clear refusal
	err := v.Upload(ctx, mavitem.TypeMission, simMission(701), nil)
	var me *MissionError
	if !errors.As(err, &me) || me.Name != "MAV_MISSION_NO_SPACE" {
		t.Fatalf("701 items: %v", err)
	}
}

func TestSimParameters(t *testing.T) {
	st := newSimStation(t, simOpts())
	startSim(t, st, simulator.Config{Vehicles: 1, Speedup: 5, Seed: 5})
	v := st.vehicle(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var last, total int
	all, err := v.ParamsAll(ctx, func(d, n int) { last, total = d, n })
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 20 || last != len(all) || total != len(all) {
		t.Fatalf("%d params, progress %d/%d", len(all), last, total)
	}
	byName := map[string]Param{}
	for i, p := range all {
		if p.Index != i || p.Count != len(all) {
			t.Fatalf("param %d: %+v", i, p)
		}
		byName[p.Name] = p
	}
	if byName["FENCE_RADIUS"].Value != 150 {
		t.Fatalf("FENCE_RADIUS = %+v", byName["FENCE_RADIUS"])
	}
	p, err := v.ParamSet(ctx, "FENCE_RADIUS", 350)
	if err != nil || p.Value != 350 {
		t.Fatalf("set FENCE_RADIUS 350: %+v %v", p, err)
	}
	p, err = v.ParamSet(ctx, "FENCE_RADIUS", 5) // below the range 30..10000
	if !errors.Is(err, ErrParamRejected) || p.Value != 350 {
		t.Fatalf("set FENCE_RADIUS 5: %+v %v; want ErrParamRejected keeping 350", p, err)
	}
	if p, err := v.ParamGet(ctx, "FENCE_RADIUS"); err != nil || p.Value != 350 {
		t.Fatalf("read back: %+v %v", p, err)
	}
}

// The acceptance test: uploads through 30 % loss, 30 % duplication and
// 30 % reordering (both directions, on the simulator's real UDP link, 50 ms
// each way) read back identical, with each upload plan: the adaptive window
// the simulator gets as an ArduPilot, a fixed window, and the strict
// sequence for an autopilot the station does not know — which sends only
// what the vehicle asked for, and after a silence the item after the last
// request (that request may have been lost), never more.
func TestSimUploadUnderLossDuplicationReordering(t *testing.T) {
	for _, c := range []struct {
		name          string
		window        int
		hideAutopilot bool
	}{{"auto_ardupilot", 0, false}, {"fixed16", 16, false}, {"strict_unknown_autopilot", 0, true}} {
		t.Run(c.name, func(t *testing.T) {
			opts := simOpts()
			opts.UploadWindow = c.window
			st := newSimStation(t, opts)
			st.hideAutopilot = c.hideAutopilot
			sim := startSim(t, st, simulator.Config{Vehicles: 1, Speedup: 5, Seed: 9})
			v := st.vehicle(t, 1)
			if !c.hideAutopilot {
				waitAutopilot(t, v)
			}
			sim.Vehicle(0).SetLinkFaults(simulator.LinkFaults{LossPct: 30, DupPct: 30, ReorderPct: 30, Latency: 50 * time.Millisecond})
			ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
			defer cancel()
			items := simMission(200)
			st.resetTransferStats(1)
			if err := v.Upload(ctx, mavitem.TypeMission, items, nil); err != nil {
				t.Fatal(err)
			}
			stats := st.stats(1)
			got, err := v.Download(ctx, mavitem.TypeMission, nil)
			if err != nil {
				t.Fatal(err)
			}
			sameStored(t, mavitem.TypeMission, got, items)
			switch {
			case c.hideAutopilot && stats.maxAhead > 1:
				// strict: only the requested item, and after a silence
				// the one after the last request (the request may be lost)
				t.Fatalf("strict upload sent item(s) up to %d ahead of the vehicle's request", stats.maxAhead)
			case !c.hideAutopilot && stats.maxAhead <= 1:
				t.Fatalf("windowed upload sent all %d items only on request", stats.items)
			case !c.hideAutopilot && stats.items <= len(items):
				t.Fatalf("windowed upload on a 30 %% loss link sent %d item frames for %d items: no copies", stats.items, len(items))
			}
		})
	}
}

// waitAutopilot waits until the station has told the session the
// vehicle's autopilot (its first HEARTBEAT may come after other frames).
func waitAutopilot(t testing.TB, v *Vehicle) {
	t.Helper()
	for range 200 {
		if _, ok := v.Autopilot(); ok {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal("no HEARTBEAT with the autopilot type")
}
