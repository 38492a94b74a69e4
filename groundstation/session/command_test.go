package session

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
)

func fastOpts() Options {
	return Options{
		CommandTimeout: 100 * time.Millisecond, CommandRetries: 3, CommandProgressTimeout: 2 * time.Second,
		MissionItemTimeout: 60 * time.Millisecond, MissionRetries: 25,
		ParamTimeout: 60 * time.Millisecond, ParamRetries: 25,
	}
}

func cmdAck(cmd common.MAV_CMD, r common.MAV_RESULT) *common.MessageCommandAck {
	return &common.MessageCommandAck{Command: cmd, Result: r, TargetSystem: 255, TargetComponent: 190}
}

func isCommandLong(m message.Message) bool { _, ok := m.(*common.MessageCommandLong); return ok }

func TestCommandAccepted(t *testing.T) {
	mv := newModelVehicle()
	mv.onCommand = func(m *common.MessageCommandLong) []message.Message {
		return []message.Message{cmdAck(m.Command, common.MAV_RESULT_ACCEPTED)}
	}
	l := newWorld(t, fastOpts(), faults{}, 0, 1, mv.handle)
	res, err := l.v.Command(context.Background(), CommandRequest{Command: uint16(common.MAV_CMD_COMPONENT_ARM_DISARM), Params: [7]float32{1}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Accepted() || res.ResultName != "ACCEPTED" || res.Attempts != 1 {
		t.Fatalf("got %+v, want ACCEPTED after 1 attempt", res)
	}
	sent := l.sentOf(isCommandLong)
	if len(sent) != 1 || sent[0].(*common.MessageCommandLong).Param1 != 1 || sent[0].(*common.MessageCommandLong).TargetSystem != 1 {
		t.Fatalf("sent %+v", sent)
	}
}

func TestCommandDeniedCarriesStatusText(t *testing.T) {
	mv := newModelVehicle()
	mv.onCommand = func(m *common.MessageCommandLong) []message.Message {
		return []message.Message{
			&common.MessageStatustext{Severity: common.MAV_SEVERITY_CRITICAL, Text: "PreArm: GPS 1: Bad fix"},
			cmdAck(m.Command, common.MAV_RESULT_DENIED),
		}
	}
	l := newWorld(t, fastOpts(), faults{}, 0, 1, mv.handle)
	res, err := l.v.Command(context.Background(), CommandRequest{Command: uint16(common.MAV_CMD_COMPONENT_ARM_DISARM), Params: [7]float32{1}})
	if err != nil {
		t.Fatalf("a refusal is a result, not an error: %v", err)
	}
	if res.Result != uint8(common.MAV_RESULT_DENIED) || res.ResultName != "DENIED" || res.Text != "PreArm: GPS 1: Bad fix" {
		t.Fatalf("got %+v", res)
	}
}

func TestCommandRetriesWithConfirmationIncremented(t *testing.T) {
	mv := newModelVehicle()
	n := 0
	mv.onCommand = func(m *common.MessageCommandLong) []message.Message {
		n++
		if n < 3 { // the first two ACKs are lost
			return nil
		}
		return []message.Message{cmdAck(m.Command, common.MAV_RESULT_ACCEPTED)}
	}
	l := newWorld(t, fastOpts(), faults{}, 0, 1, mv.handle)
	res, err := l.v.Command(context.Background(), CommandRequest{Command: uint16(common.MAV_CMD_NAV_RETURN_TO_LAUNCH)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 3 {
		t.Fatalf("attempts = %d, want 3", res.Attempts)
	}
	for i, m := range l.sentOf(isCommandLong) {
		if c := m.(*common.MessageCommandLong).Confirmation; int(c) != i {
			t.Fatalf("attempt %d carried confirmation %d", i, c)
		}
	}
}

func TestCommandTimeout(t *testing.T) {
	mv := newModelVehicle() // never answers commands
	l := newWorld(t, fastOpts(), faults{}, 0, 1, mv.handle)
	res, err := l.v.Command(context.Background(), CommandRequest{Command: uint16(common.MAV_CMD_NAV_LAND)})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if res.Attempts != 4 || len(l.sentOf(isCommandLong)) != 4 {
		t.Fatalf("attempts %d, sent %d; want 1 + 3 retries", res.Attempts, len(l.sentOf(isCommandLong)))
	}
}

// A reply that arrives after we already retried ends the wait and causes no
// further send: the vehicle got the command twice (unavoidable once the
// first ACK was late) but never three times, and nothing is sent after the
// result, however many late ACKs trickle in.
func TestCommandLateAckCausesNoExtraSend(t *testing.T) {
	mv := newModelVehicle()
	attempts := 0
	mv.onCommand = func(m *common.MessageCommandLong) []message.Message {
		attempts++
		if attempts == 1 {
			return nil // ACK of attempt 1 delayed until attempt 2 shows up
		}
		return []message.Message{cmdAck(m.Command, common.MAV_RESULT_ACCEPTED), cmdAck(m.Command, common.MAV_RESULT_ACCEPTED)}
	}
	l := newWorld(t, fastOpts(), faults{}, 0, 1, mv.handle)
	res, err := l.v.Command(context.Background(), CommandRequest{Command: uint16(common.MAV_CMD_NAV_TAKEOFF), Params: [7]float32{6: 10}})
	if err != nil {
		t.Fatal(err)
	}
	sends := len(l.sentOf(isCommandLong))
	if sends != res.Attempts || sends != 2 {
		t.Fatalf("sent %d times, attempts %d; want 2", sends, res.Attempts)
	}
	// The second ACK of attempt 2 arrived after the result: dropped. (The
	// package starts no goroutines, so nothing can send once Command
	// has returned.)
	if l.elapsed() != fastOpts().CommandTimeout {
		t.Fatalf("result after %v of virtual time, want at the second attempt (%v)", l.elapsed(), fastOpts().CommandTimeout)
	}
}

func TestCommandInProgressStopsRetrying(t *testing.T) {
	mv := newModelVehicle()
	var l *world
	step := fastOpts().CommandTimeout
	mv.onCommand = func(m *common.MessageCommandLong) []message.Message {
		// Progress reports, then the final ACK long after CommandTimeout.
		for i, p := range []uint8{30, 60} {
			l.later(time.Duration(i+1)*step, func() {
				l.toStation([]message.Message{&common.MessageCommandAck{Command: m.Command, Result: common.MAV_RESULT_IN_PROGRESS, Progress: p}})
			})
		}
		l.later(3*step, func() { l.toStation([]message.Message{cmdAck(m.Command, common.MAV_RESULT_ACCEPTED)}) })
		return []message.Message{&common.MessageCommandAck{Command: m.Command, Result: common.MAV_RESULT_IN_PROGRESS, Progress: 0}}
	}
	l = newWorld(t, fastOpts(), faults{}, 0, 1, mv.handle)
	res, err := l.v.Command(context.Background(), CommandRequest{Command: uint16(common.MAV_CMD_PREFLIGHT_CALIBRATION)})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Accepted() || res.Attempts != 1 || res.Progress != 60 || len(l.sentOf(isCommandLong)) != 1 {
		t.Fatalf("got %+v after %d sends; want ACCEPTED, 1 attempt, progress 60", res, len(l.sentOf(isCommandLong)))
	}
	if l.elapsed() != 3*step {
		t.Fatalf("ACCEPTED returned at %v of virtual time, want when it arrived (%v)", l.elapsed(), 3*step)
	}
}

// Without a further ACK the IN_PROGRESS wait ends after
// CommandProgressTimeout from the last report, with no resend.
func TestCommandInProgressThenSilence(t *testing.T) {
	mv := newModelVehicle()
	mv.onCommand = func(m *common.MessageCommandLong) []message.Message {
		return []message.Message{&common.MessageCommandAck{Command: m.Command, Result: common.MAV_RESULT_IN_PROGRESS, Progress: 40}}
	}
	l := newWorld(t, fastOpts(), faults{}, 0, 1, mv.handle)
	res, err := l.v.Command(context.Background(), CommandRequest{Command: uint16(common.MAV_CMD_PREFLIGHT_CALIBRATION)})
	if !errors.Is(err, ErrTimeout) || res.Progress != 40 || res.Attempts != 1 || len(l.sentOf(isCommandLong)) != 1 {
		t.Fatalf("got %+v, %v after %d sends; want ErrTimeout at 40%% after 1 send", res, err, len(l.sentOf(isCommandLong)))
	}
	if l.elapsed() != fastOpts().CommandProgressTimeout {
		t.Fatalf("gave up after %v of virtual time, want CommandProgressTimeout (%v)", l.elapsed(), fastOpts().CommandProgressTimeout)
	}
}

// A second takeoff while one is pending is ErrBusy at once; another
// command runs and completes meanwhile. In the virtual-clock world: the
// vehicle acknowledges the takeoff 3 s after it arrives, and at 1 s the
// caller (a world event, running while the takeoff waits) tries a second
// takeoff and a mode change.
func TestCommandSameCommandBusyOthersConcurrent(t *testing.T) {
	mv := newModelVehicle()
	var l *world
	mv.onCommand = func(m *common.MessageCommandLong) []message.Message {
		if m.Command == common.MAV_CMD_NAV_TAKEOFF {
			l.later(3*time.Second, func() { l.v.Handle(cmdAck(m.Command, common.MAV_RESULT_ACCEPTED)) })
			return nil
		}
		return []message.Message{cmdAck(m.Command, common.MAV_RESULT_ACCEPTED)}
	}
	opts := fastOpts()
	opts.CommandTimeout = 5 * time.Second
	l = newWorld(t, opts, faults{}, 0, 1, mv.handle)
	var busyErr, modeErr error
	var mode CommandResult
	var modeAt time.Duration
	l.later(time.Second, func() {
		_, busyErr = l.v.Command(context.Background(), CommandRequest{Command: uint16(common.MAV_CMD_NAV_TAKEOFF)})
		mode, modeErr = l.v.Command(context.Background(), CommandRequest{Command: uint16(common.MAV_CMD_DO_SET_MODE)})
		modeAt = l.elapsed()
	})
	res, err := l.v.Command(context.Background(), CommandRequest{Command: uint16(common.MAV_CMD_NAV_TAKEOFF)})
	if err != nil || !res.Accepted() {
		t.Fatalf("first takeoff: %+v %v", res, err)
	}
	if l.elapsed() != 3*time.Second {
		t.Errorf("first takeoff ended at %v, want at its ACK (3s)", l.elapsed())
	}
	if !errors.Is(busyErr, ErrBusy) {
		t.Fatalf("second takeoff while one is pending: err = %v, want ErrBusy", busyErr)
	}
	if modeErr != nil || !mode.Accepted() || modeAt != time.Second {
		t.Fatalf("a different command must run concurrently: %+v %v, done at %v (want 1s)", mode, modeErr, modeAt)
	}
	if n := len(l.sentOf(func(m message.Message) bool {
		c, ok := m.(*common.MessageCommandLong)
		return ok && c.Command == common.MAV_CMD_NAV_TAKEOFF
	})); n != 1 {
		t.Fatalf("takeoff sent %d times, want 1", n)
	}
}

func TestCommandIntFields(t *testing.T) {
	mv := newModelVehicle()
	var got *common.MessageCommandInt
	mv.onCmdInt = func(m *common.MessageCommandInt) []message.Message {
		got = m
		return []message.Message{cmdAck(m.Command, common.MAV_RESULT_ACCEPTED)}
	}
	l := newWorld(t, fastOpts(), faults{}, 0, 1, mv.handle)
	req := CommandRequest{Command: uint16(common.MAV_CMD_DO_REPOSITION), Int: true, Frame: 6, X: 473977420, Y: 85455940, Z: 25, Params: [7]float32{-1}}
	if _, err := l.v.Command(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if got.X != req.X || got.Y != req.Y || got.Z != 25 || got.Frame != 6 || got.Param1 != -1 || got.TargetSystem != 1 {
		t.Fatalf("COMMAND_INT sent as %+v", got)
	}
}

func TestCommandCloseAndCancel(t *testing.T) {
	mv := newModelVehicle() // never answers commands
	opts := fastOpts()
	opts.CommandTimeout = 10 * time.Second
	l := newWorld(t, opts, faults{}, 0, 1, mv.handle)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l.cancelLater(time.Second, cancel)
	if _, err := l.v.Command(ctx, CommandRequest{Command: 400}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v", err)
	}
	if l.elapsed() != time.Second || len(l.sentOf(isCommandLong)) != 1 {
		t.Fatalf("returned at %v after %d sends; want at the cancel (1s) after 1", l.elapsed(), len(l.sentOf(isCommandLong)))
	}

	l.later(2*time.Second, l.v.Close)
	if _, err := l.v.Command(context.Background(), CommandRequest{Command: 400}); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed while pending: err = %v", err)
	}
	if l.elapsed() != 3*time.Second {
		t.Fatalf("returned at %v, want at the Close (3s)", l.elapsed())
	}
	if _, err := l.v.Command(context.Background(), CommandRequest{Command: 400}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: err = %v", err)
	}
	l.v.Close() // twice is fine
}

func TestCommandSendErrorIsReturned(t *testing.T) {
	linkGone := errors.New("link gone")
	v := New(SenderFunc(func(message.Message) error { return linkGone }), Target{1, 1}, fastOpts())
	defer v.Close()
	if _, err := v.Command(context.Background(), CommandRequest{Command: 400}); !errors.Is(err, linkGone) {
		t.Fatalf("err = %v", err)
	}
}

// Messages that are not the answer — unknown IDs, telemetry, an ACK for
// another command, an impossible mission item, nil — neither crash the
// session nor settle a pending command: the command ends with its own ACK.
func TestHandleIgnoresUnrelatedAndUnknownMessages(t *testing.T) {
	sent := make(chan message.Message, 16)
	opts := fastOpts()
	opts.CommandTimeout = 10 * time.Second // the test answers by hand
	v := New(SenderFunc(func(m message.Message) error { sent <- m; return nil }), Target{1, 1}, opts)
	defer v.Close()
	type outcome struct {
		res CommandResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := v.Command(context.Background(), CommandRequest{Command: uint16(common.MAV_CMD_COMPONENT_ARM_DISARM), Params: [7]float32{1}})
		done <- outcome{res, err}
	}()
	if m := <-sent; !isCommandLong(m) {
		t.Fatalf("sent %T, want COMMAND_LONG", m)
	}
	v.Handle(&message.MessageRaw{ID: 9999, Payload: []byte{1, 2, 3}})
	v.Handle(&common.MessageGlobalPositionInt{})
	v.Handle(cmdAck(common.MAV_CMD_NAV_TAKEOFF, common.MAV_RESULT_DENIED)) // another command's refusal
	v.Handle(&common.MessageMissionItemInt{Seq: 65535})
	v.Handle(nil)
	select {
	case o := <-done:
		t.Fatalf("an unrelated message settled the command: %+v, %v", o.res, o.err)
	default:
	}
	v.Handle(cmdAck(common.MAV_CMD_COMPONENT_ARM_DISARM, common.MAV_RESULT_ACCEPTED))
	o := <-done
	if o.err != nil || !o.res.Accepted() {
		t.Fatalf("command ended with %+v, %v; want ACCEPTED from its own ACK", o.res, o.err)
	}
}
