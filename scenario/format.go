package scenario

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Scenario is one flight scenario file (YAML; docs in scenarios/README.md,
// JSON Schema in scenarios/schema.json). Every list entry remembers the
// YAML node it came from, so validation and run-time errors name its line.
type Scenario struct {
	Version     int         `yaml:"version"`
	Name        string      `yaml:"name"`
	Description string      `yaml:"description"`
	Seed        int64       `yaml:"seed"`
	Duration    Duration    `yaml:"duration"`
	EndWhen     string      `yaml:"end_when"`
	Fleet       Fleet       `yaml:"fleet"`
	World       World       `yaml:"world"`
	Steps       []Step      `yaml:"steps"`
	Faults      []Fault     `yaml:"faults"`
	Assertions  []Assertion `yaml:"assertions"`

	// File is the path the scenario was read from ("" for Parse of bytes
	// without a name); relative area files are resolved against its
	// directory.
	File string `yaml:"-"`
	root *yaml.Node
}

// Fleet is the simulated fleet, or the external links the station listens
// on instead (then nothing is simulated and model faults are refused).
type Fleet struct {
	Vehicles     FleetVehicles `yaml:"vehicles"`
	Home         *Point        `yaml:"home"`
	Spread       float64       `yaml:"spread"`
	Homes        []Point       `yaml:"homes"`
	EnduranceMin float64       `yaml:"endurance_min"`
	SwapMin      float64       `yaml:"swap_min"`
	BatteryMAh   float64       `yaml:"battery_mah"`
	Links        []string      `yaml:"links"`
	Expect       int           `yaml:"expect"`
	Ready        *Duration     `yaml:"ready_timeout"`
	Signing      bool          `yaml:"signing"`
	Video        bool          `yaml:"video"`
}

// FleetVehicles is fleet.vehicles: a count of identical simulated
// vehicles (vehicles: 3), or a list of per-vehicle entries, one per
// vehicle in fleet order, each overriding the fleet-wide settings it
// names (vehicles: [{endurance_min: 12}, {}, {home: …, video: false}]).
type FleetVehicles struct {
	// Count is the fleet size (the list's length when a list was given).
	Count int
	// List is nil for a count.
	List []VehicleEntry
	node *yaml.Node
}

// VehicleEntry is one simulated vehicle's own settings in a
// fleet.vehicles list; a field left out inherits the fleet-wide value of
// the same name (nil here; simulator.Config.settings resolves them).
type VehicleEntry struct {
	Home         *Point   `yaml:"home"`
	EnduranceMin *float64 `yaml:"endurance_min"`
	SwapMin      *float64 `yaml:"swap_min"`
	BatteryMAh   *float64 `yaml:"battery_mah"`
	Video        *bool    `yaml:"video"`
	node         *yaml.Node
}

// UnmarshalYAML reads a count or a list of entries, refusing unknown
// entry fields at their line (checkKeys does not look inside a type with
// its own unmarshaler).
func (v *FleetVehicles) UnmarshalYAML(n *yaml.Node) error {
	v.node = n
	switch n.Kind {
	case yaml.ScalarNode:
		c, err := strconv.Atoi(n.Value)
		if err != nil {
			return posErrorf(n, "fleet.vehicles %q: want a number of vehicles or a list of vehicle entries", n.Value)
		}
		v.Count = c
		return nil
	case yaml.SequenceNode:
		fields := map[string]reflect.Type{}
		collectFields(reflect.TypeOf(VehicleEntry{}), fields)
		v.List = make([]VehicleEntry, len(n.Content))
		for i, c := range n.Content {
			if c.Kind != yaml.MappingNode {
				return posErrorf(c, "fleet.vehicles[%d]: want a mapping such as {endurance_min: 12} ({} inherits everything), got a %s", i, kindName(c))
			}
			for k := 0; k+1 < len(c.Content); k += 2 {
				if _, ok := fields[c.Content[k].Value]; !ok {
					names := make([]string, 0, len(fields))
					for f := range fields {
						names = append(names, f)
					}
					sort.Strings(names)
					return posErrorf(c.Content[k], "unknown field %q in fleet.vehicles[%d] (want one of %s)", c.Content[k].Value, i, strings.Join(names, ", "))
				}
			}
			if err := c.Decode(&v.List[i]); err != nil {
				return err
			}
			v.List[i].node = c
		}
		v.Count = len(v.List)
		return nil
	}
	return posErrorf(n, "fleet.vehicles: want a number or a list of vehicle entries, got a %s", kindName(n))
}

// Point is a WGS84 position; Alt is metres MSL (0 = the model's default).
type Point struct {
	Lat float64 `yaml:"lat"`
	Lon float64 `yaml:"lon"`
	Alt float64 `yaml:"alt"`
}

// World is the environment: event areas, wind and the speedup.
type World struct {
	Speedup float64 `yaml:"speedup"`
	Wind    Wind    `yaml:"wind"`
	Areas   []Area  `yaml:"areas"`
}

// Wind is the steady wind (from DirDeg) and random gusts up to Gusts m/s.
type Wind struct {
	Speed  float64 `yaml:"speed"`
	DirDeg float64 `yaml:"dir"`
	Gusts  float64 `yaml:"gusts"`
}

// Area is an event area, from a GeoJSON file (relative to the scenario)
// or inline. Name is how steps refer to it.
type Area struct {
	Name    string `yaml:"name"`
	File    string `yaml:"file"`
	GeoJSON any    `yaml:"geojson"`
	node    *yaml.Node
}

// Trigger says when a step or fault happens: at a simulated time, when a
// condition first holds, or after an event (plus Delay). Exactly one of
// At, When, After is set.
type Trigger struct {
	At    *Duration  `yaml:"at"`
	When  *Condition `yaml:"when"`
	After *After     `yaml:"after"`
}

// Condition is one predicate over the observed vehicle state (a fixed,
// documented set: no expressions). Vehicle is an index, "any" or "all".
type Condition struct {
	Vehicle      VehicleRef `yaml:"vehicle"`
	ReachesItem  *int       `yaml:"reaches_item"`
	AltAbove     *float64   `yaml:"alt_above"`
	AltBelow     *float64   `yaml:"alt_below"`
	Mode         string     `yaml:"mode"`
	Armed        *bool      `yaml:"armed"`
	Landed       *bool      `yaml:"landed"`
	BatteryBelow *float64   `yaml:"battery_below"`
}

// After fires on a station event (Event, e.g. fence_breach) of Vehicle, or
// after a named step or fault fired, then waits Delay.
type After struct {
	Event   string     `yaml:"event"`
	Step    string     `yaml:"step"`
	Fault   string     `yaml:"fault"`
	Vehicle VehicleRef `yaml:"vehicle"`
	Delay   Duration   `yaml:"delay"`
}

// Step is one operator action through the HTTP API. Exactly one action
// field is set.
type Step struct {
	Name      string `yaml:"name"`
	Trigger   `yaml:",inline"`
	Plan      *PlanStep      `yaml:"plan"`
	Assign    *AssignStep    `yaml:"assign"`
	Launch    *Targets       `yaml:"launch"`
	Command   *CommandStep   `yaml:"command"`
	Param     *ParamStep     `yaml:"param"`
	Upload    *UploadStep    `yaml:"upload"`
	Operation *OperationStep `yaml:"operation"`
	node      *yaml.Node
}

// OperationStep starts a continuous-coverage patrol operation (POST
// /api/v1/operations): Slots drones on station over Area from now for
// For (simulated), drawn from Vehicles, with battery rotation and
// handover by the station.
type OperationStep struct {
	Area         string         `yaml:"area"`
	As           string         `yaml:"as"`
	Pattern      string         `yaml:"pattern"`
	Slots        int            `yaml:"slots"`
	Vehicles     VehicleSel     `yaml:"vehicles"`
	For          Duration       `yaml:"for"`
	Alt          float64        `yaml:"alt"`
	Speed        float64        `yaml:"speed"`
	Margin       float64        `yaml:"margin"`
	ReservePct   float64        `yaml:"reserve_pct"`
	SwapMin      float64        `yaml:"swap_min"`
	EnduranceMin float64        `yaml:"endurance_min"`
	Launch       map[string]any `yaml:"launch"`
	// TransitLayer false plans the transits on each slot's own layer
	// (the API's transit_layer); absent, the station's default: the layer
	// where there is room for it and the checks accept it.
	TransitLayer *bool `yaml:"transit_layer"`
}

// Targets names the vehicles an action or fault applies to.
type Targets struct {
	Vehicles VehicleSel `yaml:"vehicles"`
}

// PlanStep plans an area (POST /api/v1/areas/{id}/plans); As names the
// plan for later assign steps.
type PlanStep struct {
	Area      string         `yaml:"area"`
	As        string         `yaml:"as"`
	Pattern   string         `yaml:"pattern"`
	Drones    int            `yaml:"drones"`
	Alt       float64        `yaml:"alt"`
	LayerStep float64        `yaml:"layer_step"`
	Spacing   float64        `yaml:"spacing"`
	Margin    float64        `yaml:"margin"`
	Offset    float64        `yaml:"offset"`
	Speed     float64        `yaml:"speed"`
	Repeat    int            `yaml:"repeat"`
	End       string         `yaml:"end"`
	Launch    map[string]any `yaml:"launch"`
}

// AssignStep uploads a plan's drones to vehicles in order (drone i to the
// i-th selected vehicle).
type AssignStep struct {
	Plan     string     `yaml:"plan"`
	Vehicles VehicleSel `yaml:"vehicles"`
	Force    bool       `yaml:"force"`
}

// CommandStep is POST /api/v1/commands/{name} to the selected vehicles.
type CommandStep struct {
	Name     string         `yaml:"name"`
	Vehicles VehicleSel     `yaml:"vehicles"`
	Args     map[string]any `yaml:"args"`
}

// ParamStep sets one parameter on the selected vehicles.
type ParamStep struct {
	Name     string     `yaml:"name"`
	Value    float64    `yaml:"value"`
	Vehicles VehicleSel `yaml:"vehicles"`
}

// UploadStep uploads a raw list (docs/api.md item fields) to the vehicles.
type UploadStep struct {
	Type     string           `yaml:"type"`
	Items    []map[string]any `yaml:"items"`
	Vehicles VehicleSel       `yaml:"vehicles"`
}

// Fault kinds.
const (
	FaultLinkLoss       = "link_loss"
	FaultLatency        = "latency"
	FaultLinkDown       = "link_down"
	FaultGPSLoss        = "gps_loss"
	FaultBatteryDrop    = "battery_drop"
	FaultFailure        = "failure"
	FaultGust           = "gust"
	FaultStationRestart = "station_restart"
)

var faultKinds = []string{FaultLinkLoss, FaultLatency, FaultLinkDown, FaultGPSLoss, FaultBatteryDrop, FaultFailure, FaultGust, FaultStationRestart}

// Fault is something that goes wrong, per vehicle or fleet-wide.
type Fault struct {
	Name     string `yaml:"name"`
	Trigger  `yaml:",inline"`
	Kind     string     `yaml:"kind"`
	Vehicles VehicleSel `yaml:"vehicles"`
	For      Duration   `yaml:"for"`
	Pct      float64    `yaml:"pct"`
	Latency  Duration   `yaml:"latency"`
	Jitter   Duration   `yaml:"jitter"`
	Speed    float64    `yaml:"speed"`
	node     *yaml.Node
}

// Assertion kinds.
const (
	AssertAllLanded        = "all_landed"
	AssertNoFenceBreach    = "no_fence_breach"
	AssertBreachRTL        = "breach_rtl"
	AssertMinSeparation    = "min_separation"
	AssertAlertAfterFault  = "alert_after_fault"
	AssertTelemetryStored  = "telemetry_stored"
	AssertMissionCompleted = "mission_completed"
	AssertCoverageGap      = "coverage_gap"
	AssertVehicleState     = "vehicle_state"
)

var assertKinds = []string{AssertAllLanded, AssertNoFenceBreach, AssertBreachRTL, AssertMinSeparation, AssertAlertAfterFault, AssertTelemetryStored, AssertMissionCompleted, AssertCoverageGap, AssertVehicleState}

// Assertion is one check, from a fixed set of predicates (README).
type Assertion struct {
	Name           string     `yaml:"name"`
	Kind           string     `yaml:"kind"`
	Vehicles       VehicleSel `yaml:"vehicles"`
	By             *Duration  `yaml:"by"`
	Within         *Duration  `yaml:"within"`
	Meters         float64    `yaml:"meters"`
	ExceptInjected bool       `yaml:"except_injected"`
	Window         *Duration  `yaml:"window"`
	Modes          []string   `yaml:"modes"`
	Faults         []string   `yaml:"faults"`
	RequireBreach  bool       `yaml:"require_breach"`
	Max            *Duration  `yaml:"max"`
	IgnoreInitial  bool       `yaml:"ignore_initial"`
	During         string     `yaml:"during"`
	Field          string     `yaml:"field"`
	Min            *float64   `yaml:"min"`
	Below          *float64   `yaml:"below"`
	Equals         any        `yaml:"equals"`
	node           *yaml.Node
}

// Duration is a simulated duration: "90s", "2m30s", or a number of seconds.
type Duration struct{ time.Duration }

// UnmarshalYAML reads "90s"-style strings and plain numbers (seconds).
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return posErrorf(n, "want a duration such as 90s or 2m, got a %s", kindName(n))
	}
	if f, err := strconv.ParseFloat(n.Value, 64); err == nil {
		if f < 0 || math.IsNaN(f) || f > 1e7 {
			return posErrorf(n, "duration %s: want 0 up to 10,000,000 seconds", n.Value)
		}
		d.Duration = time.Duration(f * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return posErrorf(n, "duration %q: want a number of seconds or e.g. 90s, 2m30s, 1h", n.Value)
	}
	if v < 0 {
		return posErrorf(n, "duration %q must not be negative", n.Value)
	}
	d.Duration = v
	return nil
}

