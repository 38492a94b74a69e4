package scenario

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/burgut-uav/burgut/internal/linkspec"
	"github.com/burgut-uav/burgut/missions"
	"github.com/burgut-uav/burgut/simulator"
)

// Defaults applied to fields a file leaves out.
const (
	DefaultSpeedup = 10
	DefaultSeed    = 1
	MaxSpeedup     = 1000 // the simulator's limit
	MaxVehicles    = 250  // one station link
)

// EndLanded ends a run once every step and fault has fired and every
// vehicle that flew is landed and disarmed; EndDuration flies the whole
// duration.
const (
	EndLanded   = "landed"
	EndDuration = "duration"
)

// StationEvents are the station event kinds after: and conditions may name
// (docs/api.md "Vehicles").
var StationEvents = []string{"connected", "link_lost", "link_regained", "armed", "disarmed", "mode_changed",
	"mission_item_reached", "mission_complete", "fence_breach", "fence_cleared", "battery_low", "battery_critical",
	"failsafe", "statustext", "separation", "separation_cleared", "command", "upload", "control"}

// Commands are the command names a command step may send (docs/api.md).
var Commands = []string{"arm", "disarm", "takeoff", "mode", "rtl", "land", "goto", "mission_start", "pause", "continue", "speed", "command"}

// StateFields are the vehicle fields vehicle_state assertions may check
// (names as in GET /api/v1/vehicles).
var StateFields = []string{"battery_pct", "relative_alt_m", "alt_msl_m", "ground_speed_mps", "gps_fix", "satellites", "mode", "armed", "mission_seq", "landed_state", "signing", "video_streams"}

var patterns = []string{"perimeter", "sweep", "loop", "corridor"}

// Simulated says whether the scenario simulates its fleet (as opposed to
// flying external vehicles on Fleet.Links).
func (sc *Scenario) Simulated() bool { return len(sc.Fleet.Links) == 0 }

// FleetSize is how many vehicles the scenario flies.
func (sc *Scenario) FleetSize() int {
	if sc.Simulated() {
		return sc.Fleet.Vehicles.Count
	}
	return sc.Fleet.Expect
}

// Speedup is the world's speedup (DefaultSpeedup when not given).
func (sc *Scenario) Speedup() float64 {
	if sc.World.Speedup == 0 {
		return DefaultSpeedup
	}
	return sc.World.Speedup
}

func (sc *Scenario) validate(errs *Errors) {
	r := sc.root
	if sc.Version == 0 {
		sc.Version = 1
	}
	if sc.Version != 1 {
		errs.add(at(r, "version"), "version %d: this burgut reads version 1", sc.Version)
	}
	if strings.TrimSpace(sc.Name) == "" {
		errs.add(at(r, "name"), "name is missing: every scenario needs one (it names the JUnit test suite)")
	}
	if sc.Seed == 0 {
		sc.Seed = DefaultSeed
	}
	if sc.Duration.Duration <= 0 {
		errs.add(at(r, "duration"), "duration is missing: the longest simulated time the scenario may run, e.g. 20m")
	}
	switch sc.EndWhen {
	case "":
		sc.EndWhen = EndLanded
	case EndLanded, EndDuration:
	default:
		errs.add(at(r, "end_when"), "end_when %q: want landed or duration", sc.EndWhen)
	}
	sc.validateFleet(errs)
	sc.validateWorld(errs)

	names := map[string]string{} // step/fault name → "step"/"fault"
	plans := map[string]bool{}
	for i := range sc.Steps {
		s := &sc.Steps[i]
		if s.Name != "" {
			if names[s.Name] != "" {
				errs.add(at(s.node, "name"), "name %q is used twice", s.Name)
			}
			names[s.Name] = "step"
		}
		if s.Plan != nil && s.Plan.As != "" {
			if plans[s.Plan.As] {
				errs.add(at(s.node, "plan", "as"), "plan name %q is used twice", s.Plan.As)
			}
			plans[s.Plan.As] = true
		}
	}
	for i := range sc.Faults {
		f := &sc.Faults[i]
		if f.Name != "" {
			if names[f.Name] != "" {
				errs.add(at(f.node, "name"), "name %q is used twice", f.Name)
			}
			names[f.Name] = "fault"
		}
	}
	for i := range sc.Steps {
		sc.validateStep(&sc.Steps[i], names, plans, errs)
	}
	for i := range sc.Faults {
		sc.validateFault(&sc.Faults[i], names, errs)
	}
	if len(sc.Assertions) == 0 {
		errs.add(at(r, "assertions"), "assertions: a scenario needs at least one (exit 0 means every assertion held)")
	}
	for i := range sc.Assertions {
		sc.validateAssertion(&sc.Assertions[i], errs)
	}
}

