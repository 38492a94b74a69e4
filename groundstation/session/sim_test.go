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
type simStation struct {
	node *gomavlib.Node
	addr string
	opts Options

	mu       sync.Mutex
	sessions map[uint8]*Vehicle // by system ID (one link here)
	ready    map[uint8]chan struct{}
	done     chan struct{}
}

type channelSender struct {
	node *gomavlib.Node
	ch   *gomavlib.Channel
}

func (s channelSender) Send(m message.Message) error { return s.node.WriteMessageTo(s.ch, m) }

func newSimStation(t testing.TB, opts Options) *simStation {
	t.Helper()
	port := testenv.FreeUDPPort(t)
	s := &simStation{addr: fmt.Sprintf("127.0.0.1:%d", port), opts: opts,
		sessions: map[uint8]*Vehicle{}, ready: map[uint8]chan struct{}{}, done: make(chan struct{})}
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
				v = New(channelSender{s.node, fr.Channel}, Target{SystemID: fr.SystemID(), ComponentID: 1}, s.opts)
				s.sessions[fr.SystemID()] = v
				if r, ok := s.ready[fr.SystemID()]; ok {
					close(r)
				} else {
					r := make(chan struct{})
					close(r)
					s.ready[fr.SystemID()] = r
				}
			}
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

// The acceptance test of the brief: an upload through 30% loss, 30%
// duplication and 30% reordering (both directions, on the simulator's real
// UDP link) reads back identical.
func TestSimUploadUnderLossDuplicationReordering(t *testing.T) {
	for _, window := range []int{1, 16} {
		t.Run(fmt.Sprint("window", window), func(t *testing.T) { simUploadUnderFaults(t, window) })
	}
}

func simUploadUnderFaults(t *testing.T, window int) {
	opts := simOpts()
	opts.UploadWindow = window
	st := newSimStation(t, opts)
	sim := startSim(t, st, simulator.Config{Vehicles: 1, Speedup: 5, Seed: 9})
	v := st.vehicle(t, 1)
	sim.Vehicle(0).SetLinkFaults(simulator.LinkFaults{LossPct: 30, DupPct: 30, ReorderPct: 30})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	items := simMission(60)
	if err := v.Upload(ctx, mavitem.TypeMission, items, nil); err != nil {
		t.Fatal(err)
	}
	got, err := v.Download(ctx, mavitem.TypeMission, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameStored(t, mavitem.TypeMission, got, items)
}
