// Package report is what a flown scenario leaves behind for a person to
// read: the data a scenario run (burgut scenario run) or a rehearsal
// (burgut run --scenario) collected, and Render, which turns it into one
// self-contained HTML file that opens offline (inline CSS, JS and SVG; no
// network at open, because reports are read on machines in the field and
// attached to CI runs).
//
// The data model is a plain value with no dependency on the scenario
// engine, the station or the fleet: the engine fills a Report while it
// runs and hands it to Render (or to WriteFile) at the end. Times inside a
// run are simulated time since the scenario started (time.Duration), so a
// run at speedup 50 and a rehearsal at speedup 1 read the same; Start and
// End are the wall-clock bounds of the run.
package report

import (
	"fmt"
	"time"
)

// Report is everything a run collected. The zero value renders (as an
// empty report); fields the run did not produce stay empty and their
// section is left out of the HTML.
type Report struct {
	// Scenario is the scenario's name (from the file), File the path it
	// was read from.
	Scenario string `json:"scenario"`
	File     string `json:"file,omitempty"`
	// Seed is the random seed the run used (the same seed gives the same
	// run); Speedup the simulation speed (1 for a rehearsal).
	Seed    int64   `json:"seed"`
	Speedup float64 `json:"speedup"`
	// Start and End are the wall-clock bounds of the run; Duration the
	// simulated time it covered.
	Start    time.Time     `json:"start"`
	End      time.Time     `json:"end"`
	Duration time.Duration `json:"duration_ns"`
	// Ended says why the run stopped ("scenario end", "duration",
	// "interrupted", or an error's text), so a report of an aborted run
	// says it was aborted.
	Ended string `json:"ended,omitempty"`

	// Timeline is every step, fault, event, assertion result and operator
	// action in the order they happened (Render sorts by At, keeping the
	// order of entries at the same instant).
	Timeline []Entry `json:"timeline"`
	// Tracks holds one track per vehicle.
	Tracks []Track `json:"tracks"`
	// Assertions are the results, one per assertion and vehicle where the
	// assertion is per vehicle.
	Assertions []Assertion `json:"assertions"`
	// Areas are the polygons drawn under the tracks on the map: the
	// scenario's areas and fences.
	Areas []Area `json:"areas,omitempty"`
	// Rehearsal is set for a rehearsal (burgut run --scenario): each
	// fault with the alert it raised and the trainee's first response.
	Rehearsal *Rehearsal `json:"rehearsal,omitempty"`
}

// Kind is what a timeline entry records.
type Kind string

// Timeline entry kinds.
const (
	KindStep      Kind = "step"            // a scenario step (operator action the scenario performs)
	KindFault     Kind = "fault"           // an injected fault starting or ending
	KindEvent     Kind = "event"           // a fleet event (fence breach, link lost, STATUSTEXT …)
	KindAssertion Kind = "assertion"       // an assertion was decided
	KindOperator  Kind = "operator-action" // a person's command or upload (rehearsal)
)

// Entry is one line of the timeline.
type Entry struct {
	// At is simulated time since the scenario started.
	At   time.Duration `json:"at_ns"`
	Kind Kind          `json:"kind"`
	// Vehicles the entry concerns; empty for the station or the whole
	// fleet.
	Vehicles []string `json:"vehicles,omitempty"`
	// Text says what happened, in words (a STATUSTEXT, a step's
	// description, an assertion's message). It is untrusted: Render
	// escapes it.
	Text string `json:"text"`
	// Failed marks a step that failed or an assertion that did not hold;
	// faults, events and operator actions are never failed.
	Failed bool `json:"failed,omitempty"`
	// Severity is a station event's ("info", "warning", "critical");
	// warnings and critical events are highlighted.
	Severity string `json:"severity,omitempty"`
	// Line is the scenario file's line of the step, fault or assertion
	// (0 = none), so a reader can find it.
	Line int `json:"line,omitempty"`
}

// Track is one vehicle's path and state over the run, for the map and
// the altitude and battery plots.
type Track struct {
	Vehicle string   `json:"vehicle"`
	Samples []Sample `json:"samples"`
}

// Sample is one point of a track.
type Sample struct {
	At  time.Duration `json:"at_ns"` // simulated time since start
	Lat float64       `json:"lat"`   // degrees (WGS84)
	Lon float64       `json:"lon"`   // degrees
	// AltM is the altitude above home in metres (relative altitude, what
	// an operator flies by).
	AltM float64 `json:"alt_m"`
	// BatteryPct is the remaining battery in percent; negative when the
	// vehicle did not report it (the plot leaves a gap).
	BatteryPct float64 `json:"battery_pct"`
	Mode       string  `json:"mode,omitempty"`
}

// Assertion is one assertion's result.
type Assertion struct {
	Name string `json:"name"`
	// Vehicle is set for a per-vehicle result, empty for a fleet-wide
	// one.
	Vehicle string `json:"vehicle,omitempty"`
	Passed  bool   `json:"passed"`
	// Message says what held or what did not, which vehicle and when.
	Message string `json:"message,omitempty"`
	// At is when it was decided (simulated time since start): the
	// instant it failed, or the end of the run for one checked to the end.
	At time.Duration `json:"at_ns"`
	// Line is the assertion's line in the scenario file (0 = unknown).
	Line int `json:"line,omitempty"`
}

