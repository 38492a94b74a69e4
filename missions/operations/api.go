package operations

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/burgut-uav/burgut/httpapi"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/missions"
)

// Areas finds the stored event areas (missionsapi.Store).
type Areas interface {
	Area(id string) (*missions.Area, bool)
}

// Deps is what the operations API needs.
type Deps struct {
	Manager *Manager
	Areas   Areas
	// Known reports whether the station knows a vehicle (nil: any).
	Known func(id string) bool
	// Flying returns the plans being flown now outside operations (plan
	// sets assigned through the missions API); an operation whose window
	// has begun keeps its separation from them (nil: none).
	Flying func() []missions.PlanSet
	Log    *slog.Logger
}

// MaxSlots bounds the drones an operation keeps on station at once (the
// planner's per-plan limit is 100; the scheduler benchmark runs 50).
const MaxSlots = 100

// Register mounts the operations routes: observers read, operators
// create and command (the guard audits every mutation).
func Register(mux *httpapi.Mux, d Deps) {
	h := &handlers{d}
	mux.HandleFunc(http.MethodPost, "/api/v1/operations", httpapi.Operator, h.wrap(h.create))
	mux.HandleFunc(http.MethodGet, "/api/v1/operations", httpapi.Observer, h.wrap(h.list))
	mux.HandleFunc(http.MethodGet, "/api/v1/operations/{id}", httpapi.Observer, h.wrap(h.get))
	for _, what := range []string{"start", "pause", "resume", "stop"} {
		mux.HandleFunc(http.MethodPost, "/api/v1/operations/{id}/"+what, httpapi.Operator, h.wrap(func(w http.ResponseWriter, r *http.Request) error {
			o, err := d.Manager.Change(r.Context(), r.PathValue("id"), what)
			if err != nil {
				return apiErr(err)
			}
			httpapi.WriteJSON(w, http.StatusOK, View(o, d.Manager.now()))
			return nil
		}))
	}
	mux.HandleFunc(http.MethodPost, "/api/v1/operations/{id}/vehicles/{vid}/ready", httpapi.Operator, h.wrap(func(w http.ResponseWriter, r *http.Request) error {
		o, err := d.Manager.Ready(r.PathValue("id"), r.PathValue("vid"))
		if err != nil {
			return apiErr(err)
		}
		httpapi.WriteJSON(w, http.StatusOK, View(o, d.Manager.now()))
		return nil
	}))
}

type handlers struct{ d Deps }

func (h *handlers) wrap(f func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			httpapi.WriteError(w, r, h.d.Log, err)
		}
	}
}

func apiErr(err error) error {
	switch {
	case errors.Is(err, ErrNotFound):
		return httpapi.NotFound("%v", err)
	case errors.Is(err, ErrConflict):
		return httpapi.New(httpapi.CodeConflict, "%v", err)
	}
	return err
}

// CreateRequest is the body of POST /api/v1/operations. The first six
// fields are the contract; the rest tune the plan and the scheduler.
type CreateRequest struct {
	AreaID     string   `json:"area_id"`
	Pattern    string   `json:"pattern"`
	Slots      int      `json:"slots"`
	VehicleIDs []string `json:"vehicle_ids"`
	// Start and End are RFC 3339 times on the operation clock; "now"
	// starts at once. Both default to the area's time window.
	Start string `json:"start"`
	End   string `json:"end"`

	Launch *missions.LaunchPoint `json:"launch,omitempty"`
	Alt    float64               `json:"alt,omitempty"`
	// TransitLayer flies each slot's transit (and its RTL home) on a layer
	// above every patrol (missions.PlanOptions.TransitLayer), so transits
	// are deconflicted from the patrols by altitude (issue 13). Absent
	// (nil) it is on, falling back — with a warning on the operation —
	// to transits on each slot's own layer when the band has no room for
	// it or the layered plan fails a check the plain one passes; false
	// turns it off; true (or TransitAlt, which sets the layer) insists on
	// it: no room is a 400. A pointer, since omitempty cannot say false.
	TransitLayer *bool   `json:"transit_layer,omitempty"`
	TransitAlt   float64 `json:"transit_alt,omitempty"`
	Speed        float64 `json:"speed,omitempty"`
	Margin       float64 `json:"margin,omitempty"`

	ReservePct   float64 `json:"reserve_pct,omitempty"`
	MarginS      float64 `json:"margin_s,omitempty"`
	SetupS       float64 `json:"setup_s,omitempty"`
	SwapMin      float64 `json:"swap_min,omitempty"`
	EnduranceMin float64 `json:"endurance_min,omitempty"`
	ReadyPct     float64 `json:"ready_pct,omitempty"`
	// PadSequencing: what the scheduler sequences at the shared pad,
	// "takeoffs" (default), "all" (landings too) or "off" (pad.go).
	PadSequencing string `json:"pad_sequencing,omitempty"`
}

