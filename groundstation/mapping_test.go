package groundstation

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/fleet"
)

// offline drives one link's dispatcher directly with decoded frames (no
// sockets): the frame → fleet mapping is pure logic.
type offline struct {
	t   *testing.T
	st  *Station
	ln  *linkRT
	fl  *fleet.Fleet
	at  time.Time
	seq map[vkey]uint8
}

func newOffline(t *testing.T) *offline {
	fl := fleet.New(fleet.DefaultConfig())
	cfg := testConfig("udp:127.0.0.1:14550")
	cfg.IdentityWait = time.Second // simulated time; the no-UID path is tested
	st, err := New(cfg, fl, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no sockets: setup work ends at once
	st.runCtx = ctx
	t.Cleanup(st.wg.Wait)
	return &offline{t: t, st: st, ln: newLinkRT(st, st.links[0]), fl: fl, at: time.Unix(1_800_000_000, 0), seq: map[vkey]uint8{}}
}

func (o *offline) send(sys, comp uint8, m message.Message) {
	k := vkey{sys, comp}
	o.seq[k]++
	o.resend(sys, comp, o.seq[k], m)
}

func (o *offline) resend(sys, comp, seq uint8, m message.Message) {
	o.at = o.at.Add(10 * time.Millisecond)
	o.ln.onFrame(&frame.V2Frame{SystemID: sys, ComponentID: comp, SequenceNumber: seq, Message: m}, nil, nil, o.at)
}

func (o *offline) wait(d time.Duration) {
	o.at = o.at.Add(d)
	o.ln.tick(o.at)
}

func (o *offline) events(id string, kind fleet.EventKind) []fleet.Event {
	var out []fleet.Event
	for _, e := range o.fl.Events(0, id, 0) {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func copterHB(mode uint32, armed bool) *common.MessageHeartbeat {
	base := common.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
	if armed {
		base |= common.MAV_MODE_FLAG_SAFETY_ARMED
	}
	return &common.MessageHeartbeat{Type: common.MAV_TYPE_QUADROTOR, Autopilot: common.MAV_AUTOPILOT_ARDUPILOTMEGA,
		BaseMode: base, CustomMode: mode, SystemStatus: common.MAV_STATE_STANDBY}
}

func TestMappingIdentityAndState(t *testing.T) {
	o := newOffline(t)
	o.send(7, 1, copterHB(5, false))
	o.send(7, 1, &common.MessageGlobalPositionInt{TimeBootMs: 1000, Lat: 413111000, Lon: 692797000, Alt: 460500, RelativeAlt: 10500, Vx: 300, Vy: 400, Vz: -100, Hdg: 9050})
	if o.fl.Len() != 0 {
		t.Fatal("vehicle published before its identity wait ran out")
	}
	o.send(7, 1, &common.MessageAutopilotVersion{Uid: 0xabc})
	v, ok := o.fl.Get(uidID(0xabc))
	if !ok {
		t.Fatalf("AUTOPILOT_VERSION should publish at once; fleet has %v", o.fl.List())
	}
	if v.UID != 0xabc || v.Mode != "LOITER" || v.Lat != 41.3111 || v.AltMSL != 460.5 || v.RelativeAlt != 10.5 ||
		v.HeadingDeg != 90.5 || v.GroundSpeed != 5 || v.VelNorth != 3 || v.VelEast != 4 || v.Climb != 1 || v.SystemStatus != "standby" || v.Type != "quadrotor" {
		t.Errorf("state gathered before publication not carried over: %+v", v)
	}
	o.send(7, 1, &common.MessageSysStatus{VoltageBattery: 15800, CurrentBattery: 1250, BatteryRemaining: 15,
		OnboardControlSensorsEnabled: common.MAV_SYS_STATUS_GEOFENCE, OnboardControlSensorsHealth: 0})
	o.send(7, 1, &common.MessageGpsRawInt{FixType: 3, SatellitesVisible: 12})
	o.send(7, 1, &common.MessageHomePosition{Latitude: 413111000, Longitude: 692797000, Altitude: 450000})
	o.send(7, 1, &common.MessageExtendedSysState{LandedState: common.MAV_LANDED_STATE_IN_AIR})
	o.send(7, 1, copterHB(4, true))
	v, _ = o.fl.Get(uidID(0xabc))
	if v.BatteryVolt != 15.8 || v.BatteryAmp != 12.5 || v.BatteryPct != 15 || v.GPSFix != 3 || v.Satellites != 12 ||
		v.Home == nil || v.Home.AltMSL != 450 || v.LandedState != "in_air" || !v.Armed || v.Mode != "GUIDED" || !v.FenceBreached {
		t.Errorf("state: %+v", v)
	}
	for _, k := range []fleet.EventKind{fleet.EventConnected, fleet.EventBatteryLow, fleet.EventArmed, fleet.EventModeChanged, fleet.EventFenceBreach} {
		if len(o.events(uidID(0xabc), k)) != 1 {
			t.Errorf("want one %s event, have %v", k, o.fl.Events(0, "", 0))
		}
	}
	// FENCE_STATUS, once seen, is trusted over the SYS_STATUS bits.
	o.send(7, 1, &common.MessageFenceStatus{BreachStatus: 0})
	o.send(7, 1, &common.MessageSysStatus{VoltageBattery: 15800, BatteryRemaining: 15,
		OnboardControlSensorsEnabled: common.MAV_SYS_STATUS_GEOFENCE})
	if v, _ := o.fl.Get(uidID(0xabc)); v.FenceBreached {
		t.Error("FENCE_STATUS says no breach")
	}

	// Without AUTOPILOT_VERSION a vehicle is published after IdentityWait.
	o.send(8, 1, copterHB(0, false))
	o.wait(o.st.cfg.IdentityWait)
	if v, ok := o.fl.Get("udp14550-8"); !ok || v.UID != 0 || v.Mode != "STABILIZE" {
		t.Errorf("vehicle 8 not published by the identity timeout: %+v", v)
	}
	// A GCS heartbeat never becomes a vehicle; frames of unknown systems are
	// held for their HEARTBEAT (hold.go), and counted unattached when a
	// GCS's comes or none comes within unheardHold.
	o.send(201, 190, &common.MessageAttitude{})
	o.send(201, 190, &common.MessageHeartbeat{Type: common.MAV_TYPE_GCS, Autopilot: common.MAV_AUTOPILOT_INVALID})
	if n := o.ln.unattached.Load(); n != 2 {
		t.Errorf("a GCS's frame held before its HEARTBEAT and the HEARTBEAT: %d unattached, want 2", n)
	}
	o.send(99, 1, &common.MessageAttitude{})
	o.wait(o.st.cfg.IdentityWait)
	if n := o.ln.unattached.Load(); n != 2 {
		t.Errorf("a frame of a system without a HEARTBEAT yet: %d unattached before the hold ends, want still 2", n)
	}
	o.wait(unheardHold)
	if o.fl.Len() != 2 || o.ln.unattached.Load() != 3 {
		t.Errorf("fleet %d vehicles, %d unattached frames after the hold, want 2 and 3", o.fl.Len(), o.ln.unattached.Load())
	}
}

// A vehicle's frames heard before its first HEARTBEAT — a station that
// has just (re)started hears a flying vehicle's positions before its next
// HEARTBEAT — are handled once the HEARTBEAT says it is a vehicle, in
// order and before it: nothing it sent is lost, nothing counted
// unattached. Before the hold they were dropped (the station-restart
// scenario's stored tracks came up short by the positions sent between
// the restart and each vehicle's next HEARTBEAT).
func TestFramesBeforeTheFirstHeartbeatAreKept(t *testing.T) {
	o := newOffline(t)
	o.send(5, 1, &common.MessageGlobalPositionInt{TimeBootMs: 1000, Lat: 413000000, Lon: 692000000, RelativeAlt: 30000})
	o.send(5, 1, &common.MessageGlobalPositionInt{TimeBootMs: 1100, Lat: 413000100, Lon: 692000100, RelativeAlt: 31000})
	o.send(5, 1, &common.MessageSysStatus{VoltageBattery: 15800, BatteryRemaining: 64})
	if o.fl.Len() != 0 || o.ln.unattached.Load() != 0 {
		t.Fatalf("before any HEARTBEAT: fleet %d, unattached %d; want 0 and 0 (held)", o.fl.Len(), o.ln.unattached.Load())
	}
	o.send(5, 1, copterHB(3, true))
	o.send(5, 1, &common.MessageAutopilotVersion{Uid: 5})
	v, ok := o.fl.Get(uidID(5))
	if !ok {
		t.Fatalf("vehicle not published: %v", o.fl.List())
	}
	if v.Lat != 41.30001 || v.RelativeAlt != 31 || v.BatteryPct != 64 || !v.Armed {
		t.Errorf("the frames before the HEARTBEAT are not in the state: lat %v alt %v battery %v armed %v", v.Lat, v.RelativeAlt, v.BatteryPct, v.Armed)
	}
	if n := o.ln.unattached.Load(); n != 0 {
		t.Errorf("%d frames counted unattached", n)
	}
	if len(o.ln.unheard) != 0 {
		t.Errorf("frames still held: %v", o.ln.unheard)
	}
}

func TestMappingMissionEventsAndDuplicates(t *testing.T) {
	o := newOffline(t)
	o.send(3, 1, copterHB(3, true))
	o.send(3, 1, &common.MessageAutopilotVersion{Uid: 1})
	id := uidID(1)
	// ArduPilot counts without home: total 3 means items 1..3.
	o.send(3, 1, &common.MessageMissionCurrent{Seq: 1, Total: 3, MissionState: common.MISSION_STATE_ACTIVE})
	o.send(3, 1, &common.MessageMissionItemReached{Seq: 1})
	// The same frame delivered twice (same sequence number) is one event.
	o.resend(3, 1, o.seq[vkey{3, 1}], &common.MessageMissionItemReached{Seq: 1})
	o.send(3, 1, &common.MessageMissionItemReached{Seq: 2})
	if n := len(o.events(id, fleet.EventMissionItemReached)); n != 2 {
		t.Fatalf("%d mission_item_reached events, want 2 (duplicate frame must not count)", n)
	}
	if n := len(o.events(id, fleet.EventMissionComplete)); n != 0 {
		t.Fatal("mission_complete before the last item")
	}
	o.send(3, 1, &common.MessageMissionItemReached{Seq: 3})
	o.send(3, 1, &common.MessageMissionCurrent{Seq: 3, Total: 3, MissionState: common.MISSION_STATE_COMPLETE})
	if n := len(o.events(id, fleet.EventMissionComplete)); n != 1 {
		t.Fatalf("%d mission_complete events, want exactly 1", n)
	}
	if info, _ := o.st.Vehicle(id); info.Duplicates != 1 {
		t.Errorf("duplicates %d, want 1", info.Duplicates)
	}
	v, _ := o.fl.Get(id)
	if v.MissionSeq != 3 || v.MissionCount != 3 {
		t.Errorf("mission seq %d count %d", v.MissionSeq, v.MissionCount)
	}
}

func TestMappingStatusTextAndFailsafe(t *testing.T) {
	o := newOffline(t)
	o.send(4, 1, copterHB(5, true))
	o.send(4, 1, &common.MessageAutopilotVersion{Uid: 4})
	id := uidID(4)
	o.send(4, 1, &common.MessageStatustext{Severity: common.MAV_SEVERITY_INFO, Text: "EKF3 IMU0 is using GPS"})
	o.send(4, 1, &common.MessageStatustext{Severity: common.MAV_SEVERITY_CRITICAL, Text: "Battery Failsafe"})
	o.send(4, 1, &common.MessageStatustext{Severity: common.MAV_SEVERITY_CRITICAL, Text: "GCS Failsafe Cleared"})
	long := strings.Repeat("x", 50)
	o.send(4, 1, &common.MessageStatustext{Severity: common.MAV_SEVERITY_WARNING, Text: long, Id: 9, ChunkSeq: 0})
	o.send(4, 1, &common.MessageStatustext{Severity: common.MAV_SEVERITY_WARNING, Text: "tail", Id: 9, ChunkSeq: 1})
	texts := o.events(id, fleet.EventStatusText)
	if len(texts) != 4 {
		t.Fatalf("%d statustext events, want 4: %v", len(texts), texts)
	}
	texts = append(texts[:2], texts[3]) // the cleared text is checked below
	if texts[0].Severity != fleet.SeverityInfo || texts[1].Severity != fleet.SeverityCritical || texts[2].Severity != fleet.SeverityWarning {
		t.Errorf("severities %s %s %s", texts[0].Severity, texts[1].Severity, texts[2].Severity)
	}
	if texts[2].Message != long+"tail" {
		t.Errorf("chunked text %q", texts[2].Message)
	}
	if fs := o.events(id, fleet.EventFailsafe); len(fs) != 1 || !strings.Contains(fs[0].Message, "Battery Failsafe") {
		t.Errorf("failsafe events %v, want only the battery failsafe (a cleared failsafe is no alert)", fs)
	}
}

func TestMappingLinkLostRegainedAndReboot(t *testing.T) {
	o := newOffline(t)
	o.send(5, 1, copterHB(5, false))
	o.send(5, 1, &common.MessageAutopilotVersion{Uid: 5})
	id := uidID(5)
	o.send(5, 1, &common.MessageAttitude{TimeBootMs: 60_000})
	o.wait(o.st.cfg.HeartbeatTimeout + time.Millisecond)
	if v, _ := o.fl.Get(id); v.Connected || len(o.events(id, fleet.EventLinkLost)) != 1 {
		t.Fatalf("no link_lost after the heartbeat timeout: %+v", v)
	}
	o.send(5, 1, copterHB(5, false))
	if v, _ := o.fl.Get(id); !v.Connected || len(o.events(id, fleet.EventLinkRegained)) != 1 {
		t.Fatal("no link_regained on the next heartbeat")
	}
	// Boot clock going back by more than reordering explains: a reboot.
	o.send(5, 1, &common.MessageAttitude{TimeBootMs: 59_000})
	if info, _ := o.st.Vehicle(id); info.Reboots != 0 {
		t.Fatal("a slightly older timestamp is reordering, not a reboot")
	}
	o.send(5, 1, &common.MessageGlobalPositionInt{TimeBootMs: 1_500})
	if info, _ := o.st.Vehicle(id); info.Reboots != 1 {
		t.Fatalf("reboots %d, want 1", info.Reboots)
	}
}

func TestMappingCameraVideo(t *testing.T) {
	o := newOffline(t)
	o.send(6, 100, &common.MessageHeartbeat{Type: common.MAV_TYPE_CAMERA, Autopilot: common.MAV_AUTOPILOT_INVALID})
	o.send(6, 1, copterHB(5, false))
	o.send(6, 1, &common.MessageAutopilotVersion{Uid: 6})
	id := uidID(6)
	o.send(6, 100, &common.MessageHeartbeat{Type: common.MAV_TYPE_CAMERA, Autopilot: common.MAV_AUTOPILOT_INVALID})
	var vendor, model [32]uint8
	copy(vendor[:], "Burgut")
	copy(model[:], "SimCam")
	o.send(6, 100, &common.MessageCameraInformation{VendorName: vendor, ModelName: model})
	o.send(6, 100, &common.MessageVideoStreamInformation{StreamId: 1, Count: 1, Type: common.VIDEO_STREAM_TYPE_RTSP,
		Flags: common.VIDEO_STREAM_STATUS_FLAGS_RUNNING, Framerate: 30, ResolutionH: 1280, ResolutionV: 720, Bitrate: 4_000_000,
		Name: "main", Uri: "rtsp://127.0.0.1:8554/uav-6", Encoding: common.VIDEO_STREAM_ENCODING_H264})
	v, _ := o.fl.Get(id)
	want := fleet.VideoStream{CameraID: 100, StreamID: 1, Name: "main", URI: "rtsp://127.0.0.1:8554/uav-6", Type: "rtsp",
		Encoding: "h264", Width: 1280, Height: 720, Framerate: 30, BitrateKbps: 4000, Running: true, CameraModel: "SimCam", CameraVend: "Burgut"}
	if len(v.Video) != 1 || v.Video[0] != want {
		t.Fatalf("video %+v, want %+v", v.Video, want)
	}
	// Same information again: no new video_changed event.
	n := len(o.events(id, fleet.EventVideoChanged))
	o.send(6, 100, &common.MessageVideoStreamInformation{StreamId: 1, Count: 1, Type: common.VIDEO_STREAM_TYPE_RTSP,
		Flags: common.VIDEO_STREAM_STATUS_FLAGS_RUNNING, Framerate: 30, ResolutionH: 1280, ResolutionV: 720, Bitrate: 4_000_000,
		Name: "main", Uri: "rtsp://127.0.0.1:8554/uav-6", Encoding: common.VIDEO_STREAM_ENCODING_H264})
	if len(o.events(id, fleet.EventVideoChanged)) != n {
		t.Error("unchanged stream information raised video_changed")
	}
}