func (sc *Scenario) validateFleet(errs *Errors) {
	f := &sc.Fleet
	n := at(sc.root, "fleet")
	switch {
	case f.Vehicles.Count > 0 && len(f.Links) > 0:
		errs.add(n, "fleet: give vehicles (simulated) or links (external vehicles), not both")
	case len(f.Links) > 0:
		for i, l := range f.Links {
			if _, err := linkspec.Parse(l); err != nil {
				errs.add(at(n, "links").Content[i], "link %q: %v", l, err)
			}
		}
		if f.Expect == 0 {
			f.Expect = 1
		}
		if f.Expect < 0 || f.Expect > MaxVehicles {
			errs.add(at(n, "expect"), "expect %d: want 1 to %d vehicles", f.Expect, MaxVehicles)
		}
		if len(f.Homes) > 0 || f.Home != nil || f.EnduranceMin > 0 || f.SwapMin > 0 || f.BatteryMAh > 0 || f.Video {
			errs.add(n, "fleet: home, homes, endurance_min, swap_min, battery_mah and video describe simulated vehicles; external ones (links) bring their own")
		}
	case f.Vehicles.Count <= 0 || f.Vehicles.Count > MaxVehicles:
		errs.add(at(n, "vehicles"), "fleet.vehicles %d: want 1 to %d simulated vehicles (or links: for external ones)", f.Vehicles.Count, MaxVehicles)
	default:
		if f.Expect != 0 {
			errs.add(at(n, "expect"), "fleet.expect is for external vehicles (links:); a simulated fleet has vehicles:")
		}
	}
	if len(f.Homes) > 0 && len(f.Homes) != f.Vehicles.Count {
		errs.add(at(n, "homes"), "fleet.homes lists %d homes for %d vehicles", len(f.Homes), f.Vehicles.Count)
	}
	pts := f.Homes
	if f.Home != nil {
		pts = append([]Point{*f.Home}, pts...)
	}
	for _, p := range pts {
		if !isPosition(p) {
			errs.add(n, "fleet: home %g,%g is not a position (lat -90..90, lon -180..180)", p.Lat, p.Lon)
		}
	}
	for i := range f.Vehicles.List {
		validateVehicleEntry(i, &f.Vehicles.List[i], len(f.Homes) > 0, errs)
	}
	if f.Spread < 0 || f.EnduranceMin < 0 || f.SwapMin < 0 || f.BatteryMAh < 0 {
		errs.add(n, "fleet: spread, endurance_min, swap_min and battery_mah must not be negative")
	}
	if f.EnduranceMin > 0 && f.EnduranceMin < 0.5 {
		errs.add(at(n, "endurance_min"), "endurance_min %g: under half a minute a vehicle cannot take off before its battery failsafe", f.EnduranceMin)
	}
}

func isPosition(p Point) bool {
	return math.Abs(p.Lat) <= 90 && math.Abs(p.Lon) <= 180 && (p.Lat != 0 || p.Lon != 0)
}

// validateVehicleEntry checks one fleet.vehicles entry at its own line.
// The battery limits are the simulator's (simulator.CheckBattery, shared
// with the --endurance-min and --swap-min flags), so the two cannot drift.
func validateVehicleEntry(i int, e *VehicleEntry, fleetHomes bool, errs *Errors) {
	what := fmt.Sprintf("fleet.vehicles[%d]", i)
	if e.Home != nil {
		if fleetHomes {
			errs.add(at(e.node, "home"), "%s: home is given here and in fleet.homes; give homes in one place", what)
		} else if !isPosition(*e.Home) {
			errs.add(at(e.node, "home"), "%s: home %g,%g is not a position (lat -90..90, lon -180..180)", what, e.Home.Lat, e.Home.Lon)
		}
	}
	if e.EnduranceMin != nil {
		if err := simulator.CheckBattery(*e.EnduranceMin, 0); err != nil {
			errs.add(at(e.node, "endurance_min"), "%s: %v", what, err)
		}
	}
	if e.SwapMin != nil {
		if err := simulator.CheckBattery(0, *e.SwapMin); err != nil {
			errs.add(at(e.node, "swap_min"), "%s: %v", what, err)
		}
	}
	if e.BatteryMAh != nil && (math.IsNaN(*e.BatteryMAh) || *e.BatteryMAh <= 0 || *e.BatteryMAh > 1e6) {
		errs.add(at(e.node, "battery_mah"), "%s: battery_mah %g: want more than 0 up to 1,000,000 (leave it out to inherit the fleet's)", what, *e.BatteryMAh)
	}
}

