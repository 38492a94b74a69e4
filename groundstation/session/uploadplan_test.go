package session

import (
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
)

// The upload plan follows the vehicle's AUTOPILOT_VERSION once it is
// known, not the HEARTBEAT alone: an ArduPilot older than
// MissionItemProtocol (4.0) stays strict, a 4.x one streams, and an
// ArduPilot that leaves flight_sw_version 0 is judged by the
// MISSION_FENCE capability. The capability sets are the ones recorded
// from real ArduPlane 3.10 and ArduSub 4.1 (shared tlogs).
func TestUploadPlanFromAutopilotVersion(t *testing.T) {
	const (
		plane310Caps = 0x134f // ArduPlane 3.10 SITL: no MISSION_FENCE
		sub41Caps    = 0x79e7 // ArduSub 4.1.1: MISSION_FENCE, FTP
	)
	apm := int(common.MAV_AUTOPILOT_ARDUPILOTMEGA)
	cases := []struct {
		name      string
		autopilot int // -1: no HEARTBEAT yet
		version   *common.MessageAutopilotVersion
		opt       int // Options.UploadWindow
		window    int // want
		adaptive  bool
	}{
		{"no heartbeat", -1, nil, 0, 1, false},
		{"px4", int(common.MAV_AUTOPILOT_PX4), nil, 0, 1, false},
		{"px4 with a 4.x version is still not ArduPilot", int(common.MAV_AUTOPILOT_PX4), &common.MessageAutopilotVersion{FlightSwVersion: 4 << 24}, 0, 1, false},
		{"ardupilot, version not yet known", apm, nil, 0, autoWindowStart, true},
		{"arducopter 4.7", apm, &common.MessageAutopilotVersion{FlightSwVersion: 4<<24 | 7<<16 | 255}, 0, autoWindowStart, true},
		{"ardusub 4.1.1", apm, &common.MessageAutopilotVersion{FlightSwVersion: 0x4010180, Capabilities: sub41Caps}, 0, autoWindowStart, true},
		{"arduplane 3.10", apm, &common.MessageAutopilotVersion{FlightSwVersion: 0x30a0000, Capabilities: plane310Caps}, 0, 1, false},
		{"no version, MISSION_FENCE", apm, &common.MessageAutopilotVersion{Capabilities: sub41Caps}, 0, autoWindowStart, true},
		{"no version, no MISSION_FENCE", apm, &common.MessageAutopilotVersion{Capabilities: plane310Caps}, 0, 1, false},
		{"forced strict", apm, nil, 1, 1, false},
		{"forced window on arduplane 3.10", apm, &common.MessageAutopilotVersion{FlightSwVersion: 0x30a0000}, 24, 24, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := New(SenderFunc(func(message.Message) error { return nil }), Target{1, 1}, Options{UploadWindow: c.opt})
			defer v.Close()
			if c.autopilot >= 0 {
				v.SetAutopilot(uint8(c.autopilot))
			}
			if c.version != nil {
				v.Handle(c.version)
			}
			p := v.uploadPlan()
			if p.window != c.window || p.adaptive != c.adaptive {
				t.Fatalf("plan = window %d adaptive %v, want window %d adaptive %v", p.window, p.adaptive, c.window, c.adaptive)
			}
		})
	}
}

// Copies minimise the expected frames per item, go-backs included: more
// copies on lossier links and wider windows, one on a clean link, and
// never fewer as the loss rises.
func TestCopiesForCountsGoBacks(t *testing.T) {
	for _, c := range []struct {
		loss   float64
		window int
		want   int
	}{
		{0, 64, 1}, {0.01, 64, 1}, {0.05, 64, 2}, {0.15, 64, 3}, {0.20, 64, 4}, {0.30, 64, 5}, {0.34, 64, 5}, {0.40, 64, 6}, {0.9, 64, maxCopies},
		{0.20, 16, 2}, {0.20, 8, 2}, // a narrow window costs less per stall (counted as at least autoWindowStart)
	} {
		if got := copiesFor(c.loss, c.window); got != c.want {
			t.Errorf("copiesFor(%v, %d) = %d, want %d", c.loss, c.window, got, c.want)
		}
	}
	for _, w := range []int{8, 16, 64} {
		for p := 0.0; p < 1; p += 0.01 {
			if copiesFor(p+0.01, w) < copiesFor(p, w) {
				t.Fatalf("window %d: copies fall from %d to %d as loss rises past %.2f", w, copiesFor(p, w), copiesFor(p+0.01, w), p)
			}
		}
	}
}

// A congested upload (round trip grown past 1.5 × the least seen) keeps
// the copies the station's measured link loss asks for, as for a full
// window, instead of dropping to one: at 20 % loss one copy stalls the
// window every few items. Without a measured loss it sends one.
func TestCongestedUploadKeepsCopiesForTheLinksLoss(t *testing.T) {
	e := linkEstimate{prior: priorLoss, station: 0.20}
	for range 10 {
		e.sampleRTT(200 * time.Millisecond)
	}
	for range 20 {
		e.sampleRTT(600 * time.Millisecond)
	}
	if !e.congested() {
		t.Fatalf("srtt %v over min %v: not congested", e.srtt, e.minRTT)
	}
	for _, w := range []int{autoWindowMin, autoWindowStart, autoWindowMax} {
		if got, want := e.copies(w), copiesFor(0.20, autoWindowMax); got != want {
			t.Errorf("congested, window %d, station loss 20 %%: %d copies, want %d", w, got, want)
		}
	}
	e.station = 0
	e.lost, e.total = 50, 100 // the upload's own gaps may be queue drops
	if got := e.copies(autoWindowMax); got != 1 {
		t.Errorf("congested without a measured link loss: %d copies, want 1", got)
	}
}
