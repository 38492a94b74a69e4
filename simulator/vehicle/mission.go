package vehicle

import (
	"fmt"
	"math"
	"time"

	"github.com/burgut-uav/burgut/internal/mavitem"
)

// Storage limits: an upload longer than these is answered with
// MAV_MISSION_NO_SPACE, as on a flight controller with limited storage.
const (
	MaxMissionItems = 724 // ArduCopter SITL's mission storage
	MaxFenceItems   = 255 // a fence's own limit; FenceCapacity is usually lower
	MaxRallyItems   = 100
)

// MAV_MISSION_RESULT values ValidateItem and ItemError use.
const (
	MissionAccepted         uint8 = 0
	MissionError            uint8 = 1
	MissionUnsupportedFrame uint8 = 2
	MissionUnsupported      uint8 = 3
	MissionNoSpace          uint8 = 4
	MissionInvalid          uint8 = 5
	MissionInvalidParam1    uint8 = 6
	MissionInvalidParam2    uint8 = 7
	MissionInvalidParam3    uint8 = 8
	MissionInvalidParam4    uint8 = 9
	MissionInvalidParam5X   uint8 = 10
	MissionInvalidParam6Y   uint8 = 11
	MissionInvalidParam7    uint8 = 12
	MissionInvalidSequence  uint8 = 13
)

// ItemError is why SetMission, SetFence or SetRally refused a list: the
// MAV_MISSION_RESULT to put in MISSION_ACK and the item at fault.
type ItemError struct {
	Seq    uint16
	Result uint8 // MAV_MISSION_RESULT
	Reason string
}

func (e *ItemError) Error() string {
	return fmt.Sprintf("item %d: %s (MAV_MISSION_RESULT %d)", e.Seq, e.Reason, e.Result)
}

// MAVLink commands the model knows beyond those in package missions.
const (
	cmdNavLoiterTurns    uint16 = 18
	cmdNavSplineWaypoint uint16 = 82
	cmdNavDelay          uint16 = 93
	cmdConditionDelay    uint16 = 112
	cmdConditionDistance uint16 = 114
	cmdConditionYaw      uint16 = 115
	cmdDoSetMode         uint16 = 176
	cmdDoSetHome         uint16 = 179
	cmdDoSetRelay        uint16 = 181
	cmdDoSetServo        uint16 = 183
	cmdDoLandStart       uint16 = 189
	cmdDoSetROI          uint16 = 201
	cmdDoDigicamControl  uint16 = 203
	cmdDoMountControl    uint16 = 205
	cmdDoSetCamTrigDist  uint16 = 206
	cmdDoFenceEnable     uint16 = 207
	cmdDoSetROILocation  uint16 = 195
	cmdDoSetROINone      uint16 = 197
	cmdDoGimbalPitchYaw  uint16 = 1000
	cmdImageStartCapture uint16 = 2000
	cmdImageStopCapture  uint16 = 2001
	cmdVideoStartCapture uint16 = 2500
	cmdVideoStopCapture  uint16 = 2501
	cmdFenceReturnPoint  uint16 = 5000

	frameGlobalTerrainAlt    uint8 = 10
	frameGlobalTerrainAltInt uint8 = 11
)

// isNav reports whether cmd is a navigation command (it moves the vehicle
// and becomes MISSION_CURRENT).
func isNav(cmd uint16) bool {
	switch cmd {
	case mavitem.CmdNavWaypoint, mavitem.CmdNavLoiterUnlim, cmdNavLoiterTurns, mavitem.CmdNavLoiterTime,
		mavitem.CmdNavReturnToLaunch, mavitem.CmdNavLand, mavitem.CmdNavTakeoff, cmdNavSplineWaypoint, cmdNavDelay:
		return true
	}
	return false
}

