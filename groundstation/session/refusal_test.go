package session

import (
	"context"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
)

// refusingVehicle answers every command with DENIED, then explains in the
// STATUSTEXTs given, as ArduCopter does (the text follows the ACK).
func refusingVehicle(after ...*common.MessageStatustext) *modelVehicle {
	mv := newModelVehicle()
	mv.onCommand = func(m *common.MessageCommandLong) []message.Message {
		out := []message.Message{cmdAck(m.Command, common.MAV_RESULT_DENIED)}
		for _, t := range after {
			out = append(out, t)
		}
		return out
	}
	return mv
}

func armRequest() CommandRequest {
	return CommandRequest{Command: uint16(common.MAV_CMD_COMPONENT_ARM_DISARM), Params: [7]float32{1}}
}

func TestRefusalKeepsTheTextSentAfterTheACK(t *testing.T) {
	mv := refusingVehicle(
		&common.MessageStatustext{Severity: common.MAV_SEVERITY_CRITICAL, Text: "Arm: AUTO mode not armable"},
		// a long text in two MAVLink 2 chunks
		&common.MessageStatustext{Severity: common.MAV_SEVERITY_CRITICAL, Id: 7, ChunkSeq: 0, Text: "PreArm: Battery 1 below minimum arming voltage, "},
		&common.MessageStatustext{Severity: common.MAV_SEVERITY_CRITICAL, Id: 7, ChunkSeq: 1, Text: "check BATT_ARM_VOLT"},
	)
	opts := fastOpts()
	opts.RefusalTextWindow = 3 * time.Second // ends early: a fifth of it quiet after the texts
	l := newWorld(t, opts, faults{}, 0, 1, mv.handle)
	res, err := l.v.Command(context.Background(), armRequest())
	if err != nil {
		t.Fatalf("a refusal is a result, not an error: %v", err)
	}
	want := []string{"Arm: AUTO mode not armable", "PreArm: Battery 1 below minimum arming voltage, check BATT_ARM_VOLT"}
	if res.ResultName != "DENIED" || len(res.Texts) != 2 || res.Texts[0] != want[0] || res.Texts[1] != want[1] {
		t.Fatalf("got %+v, want DENIED with texts %q", res, want)
	}
	if res.Text != want[0]+"; "+want[1] {
		t.Errorf("Text %q", res.Text)
	}
}

func TestRefusalWithoutWindowReturnsAtTheACK(t *testing.T) {
	mv := refusingVehicle(&common.MessageStatustext{Severity: common.MAV_SEVERITY_CRITICAL, Text: "Arm: AUTO mode not armable"})
	opts := fastOpts()
	opts.RefusalTextWindow = -1
	l := newWorld(t, opts, faults{}, 0, 1, mv.handle)
	res, err := l.v.Command(context.Background(), armRequest())
	if err != nil {
		t.Fatal(err)
	}
	if res.ResultName != "DENIED" || len(res.Texts) != 0 {
		t.Fatalf("got %+v: with the window off nothing after the ACK is read", res)
	}
}

func TestRefusalWithoutTextEndsAfterTheWindow(t *testing.T) {
	mv := refusingVehicle()
	opts := fastOpts()
	opts.RefusalTextWindow = 50 * time.Millisecond
	l := newWorld(t, opts, faults{}, 0, 1, mv.handle)
	res, err := l.v.Command(context.Background(), armRequest())
	if err != nil || res.ResultName != "DENIED" || res.Text != "" || res.Attempts != 1 {
		t.Fatalf("got %+v, %v", res, err)
	}
	if l.elapsed() != opts.RefusalTextWindow {
		t.Fatalf("returned after %v of virtual time, want the whole window (%v)", l.elapsed(), opts.RefusalTextWindow)
	}
}

// Texts keep the window open a fifth of it past the last one, and a text
// after that is not waited for.
func TestRefusalWindowEndsAFifthAfterTheLastText(t *testing.T) {
	mv := newModelVehicle()
	var l *world
	opts := fastOpts()
	opts.RefusalTextWindow = time.Second
	text := func(s string) func() {
		return func() {
			l.toStation([]message.Message{&common.MessageStatustext{Severity: common.MAV_SEVERITY_CRITICAL, Text: s}})
		}
	}
	mv.onCommand = func(m *common.MessageCommandLong) []message.Message {
		l.later(100*time.Millisecond, text("first"))
		l.later(250*time.Millisecond, text("second"))   // within 200 ms of the first
		l.later(500*time.Millisecond, text("too late")) // 250 ms after the second
		return []message.Message{cmdAck(m.Command, common.MAV_RESULT_DENIED)}
	}
	l = newWorld(t, opts, faults{}, 0, 1, mv.handle)
	res, err := l.v.Command(context.Background(), armRequest())
	if err != nil || res.Text != "first; second" {
		t.Fatalf("got %+v, %v; want the two texts within the window", res, err)
	}
	if l.elapsed() != 450*time.Millisecond {
		t.Fatalf("returned after %v of virtual time, want 200 ms after the last text (450ms)", l.elapsed())
	}
}

func TestRefusalTextWaitStopsWithTheCaller(t *testing.T) {
	mv := refusingVehicle()
	opts := fastOpts()
	opts.RefusalTextWindow = time.Hour
	l := newWorld(t, opts, faults{}, 0, 1, mv.handle)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mv.onCommand = func(m *common.MessageCommandLong) []message.Message {
		// the caller gives up while the refusal is being explained
		l.cancelLater(time.Second, cancel)
		return []message.Message{cmdAck(m.Command, common.MAV_RESULT_DENIED)}
	}
	res, err := l.v.Command(ctx, armRequest())
	if err != nil || res.ResultName != "DENIED" {
		t.Fatalf("a refusal that arrived is returned as such: %+v, %v", res, err)
	}
	if l.elapsed() != time.Second {
		t.Fatalf("returned after %v of virtual time, want when the caller cancelled (1s)", l.elapsed())
	}
}