func (sc *Scenario) validateWorld(errs *Errors) {
	w := &sc.World
	n := at(sc.root, "world")
	if w.Speedup < 0 || w.Speedup > MaxSpeedup || math.IsNaN(w.Speedup) {
		errs.add(at(n, "speedup"), "world.speedup %g: want more than 0 up to %d", w.Speedup, MaxSpeedup)
	}
	if w.Wind.Speed < 0 || w.Wind.Gusts < 0 || w.Wind.Speed > 40 || w.Wind.Gusts > 40 {
		errs.add(at(n, "wind"), "world.wind: speed and gusts want 0 to 40 m/s")
	}
	seen := map[string]bool{}
	for i := range w.Areas {
		a := &w.Areas[i]
		if a.Name == "" {
			errs.add(a.node, "area: name is missing (steps refer to areas by name)")
		} else if seen[a.Name] {
			errs.add(at(a.node, "name"), "area name %q is used twice", a.Name)
		}
		seen[a.Name] = true
		if (a.File == "") == (a.GeoJSON == nil) {
			errs.add(a.node, "area %q: give file (GeoJSON, relative to the scenario) or geojson (inline), one of them", a.Name)
			continue
		}
		data, err := sc.AreaGeoJSON(a)
		if err != nil {
			errs.add(at(a.node, "file"), "area %q: %v", a.Name, err)
			continue
		}
		if _, err := missions.ImportGeoJSON(bytes.NewReader(data)); err != nil {
			errs.add(a.node, "area %q: %v", a.Name, err)
		}
	}
}

// AreaGeoJSON is an area's GeoJSON: the file's bytes or the inline value.
func (sc *Scenario) AreaGeoJSON(a *Area) ([]byte, error) {
	if a.File != "" {
		p := a.File
		if !filepath.IsAbs(p) && sc.File != "" {
			p = filepath.Join(filepath.Dir(sc.File), p)
		}
		return os.ReadFile(p)
	}
	return json.Marshal(jsonable(a.GeoJSON))
}

// jsonable turns YAML-decoded values (map[string]any already in yaml.v3)
// into what encoding/json accepts.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonable(e)
		}
	case map[any]any:
		m := map[string]any{}
		for k, e := range x {
			m[toString(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonable(e)
		}
	}
	return v
}

func toString(v any) string {
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}

func (sc *Scenario) validateTrigger(t *Trigger, n *yaml.Node, what string, names map[string]string, errs *Errors) {
	set := 0
	for _, b := range []bool{t.At != nil, t.When != nil, t.After != nil} {
		if b {
			set++
		}
	}
	if set != 1 {
		errs.add(n, "%s: give exactly one of at (a simulated time), when (a condition) or after (an event)", what)
		return
	}
	if t.At != nil && t.At.Duration > sc.Duration.Duration && sc.Duration.Duration > 0 {
		errs.add(at(n, "at"), "%s: at %v is after the scenario's duration %v", what, t.At.Duration, sc.Duration.Duration)
	}
	if c := t.When; c != nil {
		cn := at(n, "when")
		preds := 0
		for _, b := range []bool{c.ReachesItem != nil, c.AltAbove != nil, c.AltBelow != nil, c.Mode != "", c.Armed != nil, c.Landed != nil, c.BatteryBelow != nil} {
			if b {
				preds++
			}
		}
		if preds != 1 {
			errs.add(cn, "%s: when needs exactly one of reaches_item, alt_above, alt_below, mode, armed, landed, battery_below", what)
		}
		sc.checkRef(c.Vehicle, at(cn, "vehicle"), errs)
		if c.ReachesItem != nil && *c.ReachesItem < 0 {
			errs.add(at(cn, "reaches_item"), "reaches_item must not be negative")
		}
	}
	if a := t.After; a != nil {
		an := at(n, "after")
		k := 0
		for _, b := range []bool{a.Event != "", a.Step != "", a.Fault != ""} {
			if b {
				k++
			}
		}
		switch {
		case k != 1:
			errs.add(an, "%s: after needs exactly one of event (a station event kind), step or fault (a name)", what)
		case a.Event != "" && !slices.Contains(StationEvents, a.Event):
			errs.add(at(an, "event"), "after: unknown event %q (want one of %s)", a.Event, strings.Join(StationEvents, ", "))
		case a.Step != "" && names[a.Step] != "step":
			errs.add(at(an, "step"), "after: no step named %q", a.Step)
		case a.Fault != "" && names[a.Fault] != "fault":
			errs.add(at(an, "fault"), "after: no fault named %q", a.Fault)
		}
		if a.Event == "" && a.Vehicle.set {
			errs.add(at(an, "vehicle"), "after: vehicle applies to event only")
		}
		sc.checkRef(a.Vehicle, at(an, "vehicle"), errs)
	}
}

