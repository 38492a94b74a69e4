// Package rehearsal measures a trainee in a rehearsal (burgut run
// --scenario FILE): for every fault the scenario injected, the first alert
// the station raised for it and the first response a person gave to it
// (which command, by whom, how many seconds after the fault and after the
// alert).
//
// Match is a pure function over what the station already records — the
// fleet's event stream (alerts; command and upload events carrying the
// actor) and the audit log (every mutating API call with actor, route,
// target vehicles and time) — so it is tested without a station, and the
// same function serves a live rehearsal and a report rebuilt afterwards
// from the stored events and audit log.
package rehearsal

import (
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/burgut-uav/burgut/audit"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/scenario/report"
)

// Fault is one injected fault as the scenario fired it.
type Fault struct {
	// Kind is the scenario's fault kind ("link_down", "gps_loss" …); it
	// selects which alert kinds count (Options.AlertKinds).
	Kind string
	// Text describes it for the report (the fault's name or parameters).
	Text string
	// Vehicles are the fleet's IDs of the vehicles it hit; empty means
	// fleet-wide (or the station, for a station restart).
	Vehicles []string
	At       time.Time
}

// Action is one thing a person did to vehicles: a command, an upload, any
// other mutating API call that names vehicles.
type Action struct {
	Time    time.Time
	Actor   string
	Command string
	// Vehicles the action targeted; "*" means every vehicle.
	Vehicles []string
	// Result is "ok" or the error code the API answered with: a refused
	// command is still the trainee's response.
	Result   string
	AuditSeq uint64 // 0 when the action came only from the event stream
}

// Options tune the matching. The zero value uses DefaultAlertKinds and
// no time limit.
type Options struct {
	// AlertKinds lists, per fault kind, the event kinds that count as the
	// fault's alert. A fault kind not in the map accepts any alert (any
	// warning or critical event) on an affected vehicle. Nil means
	// DefaultAlertKinds.
	AlertKinds map[string][]fleet.EventKind
	// IgnoreActors are actors whose actions are not a trainee's response:
	// the scenario's own token that performs its steps.
	IgnoreActors []string
	// Window, when positive, bounds how long after a fault an alert or a
	// response still counts.
	Window time.Duration
}

// DefaultAlertKinds are the alerts each scenario fault kind is expected to
// raise. Link and latency degradation, gusts and station restarts accept
// any alert: what they cause depends on how hard they hit.
var DefaultAlertKinds = map[string][]fleet.EventKind{
	"link_down":    {fleet.EventLinkLost},
	"failure":      {fleet.EventLinkLost, fleet.EventFailsafe, fleet.EventStatusText},
	"gps_loss":     {fleet.EventFailsafe, fleet.EventStatusText},
	"battery_drop": {fleet.EventBatteryLow, fleet.EventBatteryCritical, fleet.EventFailsafe},
}

// FirstAlerts is the one definition of "the alert a fault raised", shared
// by a rehearsal's report (Match) and a scenario's alert_after_fault
// assertion: for each fault (index-aligned with faults, which may be in
// any order) the first alert event — a warning or critical event that is
// not a record of a person acting — of one of the kinds the fault's kind
// raises (Options.AlertKinds, any alert for a kind not listed) on one of
// the fault's vehicles (any vehicle for a fleet-wide fault), at or after
// the fault and before the next fault that hits one of the same vehicles
// (and within Options.Window if set); nil when there is none.
func FirstAlerts(faults []Fault, events []fleet.Event, opt Options) []*fleet.Event {
	kinds := opt.AlertKinds
	if kinds == nil {
		kinds = DefaultAlertKinds
	}
	alerts := slices.Clone(events)
	alerts = slices.DeleteFunc(alerts, func(e fleet.Event) bool { return !isAlert(e) })
	slices.SortStableFunc(alerts, func(a, b fleet.Event) int { return a.Time.Compare(b.Time) })
	order := make([]int, len(faults))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return faults[a].At.Compare(faults[b].At) })
	sorted := make([]Fault, len(faults))
	for k, i := range order {
		sorted[k] = faults[i]
	}
	out := make([]*fleet.Event, len(faults))
	for k, f := range sorted {
		end := horizon(sorted, k, opt.Window)
		want := kinds[f.Kind]
		for j := range alerts {
			e := &alerts[j]
			if e.Time.Before(f.At) || !before(e.Time, end) {
				continue
			}
			if !hits(f, []string{e.VehicleID}) || (len(want) > 0 && !slices.Contains(want, e.Kind)) {
				continue
			}
			out[order[k]] = e
			break
		}
	}
	return out
}