// Area is a polygon drawn on the map.
type Area struct {
	Name string `json:"name"`
	// Kind is "fence" (drawn as a boundary that must not be crossed) or
	// anything else (drawn as an area, e.g. "area" for a coverage area).
	Kind string `json:"kind"`
	// Rings are the polygon's rings, the first the outer boundary and
	// any others holes (or, for an exclusion fence, the keep-out zones).
	Rings [][]LatLon `json:"rings"`
}

// LatLon is a position in degrees.
type LatLon struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Rehearsal is the instructor's part of a rehearsal report.
type Rehearsal struct {
	// Trainees are the actors seen responding (for the summary); empty
	// means none responded.
	Trainees []string        `json:"trainees,omitempty"`
	Faults   []FaultResponse `json:"faults"`
}

// FaultResponse is one injected fault, the alert it raised and the
// trainee's first response to it.
type FaultResponse struct {
	// Fault is the fault's kind as the scenario names it ("gps_loss",
	// "link_down", "battery_drop" …), Text its description.
	Fault    string        `json:"fault"`
	Text     string        `json:"text,omitempty"`
	Vehicles []string      `json:"vehicles,omitempty"`
	At       time.Duration `json:"at_ns"` // when it fired (simulated time since start)
	// Alert is the first alert the fault raised; nil if none did (which
	// the report shows as a finding: the station stayed silent).
	Alert *Alert `json:"alert,omitempty"`
	// Response is the trainee's first command to an affected vehicle
	// after the fault; nil if there was none.
	Response *Response `json:"response,omitempty"`
	// Ack is the first acknowledgement of the fault's alert in the
	// console (Command "ack"; Delay from the fault, AfterAlert from the
	// alert); nil if nobody acknowledged it.
	Ack *Response `json:"ack,omitempty"`
}

// Alert is the alert a fault raised.
type Alert struct {
	Kind     string        `json:"kind"` // the event kind ("link_lost", "failsafe" …)
	Vehicle  string        `json:"vehicle,omitempty"`
	Severity string        `json:"severity,omitempty"`
	Text     string        `json:"text,omitempty"`
	At       time.Duration `json:"at_ns"`
	// Delay is the time from the fault to the alert.
	Delay time.Duration `json:"delay_ns"`
}

// Response is a person's first reaction to a fault.
type Response struct {
	// Command is the command's name ("rtl", "land", "mode" …) or, for an
	// upload, "upload " + what was uploaded.
	Command string `json:"command"`
	Actor   string `json:"actor"`
	Vehicle string `json:"vehicle,omitempty"`
	// Result is "ok" or the API's error code: a refused command (say,
	// sent without holding the vehicle's control) is still the response.
	Result string        `json:"result,omitempty"`
	At     time.Duration `json:"at_ns"`
	// Delay is the time from the fault to the response (what the
	// instructor measures); AfterAlert the time from the alert, when
	// there was one (negative when the trainee acted before the alert).
	Delay      time.Duration `json:"delay_ns"`
	AfterAlert time.Duration `json:"after_alert_ns,omitempty"`
}

// Passed counts the assertions that held and those that did not.
func (r *Report) Passed() (passed, failed int) {
	for _, a := range r.Assertions {
		if a.Passed {
			passed++
		} else {
			failed++
		}
	}
	return passed, failed
}

// Validate reports data Render cannot draw honestly: a position off the
// globe, a sample before the previous one, a negative delay. The engine
// fills the report, so an error here is a bug there; Render refuses such
// a report rather than draw a wrong map.
func (r *Report) Validate() error {
	for _, t := range r.Tracks {
		if t.Vehicle == "" {
			return fmt.Errorf("report: a track has no vehicle ID")
		}
		for i, s := range t.Samples {
			if !validLatLon(s.Lat, s.Lon) {
				return fmt.Errorf("report: track %s sample %d: position %v,%v is not a latitude/longitude", t.Vehicle, i, s.Lat, s.Lon)
			}
			if i > 0 && s.At < t.Samples[i-1].At {
				return fmt.Errorf("report: track %s sample %d: time %v is before the previous sample's %v", t.Vehicle, i, s.At, t.Samples[i-1].At)
			}
		}
	}
	for _, a := range r.Areas {
		for j, ring := range a.Rings {
			for k, p := range ring {
				if !validLatLon(p.Lat, p.Lon) {
					return fmt.Errorf("report: area %q ring %d point %d: %v,%v is not a latitude/longitude", a.Name, j, k, p.Lat, p.Lon)
				}
			}
		}
	}
	if r.Rehearsal != nil {
		for i, f := range r.Rehearsal.Faults {
			if f.Alert != nil && f.Alert.Delay < 0 {
				return fmt.Errorf("report: fault %d (%s): alert delay %v is negative", i, f.Fault, f.Alert.Delay)
			}
			if f.Response != nil && f.Response.Delay < 0 {
				return fmt.Errorf("report: fault %d (%s): response delay %v is negative", i, f.Fault, f.Response.Delay)
			}
		}
	}
	return nil
}

func validLatLon(lat, lon float64) bool {
	// NaN fails both comparisons.
	return lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180
}