// hasLocation reports whether the item's x/y/z are a position (ArduPilot's
// stored_in_location), so its frame and coordinates are checked.
func hasLocation(cmd uint16) bool {
	switch cmd {
	case mavitem.CmdNavWaypoint, mavitem.CmdNavLoiterUnlim, cmdNavLoiterTurns, mavitem.CmdNavLoiterTime,
		mavitem.CmdNavLand, mavitem.CmdNavTakeoff, cmdNavSplineWaypoint, cmdDoSetHome, cmdDoSetROILocation,
		cmdDoSetROI, cmdDoLandStart:
		return true
	}
	return false
}

func supportedMissionCmd(cmd uint16) bool {
	if isNav(cmd) || hasLocation(cmd) {
		return true
	}
	switch cmd {
	case mavitem.CmdDoJump, mavitem.CmdDoChangeSpeed, cmdConditionDelay, cmdConditionDistance, cmdConditionYaw,
		cmdDoSetMode, cmdDoSetRelay, cmdDoSetServo, cmdDoDigicamControl, cmdDoMountControl, cmdDoSetCamTrigDist,
		cmdDoFenceEnable, cmdDoSetROINone, cmdDoGimbalPitchYaw, cmdImageStartCapture, cmdImageStopCapture,
		cmdVideoStartCapture, cmdVideoStopCapture:
		return true
	}
	return false
}

func frameOK(f uint8) bool {
	switch f {
	case mavitem.FrameGlobal, mavitem.FrameGlobalRelativeAlt, mavitem.FrameGlobalInt, mavitem.FrameGlobalRelAltInt,
		frameGlobalTerrainAlt, frameGlobalTerrainAltInt:
		return true
	}
	return false
}

func finite32(f float32) bool {
	return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0)
}

// ValidateItem returns the MAV_MISSION_RESULT ArduCopter gives for one
// uploaded item of its MissionType: UNSUPPORTED for commands it does not
// know, UNSUPPORTED_FRAME for a position in a frame it cannot use,
// INVALID_PARAMn for out-of-range or non-finite parameters and
// coordinates, 0 when the item is accepted.
func (v *Vehicle) ValidateItem(it mavitem.Item) uint8 {
	params := [4]float32{it.Param1, it.Param2, it.Param3, it.Param4}
	checkLoc := func() uint8 {
		if !frameOK(it.Frame) {
			return MissionUnsupportedFrame
		}
		if it.X < -900000000 || it.X > 900000000 {
			return MissionInvalidParam5X
		}
		if it.Y < -1800000000 || it.Y > 1800000000 {
			return MissionInvalidParam6Y
		}
		if !finite32(it.Z) || math.Abs(float64(it.Z)) >= 83000 { // LOCATION_ALT_MAX_M
			return MissionInvalidParam7
		}
		return MissionAccepted
	}
	switch it.MissionType {
	case mavitem.TypeFence:
		switch it.Command {
		case mavitem.CmdFencePolyInclusion, mavitem.CmdFencePolyExclusion:
			if !finite32(it.Param1) || it.Param1 < 3 || it.Param1 > 255 || it.Param1 != float32(math.Trunc(float64(it.Param1))) {
				return MissionInvalidParam1
			}
		case mavitem.CmdFenceCircleInclusion, mavitem.CmdFenceCircleExclusion:
			if !finite32(it.Param1) || it.Param1 <= 0 {
				return MissionInvalidParam1
			}
		case cmdFenceReturnPoint:
		default:
			return MissionUnsupported
		}
		return checkLoc()
	case mavitem.TypeRally:
		if it.Command != mavitem.CmdNavRallyPoint {
			return MissionUnsupported
		}
		return checkLoc()
	case mavitem.TypeMission:
	default:
		return MissionInvalid
	}
	if !supportedMissionCmd(it.Command) {
		return MissionUnsupported
	}
	for i, p := range params {
		if !finite32(p) && !(it.Command == mavitem.CmdNavWaypoint && i == 3) { // yaw NaN = "unchanged"
			return MissionInvalidParam1 + uint8(i)
		}
	}
	switch it.Command {
	case mavitem.CmdNavWaypoint, mavitem.CmdNavLoiterTime:
		if it.Param1 < 0 || it.Param1 > 65535 {
			return MissionInvalidParam1
		}
		if it.Command == mavitem.CmdNavWaypoint && (it.Param2 < 0 || it.Param2 > 255) {
			return MissionInvalidParam2
		}
	case mavitem.CmdDoJump:
		if it.Param1 < 0 || it.Param1 > 65535 {
			return MissionInvalidParam1
		}
		if it.Param2 < -1 || it.Param2 > 32767 {
			return MissionInvalidParam2
		}
	case mavitem.CmdDoChangeSpeed:
		if it.Param2 < -2 || it.Param2 > 100 {
			return MissionInvalidParam2
		}
	}
	if hasLocation(it.Command) {
		return checkLoc()
	}
	return MissionAccepted
}

