package simulator

import (
	"math"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// command is COMMAND_LONG or COMMAND_INT in one shape: p[4], p[5] are
// latitude/longitude (degrees in COMMAND_LONG, degE7 in COMMAND_INT) and
// p[6] the altitude.
type command struct {
	id    uint32
	p     [7]float64
	isInt bool
	frame uint8 // MAV_FRAME for COMMAND_INT; 255 for COMMAND_LONG
}

// MAV_CMD numbers the vehicle answers.
const (
	cmdNavReturnToLaunch   = 20
	cmdNavLand             = 21
	cmdNavTakeoff          = 22
	cmdDoSetMode           = 176
	cmdDoChangeSpeed       = 178
	cmdDoSetHome           = 179
	cmdDoReposition        = 192
	cmdDoPauseContinue     = 193
	cmdDoFenceEnable       = 207
	cmdDoSetMissionCurrent = 224
	cmdPreflightReboot     = 246
	cmdMissionStart        = 300
	cmdComponentArmDisarm  = 400
	cmdGetHomePosition     = 410
	cmdGetMessageInterval  = 510
	cmdSetMessageInterval  = 511
	cmdRequestMessage      = 512
	cmdRequestAPCaps       = 520
	cmdRequestCameraInfo   = 521
	cmdRequestVideoInfo    = 2504
	armForceMagic          = 21196
)

func (c command) lat() float64 {
	if c.isInt {
		return c.p[4] / 1e7
	}
	return c.p[4]
}

func (c command) lon() float64 {
	if c.isInt {
		return c.p[5] / 1e7
	}
	return c.p[5]
}

func isCameraCommand(c command) bool {
	switch c.id {
	case cmdRequestCameraInfo, cmdRequestVideoInfo:
		return true
	case cmdRequestMessage:
		id := uint32(c.p[0])
		return id == msgCameraInformation || id == msgVideoStreamInfo
	}
	return false
}

// ack sends COMMAND_ACK from the autopilot (or camera) to the requester
// and, when refused, ArduCopter's STATUSTEXT reason just after it: ArduPilot
// answers the command at once and its queued STATUSTEXT follows, so a
// ground station that stops listening at the ACK loses the reason.
func (sv *SimVehicle) ack(to peer, cmd common.MAV_CMD, res uint8, reason string, fromCamera bool) {
	m := &common.MessageCommandAck{Command: cmd, Result: common.MAV_RESULT(res), TargetSystem: to.sys, TargetComponent: to.comp}
	if fromCamera {
		sv.sendCam(m)
	} else {
		sv.send(m)
	}
	if reason != "" && res != vehicle.ResultAccepted {
		sv.statusText(vehicle.SeverityCritical, reason)
	}
}

// handleCommand answers COMMAND_LONG / COMMAND_INT with exactly one
// COMMAND_ACK from the addressed component, as ArduPilot does.
func (sv *SimVehicle) handleCommand(from peer, targetComp uint8, c command) {
	cmd := common.MAV_CMD(c.id)
	switch targetComp {
	case compCamera:
		res := sv.cameraCommand(c)
		sv.ack(from, cmd, res, "", true)
		sv.flushCamPending()
		return
	case 0:
		if isCameraCommand(c) {
			res := sv.cameraCommand(c)
			sv.ack(from, cmd, res, "", true)
			sv.flushCamPending()
			return
		}
	case compAutopilot:
	default:
		return // another component of this system (none simulated): no answer
	}
	for _, v := range c.p {
		if math.IsInf(v, 0) {
			sv.warn("command with infinite parameter refused", "command", c.id)
			sv.ack(from, cmd, vehicle.ResultDenied, "", false)
			return
		}
	}
	res, reason := sv.autopilotCommand(from, c)
	sv.ack(from, cmd, res, reason, false)
	sv.afterCommand(c, res)
}

// afterCommand sends what ArduCopter sends right after some commands'
// ACK (e.g. the requested message).
func (sv *SimVehicle) afterCommand(c command, res uint8) {
	if res != vehicle.ResultAccepted {
		return
	}
	switch c.id {
	case cmdRequestMessage:
		sv.sendRequested(uint32(c.p[0]))
	case cmdRequestAPCaps:
		sv.send(sv.autopilotVersion())
	case cmdGetHomePosition:
		sv.sendRequested(msgHomePosition)
	case cmdGetMessageInterval:
		id := uint32(c.p[0])
		sv.send(&common.MessageMessageInterval{MessageId: uint16(id), IntervalUs: sv.messageInterval(id)})
	}
}

func (sv *SimVehicle) sendRequested(id uint32) {
	st := sv.model.State()
	if m := sv.buildMessage(id, &st, sv.model.Now()); m != nil {
		sv.send(m)
	}
}

// autopilotCommand maps a command onto the model. Returns MAV_RESULT and
// ArduCopter's reason text when refused.
func (sv *SimVehicle) autopilotCommand(from peer, c command) (uint8, string) {
	m := sv.model
	switch c.id {
	case cmdComponentArmDisarm:
		force := c.p[1] == armForceMagic
		switch c.p[0] {
		case 1:
			return m.Arm(force)
		case 0:
			return m.Disarm(force)
		}
		return vehicle.ResultDenied, ""
	case cmdDoSetMode:
		if uint32(c.p[0])&uint32(common.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED) == 0 || c.p[1] < 0 || math.IsNaN(c.p[1]) {
			return vehicle.ResultDenied, ""
		}
		sv.pausedMode = -1
		return m.SetMode(uint32(c.p[1]))
	case cmdNavTakeoff:
		if math.IsNaN(c.p[6]) || c.p[6] <= 0 {
			return vehicle.ResultDenied, ""
		}
		return m.Takeoff(c.p[6])
	case cmdNavReturnToLaunch:
		return m.SetMode(vehicle.ModeRTL)
	case cmdNavLand:
		return m.SetMode(vehicle.ModeLand)
	case cmdDoReposition:
		return sv.reposition(c)
	case cmdDoChangeSpeed:
		if math.IsNaN(c.p[1]) {
			return vehicle.ResultDenied, ""
		}
		if c.p[1] < 0 { // -1 = no change
			return vehicle.ResultAccepted, ""
		}
		return m.SetSpeed(c.p[1])
	case cmdMissionStart:
		if sv.upload.active && sv.upload.typ == 0 {
			// the mission is being replaced right now: try again when the upload is done
			return vehicle.ResultTemporarilyRejected, ""
		}
		first, last := c.p[0], c.p[1]
		if first < 0 || last < 0 || first > math.MaxUint16 || last > math.MaxUint16 || math.IsNaN(first) || math.IsNaN(last) {
			return vehicle.ResultDenied, ""
		}
		return m.MissionStart(uint16(first), uint16(last))
	case cmdDoSetMissionCurrent:
		if c.p[0] < 0 || c.p[0] > math.MaxUint16 || math.IsNaN(c.p[0]) {
			return vehicle.ResultDenied, ""
		}
		return m.SetMissionCurrent(uint16(c.p[0]))
	case cmdDoSetHome:
		if c.p[0] == 1 {
			return m.SetHome(true, 0, 0, 0)
		}
		lat, lon := c.lat(), c.lon()
		if lat < -90 || lat > 90 || lon < -180 || lon > 180 || math.IsNaN(lat) || math.IsNaN(lon) || math.IsNaN(c.p[6]) {
			return vehicle.ResultDenied, ""
		}
		return m.SetHome(false, lat, lon, c.p[6])
	case cmdDoPauseContinue:
		st := m.State()
		if c.p[0] == 0 { // pause
			if sv.pausedMode >= 0 {
				return vehicle.ResultAccepted, ""
			}
			if st.CustomMode != vehicle.ModeAuto && st.CustomMode != vehicle.ModeGuided {
				return vehicle.ResultFailed, ""
			}
			res, reason := m.SetMode(vehicle.ModeBrake)
			if res == vehicle.ResultAccepted {
				sv.pausedMode = int64(st.CustomMode)
			}
			return res, reason
		}
		if sv.pausedMode < 0 {
			return vehicle.ResultFailed, ""
		}
		res, reason := m.SetMode(uint32(sv.pausedMode))
		if res == vehicle.ResultAccepted {
			sv.pausedMode = -1
		}
		return res, reason
	case cmdDoFenceEnable:
		if c.p[0] != 0 && c.p[0] != 1 {
			return vehicle.ResultDenied, ""
		}
		if _, err := m.SetParam("FENCE_ENABLE", c.p[0]); err != nil {
			return vehicle.ResultFailed, ""
		}
		return vehicle.ResultAccepted, ""
	case cmdSetMessageInterval:
		if c.p[0] < 0 || c.p[0] > 1<<24 || math.IsNaN(c.p[0]) || math.IsNaN(c.p[1]) {
			return vehicle.ResultDenied, ""
		}
		return sv.setMessageInterval(uint32(c.p[0]), c.p[1]), ""
	case cmdGetMessageInterval:
		if c.p[0] < 0 || c.p[0] > 1<<24 || math.IsNaN(c.p[0]) {
			return vehicle.ResultDenied, ""
		}
		return vehicle.ResultAccepted, ""
	case cmdRequestMessage:
		id := uint32(c.p[0])
		if c.p[0] < 0 || math.IsNaN(c.p[0]) || !sv.canBuild(id) {
			return vehicle.ResultFailed, ""
		}
		return vehicle.ResultAccepted, ""
	case cmdRequestAPCaps:
		return vehicle.ResultAccepted, ""
	case cmdGetHomePosition:
		// ArduPilot (GCS_MAVLINK::handle_command_get_home_position) answers
		// FAILED until home is set, else sends HOME_POSITION and ACCEPTED;
		// MAVProxy asks for it on connect.
		if !m.State().HomeSet {
			return vehicle.ResultFailed, ""
		}
		return vehicle.ResultAccepted, ""
	case cmdPreflightReboot:
		if c.p[0] != 1 {
			return vehicle.ResultUnsupported, ""
		}
		if m.State().Armed {
			return vehicle.ResultFailed, ""
		}
		sv.reboot()
		return vehicle.ResultAccepted, ""
	}
	sv.warn("unsupported command", "command", c.id, "from_sysid", from.sys)
	return vehicle.ResultUnsupported, ""
}

// reposition handles MAV_CMD_DO_REPOSITION like ArduCopter: only in GUIDED
// unless the change-mode flag asks to switch, refused outside the fence.
func (sv *SimVehicle) reposition(c command) (uint8, string) {
	lat, lon := c.lat(), c.lon()
	if math.IsNaN(lat) || math.IsNaN(lon) || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		return vehicle.ResultDenied, ""
	}
	st := sv.model.State()
	if st.CustomMode != vehicle.ModeGuided {
		if int(c.p[1])&1 == 0 { // MAV_DO_REPOSITION_FLAGS_CHANGE_MODE
			return vehicle.ResultDenied, ""
		}
		if res, reason := sv.model.SetMode(vehicle.ModeGuided); res != vehicle.ResultAccepted {
			return res, reason
		}
	}
	frame := c.frame
	if frame == 255 {
		frame = 0 // COMMAND_LONG: ArduPilot assumes MAV_FRAME_GLOBAL
	}
	alt := c.p[6]
	var rel float64
	if math.IsNaN(alt) {
		rel = st.RelAlt
	} else {
		var ok bool
		rel, ok = sv.relAlt(frame, alt)
		if !ok {
			return vehicle.ResultDenied, ""
		}
	}
	return sv.model.GotoGlobal(lat, lon, rel)
}

