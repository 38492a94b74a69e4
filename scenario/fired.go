package scenario

import (
	"slices"
	"time"
)

// FiredFault is one fault as it fired: the scenario's fault kind, the
// station IDs of the vehicles it hit (none for a station restart) and
// when. A rehearsal's report pairs each with the alert it raised and the
// trainee's first response (scenario/rehearsal).
type FiredFault struct {
	Name     string // the fault's name, or its kind when unnamed
	Kind     string
	Vehicles []string
	T        time.Duration
	Line     int
}

// firedFaults groups the fault log (one record per vehicle hit) into one
// FiredFault per firing, in firing order.
func (r *runner) firedFaults() []FiredFault {
	var out []FiredFault
	type firing struct {
		f *Fault
		t time.Duration
	}
	at := map[firing]int{}
	for _, ff := range r.faultLog {
		k := firing{ff.Fault, ff.T}
		i, ok := at[k]
		if !ok {
			name := ff.Fault.Name
			if name == "" {
				name = ff.Fault.Kind
			}
			i = len(out)
			at[k] = i
			out = append(out, FiredFault{Name: name, Kind: ff.Fault.Kind, T: ff.T, Line: ff.Fault.node.Line})
		}
		if ff.Index >= 0 && ff.Index < len(r.ids) {
			out[i].Vehicles = append(out[i].Vehicles, r.ids[ff.Index])
		}
	}
	return out
}

// faultVehicles are the vehicles hit by the fault of line that fired at t
// (none for a station restart or a fault that could not be injected).
func (r *Result) faultVehicles(t time.Duration, line int) []string {
	for _, f := range r.Faults {
		if f.T == t && f.Line == line {
			return slices.Clone(f.Vehicles)
		}
	}
	return nil
}