// VehicleSel selects vehicles: "all", "trigger" (the vehicle whose
// condition or event fired the step), one index, or a list of indices
// (0-based, in fleet order).
type VehicleSel struct {
	All     bool
	Trigger bool
	List    []int
	set     bool
}

// IsSet says whether the file gave a selection.
func (s VehicleSel) IsSet() bool { return s.set }

// UnmarshalYAML reads all, trigger, N or [N, …].
func (s *VehicleSel) UnmarshalYAML(n *yaml.Node) error {
	s.set = true
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.Value {
		case "all":
			s.All = true
			return nil
		case "trigger":
			s.Trigger = true
			return nil
		}
		i, err := strconv.Atoi(n.Value)
		if err != nil || i < 0 {
			return posErrorf(n, "vehicles %q: want all, trigger, a vehicle index (0, 1, …) or a list of indices", n.Value)
		}
		s.List = []int{i}
		return nil
	case yaml.SequenceNode:
		for _, c := range n.Content {
			i, err := strconv.Atoi(c.Value)
			if c.Kind != yaml.ScalarNode || err != nil || i < 0 {
				return posErrorf(c, "vehicle index %q: want 0, 1, …", c.Value)
			}
			s.List = append(s.List, i)
		}
		if len(s.List) == 0 {
			return posErrorf(n, "vehicles: an empty list selects nothing")
		}
		return nil
	}
	return posErrorf(n, "vehicles: want all, trigger, an index or a list of indices, got a %s", kindName(n))
}

