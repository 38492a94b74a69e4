package operations

import (
	"context"
	"fmt"
	"strconv"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/missions"
)

// MissionChecker is an Actuator that can read back what a vehicle holds.
// The scheduler skips a relaunch's upload only when the vehicle is known
// to hold its slot's plan: the slot it last uploaded (uploaded_slot,
// persisted) says what the station sent, not what the vehicle has now —
// after a station restart a simulated fleet restarts empty, and another
// GCS or an operator may have changed a real drone's mission meanwhile.
type MissionChecker interface {
	// CheckMission compares the vehicle's mission, fence and rally lists
	// with p's: "" when they match, else the first difference. An error
	// means the lists could not be read.
	CheckMission(ctx context.Context, vehicleID string, p *missions.DronePlan, tag Tag) (diff string, err error)
}

// Why a launch uploads although the vehicle was sent its slot's plan.
const (
	// ReasonMissionChanged: the vehicle holds something else.
	ReasonMissionChanged = "mission_changed"
	// ReasonMissionUnverified: its lists could not be read (or the
	// actuator cannot read them).
	ReasonMissionUnverified = "mission_unverified"
)

// verifyMission reports whether the vehicle holds p ("" reason) or why
// not, with the difference or the read error as detail.
func (m *Manager) verifyMission(ctx context.Context, id string, p *missions.DronePlan, tag Tag) (reason, detail string) {
	mc, ok := m.cfg.Act.(MissionChecker)
	if !ok {
		return ReasonMissionUnverified, "the station cannot read missions back"
	}
	diff, err := mc.CheckMission(ctx, id, p, tag)
	switch {
	case err != nil:
		return ReasonMissionUnverified, err.Error()
	case diff != "":
		return ReasonMissionChanged, diff
	}
	return "", ""
}

// verifyNote is the event of a launch that uploads again, or of a flying
// drone whose mission is not its slot's.
func verifyNote(o *Operation, id string, slot int, reason, detail, what string, sev fleet.Severity) Note {
	return Note{VehicleID: id, Kind: fleet.EventOperation, Severity: sev,
		Message: fmt.Sprintf("%s: %s for slot %d of operation %s (%s): %s", id, reason, slot, o.ID, detail, what),
		Fields:  map[string]any{"operation_id": o.ID, "action": reason, "slot": slot, "detail": detail}}
}

// verifyFlying checks, once after the station started, the mission of
// each drone the saved operations have in the air (transit or on
// station). They are not interrupted to look: the read-back runs beside
// their flight. One that flies something else than its slot's plan is
// failed as a drone reporting a failure is (Alarm: replaced and sent
// home — its path was not checked against fences, no-fly zones and the
// other slots' layers, and its telemetry would carry the slot's tag);
// one whose mission cannot be read keeps flying, with a warning (a
// station that restarts over a lossy link must not recall its whole
// fleet). Called with m.mu held.
func (m *Manager) verifyFlying(ctx context.Context, o *Operation) {
	for _, v := range o.Vehicles {
		key := o.ID + "/" + v.ID
		if !m.unverified[key] {
			continue
		}
		if v.Role != RoleTransit && v.Role != RoleStation || v.Slot < 0 || v.Slot >= len(o.Plans) {
			delete(m.unverified, key) // on the ground: checked at its launch
			continue
		}
		if fv, ok := m.cfg.Fleet.Get(v.ID); !ok || !fv.Connected || m.busy[v.ID] || m.cfg.Act == nil {
			continue // not heard yet: looked at on a later tick
		}
		delete(m.unverified, key)
		m.busy[v.ID] = true
		m.wg.Add(1)
		id, slot, p := v.ID, v.Slot, o.Plans[v.Slot].Plan
		tag := Tag{Mission: o.ID + "/slot-" + strconv.Itoa(slot), EventArea: o.AreaID}
		go func() {
			defer m.wg.Done()
			cctx, cancel := context.WithTimeout(ctx, commandTimeout)
			defer cancel()
			reason, detail := m.verifyMission(cctx, id, p, tag)
			m.mu.Lock()
			defer m.mu.Unlock()
			delete(m.busy, id)
			v := o.vehicle(id)
			if reason == "" || v == nil || v.Slot != slot {
				return
			}
			switch reason {
			case ReasonMissionChanged:
				m.emit(o, []Note{verifyNote(o, id, slot, reason, detail, "replaced and sent home", fleet.SeverityWarning)})
				o.Alarm(id, reason+": "+detail)
			default:
				m.emit(o, []Note{verifyNote(o, id, slot, reason, detail, "it keeps flying", fleet.SeverityWarning)})
			}
			m.dirty = true
		}()
	}
}
