package operations

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/burgut-uav/burgut/httpapi"
	"github.com/burgut-uav/burgut/missions"
)

// Timing of a plan with a transit layer (missions.PlanOptions.TransitLayer):
// the drone climbs to the transit layer, flies there, and descends to its
// patrol layer over the loop's start; sent home, RTL climbs back to the
// transit layer where it is before it flies home and lands.

// transitClimbS is the vertical part of a launch-to-station flight: the
// climb to the transit layer (or the patrol layer without one) and the
// descent from it to the patrol layer, counted at the climb rate.
func transitClimbS(p *missions.DronePlan) float64 {
	up := math.Max(p.Alt, p.TransitAlt)
	return (up + math.Max(0, p.TransitAlt-p.Alt)) / climbRate
}

// returnHeight is the height a return must cover for the predictor, which
// counts it at the descent rate: from alt down to the pad, plus, with a
// transit layer above, the climb to it and the descent from it
// (conservative: a climb is faster than a descent).
func returnHeight(alt, transitAlt float64) float64 {
	return alt + 2*math.Max(0, transitAlt-alt)
}

// PlanSets returns the slot plans of the active operations whose window
// overlaps [start, end) (a zero bound is open), labelled "operation ID",
// for other planners' separation checks (missionsapi.Deps.Airspace).
func (m *Manager) PlanSets(start, end time.Time) []missions.PlanSet {
	if start.IsZero() {
		start = time.Unix(0, 0)
	}
	if end.IsZero() {
		end = time.Unix(1<<40, 0)
	}
	return planSets(m.Airspace(start, end))
}

// planSets turns operations' slot plans (by operation ID) into plan sets
// labelled "operation ID", in ID order so checks and their messages are
// deterministic.
func planSets(byID map[string][]SlotPlan) []missions.PlanSet {
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]missions.PlanSet, 0, len(ids))
	for _, id := range ids {
		s := missions.PlanSet{Label: "operation " + id}
		for _, sp := range byID[id] {
			s.Plans = append(s.Plans, sp.Plan)
		}
		out = append(out, s)
	}
	return out
}

// flyingCheck judges the new plans against the plans being flown now
// outside operations (Deps.Flying), when the window has begun (start not
// after the wall clock now): a plan flown now is assumed done before a
// window that starts later. A conflict is refused with 409 naming the
// plan set and drone.
func (d Deps) flyingCheck(a *missions.Area, plans []*missions.DronePlan, opt missions.CheckOptions, start, now time.Time) error {
	if d.Flying == nil || start.After(now) {
		return nil
	}
	sets := d.Flying()
	if len(sets) == 0 {
		return nil
	}
	vs := missions.CheckAgainst(a, plans, sets, opt)
	if len(vs) == 0 {
		return nil
	}
	v := vs[0]
	return &httpapi.Error{Code: httpapi.CodeConflict, Field: "area_id",
		Message: fmt.Sprintf("slot %d would fly within the separation of %s drone %d, flying now: %s", v.Drone, v.Other.Plan, v.Other.Drone, v.Message),
		Details: map[string]any{"plan_id": strings.TrimPrefix(v.Other.Plan, "plan "), "drone": v.Other.Drone, "violation": v, "violations": vs}}
}