// reboot restarts the model (MAV_CMD_PREFLIGHT_REBOOT_SHUTDOWN) keeping
// what ArduPilot keeps in storage: parameters, mission, fence, rally.
func (sv *SimVehicle) reboot() {
	old := sv.model
	nv := vehicle.New(sv.modelCfg)
	for _, p := range old.Params() {
		if np, ok := nv.Param(p.Name); ok && np.Value != p.Value {
			if _, err := nv.SetParam(p.Name, p.Value); err != nil {
				sv.log.Warn("reboot: parameter not restored", "param", p.Name, "err", err)
			}
		}
	}
	if err := nv.SetMission(old.Mission()); err != nil {
		sv.log.Warn("reboot: mission not restored", "err", err)
	}
	if err := nv.SetFence(old.Fence()); err != nil {
		sv.log.Warn("reboot: fence not restored", "err", err)
	}
	if err := nv.SetRally(old.Rally()); err != nil {
		sv.log.Warn("reboot: rally not restored", "err", err)
	}
	nv.DrainEvents()
	sv.model = nv
	for i := range sv.streams { // boot time restarts at zero
		sv.streams[i].next = 0
	}
	sv.camNextHB = 0
	sv.pausedMode = -1
	sv.statusText(vehicle.SeverityInfo, "ArduCopter V4.7.0 (burgut-sitl)")
}