func (v *Vehicle) validateList(items []mavitem.Item, typ mavitem.MissionType, max int) error {
	if len(items) > max {
		return &ItemError{Seq: uint16(min(len(items), 65535) - 1), Result: MissionNoSpace,
			Reason: fmt.Sprintf("%d items exceed the %d the vehicle can store", len(items), max)}
	}
	for i, it := range items {
		if int(it.Seq) != i {
			return &ItemError{Seq: uint16(i), Result: MissionInvalidSequence,
				Reason: fmt.Sprintf("item at position %d has seq %d", i, it.Seq)}
		}
		it.MissionType = typ
		if typ == mavitem.TypeMission && i == 0 {
			continue // seq 0 is home; the vehicle keeps its own
		}
		if r := v.ValidateItem(it); r != MissionAccepted {
			return &ItemError{Seq: uint16(i), Result: r, Reason: fmt.Sprintf("command %d frame %d refused", it.Command, it.Frame)}
		}
	}
	return nil
}

// normalise stores an item the way ArduPilot does, so a download returns
// what ArduCopter would: altitude in whole centimetres, frame GLOBAL for
// commands without a position, fixed current/autocontinue flags.
func normalise(it mavitem.Item, typ mavitem.MissionType) mavitem.Item {
	it.MissionType = typ
	it.Current = 0
	it.Z = float32(math.Round(float64(it.Z)*100) / 100)
	switch typ {
	case mavitem.TypeMission:
		it.Autocontinue = 1
		if !hasLocation(it.Command) {
			it.Frame = mavitem.FrameGlobal
		}
	default:
		it.Autocontinue = 0
	}
	return it
}

// SetMission replaces the mission after a completed upload (or clears it
// for an empty list, keeping home). Seq 0 is home as in ArduPilot: its
// content is ignored and Mission reports the vehicle's home there. A list
// that ValidateItem refuses, with wrong sequence numbers or too long is
// rejected whole with an *ItemError carrying the MISSION_ACK result. The
// "Flight plan received" STATUSTEXT is the MAVLink layer's to send.
// Uploading while flying AUTO continues at the same item number.
func (v *Vehicle) SetMission(items []mavitem.Item) error {
	if err := v.validateList(items, mavitem.TypeMission, MaxMissionItems); err != nil {
		return fmt.Errorf("set mission: %w", err)
	}
	m := make([]mavitem.Item, 0, max(len(items), 1))
	m = append(m, mavitem.Item{Command: mavitem.CmdNavWaypoint, Autocontinue: 1})
	for i := 1; i < len(items); i++ {
		m = append(m, normalise(items[i], mavitem.TypeMission))
	}
	v.mission = m
	v.jumpRuns = make([]int16, len(m))
	if !v.missionRunning {
		v.missionStarted, v.missionDone = false, false
	}
	v.setParamInternal("MIS_TOTAL", float64(len(m)))
	running := v.missionRunning
	if v.navIdx >= len(m) {
		v.navIdx = 0
	}
	if running {
		if v.navIdx == 0 {
			v.missionComplete()
		} else {
			v.advanceTo(v.navIdx)
		}
	}
	return nil
}