func (h *handlers) create(w http.ResponseWriter, r *http.Request) error {
	var req CreateRequest
	if err := httpapi.DecodeJSON(r, &req, 1<<20); err != nil {
		return err
	}
	spec, err := h.d.Plan(req)
	if err != nil {
		return err
	}
	o, err := h.d.Manager.Create(spec)
	if err != nil {
		return apiErr(err)
	}
	httpapi.WriteJSON(w, http.StatusCreated, View(o, h.d.Manager.now()))
	return nil
}

// Plan validates a create request and plans its slots: the area's pattern
// for Slots drones, repeated until the scheduler ends each flight. Errors
// are 4xx naming the field. Scenario runners call it through the API.
func (d Deps) Plan(req CreateRequest) (Spec, error) {
	if req.AreaID == "" {
		return Spec{}, httpapi.Invalid("area_id", "an operation needs the event area to cover (area_id)")
	}
	a, ok := d.Areas.Area(req.AreaID)
	if !ok {
		return Spec{}, httpapi.Invalid("area_id", "area %q not found (POST /api/v1/areas creates one)", req.AreaID)
	}
	switch req.Pattern {
	case missions.PatternPerimeter, missions.PatternSweep, missions.PatternLoop, missions.PatternCorridor:
	case "":
		return Spec{}, httpapi.Invalid("pattern", "pattern is required: perimeter, sweep, loop or corridor")
	default:
		return Spec{}, httpapi.Invalid("pattern", "unknown pattern %q: want perimeter, sweep, loop or corridor", req.Pattern)
	}
	if req.Slots < 1 || req.Slots > MaxSlots {
		return Spec{}, httpapi.Invalid("slots", "slots %d: want 1 to %d drones on station at once", req.Slots, MaxSlots)
	}
	if len(req.VehicleIDs) < req.Slots {
		return Spec{}, httpapi.Invalid("vehicle_ids", "%d vehicles for %d slots: the pool needs at least one vehicle per slot", len(req.VehicleIDs), req.Slots)
	}
	seen := map[string]bool{}
	for i, id := range req.VehicleIDs {
		f := fmt.Sprintf("vehicle_ids[%d]", i)
		switch {
		case id == "":
			return Spec{}, httpapi.Invalid(f, "empty vehicle ID")
		case seen[id]:
			return Spec{}, httpapi.Invalid(f, "vehicle %q listed twice", id)
		case d.Known != nil && !d.Known(id):
			return Spec{}, httpapi.Invalid(f, "vehicle %q unknown to the station", id)
		}
		seen[id] = true
		if op := d.Manager.Busy(id); op != "" {
			return Spec{}, httpapi.New(httpapi.CodeConflict, "vehicle %q already serves operation %s", id, op)
		}
	}
	m := d.Manager
	wall := m.now()
	start, end := a.Starts, a.Ends
	var err error
	if req.Start != "" {
		if start, err = parseTime(req.Start, wall); err != nil {
			return Spec{}, httpapi.Invalid("start", "%v", err)
		}
	}
	if req.End != "" {
		if end, err = parseTime(req.End, wall); err != nil || req.End == "now" {
			return Spec{}, httpapi.Invalid("end", "end %q: want an RFC 3339 time", req.End)
		}
	}
	switch {
	case start.IsZero():
		return Spec{}, httpapi.Invalid("start", "start is required (RFC 3339 or \"now\"): the area has no time window")
	case end.IsZero():
		return Spec{}, httpapi.Invalid("end", "end is required (RFC 3339): the area has no time window")
	case !end.After(start):
		return Spec{}, httpapi.Invalid("end", "end %s is not after start %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
	case !end.After(wall):
		return Spec{}, httpapi.Invalid("end", "end %s is in the past", end.Format(time.RFC3339))
	}
	for _, f := range []struct {
		name string
		v    float64
		max  float64
	}{{"reserve_pct", req.ReservePct, 90}, {"margin_s", req.MarginS, 3600}, {"setup_s", req.SetupS, 3600}, {"swap_min", req.SwapMin, 1440},
		{"endurance_min", req.EnduranceMin, 1440}, {"ready_pct", req.ReadyPct, 100}, {"alt", req.Alt, 10000}, {"speed", req.Speed, 50}, {"margin", req.Margin, 1000}, {"transit_alt", req.TransitAlt, 10000}} {
		if math.IsNaN(f.v) || f.v < 0 || f.v > f.max {
			return Spec{}, httpapi.Invalid(f.name, "%s %v: want 0 (default) to %v", f.name, f.v, f.max)
		}
	}
	if req.TransitLayer != nil && !*req.TransitLayer && req.TransitAlt != 0 {
		return Spec{}, httpapi.Invalid("transit_layer", "transit_layer false with transit_alt %g: transit_alt sets the transit layer; give one or the other", req.TransitAlt)
	}
	switch req.PadSequencing {
	case "", PadOff, PadTakeoffs, PadAll:
	default:
		return Spec{}, httpapi.Invalid("pad_sequencing", "pad_sequencing %q: want takeoffs (default), all or off", req.PadSequencing)
	}
	p := Params{PadSequencing: req.PadSequencing, ReservePct: req.ReservePct, MarginS: req.MarginS, SetupS: req.SetupS, SwapS: req.SwapMin * 60, EnduranceS: req.EnduranceMin * 60, ReadyPct: req.ReadyPct}
	p.defaults()
	po := missions.PlanOptions{Pattern: req.Pattern, Drones: req.Slots, Repeat: -1, Launch: req.Launch, Alt: req.Alt, Speed: req.Speed, Margin: req.Margin,
		TransitLayer: req.TransitLayer == nil || *req.TransitLayer, TransitAlt: req.TransitAlt,
		// Replacements wait on the way in until the loop is clear of the
		// drone they relieve (see handover.go).
		EntryHold: true}
	var warnings []string
	plans, eff, err := planChecked(a, po, p)
	if err != nil && req.TransitLayer == nil && req.TransitAlt == 0 {
		// The layer is only the default here: without room for it (or
		// with a layered plan the checks refuse) the operation flies its
		// transits on each slot's own layer, and says so.
		po.TransitLayer = false
		plain, peff, perr := planChecked(a, po, p)
		if perr != nil {
			return Spec{}, perr
		}
		why := err.Error()
		if he := (*httpapi.Error)(nil); errors.As(err, &he) {
			why = he.Message
		}
		warnings = append(warnings, fmt.Sprintf("no transit layer: %s — each slot's transit and return fly its own patrol layer (set \"transit_layer\": false to plan so on purpose, or lower alt / plan fewer slots to make room)", why))
		if d.Log != nil {
			d.Log.Warn("operation planned without a transit layer", "area", req.AreaID, "reason", why)
		}
		plans, eff, err = plain, peff, nil
	}
	if err != nil {
		return Spec{}, err
	}
	if err := crossCheck(a, plans, eff.CheckOptions(missions.CheckOptions{}), m.Airspace(start, end)); err != nil {
		return Spec{}, err
	}
	if err := d.flyingCheck(a, plans, eff.CheckOptions(missions.CheckOptions{}), start, wall); err != nil {
		return Spec{}, err
	}
	spec := Spec{AreaID: req.AreaID, Pattern: req.Pattern, VehicleIDs: req.VehicleIDs, Start: start, End: end, Params: p, Warnings: warnings}
	chk := missions.NewChecker(a, eff.CheckOptions(missions.CheckOptions{}))
	for _, dp := range plans {
		// Drones come home to the pad, where the crew swaps packs: the
		// area's rally points would have RTL land them elsewhere.
		dp.Rally = nil
		sp := slotPlan(dp)
		sp.NoReturnSeqs = noReturnSeqs(chk, dp)
		spec.Plans = append(spec.Plans, sp)
	}
	// Each slot's return layer, checked against the band's top and the
	// other slots' flights (without room, or in conflict, none: the
	// scheduler then only waits for a clear return at the plan's height).
	alts, noRaised, _ := returnLayers(chk, plans, eff.LayerStep, a.MaxAlt)
	for i := range spec.Plans {
		spec.Plans[i].ReturnAlt, spec.Plans[i].NoRaisedSeqs = alts[i], noRaised[i]
		spec.Plans[i].JoinSeqs = joinSeqs(chk, plans, i)
	}
	return spec, nil
}

// planChecked plans the slots with po and runs the planner's safety checks
// on them (the scheduler's endurance and reserve included); errors are 4xx
// naming the field.
func planChecked(a *missions.Area, po missions.PlanOptions, p Params) ([]*missions.DronePlan, missions.PlanOptions, error) {
	plans, err := missions.PlanArea(a, po)
	if err != nil {
		field := "area_id"
		if rest, ok := strings.CutPrefix(err.Error(), "plan options: "); ok {
			field, _, _ = strings.Cut(rest, " ")
			field = strings.TrimSuffix(field, ":")
		}
		if errors.Is(err, missions.ErrNoLaunch) {
			field = "launch"
		}
		return nil, po, httpapi.Invalid(field, "%v", err)
	}
	eff, _ := po.Effective(a)
	if vs := missions.Check(a, plans, eff.CheckOptions(missions.CheckOptions{Endurance: p.EnduranceS, Reserve: p.ReservePct / 100})); len(vs) > 0 {
		return nil, eff, &httpapi.Error{Code: httpapi.CodeInvalid, Field: "area_id", Message: fmt.Sprintf("the plan fails %d safety checks; first: %s", len(vs), vs[0].String()),
			Details: map[string]any{"violations": vs}}
	}
	return plans, eff, nil
}

// noReturnSeqs lists the legs of dp (by the item MISSION_CURRENT shows on
// each) from which an RTL may leave the fence or cross a no-fly zone. An
// RTL flies to the vehicle's own home — where it armed, anywhere on the
// launch pad (its own landing spot) — not to the plan's launch point, so
// each leg's straight return is judged to every padSpots target: a leg is
// listed when any of those returns is not clear. Judged to the launch
// point alone, a return from a leg near the fence to a spot 40 m off it
// cut outside the fence (the stadium scenario, 1 run in ~15).
func noReturnSeqs(chk *missions.Checker, dp *missions.DronePlan) []int {
	var out []int
	for _, q := range padSpots(dp) {
		for _, r := range chk.Returns(returningTo(dp, q)) {
			if !r.Clear() && !slices.Contains(out, int(r.Seq)) {
				out = append(out, int(r.Seq))
			}
		}
	}
	slices.Sort(out)
	return out
}

// crossCheck is plan-time separation between operations: the new plans
// are judged against the slots of every active operation whose window
// overlaps (missions.CheckAgainst: closer than the separation horizontally
// and vertically at once, climbs and descents included), and the first
// conflict is refused with 409 naming the other operation and its slot;
// details list every conflict. Plans of one operation were checked among
// themselves by Check already.
func crossCheck(a *missions.Area, plans []*missions.DronePlan, opt missions.CheckOptions, others map[string][]SlotPlan) error {
	if len(others) == 0 {
		return nil
	}
	vs := missions.CheckAgainst(a, plans, planSets(others), opt)
	if len(vs) == 0 {
		return nil
	}
	v := vs[0]
	other := strings.TrimPrefix(v.Other.Plan, "operation ")
	return &httpapi.Error{Code: httpapi.CodeConflict, Field: "area_id",
		Message: fmt.Sprintf("slot %d would fly within the separation of %s slot %d (window overlaps): %s", v.Drone, other, v.Other.Drone, v.Message),
		Details: map[string]any{"operation_id": other, "slot": v.Other.Drone, "violation": v, "violations": vs}}
}

// slotPlan measures the flight from the launch point to the loop.
func slotPlan(dp *missions.DronePlan) SlotPlan {
	sp := SlotPlan{Plan: dp}
	lat, lon := dp.Home.Lat, dp.Home.Lon
	for _, it := range dp.Mission {
		if it.Seq > dp.LoopStart && dp.LoopStart != 0 {
			break
		}
		if it.Command != mavitem.CmdNavWaypoint {
			continue
		}
		la, lo := float64(it.X)/1e7, float64(it.Y)/1e7
		sp.TransitM += distM(lat, lon, la, lo)
		lat, lon = la, lo
	}
	sp.LoopLat, sp.LoopLon = lat, lon
	return sp
}

// parseTime reads "now" or an RFC 3339 time. "now" is the operation
// clock at creation, which is the wall clock then.
func parseTime(s string, wall time.Time) (time.Time, error) {
	if s == "now" {
		return wall, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want an RFC 3339 time or \"now\"", s)
	}
	return t, nil
}

