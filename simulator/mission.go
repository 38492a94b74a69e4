package simulator

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// The vehicle side of the MAVLink mission protocol for mission, fence and
// rally lists, following ArduPilot's MissionItemProtocol: one upload at a
// time per vehicle (others are DENIED), items requested one by one and
// re-requested after uploadRetry without an answer, the upload cancelled
// after uploadTimeout, downloads served statelessly.

// MAV_MISSION_RESULT values.
const (
	missionAccepted          = 0
	missionError             = 1
	missionUnsupportedFrame  = 2
	missionUnsupported       = 3
	missionNoSpace           = 4
	missionInvalid           = 5
	missionInvalidParam5     = 10
	missionInvalidParam6     = 11
	missionInvalidSequence   = 13
	missionDenied            = 14
	missionOperationCanceled = 15
)

// Timers of an upload, in wall time (they model the link, not the flight).
// Variables only so tests can shorten them before a Sim starts.
var (
	uploadRetry   = time.Second
	uploadTimeout = 8 * time.Second
)

// maxItems is how many items the mission and rally lists hold, like
// ArduPilot's storage limits on a typical board; a larger MISSION_COUNT
// gets NO_SPACE. The fence's comes from the vehicle (FenceCapacity).
var maxItems = map[mavitem.MissionType]int{
	mavitem.TypeMission: 700,
	mavitem.TypeRally:   20,
}

type upload struct {
	active   bool
	typ      mavitem.MissionType
	count    uint16
	next     uint16
	items    []mavitem.Item
	from     peer
	lastRecv time.Time
	lastReq  time.Time
	useInt   bool // the sender speaks MISSION_ITEM_INT (decided per item)
}

// finishedUpload remembers the last completed upload so a retransmitted
// final item (its ACK was lost) gets the ACK again instead of an error.
type finishedUpload struct {
	valid bool
	typ   mavitem.MissionType
	count uint16
	from  peer
	at    time.Time
}

func (sv *SimVehicle) missionAck(to peer, typ mavitem.MissionType, result uint8) {
	sv.send(&common.MessageMissionAck{
		TargetSystem: to.sys, TargetComponent: to.comp,
		Type: common.MAV_MISSION_RESULT(result), MissionType: common.MAV_MISSION_TYPE(typ),
	})
}

func validType(t mavitem.MissionType) bool {
	return t == mavitem.TypeMission || t == mavitem.TypeFence || t == mavitem.TypeRally
}

func (sv *SimVehicle) list(t mavitem.MissionType) []mavitem.Item {
	switch t {
	case mavitem.TypeFence:
		return sv.model.Fence()
	case mavitem.TypeRally:
		return sv.model.Rally()
	}
	return sv.model.Mission()
}

func (sv *SimVehicle) store(t mavitem.MissionType, items []mavitem.Item) error {
	switch t {
	case mavitem.TypeFence:
		return sv.model.SetFence(items)
	case mavitem.TypeRally:
		return sv.model.SetRally(items)
	}
	return sv.model.SetMission(items)
}

// requestItem asks the uploader for the next item.
func (sv *SimVehicle) requestItem() {
	u := &sv.upload
	u.lastReq = sv.wallNow
	if sv.legacyMR {
		sv.send(&common.MessageMissionRequest{TargetSystem: u.from.sys, TargetComponent: u.from.comp, Seq: u.next, MissionType: common.MAV_MISSION_TYPE(u.typ)})
		return
	}
	sv.send(&common.MessageMissionRequestInt{TargetSystem: u.from.sys, TargetComponent: u.from.comp, Seq: u.next, MissionType: common.MAV_MISSION_TYPE(u.typ)})
}

func (sv *SimVehicle) missionCount(from peer, typ mavitem.MissionType, count uint16) {
	if !validType(typ) {
		sv.warn("MISSION_COUNT with unknown mission type", "mission_type", typ)
		sv.missionAck(from, typ, missionUnsupported)
		return
	}
	u := &sv.upload
	if u.active {
		if u.from == from && u.typ == typ && u.count == count {
			// the uploader repeated MISSION_COUNT (our request was lost): start over
			u.next = 0
			u.items = u.items[:0]
			u.lastRecv = sv.wallNow
			sv.requestItem()
			return
		}
		sv.missionAck(from, typ, missionDenied)
		return
	}
	limit := maxItems[typ]
	if typ == mavitem.TypeFence {
		limit, _ = sv.model.FenceCapacity()
	}
	if int(count) > limit {
		sv.warn("mission upload too large", "mission_type", typ, "count", count, "max", limit)
		sv.missionAck(from, typ, missionNoSpace)
		return
	}
	if count == 0 {
		if err := sv.store(typ, nil); err != nil {
			sv.warn("clearing list refused", "mission_type", typ, "err", err)
			sv.missionAck(from, typ, missionError)
			return
		}
		sv.missionAck(from, typ, missionAccepted)
		return
	}
	sv.lastUpload = finishedUpload{}
	*u = upload{active: true, typ: typ, count: count, from: from, lastRecv: sv.wallNow, items: make([]mavitem.Item, 0, count)}
	sv.requestItem()
}