// triggerVehicle says whether the trigger names one vehicle, so that
// vehicles: trigger has a meaning.
func (t *Trigger) triggerVehicle() bool {
	if t.When != nil {
		return t.When.Vehicle.Index() != RefAll
	}
	return t.After != nil && t.After.Event != "" && t.After.Vehicle.Index() != RefAll
}

func (sc *Scenario) checkRef(r VehicleRef, n *yaml.Node, errs *Errors) {
	if i := r.Index(); i >= 0 && i >= sc.FleetSize() && sc.FleetSize() > 0 {
		errs.add(n, "vehicle %d: the fleet has %d (0 to %d)", i, sc.FleetSize(), sc.FleetSize()-1)
	}
}

func (sc *Scenario) checkSel(s VehicleSel, t *Trigger, n *yaml.Node, required bool, errs *Errors) {
	if !s.set {
		if required {
			errs.add(n, "vehicles is missing: all, trigger, an index or a list of indices")
		}
		return
	}
	if s.Trigger && (t == nil || !t.triggerVehicle()) {
		errs.add(n, "vehicles: trigger needs a when: or after: event: naming one vehicle or any")
	}
	for _, i := range s.List {
		if i >= sc.FleetSize() && sc.FleetSize() > 0 {
			errs.add(n, "vehicle %d: the fleet has %d (0 to %d)", i, sc.FleetSize(), sc.FleetSize()-1)
		}
	}
}

func (sc *Scenario) validateStep(s *Step, names map[string]string, plans map[string]bool, errs *Errors) {
	n := s.node
	what := "step"
	if s.Name != "" {
		what = "step " + s.Name
	}
	sc.validateTrigger(&s.Trigger, n, what, names, errs)
	actions := 0
	for _, b := range []bool{s.Plan != nil, s.Assign != nil, s.Launch != nil, s.Command != nil, s.Param != nil, s.Upload != nil, s.Operation != nil} {
		if b {
			actions++
		}
	}
	if actions != 1 {
		errs.add(n, "%s: give exactly one action: plan, assign, launch, command, param, upload or operation", what)
		return
	}
	switch {
	case s.Plan != nil:
		p, pn := s.Plan, at(n, "plan")
		if !sc.hasArea(p.Area) {
			errs.add(at(pn, "area"), "plan: no area named %q in world.areas", p.Area)
		}
		if p.As == "" {
			errs.add(pn, "plan: as is missing (the name assign steps use)")
		}
		if !slices.Contains(patterns, p.Pattern) {
			errs.add(at(pn, "pattern"), "plan: pattern %q: want one of %s", p.Pattern, strings.Join(patterns, ", "))
		}
		if p.Drones < 0 || p.Drones > MaxVehicles {
			errs.add(at(pn, "drones"), "plan: drones %d: want 1 to %d", p.Drones, MaxVehicles)
		}
		if p.End != "" && p.End != "rtl" && p.End != "land" {
			errs.add(at(pn, "end"), "plan: end %q: want rtl or land", p.End)
		}
	case s.Assign != nil:
		an := at(n, "assign")
		if !plans[s.Assign.Plan] {
			errs.add(at(an, "plan"), "assign: no plan step with as: %q", s.Assign.Plan)
		}
		sc.checkSel(s.Assign.Vehicles, &s.Trigger, at(an, "vehicles"), true, errs)
	case s.Launch != nil:
		sc.checkSel(s.Launch.Vehicles, &s.Trigger, at(n, "launch", "vehicles"), true, errs)
	case s.Command != nil:
		cn := at(n, "command")
		if !slices.Contains(Commands, s.Command.Name) {
			errs.add(at(cn, "name"), "command: unknown name %q (want one of %s)", s.Command.Name, strings.Join(Commands, ", "))
		}
		sc.checkSel(s.Command.Vehicles, &s.Trigger, at(cn, "vehicles"), true, errs)
	case s.Param != nil:
		pn := at(n, "param")
		if s.Param.Name == "" || len(s.Param.Name) > 16 {
			errs.add(at(pn, "name"), "param: name is missing or longer than MAVLink's 16 characters")
		}
		sc.checkSel(s.Param.Vehicles, &s.Trigger, at(pn, "vehicles"), true, errs)
	case s.Upload != nil:
		un := at(n, "upload")
		if !slices.Contains([]string{"mission", "fence", "rally"}, s.Upload.Type) {
			errs.add(at(un, "type"), "upload: type %q: want mission, fence or rally", s.Upload.Type)
		}
		sc.checkSel(s.Upload.Vehicles, &s.Trigger, at(un, "vehicles"), true, errs)
	case s.Operation != nil:
		op, on := s.Operation, at(n, "operation")
		if !sc.hasArea(op.Area) {
			errs.add(at(on, "area"), "operation: no area named %q in world.areas", op.Area)
		}
		if !slices.Contains(patterns, op.Pattern) {
			errs.add(at(on, "pattern"), "operation: pattern %q: want one of %s", op.Pattern, strings.Join(patterns, ", "))
		}
		if op.Slots < 1 || op.Slots > MaxVehicles {
			errs.add(at(on, "slots"), "operation: slots %d: want 1 or more drones on station at once", op.Slots)
		}
		if op.For.Duration <= 0 {
			errs.add(on, "operation: for is missing (how long, simulated, the area is to be covered)")
		}
		sc.checkSel(op.Vehicles, &s.Trigger, at(on, "vehicles"), true, errs)
		if n := len(op.Vehicles.List); n > 0 && n < op.Slots {
			errs.add(at(on, "vehicles"), "operation: %d vehicles for %d slots: the pool needs at least one per slot", n, op.Slots)
		}
	}
}

