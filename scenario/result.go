package scenario

import (
	"fmt"
	"io"
	"time"
)

// Result is what a run produced: the outcome of every assertion (Cases),
// the timeline of steps, faults, station events and assertion results,
// and every vehicle's track. Times are simulated, from the moment the
// fleet was ready. The JUnit file and the HTML report are both made from
// it.
type Result struct {
	Scenario string
	File     string
	Seed     int64
	Speedup  float64
	Started  time.Time     // wall clock when the fleet was ready
	SimTime  time.Duration // simulated time flown
	Wall     time.Duration // wall time of the whole run, start-up included
	// Vehicles are the station's vehicle IDs by scenario index.
	Vehicles []string
	Timeline []Entry
	Tracks   []Track
	Cases    []Case
	// EndReason says why the run ended (all landed, duration reached).
	EndReason string
	// Faults are the faults as they fired, with the vehicles they hit.
	Faults []FiredFault
	// DataDir is the in-process station's data directory when kept.
	DataDir string
}

// Entry kinds.
const (
	EntryStep      = "step"
	EntryFault     = "fault"
	EntryEvent     = "event"
	EntryAssertion = "assertion"
)

// Entry is one line of the timeline.
type Entry struct {
	T       time.Duration
	Kind    string // step, fault, event, assertion
	Name    string // step/fault name or kind, event kind, assertion case name
	Vehicle string // station vehicle ID, "" when fleet-wide
	Text    string
	// OK is false for a failed step or assertion; true otherwise.
	OK bool
	// Severity is the station event's (info, warning, critical).
	Severity string
	// Line is the scenario line of the step, fault or assertion.
	Line int
}

// Track is one vehicle's flown path as the station saw it.
type Track struct {
	Vehicle string
	Index   int
	Points  []TrackPoint
}

// TrackPoint is one sample of a track.
type TrackPoint struct {
	T          time.Duration
	Lat, Lon   float64
	Alt        float64 // metres above home
	BatteryPct float64 // -1 unknown
	Mode       string
}

// Case is one assertion outcome, per vehicle where the assertion applies
// per vehicle: one JUnit test case.
type Case struct {
	Assertion string // the assertion's name
	Kind      string
	Vehicle   string // station vehicle ID ("" for fleet-wide)
	Index     int    // vehicle index, -1 for fleet-wide
	OK        bool
	// Unsupported marks a check this build cannot make (it does not hold).
	Unsupported bool
	// Skipped marks a check this run could not make (Message says why):
	// it does not fail the run, and JUnit shows it as skipped, not passed.
	Skipped bool
	Message string
	At      time.Duration // when it was decided
	Line    int
}

// Name is the test-case name: the assertion, and the vehicle if any.
func (c *Case) Name() string {
	if c.Vehicle == "" {
		return c.Assertion
	}
	return c.Assertion + " [" + c.Vehicle + "]"
}

// Passed says whether every case held.
func (r *Result) Passed() bool {
	for _, c := range r.Cases {
		if !c.OK {
			return false
		}
	}
	return len(r.Cases) > 0
}

// Failed counts the cases that did not hold.
func (r *Result) Failed() int {
	n := 0
	for _, c := range r.Cases {
		if !c.OK {
			n++
		}
	}
	return n
}

// WriteTimeline writes the timeline as text, one entry a line: simulated
// time, kind, vehicle, name and text.
func WriteTimeline(w io.Writer, r *Result) error {
	for _, e := range r.Timeline {
		mark := ""
		if !e.OK {
			mark = " FAILED"
		}
		v := e.Vehicle
		if v == "" {
			v = "-"
		}
		if _, err := fmt.Fprintf(w, "%9s  %-9s %-22s %s%s: %s\n", e.T.Round(100*time.Millisecond), e.Kind, v, e.Name, mark, e.Text); err != nil {
			return err
		}
	}
	return nil
}