// Match pairs each fault with its first alert and first response. Times
// in the result are relative to start (the scenario's T+0).
//
// An alert or a response belongs to a fault when it concerns one of the
// fault's vehicles (any vehicle for a fleet-wide fault), comes at or
// after the fault, and comes before the next fault that hits one of the
// same vehicles (so a late reaction is credited to the fault it answered,
// not to every earlier one that went unanswered), and within
// Options.Window if set.
func Match(start time.Time, faults []Fault, events []fleet.Event, entries []audit.Entry, opt Options) *report.Rehearsal {
	actions := Actions(events, entries)
	actions = slices.DeleteFunc(actions, func(a Action) bool { return slices.Contains(opt.IgnoreActors, a.Actor) })

	order := slices.Clone(faults)
	slices.SortStableFunc(order, func(a, b Fault) int { return a.At.Compare(b.At) })
	first := FirstAlerts(order, events, opt)
	out := &report.Rehearsal{Faults: []report.FaultResponse{}}
	trainees := map[string]bool{}
	for i, f := range order {
		end := horizon(order, i, opt.Window)
		fr := report.FaultResponse{Fault: f.Kind, Text: f.Text, Vehicles: slices.Clone(f.Vehicles), At: f.At.Sub(start)}
		var alertSeq uint64
		if e := first[i]; e != nil {
			fr.Alert = &report.Alert{Kind: string(e.Kind), Vehicle: e.VehicleID, Severity: string(e.Severity), Text: e.Message,
				At: e.Time.Sub(start), Delay: e.Time.Sub(f.At)}
			alertSeq = e.Seq
		}
		if fr.Alert != nil && alertSeq != 0 {
			fr.Ack = ackOf(events, alertSeq, start, f.At, fr.Alert.At, opt.IgnoreActors)
		}
		for _, a := range actions {
			if a.Time.Before(f.At) || !before(a.Time, end) || len(a.Vehicles) == 0 || !hits(f, a.Vehicles) {
				continue
			}
			r := &report.Response{Command: a.Command, Actor: a.Actor, Vehicle: target(f, a.Vehicles), Result: a.Result,
				At: a.Time.Sub(start), Delay: a.Time.Sub(f.At)}
			if fr.Alert != nil {
				r.AfterAlert = r.At - fr.Alert.At
			}
			fr.Response = r
			trainees[a.Actor] = true
			break
		}
		out.Faults = append(out.Faults, fr)
	}
	for a := range trainees {
		out.Trainees = append(out.Trainees, a)
	}
	slices.Sort(out.Trainees)
	return out
}

// ackOf finds the first acknowledgement of the alert with seq in the
// console (an alert_ack event naming it, at or after the alert: a station
// that restarted during a rehearsal numbers its events from 1 again, so
// an earlier ack of the same number was of another alert), as a Response
// from the fault (Delay) and from the alert (AfterAlert).
func ackOf(events []fleet.Event, seq uint64, start, faultAt time.Time, alertAt time.Duration, ignore []string) *report.Response {
	var first *fleet.Event
	for i := range events {
		e := &events[i]
		if e.Kind != fleet.EventAlertAck || fieldUint(e.Fields["seq"]) != seq || e.Time.Before(start.Add(alertAt)) {
			continue
		}
		if by, _ := e.Fields["by"].(string); slices.Contains(ignore, by) {
			continue
		}
		if first == nil || e.Time.Before(first.Time) {
			first = e
		}
	}
	if first == nil {
		return nil
	}
	by, _ := first.Fields["by"].(string)
	at := first.Time.Sub(start)
	return &report.Response{Command: "ack", Actor: by, Vehicle: first.VehicleID, Result: "ok", At: at, Delay: first.Time.Sub(faultAt), AfterAlert: at - alertAt}
}