// SetFence replaces the fence (MAV_CMD_NAV_FENCE_* items: polygons whose
// vertices each carry the vertex count in param1, circles with the radius
// in param1, an optional return point). Inconsistent polygons are refused
// with an *ItemError. The "Fence Indexed OK" STATUSTEXT is the MAVLink
// layer's to send.
func (v *Vehicle) SetFence(items []mavitem.Item) error {
	maxItems, storage := v.FenceCapacity()
	if err := v.validateList(items, mavitem.TypeFence, maxItems); err != nil {
		return fmt.Errorf("set fence: %w", err)
	}
	zones, err := v.compileFence(items)
	if err != nil {
		return fmt.Errorf("set fence: %w", err)
	}
	if need := fenceStorageNeeded(items); need > storage {
		return fmt.Errorf("set fence: %w", &ItemError{Seq: uint16(len(items) - 1), Result: MissionError,
			Reason: fmt.Sprintf("%s: %d bytes needed, %d available", FenceStorageText, need, storage)})
	}
	f := make([]mavitem.Item, len(items))
	for i, it := range items {
		f[i] = normalise(it, mavitem.TypeFence)
	}
	v.fence = f
	v.fz = zones
	return nil
}

// SetRally replaces the rally points (MAV_CMD_NAV_RALLY_POINT); RTL returns
// to the nearest one within RALLY_LIMIT_KM when it is closer than home.
func (v *Vehicle) SetRally(items []mavitem.Item) error {
	if err := v.validateList(items, mavitem.TypeRally, MaxRallyItems); err != nil {
		return fmt.Errorf("set rally: %w", err)
	}
	r := make([]mavitem.Item, len(items))
	for i, it := range items {
		r[i] = normalise(it, mavitem.TypeRally)
	}
	v.rally = r
	v.setParamInternal("RALLY_TOTAL", float64(len(r)))
	return nil
}

// Mission returns the stored mission as a download would: seq 0 is the
// current home (frame GLOBAL, altitude MSL).
func (v *Vehicle) Mission() []mavitem.Item {
	out := append([]mavitem.Item(nil), v.mission...)
	out[0] = mavitem.Item{
		Seq: 0, Frame: mavitem.FrameGlobal, Command: mavitem.CmdNavWaypoint, Autocontinue: 1,
		X: int32(math.Round(v.home.Lat * 1e7)), Y: int32(math.Round(v.home.Lon * 1e7)),
		Z: float32(math.Round(v.home.AltMSL*100) / 100), MissionType: mavitem.TypeMission,
	}
	if !v.homeSet {
		out[0].X, out[0].Y, out[0].Z = 0, 0, 0
	}
	return out
}

// Fence returns a copy of the fence items.
func (v *Vehicle) Fence() []mavitem.Item { return append([]mavitem.Item(nil), v.fence...) }

// Rally returns a copy of the rally points.
func (v *Vehicle) Rally() []mavitem.Item { return append([]mavitem.Item(nil), v.rally...) }

// itemLocal resolves an item's position to the local frame. Lat/lon 0 mean
// "here" and altitude 0 "current altitude", as ArduCopter reads them.
func (v *Vehicle) itemLocal(it mavitem.Item) (n, e, u float64) {
	n, e, u = v.n, v.e, v.up
	if it.X != 0 || it.Y != 0 {
		n, e = v.toLocal(float64(it.X)/1e7, float64(it.Y)/1e7)
	}
	if it.Z != 0 {
		switch it.Frame {
		case mavitem.FrameGlobal, mavitem.FrameGlobalInt:
			u = float64(it.Z) - v.alt0
		default: // relative to home; terrain frames use the flat terrain at home
			u = v.homeU + float64(it.Z)
		}
	}
	return n, e, u
}

// --- execution ----------------------------------------------------------

type navState struct {
	cmd         uint16
	phase       uint8 // 0 going, 1 holding/landing
	holdStart   time.Duration
	reachedSent bool
	hold        float64 // s
	radius      float64 // m
	n, e, u     float64
}