func (h *handlers) list(w http.ResponseWriter, r *http.Request) error {
	now := h.d.Manager.now()
	out := []OperationView{}
	for _, o := range h.d.Manager.List() {
		out = append(out, View(o, now))
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"operations": out})
	return nil
}

func (h *handlers) get(w http.ResponseWriter, r *http.Request) error {
	o, err := h.d.Manager.Get(r.PathValue("id"))
	if err != nil {
		return apiErr(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, View(o, h.d.Manager.now()))
	return nil
}

// OperationView is the API's picture of an operation (the contract's
// fields first).
type OperationView struct {
	ID         string          `json:"id"`
	State      State           `json:"state"`
	UncoveredS float64         `json:"uncovered_s"`
	Slots      []*Slot         `json:"slots"`
	AreaID     string          `json:"area_id"`
	Pattern    string          `json:"pattern"`
	VehicleIDs []string        `json:"vehicle_ids"`
	Start      time.Time       `json:"start"`
	End        time.Time       `json:"end"`
	Paused     bool            `json:"paused"`
	Stopped    bool            `json:"stopped"`
	Reason     string          `json:"reason,omitempty"`
	OnStationS float64         `json:"on_station_s"`
	Handovers  int             `json:"handovers"`
	Replaced   int             `json:"replacements"`
	Created    time.Time       `json:"created"`
	TimeScale  float64         `json:"time_scale"`
	Clock      time.Time       `json:"clock"`
	Params     Params          `json:"params"`
	Vehicles   []*VehicleState `json:"vehicles"`
	Gap        *PredictedGap   `json:"predicted_gap"`
	Gaps       []PredictedGap  `json:"predicted_gaps"`
	Plans      []PlanSummary   `json:"plans"`
	// Warnings say what the plan could not do as asked by default (no
	// room for the transit layer); absent when there is nothing to say.
	Warnings []string `json:"warnings,omitempty"`
}

// PlanSummary says what each slot flies without the items.
type PlanSummary struct {
	Slot      int     `json:"slot"`
	Alt       float64 `json:"alt"`
	Items     int     `json:"mission_items"`
	LoopStart uint16  `json:"loop_start"`
	JumpSeq   uint16  `json:"jump_seq"`
	TransitM  float64 `json:"transit_m"`
	// TransitAlt is the slot's transit layer, metres above launch (absent:
	// none, the transit flies the slot's own layer).
	TransitAlt float64 `json:"transit_alt,omitempty"`
	// JoinSeqs are the loop waypoints a relief may be sent to straight
	// from its hold (SlotPlan.JoinSeqs).
	JoinSeqs []int `json:"join_seqs,omitempty"`
}

// View builds the API view of o at wall time now.
func View(o *Operation, now time.Time) OperationView {
	v := OperationView{ID: o.ID, State: o.State, UncoveredS: round1(o.UncoveredS()), Slots: o.Slots, AreaID: o.AreaID, Pattern: o.Pattern,
		VehicleIDs: o.VehicleIDs, Start: o.Start, End: o.End, Paused: o.Paused, Stopped: o.Stopped, Reason: o.Reason, Created: o.Created,
		TimeScale: o.TimeScale, Clock: o.Now(now), Params: o.Params, Vehicles: o.Vehicles, Gap: o.Gap, Gaps: append([]PredictedGap{}, o.Gaps...), Warnings: o.Warnings}
	for _, s := range o.Slots {
		s.UncoveredS, s.OnStationS = round1(s.UncoveredS), round1(s.OnStationS)
		v.OnStationS += s.OnStationS
		v.Handovers += s.Handovers
		v.Replaced += s.Replacement
	}
	sortedByID(v.Vehicles)
	for i, p := range o.Plans {
		v.Plans = append(v.Plans, PlanSummary{Slot: i, Alt: p.Plan.Alt, Items: len(p.Plan.Mission) + 1, LoopStart: p.Plan.LoopStart, JumpSeq: p.Plan.JumpSeq, TransitM: round1(p.TransitM), TransitAlt: p.Plan.TransitAlt, JoinSeqs: p.JoinSeqs})
	}
	return v
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