// horizon is when fault i stops collecting alerts and responses: the next
// fault that overlaps it, or the window's end; zero means never.
func horizon(faults []Fault, i int, window time.Duration) time.Time {
	var end time.Time
	if window > 0 {
		end = faults[i].At.Add(window)
	}
	for _, g := range faults[i+1:] {
		if !g.At.After(faults[i].At) {
			continue // fired together: both collect the same reactions
		}
		if overlap(faults[i], g) {
			if end.IsZero() || g.At.Before(end) {
				end = g.At
			}
			break
		}
	}
	return end
}

func before(t, end time.Time) bool { return end.IsZero() || t.Before(end) }

// overlap reports whether two faults hit a common vehicle (a fleet-wide
// fault hits all).
func overlap(a, b Fault) bool {
	if len(a.Vehicles) == 0 || len(b.Vehicles) == 0 {
		return true
	}
	for _, v := range a.Vehicles {
		if slices.Contains(b.Vehicles, v) {
			return true
		}
	}
	return false
}

// hits reports whether something concerning ids concerns the fault.
func hits(f Fault, ids []string) bool {
	if len(f.Vehicles) == 0 || slices.Contains(ids, "*") {
		return true
	}
	for _, id := range ids {
		if slices.Contains(f.Vehicles, id) {
			return true
		}
	}
	return false
}

// target names the vehicle a response went to: the affected one it
// named, "*" for all, or the first it named.
func target(f Fault, ids []string) string {
	for _, id := range ids {
		if id == "*" || len(f.Vehicles) == 0 || slices.Contains(f.Vehicles, id) {
			return id
		}
	}
	return ids[0]
}

// isAlert: the warning and critical events operators see as alerts, but
// not the station's records of people acting (commands, uploads, control,
// acknowledgements), which carry no severity of their own.
func isAlert(e fleet.Event) bool {
	switch e.Kind {
	case fleet.EventCommand, fleet.EventUpload, fleet.EventControl, fleet.EventAlertAck:
		return false
	}
	return e.IsAlert()
}

// Actions turns audit entries and command/upload events into the actions
// people took, in time order. An event that repeats an audit entry (the
// API emits one per targeted vehicle, carrying the entry's seq) is folded
// into it; events without a matching entry (no audit log at hand) count
// on their own. Logins, sessions, control hand-overs, alert
// acknowledgements and account changes are not actions on vehicles, and
// the station's own actions (Source "station", e.g. the separation
// monitor's brake) are not a person's.
func Actions(events []fleet.Event, entries []audit.Entry) []Action {
	var out []Action
	seen := map[uint64]bool{}
	for _, e := range entries {
		if a, ok := fromEntry(e); ok {
			out = append(out, a)
			seen[e.Seq] = true
		}
	}
	bySeq := map[uint64]int{} // events of one API call, by audit seq
	for _, e := range events {
		if e.Kind != fleet.EventCommand && e.Kind != fleet.EventUpload {
			continue
		}
		actor, _ := e.Fields["actor"].(string)
		name, _ := e.Fields["name"].(string)
		route, _ := e.Fields["route"].(string)
		seq := fieldUint(e.Fields["audit_seq"])
		if actor == "" || strings.HasPrefix(route, "STATION ") || (seq != 0 && seen[seq]) {
			continue
		}
		if seq != 0 {
			if i, ok := bySeq[seq]; ok {
				out[i].Vehicles = append(out[i].Vehicles, e.VehicleID)
				continue
			}
			bySeq[seq] = len(out)
		}
		cmd := name
		if e.Kind == fleet.EventUpload {
			cmd = "upload " + name
		}
		result, _ := e.Fields["result"].(string)
		if result == "" {
			result = "ok" // the API emits these after the vehicle answered
		}
		out = append(out, Action{Time: e.Time, Actor: actor, Command: cmd, Vehicles: []string{e.VehicleID}, Result: result, AuditSeq: seq})
	}
	slices.SortStableFunc(out, func(a, b Action) int { return a.Time.Compare(b.Time) })
	return out
}

