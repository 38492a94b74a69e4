package session

import (
	"io"
	"log/slog"
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
	now     func() time.Time // the model's clock: wall time, or a world's virtual time

	params    []Param
	paramMax  map[string]float64 // PARAM_SET above this is refused (old value echoed)
	onCommand func(m *common.MessageCommandLong) []message.Message
	onCmdInt  func(m *common.MessageCommandInt) []message.Message
}

func newModelVehicle() *modelVehicle {
	return &modelVehicle{lists: map[mavitem.MissionType][]mavitem.Item{}, maxItems: 10000, legacyReq: true, paramMax: map[string]float64{},
		reRequest: 40 * time.Millisecond, now: time.Now}
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
		mv.rxLastReq = mv.now()
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
		mv.rxLastReq = mv.now()
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

// world is a deterministic discrete-event world for the transfer tests: a
// virtual clock (the session's Options.Clock), a radio link with seeded
// loss, duplication, reordering and latency, and a vehicle model. It all
// runs in the goroutine of the operation under test: Send schedules
// deliveries, and time advances only when the operation waits (its
// timer's Reset), to the next delivery or the operation's deadline,
// whichever comes first. No wall clock, no scheduling: a seed gives the
// same run every time, on any machine, under -race.
type world struct {
	t       testing.TB
	v       *Vehicle
	model   func(msg message.Message) []message.Message
	tick    func(now time.Time) []message.Message // the vehicle's own timers, every tickEvery; may be nil
	faults  faults
	latency time.Duration // one way
	rng     *rand.Rand

	mu      sync.Mutex
	now     time.Time
	order   int
	events  []worldEvent
	timers  []*worldTimer
	ticking bool
	sent    []message.Message // everything the session sent, before faults
	steps   int
	woken   bool // an event asked the waiting operation to look again (a cancelled context)
}

type worldEvent struct {
	at    time.Time
	order int
	fn    func()
}

const tickEvery = 10 * time.Millisecond

func newWorld(t testing.TB, opts Options, f faults, latency time.Duration, seed int64, model func(message.Message) []message.Message) *world {
	t.Helper()
	w := &world{t: t, model: model, faults: f, latency: latency, rng: rand.New(rand.NewSource(seed)),
		now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	opts.Clock = w
	if opts.Log == nil {
		opts.Log = discardLog()
	}
	w.v = New(SenderFunc(w.send), Target{SystemID: 1, ComponentID: 1}, opts)
	t.Cleanup(w.v.Close)
	return w
}

// withModel points mv's clock at the world and runs its re-request timer.
func (w *world) withModel(mv *modelVehicle) *world {
	mv.now = w.Now
	w.tick = mv.tick
	return w
}

func (w *world) Now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

// After and NewTimer arm a timer without running the world: only a
// Reset, which the operation calls right before it waits, does.
func (w *world) After(d time.Duration) <-chan time.Time { return w.newTimer(d).ch }

func (w *world) NewTimer(d time.Duration) Timer { return w.newTimer(d) }

func (w *world) newTimer(d time.Duration) *worldTimer {
	w.mu.Lock()
	defer w.mu.Unlock()
	tm := &worldTimer{w: w, ch: make(chan time.Time, 1), at: w.now.Add(d), armed: true}
	w.timers = append(w.timers, tm)
	return tm
}

type worldTimer struct {
	w     *world
	ch    chan time.Time
	at    time.Time
	armed bool
}

func (tm *worldTimer) C() <-chan time.Time { return tm.ch }

// Reset arms the timer, then lets the world run until the operation has a
// message to read or this (or another) timer fires: the operation calls
// Reset right before it waits.
func (tm *worldTimer) Reset(d time.Duration) bool {
	tm.w.mu.Lock()
	was := tm.armed
	select {
	case <-tm.ch:
	default:
	}
	tm.at, tm.armed = tm.w.now.Add(d), true
	tm.w.mu.Unlock()
	tm.w.advance()
	return was
}

func (tm *worldTimer) Stop() bool {
	tm.w.mu.Lock()
	defer tm.w.mu.Unlock()
	was := tm.armed
	tm.armed = false
	return was
}

// pending reports whether an operation of the session has a reply queued.
func (w *world) pending() bool {
	w.v.mu.Lock()
	defer w.v.mu.Unlock()
	if w.v.closed {
		return true
	}
	for wt := range w.v.waiters {
		if len(wt.ch) > 0 {
			return true
		}
	}
	return false
}

// advance runs events in time order until the operation has something
// to do: a reply queued, the session closed, or a timer fired.
func (w *world) advance() {
	for {
		if w.pending() {
			return
		}
		w.mu.Lock()
		if w.woken {
			w.woken = false
			w.mu.Unlock()
			return
		}
		w.steps++
		if w.steps > 5_000_000 {
			w.mu.Unlock()
			w.t.Errorf("world: no end after %d steps", w.steps)
			w.v.Close()
			return
		}
		if w.tick != nil && !w.ticking {
			w.ticking = true
			w.scheduleLocked(w.now.Add(tickEvery), w.runTick)
		}
		var first *worldTimer
		for _, tm := range w.timers {
			if tm.armed && (first == nil || tm.at.Before(first.at)) {
				first = tm
			}
		}
		ei := -1
		for i, e := range w.events {
			if ei < 0 || e.at.Before(w.events[ei].at) || (e.at.Equal(w.events[ei].at) && e.order < w.events[ei].order) {
				ei = i
			}
		}
		if first != nil && (ei < 0 || !w.events[ei].at.Before(first.at)) {
			if first.at.After(w.now) {
				w.now = first.at
			}
			first.armed = false
			first.ch <- w.now
			w.mu.Unlock()
			return
		}
		if ei < 0 {
			w.mu.Unlock()
			w.t.Errorf("world: the operation waits and nothing is left to happen")
			w.v.Close()
			return
		}
		e := w.events[ei]
		w.events = append(w.events[:ei], w.events[ei+1:]...)
		if e.at.After(w.now) {
			w.now = e.at
		}
		w.mu.Unlock()
		e.fn()
	}
}

// later runs fn after d of virtual time: a vehicle's delayed reply, or a
// caller acting while an operation waits.
func (w *world) later(d time.Duration, fn func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.scheduleLocked(w.now.Add(d), fn)
}

// cancelLater cancels a context after d of virtual time and lets the
// waiting operation see it before any timer fires.
func (w *world) cancelLater(d time.Duration, cancel func()) {
	w.later(d, func() {
		cancel()
		w.mu.Lock()
		w.woken = true
		w.mu.Unlock()
	})
}

func (w *world) runTick() {
	w.mu.Lock()
	now := w.now
	w.scheduleLocked(now.Add(tickEvery), w.runTick)
	w.mu.Unlock()
	w.toStation(w.tick(now))
}

func (w *world) scheduleLocked(at time.Time, fn func()) {
	w.order++
	w.events = append(w.events, worldEvent{at: at, order: w.order, fn: fn})
}

// pass applies the fault model to one frame and schedules every copy that
// survives; a reordered copy arrives after the frames sent with it.
func (w *world) pass(fn func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rng.Intn(100) < w.faults.LossPct {
		return
	}
	copies := 1
	if w.rng.Intn(100) < w.faults.DupPct {
		copies = 2
	}
	for range copies {
		at := w.now.Add(w.latency)
		if w.rng.Intn(100) < w.faults.ReorderPct {
			at = at.Add(time.Duration(1+w.rng.Intn(3)) * time.Millisecond)
		}
		w.scheduleLocked(at, fn)
	}
}

func (w *world) send(msg message.Message) error {
	w.mu.Lock()
	w.sent = append(w.sent, msg)
	w.mu.Unlock()
	w.pass(func() { w.toStation(w.model(msg)) })
	return nil
}

func (w *world) toStation(msgs []message.Message) {
	for _, m := range msgs {
		w.pass(func() { w.v.Handle(m) })
	}
}

// sentOf returns what the session sent that matches keep.
func (w *world) sentOf(keep func(message.Message) bool) []message.Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []message.Message
	for _, m := range w.sent {
		if keep(m) {
			out = append(out, m)
		}
	}
	return out
}

// elapsed is the virtual time since the world began.
func (w *world) elapsed() time.Duration {
	return w.Now().Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func isItem(m message.Message) bool { _, ok := m.(*common.MessageMissionItemInt); return ok }