func (sv *SimVehicle) missionItemFloat(from peer, m *common.MessageMissionItem) {
	it := mavitem.Item{
		Seq: m.Seq, Frame: uint8(m.Frame), Command: uint16(m.Command), Current: m.Current, Autocontinue: m.Autocontinue,
		Param1: m.Param1, Param2: m.Param2, Param3: m.Param3, Param4: m.Param4, Z: m.Z,
		MissionType: mavitem.MissionType(m.MissionType),
	}
	if hasLocation(it.Command) || it.MissionType != mavitem.TypeMission {
		it.X, it.Y = e7(float64(m.X)), e7(float64(m.Y))
	} else {
		it.X, it.Y = int32(m.X), int32(m.Y)
	}
	sv.missionItem(from, it, false)
}

// checkItem is what ArduPilot checks before storing an item, then the
// model's own validation (commands, frames, parameters).
func (sv *SimVehicle) checkItem(it mavitem.Item) uint8 {
	if hasLocation(it.Command) || it.MissionType != mavitem.TypeMission {
		switch it.Frame {
		case mavitem.FrameGlobal, mavitem.FrameGlobalRelativeAlt, mavitem.FrameGlobalInt, mavitem.FrameGlobalRelAltInt, 10, 11, mavitem.FrameMission:
		default:
			return missionUnsupportedFrame
		}
		if it.X < -900000000 || it.X > 900000000 {
			return missionInvalidParam5
		}
		if it.Y < -1800000000 || it.Y > 1800000000 {
			return missionInvalidParam6
		}
	}
	return sv.model.ValidateItem(it)
}

func (sv *SimVehicle) missionItem(from peer, it mavitem.Item, isInt bool) {
	u := &sv.upload
	if !u.active || u.from != from || u.typ != it.MissionType {
		lu := sv.lastUpload
		if lu.valid && lu.from == from && lu.typ == it.MissionType && it.Seq == lu.count-1 {
			sv.missionAck(from, it.MissionType, missionAccepted) // our ACK was lost
			return
		}
		if u.active { // someone else's upload is in progress
			sv.missionAck(from, it.MissionType, missionDenied)
			return
		}
		sv.warn("mission item without an upload in progress", "seq", it.Seq, "mission_type", it.MissionType)
		sv.missionAck(from, it.MissionType, missionError)
		return
	}
	u.lastRecv = sv.wallNow
	if it.Seq != u.next {
		if it.Seq+1 == u.next {
			// the previous item again: our request for the next one was
			// lost on the way, so ask again instead of failing
			sv.requestItem()
			return
		}
		// out of order: say so, keep the upload (ArduPilot does the same)
		sv.missionAck(from, it.MissionType, missionInvalidSequence)
		return
	}
	if res := sv.checkItem(it); res != missionAccepted {
		sv.warn("invalid mission item refused", "seq", it.Seq, "command", it.Command, "frame", it.Frame, "result", res)
		sv.missionAck(from, it.MissionType, res)
		*u = upload{}
		return
	}
	u.useInt = isInt
	u.items = append(u.items, it)
	u.next++
	if u.next < u.count {
		sv.requestItem()
		return
	}
	items := u.items
	typ := u.typ
	*u = upload{}
	if err := sv.store(typ, items); err != nil {
		sv.warn("uploaded list refused by the vehicle", "mission_type", typ, "err", err)
		sv.missionAck(from, typ, missionError)
		var ie *vehicle.ItemError
		if errors.As(err, &ie) && strings.HasPrefix(ie.Reason, vehicle.FenceStorageText) {
			sv.statusText(vehicle.SeverityWarning, vehicle.FenceStorageText) // ArduPilot's words
			return
		}
		sv.statusText(vehicle.SeverityWarning, fmt.Sprintf("%s upload failed: %v", typ, err))
		return
	}
	sv.lastUpload = finishedUpload{valid: true, typ: typ, count: uint16(len(items)), from: from, at: sv.wallNow}
	sv.missionAck(from, typ, missionAccepted)
	switch typ {
	case mavitem.TypeMission:
		sv.statusText(vehicle.SeverityInfo, "Flight plan received")
	case mavitem.TypeFence:
		sv.statusText(7, "Fence Indexed OK") // MAV_SEVERITY_DEBUG, as ArduCopter
	}
}

// missionTimers re-requests a missing item and gives up on a silent
// uploader, like ArduPilot. Called every tick with sv.mu held.
func (sv *SimVehicle) missionTimers(now time.Time) {
	u := &sv.upload
	if !u.active {
		return
	}
	if now.Sub(u.lastRecv) > uploadTimeout {
		sv.warn("mission upload timed out", "mission_type", u.typ, "received", u.next, "count", u.count)
		sv.missionAck(u.from, u.typ, missionOperationCanceled)
		*u = upload{}
		return
	}
	if now.Sub(u.lastReq) > uploadRetry {
		sv.requestItem()
	}
}