func (v *Vehicle) missionStartsWithTakeoff() bool {
	for i := 1; i < len(v.mission); i++ {
		c := v.mission[i].Command
		if c == mavitem.CmdNavTakeoff {
			return true
		}
		if isNav(c) {
			return false
		}
	}
	return false
}

// missionStartOrResume is AP_Mission::start_or_resume with MIS_RESTART 0:
// resume at the current item if the mission was interrupted, else start at 1.
func (v *Vehicle) missionStartOrResume() {
	if len(v.mission) <= 1 {
		return
	}
	idx := v.navIdx
	if v.missionDone || idx <= 0 || v.pv("MIS_RESTART") == 1 {
		idx = 1
		for i := range v.jumpRuns {
			v.jumpRuns[i] = 0
		}
	}
	v.missionDone = false
	v.missionRunning = true
	v.missionStarted = true
	v.advanceTo(idx)
}

// advanceTo runs DO commands from idx until the next NAV command, which it
// starts. DO_JUMP is resolved here, as AP_Mission::get_next_cmd does.
func (v *Vehicle) advanceTo(idx int) {
	for guard := 0; guard < 4*len(v.mission)+16; guard++ {
		if idx <= 0 || idx >= len(v.mission) {
			v.missionComplete()
			return
		}
		it := v.mission[idx]
		switch {
		case it.Command == mavitem.CmdDoJump:
			target := int(it.Param1)
			repeat := int(it.Param2)
			if target <= 0 || target >= len(v.mission) {
				v.statusText(SeverityWarning, fmt.Sprintf("Mission: jump %d to invalid item %d", idx, target))
				v.missionComplete()
				return
			}
			if repeat < 0 || int(v.jumpRuns[idx]) < repeat {
				if repeat >= 0 {
					v.jumpRuns[idx]++
				}
				idx = target
				continue
			}
			idx++
		case isNav(it.Command):
			v.startNav(idx)
			return
		default:
			v.doCommand(it)
			idx++
		}
	}
	v.missionComplete() // a jump loop without any navigation command
}

func (v *Vehicle) doCommand(it mavitem.Item) {
	v.statusText(SeverityInfo, fmt.Sprintf("Mission: %d %s", it.Seq, cmdName(it.Command)))
	switch it.Command {
	case mavitem.CmdDoChangeSpeed:
		if it.Param2 > 0 {
			v.speedXY = math.Min(float64(it.Param2), 20)
		}
	case cmdDoSetHome:
		if it.Param1 == 1 {
			v.SetHome(true, 0, 0, 0)
		} else {
			n, e, u := v.itemLocal(it)
			v.setHomeLocal(n, e, u)
		}
	case cmdDoFenceEnable:
		if it.Param1 == 0 || it.Param1 == 1 {
			v.params[v.pidx["FENCE_ENABLE"]].Value = float64(it.Param1)
			v.refreshParams()
		}
	}
}

func cmdName(c uint16) string {
	switch c {
	case mavitem.CmdNavWaypoint:
		return "WP"
	case mavitem.CmdNavLoiterUnlim:
		return "LoitUnlim"
	case cmdNavLoiterTurns:
		return "LoitTurns"
	case mavitem.CmdNavLoiterTime:
		return "LoitTime"
	case mavitem.CmdNavReturnToLaunch:
		return "RTL"
	case mavitem.CmdNavLand:
		return "Land"
	case mavitem.CmdNavTakeoff:
		return "Takeoff"
	case cmdNavSplineWaypoint:
		return "SplineWP"
	case cmdNavDelay:
		return "NavDelay"
	case mavitem.CmdDoJump:
		return "Jump"
	case mavitem.CmdDoChangeSpeed:
		return "ChangeSpeed"
	case cmdDoSetHome:
		return "SetHome"
	case cmdDoFenceEnable:
		return "FenceEnable"
	}
	return fmt.Sprintf("Cmd%d", c)
}