func (sc *Scenario) hasArea(name string) bool {
	for _, a := range sc.World.Areas {
		if a.Name == name {
			return true
		}
	}
	return false
}

// OwnStationFaults says why the scenario cannot run against a station
// given by URL (burgut scenario run --station, scenario validate
// --station): each station_restart fault, named by its line. Such a
// station is not the run's to stop and start again; the in-process
// station of burgut scenario run and a rehearsal's station (burgut run
// --scenario) are. Nil when there is none.
func (sc *Scenario) OwnStationFaults() error {
	errs := &Errors{File: sc.File}
	for i := range sc.Faults {
		f := &sc.Faults[i]
		if f.Kind != FaultStationRestart {
			continue
		}
		what := "fault"
		if f.Name != "" {
			what = "fault " + f.Name
		}
		errs.add(at(f.node, "kind"), "%s: station_restart restarts the station the run started itself (burgut scenario run without --station, or a rehearsal, burgut run --scenario); a station given by --station URL is not the run's to restart", what)
	}
	if len(errs.Problems) == 0 {
		return nil
	}
	return errs
}

func (sc *Scenario) validateFault(f *Fault, names map[string]string, errs *Errors) {
	n := f.node
	what := "fault"
	if f.Name != "" {
		what = "fault " + f.Name
	}
	sc.validateTrigger(&f.Trigger, n, what, names, errs)
	if !slices.Contains(faultKinds, f.Kind) {
		errs.add(at(n, "kind"), "%s: kind %q: want one of %s", what, f.Kind, strings.Join(faultKinds, ", "))
		return
	}
	if f.Kind == FaultStationRestart {
		if f.Vehicles.set {
			errs.add(at(n, "vehicles"), "%s: a station restart is fleet-wide; vehicles does not apply", what)
		}
		return
	}
	if !sc.Simulated() {
		errs.add(at(n, "kind"), "%s: %s needs the simulated fleet; this scenario flies external vehicles (fleet.links), where only station_restart can be injected", what, f.Kind)
	}
	if !f.Vehicles.set {
		f.Vehicles = VehicleSel{All: true, set: true}
	}
	sc.checkSel(f.Vehicles, &f.Trigger, at(n, "vehicles"), false, errs)
	needFor := func() {
		if f.For.Duration <= 0 {
			errs.add(n, "%s: %s needs for: (how long)", what, f.Kind)
		}
	}
	switch f.Kind {
	case FaultLinkLoss:
		needFor()
		if f.Pct <= 0 || f.Pct > 100 {
			errs.add(at(n, "pct"), "%s: link_loss needs pct in (0, 100]", what)
		}
	case FaultLatency:
		needFor()
		if f.Latency.Duration <= 0 || f.Latency.Duration > 10*time.Second {
			errs.add(at(n, "latency"), "%s: latency needs latency: in (0, 10s]", what)
		}
	case FaultLinkDown, FaultGPSLoss:
		needFor()
	case FaultBatteryDrop:
		if f.Pct <= 0 || f.Pct > 100 {
			errs.add(at(n, "pct"), "%s: battery_drop needs pct in (0, 100] (percent of capacity that vanish)", what)
		}
	case FaultGust:
		needFor()
		if f.Speed <= 0 || f.Speed > 40 {
			errs.add(at(n, "speed"), "%s: gust needs speed in (0, 40] m/s", what)
		}
	}
}

