package session

import (
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavitem"
)

// faults is what the in-test link does to frames, in each direction.
type faults struct {
	LossPct, DupPct, ReorderPct int
}

// testLink connects a session.Vehicle to a scripted vehicle model through a
// goroutine that plays the radio link: it applies loss, duplication and
// reordering (seeded, so a failure reproduces) in both directions. The
// session's Send only enqueues; replies reach Handle from the link
// goroutine, as they do from the groundstation dispatcher.
type testLink struct {
	t      *testing.T
	v      *Vehicle
	model  func(msg message.Message) []message.Message
	tick   func(now time.Time) []message.Message // the vehicle's own timers; may be nil
	faults faults
	rng    *rand.Rand

	in   chan message.Message
	stop chan struct{}
	wg   sync.WaitGroup

	mu   sync.Mutex
	sent []message.Message // everything the session sent, before faults
}

func newTestLink(t *testing.T, opts Options, f faults, seed int64, model func(message.Message) []message.Message) *testLink {
	t.Helper()
	l := &testLink{
		t: t, model: model, faults: f, rng: rand.New(rand.NewSource(seed)),
		in: make(chan message.Message, 4096), stop: make(chan struct{}),
	}
	l.v = New(SenderFunc(l.send), Target{SystemID: 1, ComponentID: 1}, opts)
	l.wg.Add(1)
	go l.run()
	t.Cleanup(func() {
		l.v.Close()
		close(l.stop)
		l.wg.Wait()
	})
	return l
}

func (l *testLink) send(msg message.Message) error {
	l.mu.Lock()
	l.sent = append(l.sent, msg)
	l.mu.Unlock()
	select {
	case l.in <- msg:
	default: // a full radio queue drops, like gomavlib's
	}
	return nil
}

// sentOf returns copies of what the session sent that match keep.
func (l *testLink) sentOf(keep func(message.Message) bool) []message.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []message.Message
	for _, m := range l.sent {
		if keep(m) {
			out = append(out, m)
		}
	}
	return out
}

// deliver applies the fault model to msgs and passes survivors to to.
// A frame chosen for reordering is held back and released after the next.
func (l *testLink) deliver(msgs []message.Message, held *[]message.Message, to func(message.Message)) {
	for _, m := range msgs {
		if l.rng.Intn(100) < l.faults.LossPct {
			continue
		}
		copies := 1
		if l.rng.Intn(100) < l.faults.DupPct {
			copies = 2
		}
		for range copies {
			if l.rng.Intn(100) < l.faults.ReorderPct {
				*held = append(*held, m)
				continue
			}
			to(m)
			for _, h := range *held {
				to(h)
			}
			*held = (*held)[:0]
		}
	}
}

func (l *testLink) run() {
	defer l.wg.Done()
	var heldUp, heldDown []message.Message
	toVehicle := func(m message.Message) {
		replies := l.model(m)
		l.deliver(replies, &heldDown, l.v.Handle)
	}
	flush := time.NewTicker(5 * time.Millisecond)
	defer flush.Stop()
	for {
		select {
		case <-l.stop:
			return
		case m := <-l.in:
			l.deliver([]message.Message{m}, &heldUp, toVehicle)
		case now := <-flush.C:
			if l.tick != nil {
				l.deliver(l.tick(now), &heldDown, l.v.Handle)
			}
			// a held frame is released late rather than never
			up, down := heldUp, heldDown
			heldUp, heldDown = nil, nil
			for _, m := range up {
				toVehicle(m)
			}
			for _, m := range down {
				l.v.Handle(m)
			}
		}
	}
}

// modelVehicle is a small ArduPilot-like autopilot for the state-machine
// tests: it stores mission/fence/rally lists, answers the mission protocol
// like ArduCopter 4.7 (legacy MISSION_REQUEST during upload, NACK
// MAV_MISSION_INVALID_SEQUENCE for an item other than the one it asked
// for), keeps parameters, and lets each test script command replies.
// It only runs on the link goroutine, so it needs no lock except for what
// tests read afterwards.
type modelVehicle struct {
	mu       sync.Mutex
	lists    map[mavitem.MissionType][]mavitem.Item
	maxItems int

	// upload in progress
	receiving bool
	rxType    mavitem.MissionType
	rxCount   int
	rxNext    int
	rxItems   []mavitem.Item
	rxLastReq time.Time     // when the last MISSION_REQUEST went out
	reRequest time.Duration // ArduPilot re-requests after 1 s of silence; 0 = never
	legacyReq bool          // ask with MISSION_REQUEST (ArduPilot) instead of _INT

	current uint16

	params    []Param
	paramMax  map[string]float64 // PARAM_SET above this is refused (old value echoed)
	onCommand func(m *common.MessageCommandLong) []message.Message
	onCmdInt  func(m *common.MessageCommandInt) []message.Message
}