func (v *Vehicle) startNav(idx int) {
	it := v.mission[idx]
	v.navIdx = idx
	v.nav = navState{cmd: it.Command, holdStart: -1}
	v.emit(EventMissionCurrent, SeverityInfo, "", uint16(idx))
	v.statusText(SeverityInfo, fmt.Sprintf("Mission: %d %s", idx, cmdName(it.Command)))
	nv := &v.nav
	nv.n, nv.e, nv.u = v.itemLocal(it)
	nv.radius = v.p.wpnavRadius
	switch it.Command {
	case mavitem.CmdNavTakeoff:
		nv.n, nv.e = v.n, v.e
		nv.u = v.homeU + float64(it.Z)
		if it.Frame == mavitem.FrameGlobal || it.Frame == mavitem.FrameGlobalInt {
			nv.u = float64(it.Z) - v.alt0
		}
		if v.landed {
			v.startTakeoff(nv.u)
		}
	case mavitem.CmdNavWaypoint, cmdNavSplineWaypoint:
		nv.hold = float64(it.Param1)
		if it.Param2 > 0 {
			nv.radius = float64(it.Param2)
		}
	case mavitem.CmdNavLoiterTime:
		nv.hold = float64(it.Param1)
	case cmdNavLoiterTurns:
		// Approximated as a hold at the centre lasting as long as the turns
		// (radius param3, default CIRCLE_RADIUS) would take at 5 m/s.
		r := math.Abs(float64(it.Param3))
		if r == 0 {
			r = v.p.circleRadius
		}
		nv.hold = math.Max(float64(it.Param1), 0) * 2 * math.Pi * r / 5
	case cmdNavDelay:
		nv.n, nv.e, nv.u = v.n, v.e, v.up
		nv.hold = float64(it.Param1)
	case mavitem.CmdNavReturnToLaunch:
		v.rtlInit()
	case mavitem.CmdNavLand:
		if it.X == 0 && it.Y == 0 {
			nv.phase = 1 // land here
		}
		nv.u = v.up
	}
}

func (v *Vehicle) reached(seq int, text bool) {
	v.emit(EventMissionItemReached, SeverityInfo, "", uint16(seq))
	if text {
		v.statusText(SeverityInfo, fmt.Sprintf("Reached command #%d", seq))
	}
}

// runAuto is one step of the current navigation command.
func (v *Vehicle) runAuto() {
	if !v.missionRunning {
		if v.landed {
			v.g = gGround
		} else {
			v.g = gPos
		}
		return
	}
	nv := &v.nav
	idx := v.navIdx
	switch nv.cmd {
	case mavitem.CmdNavTakeoff:
		if v.landed && !v.takeoffActive {
			return
		}
		v.g = gPos
		v.tgtN, v.tgtE, v.tgtU = nv.n, nv.e, nv.u
		if v.up >= nv.u-0.5 {
			v.takeoffActive = false
			v.reached(idx, false)
			v.advanceTo(idx + 1)
		}
	case mavitem.CmdNavWaypoint, cmdNavSplineWaypoint, mavitem.CmdNavLoiterTime, cmdNavLoiterTurns, cmdNavDelay, mavitem.CmdNavLoiterUnlim:
		if v.landed {
			v.g = gGround
			return
		}
		v.g = gPos
		v.tgtN, v.tgtE, v.tgtU = nv.n, nv.e, nv.u
		if nv.holdStart < 0 {
			if math.Hypot(nv.n-v.n, nv.e-v.e) > nv.radius || math.Abs(nv.u-v.up) > 1 {
				return
			}
			nv.holdStart = v.now
			if nv.cmd == mavitem.CmdNavLoiterUnlim {
				v.reached(idx, false)
				return
			}
			// ArduCopter sends MISSION_ITEM_REACHED on arrival when it will hold there.
			if nv.hold > 0 && (nv.cmd == mavitem.CmdNavWaypoint || nv.cmd == cmdNavSplineWaypoint) {
				v.reached(idx, false)
				nv.reachedSent = true
			}
		}
		if nv.cmd == mavitem.CmdNavLoiterUnlim {
			return
		}
		if (v.now - nv.holdStart).Seconds() >= nv.hold {
			if !nv.reachedSent {
				v.emit(EventMissionItemReached, SeverityInfo, "", uint16(idx))
			}
			v.statusText(SeverityInfo, fmt.Sprintf("Reached command #%d", idx))
			v.advanceTo(idx + 1)
		}
	case mavitem.CmdNavLand:
		if nv.phase == 0 { // fly to the landing point at the current altitude
			v.g = gPos
			v.tgtN, v.tgtE, v.tgtU = nv.n, nv.e, nv.u
			if math.Hypot(nv.n-v.n, nv.e-v.e) > v.p.wpnavRadius {
				return
			}
			nv.phase = 1
		}
		v.g = gLand
		v.tgtN, v.tgtE = nv.n, nv.e
	case mavitem.CmdNavReturnToLaunch:
		v.runRTL()
	}
}