func (sc *Scenario) validateAssertion(a *Assertion, errs *Errors) {
	n := a.node
	if !slices.Contains(assertKinds, a.Kind) {
		errs.add(at(n, "kind"), "assertion: kind %q: want one of %s", a.Kind, strings.Join(assertKinds, ", "))
		return
	}
	if a.Name == "" {
		a.Name = a.Kind
	}
	if a.Vehicles.Trigger {
		errs.add(at(n, "vehicles"), "assertion %s: vehicles: trigger applies to steps and faults only", a.Name)
	}
	if !a.Vehicles.set {
		a.Vehicles = VehicleSel{All: true, set: true}
	}
	sc.checkSel(a.Vehicles, nil, at(n, "vehicles"), false, errs)
	need := func(ok bool, msg string) {
		if !ok {
			errs.add(n, "assertion %s: %s", a.Name, msg)
		}
	}
	switch a.Kind {
	case AssertAllLanded:
		need(a.By != nil, "all_landed needs by: (the simulated time by which every vehicle is landed and disarmed)")
	case AssertBreachRTL:
		need(a.Within != nil, "breach_rtl needs within: (seconds from a breach to the return)")
		if len(a.Modes) == 0 {
			a.Modes = []string{"RTL"}
		}
	case AssertMinSeparation:
		need(a.Meters > 0, "min_separation needs meters: > 0")
	case AssertAlertAfterFault:
		need(a.Within != nil, "alert_after_fault needs within:")
		for _, k := range a.Faults {
			if k == FaultStationRestart {
				errs.add(at(n, "faults"), "assertion %s: a station restart raises no alert on a vehicle; alert_after_fault watches vehicle faults", a.Name)
			} else if !slices.Contains(faultKinds, k) {
				errs.add(at(n, "faults"), "assertion %s: fault kind %q: want one of %s", a.Name, k, strings.Join(faultKinds, ", "))
			}
		}
	case AssertCoverageGap:
		need(a.Max != nil, "coverage_gap needs max: (the longest gap in coverage)")
	case AssertVehicleState:
		if !slices.Contains(StateFields, a.Field) {
			errs.add(at(n, "field"), "assertion %s: field %q: want one of %s", a.Name, a.Field, strings.Join(StateFields, ", "))
		}
		k := 0
		for _, b := range []bool{a.Min != nil, a.Below != nil, a.Equals != nil} {
			if b {
				k++
			}
		}
		need(k == 1, "vehicle_state needs exactly one of min, below, equals")
		switch a.During {
		case "":
			a.During = "always"
		case "always", "end":
		default:
			errs.add(at(n, "during"), "assertion %s: during %q: want always (while airborne) or end", a.Name, a.During)
		}
	}
	if a.IgnoreInitial && a.Kind != AssertCoverageGap {
		errs.add(at(n, "ignore_initial"), "assertion %s: ignore_initial applies to coverage_gap only", a.Name)
	}
	if a.NoFenceParamsMisuse() {
		errs.add(at(n, "except_injected"), "assertion %s: except_injected and window apply to no_fence_breach only", a.Name)
	}
}

// NoFenceParamsMisuse says whether the no_fence_breach-only fields are set
// on another kind.
func (a *Assertion) NoFenceParamsMisuse() bool {
	return a.Kind != AssertNoFenceBreach && (a.ExceptInjected || a.Window != nil)
}
