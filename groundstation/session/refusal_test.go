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
	l := newTestLink(t, opts, faults{}, 1, mv.handle)
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
	l := newTestLink(t, opts, faults{}, 1, mv.handle)
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
	l := newTestLink(t, opts, faults{}, 1, mv.handle)
	res, err := l.v.Command(context.Background(), armRequest())
	if err != nil || res.ResultName != "DENIED" || res.Text != "" || res.Attempts != 1 {
		t.Fatalf("got %+v, %v", res, err)
	}
}

func TestRefusalTextWaitStopsWithTheCaller(t *testing.T) {
	mv := refusingVehicle()
	opts := fastOpts()
	opts.RefusalTextWindow = time.Hour
	l := newTestLink(t, opts, faults{}, 1, mv.handle)
	ctx, cancel := context.WithCancel(context.Background())
	mv.onCommand = func(m *common.MessageCommandLong) []message.Message {
		cancel() // the caller gives up while the refusal is being explained
		return []message.Message{cmdAck(m.Command, common.MAV_RESULT_DENIED)}
	}
	res, err := l.v.Command(ctx, armRequest())
	if err != nil && res.ResultName != "" {
		t.Fatalf("a refusal that arrived is returned as such: %+v, %v", res, err)
	}
}
