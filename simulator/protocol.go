package simulator

import (
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// peer is who sent a request: replies are addressed back to it.
type peer struct{ sys, comp uint8 }

// forUs reports whether a message addressed to (sys, comp) concerns this
// vehicle: ArduPilot ignores anything targeted at another system, and
// component 0 is a broadcast.
func (sv *SimVehicle) forUs(sys uint8) bool { return sys == 0 || sys == sv.sysid }

// handleFrame dispatches one decoded frame; trusted is true on the channel
// that accepts unsigned frames from a keyed vehicle (signing.go). Called
// with sv.mu held.
func (sv *SimVehicle) handleFrame(fr frame.Frame, trusted bool) {
	sv.rxFrames++
	from := peer{fr.GetSystemID(), fr.GetComponentID()}
	if from.sys == sv.sysid && (from.comp == compAutopilot || from.comp == compCamera) {
		return // our own frames echoed back (e.g. broadcast)
	}
	if !sv.admit(fr, trusted) {
		return
	}
	switch m := fr.GetMessage().(type) {
	case *message.MessageRaw:
		sv.warn("unknown MAVLink message ignored", "msgid", m.ID, "from_sysid", from.sys)
	case *common.MessageHeartbeat:
		if int(from.sys) == sv.paramInt("MAV_GCS_SYSID", sv.paramInt("SYSID_MYGCS", 255)) {
			sv.model.GCSHeartbeat()
			sv.gcsHBAt = sv.wallNow
		}
	case *common.MessageSetupSigning:
		if sv.forUs(m.TargetSystem) {
			sv.setupSigning(m)
		}
	case *common.MessageCommandLong:
		if !sv.forUs(m.TargetSystem) {
			return
		}
		sv.handleCommand(from, m.TargetComponent, command{
			id: uint32(m.Command), p: [7]float64{float64(m.Param1), float64(m.Param2), float64(m.Param3), float64(m.Param4),
				float64(m.Param5), float64(m.Param6), float64(m.Param7)},
			frame: 255,
		})
	case *common.MessageCommandInt:
		if !sv.forUs(m.TargetSystem) {
			return
		}
		sv.handleCommand(from, m.TargetComponent, command{
			id: uint32(m.Command), p: [7]float64{float64(m.Param1), float64(m.Param2), float64(m.Param3), float64(m.Param4),
				float64(m.X), float64(m.Y), float64(m.Z)},
			isInt: true, frame: uint8(m.Frame),
		})
	case *common.MessageSetMode:
		if !sv.forUs(m.TargetSystem) {
			return
		}
		res := vehicle.ResultDenied
		reason := ""
		if m.BaseMode&common.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED != 0 {
			res, reason = sv.model.SetMode(m.CustomMode)
		}
		sv.ack(from, common.MAV_CMD_DO_SET_MODE, res, reason, false)
	case *common.MessageSetPositionTargetGlobalInt:
		if !sv.forUs(m.TargetSystem) {
			return
		}
		sv.handlePositionTarget(m)
	case *common.MessageRequestDataStream:
		if !sv.forUs(m.TargetSystem) {
			return
		}
		sv.requestDataStream(uint8(m.ReqStreamId), m.ReqMessageRate, m.StartStop != 0)
	case *common.MessageParamRequestList:
		if sv.forUs(m.TargetSystem) && m.TargetComponent != compCamera {
			sv.startParamList(from)
		}
	case *common.MessageParamRequestRead:
		if sv.forUs(m.TargetSystem) && m.TargetComponent != compCamera {
			sv.paramRead(m.ParamId, m.ParamIndex)
		}
	case *common.MessageParamSet:
		if sv.forUs(m.TargetSystem) && m.TargetComponent != compCamera {
			sv.paramSet(m.ParamId, float64(m.ParamValue))
		}
	case *common.MessageFileTransferProtocol:
		if sv.forUs(m.TargetSystem) && (m.TargetComponent == 0 || m.TargetComponent == compAutopilot) {
			sv.handleFTP(from, m)
		}
	case *common.MessageMissionCount:
		if sv.forUs(m.TargetSystem) {
			sv.missionCount(from, mavitem.MissionType(m.MissionType), m.Count)
		}
	case *common.MessageMissionItemInt:
		if sv.forUs(m.TargetSystem) {
			sv.missionItem(from, mavitem.Item{
				Seq: m.Seq, Frame: uint8(m.Frame), Command: uint16(m.Command), Current: m.Current, Autocontinue: m.Autocontinue,
				Param1: m.Param1, Param2: m.Param2, Param3: m.Param3, Param4: m.Param4, X: m.X, Y: m.Y, Z: m.Z,
				MissionType: mavitem.MissionType(m.MissionType),
			}, true)
		}
	case *common.MessageMissionItem:
		if sv.forUs(m.TargetSystem) {
			sv.missionItemFloat(from, m)
		}
	case *common.MessageMissionRequestList:
		if sv.forUs(m.TargetSystem) {
			sv.missionRequestList(from, mavitem.MissionType(m.MissionType))
		}
	case *common.MessageMissionRequestInt:
		if sv.forUs(m.TargetSystem) {
			sv.missionRequest(from, mavitem.MissionType(m.MissionType), m.Seq, true)
		}
	case *common.MessageMissionRequest:
		if sv.forUs(m.TargetSystem) {
			sv.missionRequest(from, mavitem.MissionType(m.MissionType), m.Seq, false)
		}
	case *common.MessageMissionAck:
		if sv.forUs(m.TargetSystem) {
			sv.missionAckFromGCS(from, mavitem.MissionType(m.MissionType), uint8(m.Type))
		}
	case *common.MessageMissionClearAll:
		if sv.forUs(m.TargetSystem) {
			sv.missionClearAll(from, mavitem.MissionType(m.MissionType))
		}
	case *common.MessageMissionSetCurrent:
		if sv.forUs(m.TargetSystem) {
			res, reason := sv.model.SetMissionCurrent(m.Seq)
			if res != vehicle.ResultAccepted && reason != "" {
				sv.statusText(vehicle.SeverityWarning, reason)
			}
			sv.flushEvents()
			st := sv.model.State()
			if msg := sv.buildMessage(msgMissionCurrent, &st, sv.model.Now()); msg != nil {
				sv.send(msg)
			}
		}
	}
	sv.flushEvents()
}

// flushEvents turns the model's events into messages. Called with sv.mu held.
func (sv *SimVehicle) flushEvents() {
	for _, ev := range sv.model.DrainEvents() {
		switch ev.Kind {
		case vehicle.EventMissionItemReached:
			sv.send(&common.MessageMissionItemReached{Seq: ev.Seq})
		case vehicle.EventMissionCurrent:
			st := sv.model.State()
			if m := sv.buildMessage(msgMissionCurrent, &st, sv.model.Now()); m != nil {
				mc := m.(*common.MessageMissionCurrent)
				mc.Seq = ev.Seq
				sv.send(mc)
			}
		case vehicle.EventModeChanged, vehicle.EventArmed, vehicle.EventDisarmed:
			// a prompt HEARTBEAT so the ground station sees the change
			// without waiting up to a second
			st := sv.model.State()
			sv.send(sv.buildMessage(msgHeartbeat, &st, sv.model.Now()))
		case vehicle.EventHomeSet:
			st := sv.model.State()
			if m := sv.buildMessage(msgHomePosition, &st, sv.model.Now()); m != nil {
				sv.send(m)
			}
		case vehicle.EventFenceBreach:
			st := sv.model.State()
			if m := sv.buildMessage(msgFenceStatus, &st, sv.model.Now()); m != nil {
				sv.send(m)
			}
		}
		if ev.Text != "" {
			sv.statusText(ev.Severity, ev.Text)
		}
	}
}

// statusText sends STATUSTEXT, split into 50-character chunks with an id
// (MAVLink 2 chunking) when longer.
func (sv *SimVehicle) statusText(sev uint8, text string) {
	const max = 50
	if len(text) <= max {
		sv.send(&common.MessageStatustext{Severity: common.MAV_SEVERITY(sev), Text: text})
		return
	}
	sv.textID++
	if sv.textID == 0 {
		sv.textID = 1
	}
	for i, chunk := 0, 0; i < len(text); i, chunk = i+max, chunk+1 {
		end := min(i+max, len(text))
		sv.send(&common.MessageStatustext{Severity: common.MAV_SEVERITY(sev), Text: text[i:end], Id: sv.textID, ChunkSeq: uint8(chunk)})
	}
}

// paramInt reads an integer parameter, with a default when the model does
// not have it.
func (sv *SimVehicle) paramInt(name string, def int) int {
	if p, ok := sv.model.Param(name); ok {
		return int(p.Value)
	}
	return def
}

// handlePositionTarget applies SET_POSITION_TARGET_GLOBAL_INT in GUIDED:
// ArduCopter sends no ACK for it, a refusal only shows in STATUSTEXT.
func (sv *SimVehicle) handlePositionTarget(m *common.MessageSetPositionTargetGlobalInt) {
	const ignorePos = common.POSITION_TARGET_TYPEMASK_X_IGNORE | common.POSITION_TARGET_TYPEMASK_Y_IGNORE | common.POSITION_TARGET_TYPEMASK_Z_IGNORE
	if m.TypeMask&ignorePos == ignorePos {
		return // velocity/acceleration targets are not simulated
	}
	lat, lon := float64(m.LatInt)/1e7, float64(m.LonInt)/1e7
	if lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		sv.warn("SET_POSITION_TARGET_GLOBAL_INT with invalid coordinates ignored", "lat", lat, "lon", lon)
		return
	}
	rel, ok := sv.relAlt(uint8(m.CoordinateFrame), float64(m.Alt))
	if !ok {
		sv.warn("SET_POSITION_TARGET_GLOBAL_INT with unsupported frame ignored", "frame", m.CoordinateFrame)
		return
	}
	st := sv.model.State()
	if st.CustomMode != vehicle.ModeGuided {
		return // ArduCopter ignores position targets outside GUIDED
	}
	if res, reason := sv.model.GotoGlobal(lat, lon, rel); res != vehicle.ResultAccepted && reason != "" {
		sv.statusText(vehicle.SeverityWarning, reason)
	}
}

// relAlt converts an altitude in a MAV_FRAME to metres above home.
func (sv *SimVehicle) relAlt(frame uint8, alt float64) (float64, bool) {
	switch frame {
	case mavitem.FrameGlobalRelativeAlt, mavitem.FrameGlobalRelAltInt:
		return alt, true
	case mavitem.FrameGlobal, mavitem.FrameGlobalInt:
		st := sv.model.State()
		home := st.Home
		if !st.HomeSet {
			home = sv.modelCfg.Home
		}
		return alt - home.AltMSL, true
	case 10, 11: // terrain frames: flat terrain at home altitude
		return alt, true
	}
	return 0, false
}