// autoOnLanded completes LAND and RTL items once the vehicle is down.
func (v *Vehicle) autoOnLanded() {
	switch v.nav.cmd {
	case mavitem.CmdNavLand, mavitem.CmdNavReturnToLaunch:
		v.rtl.phase = rtlDone
		v.reached(v.navIdx, false)
		v.advanceTo(v.navIdx + 1)
	}
}

// missionComplete is ArduCopter's exit_mission: loiter at the stopping
// point (the last target) when flying, disarm when on the ground. The mode
// stays AUTO.
func (v *Vehicle) missionComplete() {
	v.missionRunning = false
	v.missionDone = true
	if v.landed {
		v.g = gGround
		v.disarm("Disarming motors", SeverityInfo)
		return
	}
	v.g = gPos
}

// SetMissionCurrent makes seq the current mission item (MISSION_SET_CURRENT,
// MAV_CMD_DO_SET_MISSION_CURRENT): flying AUTO it goes there at once,
// otherwise AUTO will start there. An item beyond the mission is DENIED.
func (v *Vehicle) SetMissionCurrent(seq uint16) (uint8, string) {
	if int(seq) >= len(v.mission) || len(v.mission) <= 1 {
		return ResultDenied, ""
	}
	if seq == 0 {
		seq = 1
	}
	v.missionDone = false
	if v.missionRunning && v.mode == ModeAuto {
		v.advanceTo(int(seq))
		return ResultAccepted, ""
	}
	v.navIdx = int(seq)
	v.emit(EventMissionCurrent, SeverityInfo, "", seq)
	return ResultAccepted, ""
}

// nearestRally is AP_Rally's choice for RTL: the rally point closest to the
// vehicle, unless it is beyond RALLY_LIMIT_KM or home is closer (with
// RALLY_INCL_HOME). It returns the point's local position and altitude.
func (v *Vehicle) nearestRally() (n, e, u float64, ok bool) {
	best := math.Inf(1)
	for _, it := range v.rally {
		rn, re := v.toLocal(float64(it.X)/1e7, float64(it.Y)/1e7)
		d := math.Hypot(rn-v.n, re-v.e)
		if d < best {
			best = d
			n, e = rn, re
			switch it.Frame {
			case mavitem.FrameGlobal, mavitem.FrameGlobalInt:
				u = float64(it.Z) - v.alt0
			default:
				u = v.homeU + float64(it.Z)
			}
			ok = true
		}
	}
	if !ok {
		return 0, 0, 0, false
	}
	if v.p.rallyLimitKM > 0 && best > v.p.rallyLimitKM*1000 {
		return 0, 0, 0, false
	}
	if v.p.rallyInclHome && math.Hypot(v.homeN-v.n, v.homeE-v.e) < best {
		return 0, 0, 0, false
	}
	return n, e, u, true
}