// fieldUint reads a number from an event's Fields, which hold uint64 in
// process and float64 after a JSON round trip.
func fieldUint(v any) uint64 {
	switch n := v.(type) {
	case uint64:
		return n
	case int:
		return uint64(n)
	case int64:
		return uint64(n)
	case float64:
		return uint64(n)
	}
	return 0
}

// notActions are route fragments of mutating calls that do not act on a
// vehicle's flight.
var notActions = []string{"/login", "/logout", "/session", "/control", "/alerts", "/ack", "/tokens", "/users", "/password"}

func fromEntry(e audit.Entry) (Action, bool) {
	method, path, ok := strings.Cut(e.Route, " ")
	if !ok || e.Source == "station" || method == "STATION" || len(e.Vehicles) == 0 {
		return Action{}, false
	}
	switch method {
	case "POST", "PUT", "PATCH", "DELETE":
	default:
		return Action{}, false
	}
	for _, s := range notActions {
		if strings.Contains(path, s) {
			return Action{}, false
		}
	}
	return Action{Time: e.Time, Actor: e.Actor, Command: commandName(method, path, e.Path), Vehicles: slices.Clone(e.Vehicles),
		Result: e.Result, AuditSeq: e.Seq}, true
}

// commandName names an API call the way an instructor reads it: the
// command ("rtl"), "upload mission", "clear fence", else the route.
func commandName(method, route, path string) string {
	last := func() string {
		p := path
		if p == "" {
			p = route
		}
		return p[strings.LastIndexByte(p, '/')+1:]
	}
	switch {
	case strings.Contains(route, "/commands/"):
		return last()
	case strings.HasSuffix(route, "/{type}") && method == "PUT":
		return "upload " + last()
	case strings.HasSuffix(route, "/{type}") && method == "DELETE":
		return "clear " + last()
	}
	return method + " " + strings.TrimPrefix(route, "/api/v1")
}

// Timeline turns actions into the report's operator-action entries
// (times relative to start), leaving out ignored actors.
func Timeline(start time.Time, actions []Action, ignoreActors []string) []report.Entry {
	var out []report.Entry
	for _, a := range actions {
		if slices.Contains(ignoreActors, a.Actor) {
			continue
		}
		text := a.Actor + ": " + a.Command
		if a.Result != "" && a.Result != "ok" {
			text += " (" + a.Result + ")"
		}
		out = append(out, report.Entry{At: a.Time.Sub(start), Kind: report.KindOperator, Vehicles: slices.Clone(a.Vehicles), Text: text})
	}
	return out
}

// Complete adds the instructor's part to a run's report: the fault →
// alert → first response table (Match) and every person's action on the
// timeline, for the report of a rehearsal. start is the scenario's T+0 in
// wall-clock time (a rehearsal runs at speedup 1, so simulated and wall
// time agree).
func Complete(r *report.Report, start time.Time, faults []Fault, events []fleet.Event, entries []audit.Entry, opt Options) {
	r.Rehearsal = Match(start, faults, events, entries, opt)
	r.Timeline = append(r.Timeline, Timeline(start, Actions(events, entries), opt.IgnoreActors)...)
}

// ReportPath is where a rehearsal's report goes when --report is not
// given: DATA_DIR/reports/rehearsal-<scenario>-<UTC time>.html, the
// scenario's name reduced to letters, digits, '-' and '_'.
func ReportPath(dataDir, scenario string, at time.Time) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		case r == ' ' || r == '.':
			return '-'
		}
		return -1
	}, scenario)
	if len(name) > 60 {
		name = name[:60]
	}
	if name == "" {
		name = "scenario"
	}
	return filepath.Join(dataDir, "reports", "rehearsal-"+name+"-"+at.UTC().Format("20060102T150405Z")+".html")
}
