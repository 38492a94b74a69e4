package app

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/burgut-uav/burgut/audit"
	"github.com/burgut-uav/burgut/auth"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/relay"
)

func TestSeparationConfigFlags(t *testing.T) {
	cfg, err := Load("serve", []string{"--separation-warn", "40", "--separation-critical", "12", "--separation-horizon", "25s", "--separation-action", "brake",
		"--separation-warn-vertical", "7", "--separation-critical-vertical", "3"}, false, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Separation; s.Warn != 40 || s.Critical != 12 || s.Horizon != 25*time.Second || s.Action != SeparationBrake || s.WarnVertical != 7 || s.CriticalVertical != 3 {
		t.Fatalf("parsed %+v", s)
	}
	for _, bad := range [][]string{
		{"--separation-action", "swerve"},
		{"--separation-warn", "5"}, // under the critical default
		{"--separation-horizon", "0s"},
		{"--separation-warn-vertical", "2"}, // under the vertical critical default
		{"--separation-critical-vertical", "-1"},
	} {
		if _, err := Load("serve", bad, false, &strings.Builder{}); err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(bad[0], "--")) {
			t.Errorf("%v: error %v, want one naming the setting", bad, err)
		}
	}
}

// Two simulated drones flown at each other with GUIDED go-to commands
// through the API: on lanes 20 m apart the monitor warns while they are
// still far beyond the 30 m threshold and never goes critical; on a
// collision course it goes critical and, with --separation-action brake,
// the yielding drone (both are in GUIDED, so the higher ID) stops, and
// the station's brake command is in the audit log.
func TestSeparationWarnsAndBrakesConvergingDrones(t *testing.T) {
	if testing.Short() {
		t.Skip("flies two simulated vehicles")
	}
	a, _ := runApp(t, func(c *Config) {
		c.Sim.Vehicles = 2
		c.Sim.Speedup = 3 // keeps the 1 Hz GCS heartbeat inside ArduCopter's failsafe timeout
		c.Sim.Demo = false
		c.Separation.Action = SeparationBrake
	})
	base := "http://" + a.HTTPAddr()
	mqttAlerts := sepAlertsOverMQTT(t, a)
	var vs []fleet.Vehicle
	testenv.Eventually(t, 60*time.Second, "two vehicles with GPS and home", func() bool {
		vs = a.Fleet.List()
		return len(vs) == 2 && vs[0].GPSFix >= 3 && vs[0].Home != nil && vs[1].GPSFix >= 3 && vs[1].Home != nil
	})
	idA, idB := vs[0].ID, vs[1].ID // B has the higher ID: it yields
	h := *vs[0].Home
	cmd := func(id, name string, body map[string]any) {
		t.Helper()
		var out map[string]any
		if code := sendJSON(t, "POST", base+"/api/v1/vehicles/"+id+"/commands/"+name, body, &out); code != 200 {
			t.Fatalf("%s %s: %d %v", name, id, code, out)
		}
	}
	goTo := func(id string, n, e, alt float64) {
		t.Helper()
		lat, lon := offset(h.Lat, h.Lon, n, e)
		cmd(id, "goto", map[string]any{"lat": lat, "lon": lon, "alt_m": alt})
	}
	// at reports whether the vehicle is within 3 m of (n, e) at alt.
	at := func(id string, n, e, alt float64) bool {
		v, _ := a.Fleet.Get(id)
		lat, lon := offset(h.Lat, h.Lon, n, e)
		dn := (v.Lat - lat) * 111320
		de := (v.Lon - lon) * 111320 * math.Cos(lat*math.Pi/180)
		return math.Hypot(dn, de) < 3 && math.Abs(v.RelativeAlt-alt) < 2
	}
	// B climbs above A's layer and flies 150 m east before A leaves the
	// ground, so setting up raises nothing.
	cmd(idB, "mode", map[string]any{"mode": "GUIDED"})
	cmd(idB, "arm", map[string]any{})
	cmd(idB, "takeoff", map[string]any{"alt_m": 60})
	testenv.Eventually(t, 90*time.Second, "B at 60 m", func() bool { v, _ := a.Fleet.Get(idB); return v.RelativeAlt > 57 })
	goTo(idB, 0, 150, 60)
	testenv.Eventually(t, 90*time.Second, "B 150 m east", func() bool { return at(idB, 0, 150, 60) })
	goTo(idB, 0, 150, 20)
	cmd(idA, "mode", map[string]any{"mode": "GUIDED"})
	cmd(idA, "arm", map[string]any{})
	cmd(idA, "takeoff", map[string]any{"alt_m": 20})
	testenv.Eventually(t, 90*time.Second, "A at 20 m", func() bool { v, _ := a.Fleet.Get(idA); return v.RelativeAlt > 18 })
	goTo(idA, 20, -150, 20)
	testenv.Eventually(t, 90*time.Second, "A 150 m west, B 150 m east, both at 20 m", func() bool {
		return at(idA, 20, -150, 20) && at(idB, 0, 150, 20)
	})
	if evs := sepEvents(a, 0); len(evs) != 0 {
		t.Fatalf("separation events while setting up: %v", evs)
	}
	since := a.Fleet.Events(0, "", 0)
	mark := since[len(since)-1].Seq

	// Lanes 20 m apart, closing at ~20 m/s: a warning, raised early.
	goTo(idA, 20, 150, 20)
	goTo(idB, 0, -150, 20)
	var warn fleet.Event
	testenv.Eventually(t, 60*time.Second, "a separation warning", func() bool {
		for _, e := range sepEvents(a, mark) {
			if e.Kind == fleet.EventSeparation {
				warn = e
				return true
			}
		}
		return false
	})
	f := warn.Fields
	if warn.Severity != fleet.SeverityWarning || warn.VehicleID != idB || f["other_vehicle_id"] != idA || f["yield_vehicle_id"] != idB || f["level"] != "warning" {
		t.Fatalf("first event %+v, want a warning on %s naming %s", warn, idB, idA)
	}
	pd, _ := f["predicted_distance_m"].(float64)
	now, _ := f["distance_m"].(float64)
	tca, _ := f["time_to_closest_s"].(float64)
	if pd < 10 || pd >= 30 || now <= 30 || tca <= 0 {
		t.Fatalf("warning fields %v: want predicted in [10, 30) m, raised while still more than 30 m apart, closest approach ahead", f)
	}
	if hm, ok := f["horizontal_m"].(float64); !ok || hm < 10 || hm >= 30 {
		t.Fatalf("warning fields %v: want horizontal_m in [10, 30) m", f)
	}
	if vm, ok := f["vertical_m"].(float64); !ok || vm >= 8 {
		t.Fatalf("warning fields %v: want vertical_m under 8 m (both at 20 m)", f)
	}
	// The same event reached the API's alert list and the center's MQTT alert topic.
	var alerts []fleet.Event
	getJSON(t, fmt.Sprintf("%s/api/v1/events?alerts=true&since=%d", base, mark), &alerts)
	if !slices.ContainsFunc(alerts, func(e fleet.Event) bool { return e.Seq == warn.Seq && e.Kind == fleet.EventSeparation }) {
		t.Errorf("API alert list lacks the warning %d: %+v", warn.Seq, alerts)
	}
	testenv.Eventually(t, 30*time.Second, "the warning on MQTT .../alerts", func() bool { return mqttAlerts()[warn.Seq] == string(fleet.EventSeparation) })
	testenv.Eventually(t, 90*time.Second, "both across and the episode cleared", func() bool {
		return at(idA, 20, 150, 20) && at(idB, 0, -150, 20) && slices.ContainsFunc(sepEvents(a, mark), func(e fleet.Event) bool { return e.Kind == fleet.EventSeparationCleared })
	})
	for _, e := range sepEvents(a, mark) {
		if e.Kind == fleet.EventSeparation && e.Seq != warn.Seq {
			t.Fatalf("second separation event in one episode: %+v (warning was %+v)", e, warn)
		}
	}
	mark = a.Fleet.Events(0, "", 0)[len(a.Fleet.Events(0, "", 0))-1].Seq

	// Crossing diagonals at the same speed: a collision course. B yields.
	goTo(idA, 0, -150, 20)
	goTo(idB, 20, 150, 20)
	var crit fleet.Event
	testenv.Eventually(t, 60*time.Second, "a critical separation", func() bool {
		for _, e := range sepEvents(a, mark) {
			if e.Kind == fleet.EventSeparation && e.Severity == fleet.SeverityCritical {
				crit = e
				return true
			}
		}
		return false
	})
	if crit.VehicleID != idB || crit.Fields["action"] != SeparationBrake {
		t.Fatalf("critical event %+v: want it on %s with action brake", crit, idB)
	}
	testenv.Eventually(t, 60*time.Second, "B braked to a stop", func() bool {
		v, _ := a.Fleet.Get(idB)
		return v.Mode == "BRAKE" && v.GroundSpeed < 0.3
	})
	if v, _ := a.Fleet.Get(idA); v.Mode != "GUIDED" {
		t.Errorf("A (right of way) is in %s, want GUIDED", v.Mode)
	}
	entries, err := a.Audit.Query(audit.Filter{Actor: separationActor})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || !slices.Equal(entries[0].Vehicles, []string{idB}) || entries[0].Result != "ok" || !strings.Contains(entries[0].Body, idA) {
		t.Fatalf("audit entries by %s: %+v, want one ok brake of %s", separationActor, entries, idB)
	}
}