func (sv *SimVehicle) missionAckFromGCS(from peer, typ mavitem.MissionType, result uint8) {
	u := &sv.upload
	if u.active && u.from == from && u.typ == typ {
		// the ground station cancelled its upload
		sv.log.Info("mission upload cancelled by ground station", "mission_type", typ, "result", result)
		*u = upload{}
	}
	// otherwise it ends a download: nothing to do
}

func (sv *SimVehicle) missionRequestList(from peer, typ mavitem.MissionType) {
	if !validType(typ) {
		sv.warn("MISSION_REQUEST_LIST with unknown mission type", "mission_type", typ)
		sv.missionAck(from, typ, missionUnsupported)
		return
	}
	if sv.upload.active && sv.upload.typ == typ {
		sv.missionAck(from, typ, missionDenied)
		return
	}
	n := len(sv.list(typ))
	sv.send(&common.MessageMissionCount{TargetSystem: from.sys, TargetComponent: from.comp, Count: uint16(n), MissionType: common.MAV_MISSION_TYPE(typ)})
}

func (sv *SimVehicle) missionRequest(from peer, typ mavitem.MissionType, seq uint16, wantInt bool) {
	if !validType(typ) {
		sv.missionAck(from, typ, missionUnsupported)
		return
	}
	items := sv.list(typ)
	if int(seq) >= len(items) {
		sv.warn("mission item requested beyond the list", "seq", seq, "count", len(items), "mission_type", typ)
		sv.missionAck(from, typ, missionInvalidSequence)
		return
	}
	it := sv.downloadItem(typ, items[seq], seq)
	if wantInt {
		sv.send(&common.MessageMissionItemInt{
			TargetSystem: from.sys, TargetComponent: from.comp, Seq: seq, Frame: common.MAV_FRAME(it.Frame),
			Command: common.MAV_CMD(it.Command), Current: it.Current, Autocontinue: it.Autocontinue,
			Param1: it.Param1, Param2: it.Param2, Param3: it.Param3, Param4: it.Param4, X: it.X, Y: it.Y, Z: it.Z,
			MissionType: common.MAV_MISSION_TYPE(typ),
		})
		return
	}
	x, y := float32(it.X), float32(it.Y)
	if hasLocation(it.Command) || typ != mavitem.TypeMission {
		x, y = float32(float64(it.X)/1e7), float32(float64(it.Y)/1e7)
	}
	sv.send(&common.MessageMissionItem{
		TargetSystem: from.sys, TargetComponent: from.comp, Seq: seq, Frame: common.MAV_FRAME(it.Frame),
		Command: common.MAV_CMD(it.Command), Current: it.Current, Autocontinue: it.Autocontinue,
		Param1: it.Param1, Param2: it.Param2, Param3: it.Param3, Param4: it.Param4, X: x, Y: y, Z: it.Z,
		MissionType: common.MAV_MISSION_TYPE(typ),
	})
}

// downloadItem renders a stored item the way ArduPilot sends it back: seq 0
// of the mission is home (the model fills it in), *_INT frames come back as their
// plain equivalents, commands without a location report MAV_FRAME_GLOBAL,
// fence and rally items carry autocontinue 0, current is 0.
func (sv *SimVehicle) downloadItem(typ mavitem.MissionType, it mavitem.Item, seq uint16) mavitem.Item {
	it.Seq = seq
	it.Current = 0
	it.MissionType = typ
	switch it.Frame {
	case mavitem.FrameGlobalInt:
		it.Frame = mavitem.FrameGlobal
	case mavitem.FrameGlobalRelAltInt:
		it.Frame = mavitem.FrameGlobalRelativeAlt
	case 11:
		it.Frame = 10
	}
	if typ != mavitem.TypeMission {
		it.Autocontinue = 0
		return it
	}
	if seq == 0 {
		return it // home, as the model keeps it
	}
	if !hasLocation(it.Command) {
		it.Frame = mavitem.FrameGlobal
	}
	return it
}

// hasLocation reports whether a mission command carries a position in x/y/z.
func hasLocation(cmd uint16) bool {
	switch cmd {
	case 16, 17, 18, 19, 21, 22, 31, 82, 83, 85, 92, 94, 189, 191, 195, 201, 5001, 5002, 5003, 5004, 5100:
		return true
	}
	return false
}

func (sv *SimVehicle) missionClearAll(from peer, typ mavitem.MissionType) {
	if !validType(typ) && typ != 255 {
		sv.missionAck(from, typ, missionUnsupported)
		return
	}
	if sv.upload.active {
		sv.missionAck(from, typ, missionDenied)
		return
	}
	types := []mavitem.MissionType{typ}
	if typ == 255 { // MAV_MISSION_TYPE_ALL
		types = []mavitem.MissionType{mavitem.TypeMission, mavitem.TypeFence, mavitem.TypeRally}
	}
	for _, t := range types {
		if err := sv.store(t, nil); err != nil {
			sv.warn("clearing list refused", "mission_type", t, "err", err)
			sv.missionAck(from, typ, missionError)
			return
		}
	}
	sv.missionAck(from, typ, missionAccepted)
}
