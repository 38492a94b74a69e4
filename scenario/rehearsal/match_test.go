package rehearsal

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/audit"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/scenario/report"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func sec(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func ev(s float64, id string, kind fleet.EventKind, sev fleet.Severity, msg string) fleet.Event {
	return fleet.Event{Time: at(s), VehicleID: id, Kind: kind, Severity: sev, Message: msg}
}

func withSeq(e fleet.Event, seq uint64) fleet.Event { e.Seq = seq; return e }

func ack(s float64, id string, alertSeq uint64, by string) fleet.Event {
	e := ev(s, id, fleet.EventAlertAck, fleet.SeverityInfo, "acknowledged by "+by)
	e.Fields = map[string]any{"seq": alertSeq, "alert_kind": "failsafe", "by": by}
	return e
}

func cmdEntry(seq uint64, s float64, actor, name string, result string, ids ...string) audit.Entry {
	return audit.Entry{Seq: seq, Time: at(s), Actor: actor, Source: "127.0.0.1:5555",
		Route: "POST /api/v1/vehicles/{id}/commands/{name}", Path: "/api/v1/vehicles/" + ids[0] + "/commands/" + name,
		Vehicles: ids, Status: 200, Result: result}
}

// The instructor's table for a rehearsal with three faults: each gets the
// first alert of a kind the fault raises, on a vehicle it hit, and the
// first command a person sent to such a vehicle, with the delays.
func TestMatchFaultAlertResponse(t *testing.T) {
	faults := []Fault{
		{Kind: "gps_loss", Text: "gps off 30s", Vehicles: []string{"v1"}, At: at(100)},
		{Kind: "battery_drop", Text: "to 20 %", Vehicles: []string{"v3"}, At: at(200)},
		{Kind: "link_loss", Text: "30 % fleet-wide", At: at(300)},
	}
	events := []fleet.Event{
		ev(90, "v1", fleet.EventStatusText, fleet.SeverityWarning, "before the fault"),
		ev(101, "v2", fleet.EventFailsafe, fleet.SeverityCritical, "another vehicle"),
		ev(102, "v1", fleet.EventModeChanged, fleet.SeverityInfo, "info, not an alert"),
		ev(103, "v1", fleet.EventBatteryLow, fleet.SeverityWarning, "not what a GPS loss raises"),
		withSeq(ev(104.5, "v1", fleet.EventFailsafe, fleet.SeverityCritical, "EKF failsafe"), 7),
		ack(50, "v1", 7, "dave"),   // seq 7 of the station's life before a restart: another alert
		ack(105, "v1", 8, "carol"), // another alert's
		ack(109, "v1", 7, "bob"),
		ack(110, "v1", 7, "alice"), // the second acknowledgement
		ev(106, "v1", fleet.EventStatusText, fleet.SeverityWarning, "later alert"),
		ev(203, "v3", fleet.EventBatteryLow, fleet.SeverityWarning, "v3 battery low (20 %)"),
		ev(301, "v2", fleet.EventCommand, fleet.SeverityInfo, "not an alert either"),
		ev(312, "v2", fleet.EventLinkLost, fleet.SeverityCritical, "link to v2 lost"),
	}
	entries := []audit.Entry{
		cmdEntry(1, 95, "alice", "land", "ok", "v1"),     // before the fault
		cmdEntry(2, 110, "scenario", "mode", "ok", "v1"), // the scenario's own step
		{Seq: 3, Time: at(111), Actor: "alice", Route: "POST /api/v1/vehicles/{id}/control", Path: "/api/v1/vehicles/v1/control", Vehicles: []string{"v1"}, Result: "ok"},
		cmdEntry(4, 112, "alice", "rtl", "ok", "v1"),           // the response to the GPS loss
		cmdEntry(5, 113, "bob", "land", "ok", "v1"),            // a second response: not the first
		cmdEntry(6, 230, "bob", "rtl", "not_in_control", "v3"), // refused, still a response
		{Seq: 7, Time: at(305), Actor: "alice", Route: "PUT /api/v1/vehicles/{id}/{type}", Path: "/api/v1/vehicles/v2/fence", Vehicles: []string{"v2"}, Result: "ok"},
		{Seq: 8, Time: at(306), Actor: "separation", Source: "station", Route: "STATION separation/brake", Vehicles: []string{"v2"}, Result: "ok"},
	}
	got := Match(t0, faults, events, entries, Options{IgnoreActors: []string{"scenario"}})
	want := &report.Rehearsal{
		Trainees: []string{"alice", "bob"},
		Faults: []report.FaultResponse{
			{Fault: "gps_loss", Text: "gps off 30s", Vehicles: []string{"v1"}, At: sec(100),
				Alert:    &report.Alert{Kind: "failsafe", Vehicle: "v1", Severity: "critical", Text: "EKF failsafe", At: sec(104.5), Delay: sec(4.5)},
				Response: &report.Response{Command: "rtl", Actor: "alice", Vehicle: "v1", Result: "ok", At: sec(112), Delay: sec(12), AfterAlert: sec(7.5)},
				Ack:      &report.Response{Command: "ack", Actor: "bob", Vehicle: "v1", Result: "ok", At: sec(109), Delay: sec(9), AfterAlert: sec(4.5)}},
			{Fault: "battery_drop", Text: "to 20 %", Vehicles: []string{"v3"}, At: sec(200),
				Alert:    &report.Alert{Kind: "battery_low", Vehicle: "v3", Severity: "warning", Text: "v3 battery low (20 %)", At: sec(203), Delay: sec(3)},
				Response: &report.Response{Command: "rtl", Actor: "bob", Vehicle: "v3", Result: "not_in_control", At: sec(230), Delay: sec(30), AfterAlert: sec(27)}},
			{Fault: "link_loss", Text: "30 % fleet-wide", Vehicles: nil, At: sec(300),
				Alert:    &report.Alert{Kind: "link_lost", Vehicle: "v2", Severity: "critical", Text: "link to v2 lost", At: sec(312), Delay: sec(12)},
				Response: &report.Response{Command: "upload fence", Actor: "alice", Vehicle: "v2", Result: "ok", At: sec(305), Delay: sec(5), AfterAlert: sec(-7)}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("Match:\n%s\nwant\n%s", g, w)
	}
}

// A reaction is credited to the fault it answered: once a second fault
// hits the same vehicle, the first one stops collecting; faults on other
// vehicles do not cut it short; Window bounds it.
func TestMatchHorizon(t *testing.T) {
	faults := []Fault{
		{Kind: "gps_loss", Vehicles: []string{"v1"}, At: at(10)},
		{Kind: "link_down", Vehicles: []string{"v2"}, At: at(20)}, // other vehicle
		{Kind: "battery_drop", Vehicles: []string{"v1"}, At: at(30)},
	}
	entries := []audit.Entry{cmdEntry(1, 25, "alice", "brake", "ok", "v2"), cmdEntry(2, 40, "alice", "rtl", "ok", "v1")}
	events := []fleet.Event{ev(41, "v1", fleet.EventBatteryLow, fleet.SeverityWarning, "low")}
	got := Match(t0, faults, events, entries, Options{})
	if got.Faults[0].Response != nil || got.Faults[0].Alert != nil {
		t.Errorf("the GPS fault was credited with a reaction after the battery fault hit the same vehicle: %+v %+v", got.Faults[0].Alert, got.Faults[0].Response)
	}
	if r := got.Faults[1].Response; r == nil || r.Command != "brake" || r.Delay != sec(5) {
		t.Errorf("v2's link fault: response %+v", r)
	}
	if r := got.Faults[2].Response; r == nil || r.Command != "rtl" || r.Delay != sec(10) {
		t.Errorf("v1's battery fault: response %+v", r)
	}
	if a := got.Faults[2].Alert; a == nil || a.Delay != sec(11) {
		t.Errorf("v1's battery fault: alert %+v", a)
	}
	got = Match(t0, faults, events, entries, Options{Window: 8 * time.Second})
	if got.Faults[2].Response != nil || got.Faults[2].Alert != nil {
		t.Error("an 8 s window still credited reactions 10 and 11 s after the fault")
	}
	if got.Faults[1].Response == nil {
		t.Error("an 8 s window dropped a reaction 5 s after the fault")
	}
	// Faults given out of order come out in time order.
	got = Match(t0, []Fault{faults[2], faults[0]}, nil, nil, Options{})
	if got.Faults[0].At != sec(10) || got.Faults[1].At != sec(30) {
		t.Errorf("faults not in time order: %v, %v", got.Faults[0].At, got.Faults[1].At)
	}
	if len(got.Trainees) != 0 || got.Faults[0].Response != nil {
		t.Error("no actions, yet a response")
	}
}

// Without the audit log the command events alone give the actions; one
// API call that reached several vehicles (one event each, same audit seq)
// is one action; events repeating an audit entry are not counted twice.
func TestActionsFromEvents(t *testing.T) {
	cmd := func(s float64, id, actor, name string, seq any) fleet.Event {
		e := ev(s, id, fleet.EventCommand, fleet.SeverityInfo, name+" sent by "+actor)
		e.Fields = map[string]any{"actor": actor, "name": name, "route": "POST /api/v1/commands/{name}", "audit_seq": seq}
		return e
	}
	up := ev(9, "v1", fleet.EventUpload, fleet.SeverityInfo, "mission uploaded by carol")
	up.Fields = map[string]any{"actor": "carol", "name": "mission", "route": "PUT /api/v1/vehicles/{id}/{type}"}
	brake := cmd(8, "v2", "separation monitor", "pause", uint64(77))
	brake.Fields["route"] = "STATION separation/brake"
	events := []fleet.Event{
		cmd(5, "v1", "alice", "rtl", uint64(10)), cmd(5, "v2", "alice", "rtl", uint64(10)), cmd(5, "v3", "alice", "rtl", float64(10)),
		cmd(7, "v1", "bob", "land", uint64(11)), up, brake,
	}
	got := Actions(events, nil)
	want := []Action{
		{Time: at(5), Actor: "alice", Command: "rtl", Vehicles: []string{"v1", "v2", "v3"}, Result: "ok", AuditSeq: 10},
		{Time: at(7), Actor: "bob", Command: "land", Vehicles: []string{"v1"}, Result: "ok", AuditSeq: 11},
		{Time: at(9), Actor: "carol", Command: "upload mission", Vehicles: []string{"v1"}, Result: "ok"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Actions(events) =\n%+v\nwant\n%+v", got, want)
	}
	// With the audit entry for seq 11, bob's land comes from the entry
	// (with its real result), once.
	entries := []audit.Entry{cmdEntry(11, 7, "bob", "land", "refused", "v1")}
	got = Actions(events, entries)
	if len(got) != 3 || got[1].Result != "refused" || got[1].AuditSeq != 11 {
		t.Fatalf("Actions(events, entries) = %+v", got)
	}
}

func TestCommandNames(t *testing.T) {
	for _, c := range []struct{ method, route, path, want string }{
		{"POST", "/api/v1/vehicles/{id}/commands/{name}", "/api/v1/vehicles/v1/commands/rtl", "rtl"},
		{"POST", "/api/v1/commands/{name}", "/api/v1/commands/land", "land"},
		{"PUT", "/api/v1/vehicles/{id}/{type}", "/api/v1/vehicles/v1/mission", "upload mission"},
		{"DELETE", "/api/v1/vehicles/{id}/{type}", "/api/v1/vehicles/v1/fence", "clear fence"},
		{"POST", "/api/v1/missions/{id}/launch", "/api/v1/missions/m1/launch", "POST /missions/{id}/launch"},
	} {
		if got := commandName(c.method, c.route, c.path); got != c.want {
			t.Errorf("commandName(%s %s) = %q, want %q", c.method, c.path, got, c.want)
		}
	}
	// Not actions on vehicles.
	for _, route := range []string{"POST /api/v1/login", "POST /api/v1/vehicles/{id}/control", "POST /api/v1/alerts/{seq}/ack", "GET /api/v1/vehicles/{id}/mission"} {
		if _, ok := fromEntry(audit.Entry{Route: route, Vehicles: []string{"v1"}}); ok {
			t.Errorf("%s counted as a response", route)
		}
	}
}

func TestTimeline(t *testing.T) {
	acts := []Action{
		{Time: at(3), Actor: "alice", Command: "rtl", Vehicles: []string{"v1"}, Result: "ok"},
		{Time: at(4), Actor: "scenario", Command: "launch", Vehicles: []string{"*"}, Result: "ok"},
		{Time: at(5), Actor: "bob", Command: "land", Vehicles: []string{"v2"}, Result: "not_in_control"},
	}
	got := Timeline(t0, acts, []string{"scenario"})
	want := []report.Entry{
		{At: sec(3), Kind: report.KindOperator, Vehicles: []string{"v1"}, Text: "alice: rtl"},
		{At: sec(5), Kind: report.KindOperator, Vehicles: []string{"v2"}, Text: "bob: land (not_in_control)"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Timeline = %+v, want %+v", got, want)
	}
}

func TestComplete(t *testing.T) {
	r := &report.Report{Scenario: "x", Timeline: []report.Entry{{At: 0, Kind: report.KindStep, Text: "launch"}}}
	faults := []Fault{{Kind: "gps_loss", Vehicles: []string{"v1"}, At: at(10)}}
	Complete(r, t0, faults, nil, []audit.Entry{cmdEntry(1, 12, "alice", "rtl", "ok", "v1"), cmdEntry(2, 1, "scenario", "arm", "ok", "v1")}, Options{IgnoreActors: []string{"scenario"}})
	if r.Rehearsal == nil || len(r.Rehearsal.Faults) != 1 || r.Rehearsal.Faults[0].Response == nil || r.Rehearsal.Faults[0].Response.Delay != sec(2) {
		t.Fatalf("rehearsal part: %+v", r.Rehearsal)
	}
	if len(r.Timeline) != 2 || r.Timeline[1].Kind != report.KindOperator || r.Timeline[1].Text != "alice: rtl" {
		t.Fatalf("timeline: %+v", r.Timeline)
	}
}

func TestReportPath(t *testing.T) {
	got := ReportPath("/data", `Stadium perimeter/../x: "1"`, time.Date(2026, 12, 1, 9, 5, 7, 0, time.FixedZone("X", 3600)))
	if want := "/data/reports/rehearsal-Stadium-perimeter--x-1-20261201T080507Z.html"; got != want {
		t.Errorf("ReportPath = %q, want %q", got, want)
	}
	if got := ReportPath("d", "", t0); got != "d/reports/rehearsal-scenario-20261201T090000Z.html" {
		t.Errorf("ReportPath of an unnamed scenario = %q", got)
	}
}