// sepAlertsOverMQTT subscribes to the station's alert topic on the
// embedded broker (MQTT over WebSocket at /mqtt, as an observer) and
// returns the kinds seen by event seq.
func sepAlertsOverMQTT(t *testing.T, a *App) func() map[uint64]string {
	t.Helper()
	secret, _, err := a.Auth.CreateToken(context.Background(), "center-sep", auth.Observer, 0)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[uint64]string{}
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("ws://" + a.HTTPAddr() + "/mqtt").SetClientID(a.Config.Station + "-sep").
		SetUsername("center").SetPassword(secret).SetHTTPHeaders(http.Header{"Authorization": {"Bearer " + secret}}))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	tok := c.Subscribe(relay.Topics{Station: a.Config.Station}.Alerts(), 1, func(_ mqtt.Client, m mqtt.Message) {
		var e fleet.Event
		if json.Unmarshal(m.Payload(), &e) == nil {
			mu.Lock()
			seen[e.Seq] = string(e.Kind)
			mu.Unlock()
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return func() map[uint64]string {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(seen)
	}
}

// sepEvents are the separation events after seq.
func sepEvents(a *App, seq uint64) []fleet.Event {
	var out []fleet.Event
	for _, e := range a.Fleet.Events(seq, "", 0) {
		if e.Kind == fleet.EventSeparation || e.Kind == fleet.EventSeparationCleared {
			out = append(out, e)
		}
	}
	return out
}

// burgut run takes the simulator's battery contract flags; serve does not.
func TestRunBatteryFlags(t *testing.T) {
	cfg, err := Load("run", []string{"--endurance-min", "25", "--swap-min", "5"}, true, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sim.EnduranceMin != 25 || cfg.Sim.SwapMin != 5 {
		t.Fatalf("parsed %+v", cfg.Sim)
	}
	if _, err := Load("run", []string{"--swap-min", "-1"}, true, &strings.Builder{}); err == nil || !strings.Contains(err.Error(), "swap-min") {
		t.Fatalf("negative swap: %v", err)
	}
	if _, err := Load("serve", []string{"--endurance-min", "25"}, false, &strings.Builder{}); err == nil {
		t.Fatal("serve accepted a simulator flag")
	}
}

// A drone taking off in AUTO under another that hovers 25 m to the side
// at a higher layer: its climb, extrapolated straight ahead, would reach
// the other's altitude within the horizon (a warning on the old
// monitor), but the monitor knows from the uploaded mission that it
// levels off at its takeoff altitude 30 m below the other, and raises
// nothing. Sent on to the other's altitude in GUIDED (no mission item
// names its target), the same climb is a true conflict and warns.
func TestSeparationKnowsWhereATakeoffLevelsOff(t *testing.T) {
	if testing.Short() {
		t.Skip("flies two simulated vehicles")
	}
	a, _ := runApp(t, func(c *Config) {
		c.Sim.Vehicles = 2
		c.Sim.Speedup = 3
		c.Sim.Demo = false
	})
	base := "http://" + a.HTTPAddr()
	var vs []fleet.Vehicle
	testenv.Eventually(t, 60*time.Second, "two vehicles with GPS and home", func() bool {
		vs = a.Fleet.List()
		return len(vs) == 2 && vs[0].GPSFix >= 3 && vs[0].Home != nil && vs[1].GPSFix >= 3 && vs[1].Home != nil
	})
	idA, idB := vs[0].ID, vs[1].ID
	h := *vs[0].Home
	cmd := func(id, name string, body map[string]any) {
		t.Helper()
		var out map[string]any
		if code := sendJSON(t, "POST", base+"/api/v1/vehicles/"+id+"/commands/"+name, body, &out); code != 200 {
			t.Fatalf("%s %s: %d %v", name, id, code, out)
		}
	}
	// B hovers 25 m east of A's home, 70 m up.
	lat, lon := offset(h.Lat, h.Lon, 0, 25)
	cmd(idB, "mode", map[string]any{"mode": "GUIDED"})
	cmd(idB, "arm", map[string]any{})
	cmd(idB, "takeoff", map[string]any{"alt_m": 70})
	testenv.Eventually(t, 90*time.Second, "B at 70 m", func() bool { v, _ := a.Fleet.Get(idB); return v.RelativeAlt > 68 })
	cmd(idB, "goto", map[string]any{"lat": lat, "lon": lon, "alt_m": 70})
	testenv.Eventually(t, 90*time.Second, "B above its point", func() bool {
		v, _ := a.Fleet.Get(idB)
		return math.Hypot((v.Lat-lat)*111320, (v.Lon-lon)*111320*math.Cos(lat*math.Pi/180)) < 1 && v.GroundSpeed < 0.2
	})
	// A: takeoff to 40 m, then hold over its home.
	it := func(seq, c uint16, alt float32, hold float32) mavitem.Item {
		return mavitem.Item{Seq: seq, Frame: mavitem.FrameGlobalRelativeAlt, Command: c, Autocontinue: 1, Param1: hold,
			X: int32(math.Round(h.Lat * 1e7)), Y: int32(math.Round(h.Lon * 1e7)), Z: alt}
	}
	home := it(0, mavitem.CmdNavWaypoint, 0, 0)
	home.Frame = mavitem.FrameGlobal
	items := []mavitem.Item{home, it(1, mavitem.CmdNavTakeoff, 40, 0), it(2, mavitem.CmdNavWaypoint, 40, 600)}
	var rep map[string]any
	if code := sendJSON(t, "PUT", base+"/api/v1/vehicles/"+idA+"/mission", map[string]any{"items": items}, &rep); code != 200 || rep["verified"] != true {
		t.Fatalf("upload: %d %v", code, rep)
	}
	mark := a.Fleet.Events(0, "", 0)[len(a.Fleet.Events(0, "", 0))-1].Seq
	cmd(idA, "mode", map[string]any{"mode": "GUIDED"})
	cmd(idA, "arm", map[string]any{})
	cmd(idA, "mission_start", map[string]any{})
	// Climbing, A passes the altitude (about 20 m) from which 20 s of its
	// climb reach B's layer; it is then held over its home at 40 m.
	testenv.Eventually(t, 90*time.Second, "A levelled at 40 m on item 2", func() bool {
		v, _ := a.Fleet.Get(idA)
		return v.MissionSeq == 2 && v.RelativeAlt > 39 && math.Abs(v.Climb) < 0.1
	})
	if evs := sepEvents(a, mark); len(evs) != 0 {
		t.Fatalf("separation events for a takeoff levelling off 30 m under the other: %v", evs)
	}
	// The same climb continued to B's altitude in GUIDED: a warning.
	cmd(idA, "mode", map[string]any{"mode": "GUIDED"})
	cmd(idA, "goto", map[string]any{"lat": h.Lat, "lon": h.Lon, "alt_m": 70})
	testenv.Eventually(t, 60*time.Second, "a separation warning", func() bool {
		return slices.ContainsFunc(sepEvents(a, mark), func(e fleet.Event) bool { return e.Kind == fleet.EventSeparation })
	})
}

// GET /api/v1/separation gives the station's own settings: the pad
// clearance follows --separation-warn.
func TestSeparationRouteShowsTheStationsSettings(t *testing.T) {
	a, _ := runApp(t, func(c *Config) {
		c.Separation.Warn, c.Separation.Critical, c.Separation.Horizon, c.Separation.Action = 45, 12, 25*time.Second, SeparationBrake
		c.Separation.WarnVertical, c.Separation.CriticalVertical = 9, 5
	})
	var st struct {
		Warn     float64 `json:"warn_m"`
		Critical float64 `json:"critical_m"`
		WarnV    float64 `json:"warn_vertical_m"`
		CritV    float64 `json:"critical_vertical_m"`
		Horizon  float64 `json:"horizon_s"`
		Pad      float64 `json:"pad_clearance_m"`
		Action   string  `json:"action"`
		Active   []any   `json:"active"`
	}
	getJSON(t, "http://"+a.HTTPAddr()+"/api/v1/separation", &st)
	if st.Warn != 45 || st.Critical != 12 || st.WarnV != 9 || st.CritV != 5 || st.Horizon != 25 || st.Pad != 45 || st.Action != SeparationBrake || st.Active == nil || len(st.Active) != 0 {
		t.Fatalf("GET /api/v1/separation: %+v", st)
	}
}

// The levelling-off altitude of a mission item: its altitude, from home
// for the relative frames; nothing for items the drone does not level
// off at or whose altitude it cannot place.
func TestItemAltMSL(t *testing.T) {
	home := &fleet.Point{AltMSL: 450}
	for _, c := range []struct {
		it   mavitem.Item
		home *fleet.Point
		want float64
		ok   bool
	}{
		{mavitem.Item{Command: mavitem.CmdNavTakeoff, Frame: mavitem.FrameGlobalRelativeAlt, Z: 40}, home, 490, true},
		{mavitem.Item{Command: mavitem.CmdNavWaypoint, Frame: mavitem.FrameGlobalRelAltInt, Z: 60}, home, 510, true},
		{mavitem.Item{Command: mavitem.CmdNavWaypoint, Frame: mavitem.FrameGlobal, Z: 520}, nil, 520, true},
		{mavitem.Item{Command: cmdNavSplineWaypoint, Frame: mavitem.FrameGlobalInt, Z: 530}, nil, 530, true},
		{mavitem.Item{Command: mavitem.CmdNavTakeoff, Frame: mavitem.FrameGlobalRelativeAlt, Z: 40}, nil, 0, false}, // no home
		{mavitem.Item{Command: mavitem.CmdNavWaypoint, Frame: 10, Z: 40}, home, 0, false},                           // terrain
		{mavitem.Item{Command: mavitem.CmdNavLand, Frame: mavitem.FrameGlobalRelativeAlt, Z: 0}, home, 0, false},
		{mavitem.Item{Command: mavitem.CmdNavReturnToLaunch}, home, 0, false},
		{mavitem.Item{Command: mavitem.CmdDoChangeSpeed, Frame: mavitem.FrameGlobalRelativeAlt, Z: 5}, home, 0, false},
	} {
		if got, ok := itemAltMSL(c.it, c.home); got != c.want || ok != c.ok {
			t.Errorf("%+v: %v %v, want %v %v", c.it, got, ok, c.want, c.ok)
		}
	}
}

// The monitor looks at the fleet every half second of simulated time:
// at a speedup, more often in wall time (down to 10 ms).
func TestSepTickFollowsTheTimeScale(t *testing.T) {
	for _, c := range []struct {
		scale float64
		want  time.Duration
	}{{0, 500 * time.Millisecond}, {1, 500 * time.Millisecond}, {10, 50 * time.Millisecond}, {50, 10 * time.Millisecond}, {1000, 10 * time.Millisecond}} {
		if got := sepTick(c.scale); got != c.want {
			t.Errorf("time scale %v: tick %v, want %v", c.scale, got, c.want)
		}
	}
	// A slow look stretches the wait to ten times its length.
	if w := sepWait(10*time.Millisecond, 5*time.Millisecond); w != 50*time.Millisecond {
		t.Errorf("a 5 ms look at a 10 ms tick: wait %v, want 50ms", w)
	}
	if w := sepWait(500*time.Millisecond, 5*time.Millisecond); w != 500*time.Millisecond {
		t.Errorf("a 5 ms look at the 500 ms tick: wait %v, want the tick", w)
	}
}