// String is the selection as written.
func (s VehicleSel) String() string {
	switch {
	case s.All:
		return "all"
	case s.Trigger:
		return "trigger"
	}
	p := make([]string, len(s.List))
	for i, v := range s.List {
		p[i] = strconv.Itoa(v)
	}
	return "[" + strings.Join(p, ",") + "]"
}

// VehicleRef names one vehicle in a condition: an index, "any" (default)
// or "all".
type VehicleRef struct {
	index int
	set   bool
}

// Index is the vehicle index, RefAny (also when not given) or RefAll.
func (r VehicleRef) Index() int {
	if !r.set {
		return RefAny
	}
	return r.index
}

// String is the reference as written.
func (r VehicleRef) String() string {
	switch r.Index() {
	case RefAny:
		return "any"
	case RefAll:
		return "all"
	}
	return strconv.Itoa(r.index)
}

// Vehicle reference values other than an index.
const (
	RefAny = -1
	RefAll = -2
)

// UnmarshalYAML reads N, any or all.
func (r *VehicleRef) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		r.set = true
		switch n.Value {
		case "any":
			r.index = RefAny
			return nil
		case "all":
			r.index = RefAll
			return nil
		}
		if i, err := strconv.Atoi(n.Value); err == nil && i >= 0 {
			r.index = i
			return nil
		}
	}
	return posErrorf(n, "vehicle %q: want a vehicle index (0, 1, …), any or all", n.Value)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "value"
	case yaml.AliasNode:
		return "alias"
	}
	return "node"
}

// posError is an error at a place in the file; Parse adds the file name.
type posError struct {
	Line, Column int
	Msg          string
}

func (e *posError) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Msg) }

func posErrorf(n *yaml.Node, format string, args ...any) error {
	return &posError{Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)}
}