func newModelVehicle() *modelVehicle {
	return &modelVehicle{lists: map[mavitem.MissionType][]mavitem.Item{}, maxItems: 10000, legacyReq: true, paramMax: map[string]float64{},
		reRequest: 40 * time.Millisecond}
}

func (mv *modelVehicle) list(t mavitem.MissionType) []mavitem.Item {
	mv.mu.Lock()
	defer mv.mu.Unlock()
	return append([]mavitem.Item(nil), mv.lists[t]...)
}

func (mv *modelVehicle) request(t mavitem.MissionType, seq int) message.Message {
	if mv.legacyReq {
		return &common.MessageMissionRequest{TargetSystem: 255, TargetComponent: 190, Seq: uint16(seq), MissionType: common.MAV_MISSION_TYPE(t)}
	}
	return &common.MessageMissionRequestInt{TargetSystem: 255, TargetComponent: 190, Seq: uint16(seq), MissionType: common.MAV_MISSION_TYPE(t)}
}

func ack(t mavitem.MissionType, r common.MAV_MISSION_RESULT) message.Message {
	return &common.MessageMissionAck{TargetSystem: 255, TargetComponent: 190, Type: r, MissionType: common.MAV_MISSION_TYPE(t)}
}

func (mv *modelVehicle) handle(msg message.Message) []message.Message {
	mv.mu.Lock()
	defer mv.mu.Unlock()
	switch m := msg.(type) {
	case *common.MessageMissionCount:
		t := mavitem.MissionType(m.MissionType)
		if int(m.Count) > mv.maxItems {
			return []message.Message{ack(t, common.MAV_MISSION_NO_SPACE)}
		}
		if m.Count == 0 {
			mv.lists[t] = nil
			mv.receiving = false
			return []message.Message{ack(t, common.MAV_MISSION_ACCEPTED)}
		}
		mv.receiving, mv.rxType, mv.rxCount, mv.rxNext = true, t, int(m.Count), 0
		mv.rxItems = make([]mavitem.Item, m.Count)
		mv.rxLastReq = time.Now()
		return []message.Message{mv.request(t, 0)}
	case *common.MessageMissionItemInt:
		t := mavitem.MissionType(m.MissionType)
		if !mv.receiving || t != mv.rxType {
			return nil // ArduPilot ignores items outside an upload
		}
		if int(m.Seq) != mv.rxNext {
			return []message.Message{ack(t, common.MAV_MISSION_INVALID_SEQUENCE)}
		}
		mv.rxItems[m.Seq] = mavitem.Item{Seq: m.Seq, Frame: uint8(m.Frame), Command: uint16(m.Command), Current: m.Current,
			Autocontinue: m.Autocontinue, Param1: m.Param1, Param2: m.Param2, Param3: m.Param3, Param4: m.Param4,
			X: m.X, Y: m.Y, Z: m.Z, MissionType: t}
		mv.rxNext++
		if mv.rxNext == mv.rxCount {
			mv.receiving = false
			mv.lists[t] = mv.rxItems
			return []message.Message{ack(t, common.MAV_MISSION_ACCEPTED)}
		}
		mv.rxLastReq = time.Now()
		return []message.Message{mv.request(t, mv.rxNext)}
	case *common.MessageMissionRequestList:
		t := mavitem.MissionType(m.MissionType)
		if mv.receiving && mv.rxType == t {
			return []message.Message{ack(t, common.MAV_MISSION_DENIED)} // as ArduPilot while receiving
		}
		return []message.Message{&common.MessageMissionCount{TargetSystem: 255, TargetComponent: 190, Count: uint16(len(mv.lists[t])), MissionType: m.MissionType}}
	case *common.MessageMissionRequestInt:
		t := mavitem.MissionType(m.MissionType)
		l := mv.lists[t]
		if int(m.Seq) >= len(l) {
			return []message.Message{ack(t, common.MAV_MISSION_INVALID_SEQUENCE)}
		}
		it := l[m.Seq]
		return []message.Message{&common.MessageMissionItemInt{TargetSystem: 255, TargetComponent: 190, Seq: it.Seq,
			Frame: common.MAV_FRAME(it.Frame), Command: common.MAV_CMD(it.Command), Current: it.Current, Autocontinue: it.Autocontinue,
			Param1: it.Param1, Param2: it.Param2, Param3: it.Param3, Param4: it.Param4, X: it.X, Y: it.Y, Z: it.Z,
			MissionType: common.MAV_MISSION_TYPE(t)}}
	case *common.MessageMissionClearAll:
		t := mavitem.MissionType(m.MissionType)
		mv.lists[t] = nil
		return []message.Message{ack(t, common.MAV_MISSION_ACCEPTED)}
	case *common.MessageMissionSetCurrent:
		if int(m.Seq) < len(mv.lists[mavitem.TypeMission]) {
			mv.current = m.Seq
		}
		return []message.Message{&common.MessageMissionCurrent{Seq: mv.current}}
	case *common.MessageParamRequestList:
		out := make([]message.Message, 0, len(mv.params))
		for _, p := range mv.params {
			out = append(out, mv.paramValue(p))
		}
		return out
	case *common.MessageParamRequestRead:
		for _, p := range mv.params {
			if (m.ParamIndex >= 0 && p.Index == int(m.ParamIndex)) || (m.ParamIndex < 0 && p.Name == m.ParamId) {
				pv := mv.paramValue(p)
				if m.ParamIndex < 0 {
					pv.ParamIndex = paramIndexNone
				}
				return []message.Message{pv}
			}
		}
	case *common.MessageParamSet:
		for i, p := range mv.params {
			if p.Name != m.ParamId {
				continue
			}
			if max, ok := mv.paramMax[p.Name]; !ok || float64(m.ParamValue) <= max {
				mv.params[i].Value = float64(m.ParamValue)
			}
			pv := mv.paramValue(mv.params[i])
			pv.ParamIndex = paramIndexNone
			return []message.Message{pv}
		}
	case *common.MessageCommandLong:
		if mv.onCommand != nil {
			return mv.onCommand(m)
		}
	case *common.MessageCommandInt:
		if mv.onCmdInt != nil {
			return mv.onCmdInt(m)
		}
	}
	return nil
}

// tick re-requests the awaited item after reRequest of silence, as
// ArduPilot's MissionItemProtocol::update does.
func (mv *modelVehicle) tick(now time.Time) []message.Message {
	mv.mu.Lock()
	defer mv.mu.Unlock()
	if !mv.receiving || mv.reRequest == 0 || now.Sub(mv.rxLastReq) < mv.reRequest {
		return nil
	}
	mv.rxLastReq = now
	return []message.Message{mv.request(mv.rxType, mv.rxNext)}
}

func (mv *modelVehicle) paramValue(p Param) *common.MessageParamValue {
	return &common.MessageParamValue{ParamId: p.Name, ParamValue: float32(p.Value), ParamType: common.MAV_PARAM_TYPE(p.Type),
		ParamCount: uint16(len(mv.params)), ParamIndex: uint16(p.Index)}
}

// testItems builds a mission whose every field differs per item, so a
// shifted or swapped item cannot compare equal.
func testItems(n int, t mavitem.MissionType) []mavitem.Item {
	items := make([]mavitem.Item, n)
	for i := range items {
		items[i] = mavitem.Item{
			Seq: uint16(i), Frame: mavitem.FrameGlobalRelAltInt, Command: mavitem.CmdNavWaypoint,
			Autocontinue: 1, Param1: float32(i) * 0.5, Param2: float32(i%7) + 0.25, Param3: -float32(i), Param4: float32(i) / 3,
			X: 473977420 + int32(i)*37, Y: 85455940 - int32(i)*53, Z: 30 + float32(i)*0.1, MissionType: t,
		}
	}
	return items
}
