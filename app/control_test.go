package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/audit"
	"github.com/burgut-uav/burgut/auth"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation/control"
	"github.com/burgut-uav/burgut/internal/testenv"
)

// person is someone logged in through the login page: a cookie session
// and its CSRF token, on a client without the harness's admin token.
type person struct {
	t    *testing.T
	name string
	base string
	c    *http.Client
	csrf string
}

func login(t *testing.T, a *App, base, name string, role auth.Role) *person {
	t.Helper()
	pw := name + "-long-enough-password-2026"
	if err := a.Auth.AddUser(context.Background(), name, role, pw); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	p := &person{t: t, name: name, base: base, c: &http.Client{Jar: jar, Transport: http.DefaultTransport}}
	var pr auth.Principal
	if st, raw := p.do("POST", "/api/v1/login", auth.LoginRequest{Username: name, Password: pw}, &pr); st != 200 || pr.CSRF == "" {
		t.Fatalf("login %s: %d %s", name, st, raw)
	}
	p.csrf = pr.CSRF
	return p
}

// do sends a JSON request (body nil: none) and decodes the answer into v.
func (p *person) do(method, path string, body, v any) (int, string) {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, p.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set(auth.CSRFHeader, p.csrf)
	resp, err := p.c.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if v != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, v); err != nil {
			p.t.Fatalf("%s %s as %s: %d, undecodable %s", method, path, p.name, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, string(raw)
}

type apiErr struct {
	Error struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Field   string         `json:"field"`
		Details map[string]any `json:"details"`
	} `json:"error"`
}

// Issue 12, "Control between operators", through the real HTTP API with
// login sessions: op2's command to op1's vehicle is refused naming op1,
// op2's RTL goes through (audited as bypassing op1), an operator may not
// take over, an admin may (audited with both names), an observer may not
// take control at all, and a logout releases the logged-out's vehicles.
func TestControlBetweenOperators(t *testing.T) {
	a, base := startRun(t, 2, 1)
	var ids []string
	testenv.Eventually(t, 30*time.Second, "two simulated vehicles with a GPS fix", func() bool {
		ids = ids[:0]
		for _, v := range a.Fleet.List() {
			if v.Connected && v.GPSFix >= 3 {
				ids = append(ids, v.ID)
			}
		}
		return len(ids) == 2
	})
	id, other := ids[0], ids[1]
	op1 := login(t, a, base, "op1", auth.Operator)
	op2 := login(t, a, base, "op2", auth.Operator)
	boss := login(t, a, base, "boss", auth.Admin)
	obs := login(t, a, base, "watcher", auth.Observer)

	var hold control.Hold
	if st, raw := op1.do("POST", "/api/v1/vehicles/"+id+"/control", nil, &hold); st != 200 || hold.Holder != "op1" {
		t.Fatalf("op1 takes %s: %d %s", id, st, raw)
	}
	// Everyone sees who holds it: on the vehicle and in the table.
	var v struct {
		Control *struct {
			Holder string    `json:"holder"`
			Since  time.Time `json:"since"`
		} `json:"control"`
	}
	if st, raw := obs.do("GET", "/api/v1/vehicles/"+id, nil, &v); st != 200 || v.Control == nil || v.Control.Holder != "op1" || !v.Control.Since.Equal(hold.Since) {
		t.Fatalf("vehicle as the observer sees it: %d %s", st, raw)
	}
	var state control.State
	if st, raw := obs.do("GET", "/api/v1/control", nil, &state); st != 200 || len(state.Holds) != 1 || state.Holds[0].Holder != "op1" || state.IdleTimeoutS != control.DefaultIdle.Seconds() {
		t.Fatalf("control table: %d %s", st, raw)
	}

	// op2's command is refused, naming op1 and since when.
	var e apiErr
	st, raw := op2.do("POST", "/api/v1/vehicles/"+id+"/commands/mode", map[string]string{"mode": "STABILIZE"}, &e)
	if st != 409 || e.Error.Code != "controlled" || e.Error.Details["holder"] != "op1" || !strings.Contains(e.Error.Message, "op1") {
		t.Fatalf("op2's mode to op1's vehicle: %d %s", st, raw)
	}
	// So is an upload and a parameter.
	if st, raw := op2.do("PUT", "/api/v1/vehicles/"+id+"/params/WPNAV_SPEED", map[string]float64{"value": 500}, &e); st != 409 || e.Error.Details["holder"] != "op1" {
		t.Fatalf("op2's parameter to op1's vehicle: %d %s", st, raw)
	}
	// In a group command the held vehicle fails, naming op1; the free
	// one goes through and is now op2's.
	var gr struct {
		Succeeded, Failed int
		Results           []struct {
			VehicleID string `json:"vehicle_id"`
			OK        bool   `json:"ok"`
			Error     string `json:"error"`
		}
	}
	testenv.Eventually(t, 30*time.Second, "the free vehicle to accept mode STABILIZE", func() bool {
		st, raw = op2.do("POST", "/api/v1/commands/mode", map[string]any{"mode": "STABILIZE", "vehicle_ids": []string{id, other}}, &gr)
		if st != 200 || len(gr.Results) != 2 || gr.Results[0].OK || !strings.Contains(gr.Results[0].Error, "controlled by op1") {
			t.Fatalf("op2's group mode: %d %s", st, raw)
		}
		return gr.Results[1].OK
	})
	if h, _ := a.Control.Get(other); h.Holder != "op2" {
		t.Fatalf("op2's first command to the free %s left its control to %q", other, h.Holder)
	}

	// op2's RTL goes through (an emergency command), control stays op1's.
	testenv.Eventually(t, 30*time.Second, "the vehicle to accept op2's rtl", func() bool {
		st, raw = op2.do("POST", "/api/v1/vehicles/"+id+"/commands/rtl", nil, nil)
		if st == 409 {
			t.Fatalf("op2's rtl was refused for control: %s", raw)
		}
		return st == 200
	})
	if h, _ := a.Control.Get(id); h.Holder != "op1" {
		t.Fatalf("after op2's rtl the holder is %q", h.Holder)
	}

	// Neither an operator's takeover nor an observer's take.
	if st, raw := op2.do("POST", "/api/v1/vehicles/"+id+"/control", map[string]bool{"takeover": true}, &e); st != 403 || e.Error.Details["holder"] != "op1" {
		t.Fatalf("op2's takeover: %d %s", st, raw)
	}
	if st, raw := obs.do("POST", "/api/v1/vehicles/"+id+"/control", nil, &e); st != 403 || e.Error.Code != "forbidden" {
		t.Fatalf("observer takes control: %d %s", st, raw)
	}
	if st, raw := obs.do("POST", "/api/v1/control", map[string]any{"all": true}, &e); st != 403 {
		t.Fatalf("observer takes control of all: %d %s", st, raw)
	}

	// The admin takes over; op1 is now refused, naming the admin.
	if st, raw := boss.do("POST", "/api/v1/vehicles/"+id+"/control", map[string]bool{"takeover": true}, &hold); st != 200 || hold.Holder != "boss" {
		t.Fatalf("admin's takeover: %d %s", st, raw)
	}
	if st, raw := op1.do("POST", "/api/v1/vehicles/"+id+"/commands/mode", map[string]string{"mode": "STABILIZE"}, &e); st != 409 || e.Error.Details["holder"] != "boss" {
		t.Fatalf("op1 after the takeover: %d %s", st, raw)
	}
	testenv.Eventually(t, 30*time.Second, "the admin's mode STABILIZE", func() bool {
		st, raw := boss.do("POST", "/api/v1/vehicles/"+id+"/commands/mode", map[string]string{"mode": "STABILIZE"}, nil)
		if st == 409 {
			t.Fatalf("the admin's command after the takeover: %s", raw)
		}
		return st == 200
	})

	// Every step is in the audit log, with the names.
	var entries []audit.Entry
	if st, raw := boss.do("GET", "/api/v1/audit?vehicle="+url.QueryEscape(id)+"&limit=1000", nil, &entries); st != 200 {
		t.Fatalf("audit: %d %s", st, raw)
	}
	find := func(what string, ok func(e audit.Entry) bool) audit.Entry {
		t.Helper()
		for _, e := range entries {
			if ok(e) {
				return e
			}
		}
		t.Fatalf("no audit entry of %s in %+v", what, entries)
		return audit.Entry{}
	}
	find("op2's refused mode", func(e audit.Entry) bool {
		return e.Actor == "op2" && strings.HasSuffix(e.Path, "/commands/mode") && e.Status == 409 && e.Result == "controlled" && strings.Contains(e.Detail, "controlled by op1")
	})
	find("op2's rtl past op1", func(e audit.Entry) bool {
		return e.Actor == "op2" && strings.HasSuffix(e.Path, "/commands/rtl") && e.Result == "ok" && strings.Contains(e.Detail, "emergency rtl to "+id+" bypassed the control held by op1")
	})
	find("the admin's takeover", func(e audit.Entry) bool {
		return e.Actor == "boss" && e.Role == "admin" && e.Route == "POST /api/v1/vehicles/{id}/control" && e.Result == "ok" &&
			strings.Contains(e.Detail, "over from op1") && e.Body == `{"takeover":true}`
	})
	find("op2's refused takeover", func(e audit.Entry) bool {
		return e.Actor == "op2" && e.Route == "POST /api/v1/vehicles/{id}/control" && e.Status == 403
	})

	// And in the event stream everyone follows.
	var takeover, bypass bool
	for _, ev := range a.Fleet.Events(0, id, 0) {
		if ev.Kind != fleet.EventControl {
			continue
		}
		switch ev.Fields["action"] {
		case control.ActionTakeover:
			takeover = ev.Fields["holder"] == "boss" && ev.Fields["previous"] == "op1" && ev.Severity == fleet.SeverityWarning
		case control.ActionBypassed:
			bypass = ev.Fields["by"] == "op2" && ev.Fields["holder"] == "op1" && ev.Fields["command"] == "rtl"
		}
	}
	if !takeover || !bypass {
		t.Fatalf("control events: takeover %v, bypass %v in %+v", takeover, bypass, a.Fleet.Events(0, id, 0))
	}

	// The admin logs out: the vehicle is free again; op1 may release
	// nothing of op2's but their own.
	if st, raw := boss.do("POST", "/api/v1/logout", nil, nil); st != 204 {
		t.Fatalf("logout: %d %s", st, raw)
	}
	if _, held := a.Control.Get(id); held {
		t.Fatal("the admin's logout left their control")
	}
	if st, raw := op1.do("DELETE", "/api/v1/vehicles/"+other+"/control", nil, &e); st != 409 || e.Error.Details["holder"] != "op2" {
		t.Fatalf("op1 releases op2's vehicle: %d %s", st, raw)
	}
	var rel struct{ Released []string }
	if st, raw := op2.do("DELETE", "/api/v1/control", nil, &rel); st != 200 || len(rel.Released) != 1 || rel.Released[0] != other {
		t.Fatalf("op2 releases theirs: %d %s", st, raw)
	}
	if len(a.Control.List()) != 0 {
		t.Fatalf("holds left: %+v", a.Control.List())
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// (op2's rtl may have been retried until the vehicle accepted it, so
	// bypasses and refusals are counted at least once, not exactly.)
	for _, want := range []string{`burgut_control_changes_total{action="takeover"} 1`, `burgut_control_changes_total{action="logout"} 1`,
		"burgut_control_holds 0"} {
		if !strings.Contains(string(b), want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, zero := range []string{`burgut_control_changes_total{action="bypassed"} 0`, "burgut_control_refused_total 0"} {
		if !strings.Contains(string(b), strings.Fields(zero)[0]+" ") || strings.Contains(string(b), zero+"\n") {
			t.Errorf("/metrics: want %s above 0", strings.Fields(zero)[0])
		}
	}
}

// Issue 12, alerts panel: an operator acknowledges an alert for everyone;
// the acknowledgement is audited with their name, shown on the event in
// the list and told on the stream; observers may not acknowledge.
func TestAlertAcknowledgement(t *testing.T) {
	a, base := startRun(t, 1, 1)
	var id string
	testenv.Eventually(t, 30*time.Second, "the simulated vehicle", func() bool {
		if vs := a.Fleet.List(); len(vs) == 1 && vs[0].Connected {
			id = vs[0].ID
		}
		return id != ""
	})
	alert := a.Fleet.Emit(fleet.Event{VehicleID: id, Kind: fleet.EventBatteryLow, Severity: fleet.SeverityWarning, Message: "battery low (test)"})
	info := a.Fleet.Emit(fleet.Event{VehicleID: id, Kind: fleet.EventStatusText, Severity: fleet.SeverityInfo, Message: "hello"})
	op1 := login(t, a, base, "op1", auth.Operator)
	op2 := login(t, a, base, "op2", auth.Operator)
	obs := login(t, a, base, "watcher", auth.Observer)
	seq := func(n uint64) string { return "/api/v1/events/" + strconv.FormatUint(n, 10) + "/ack" }

	var e apiErr
	if st, raw := obs.do("POST", seq(alert.Seq), nil, &e); st != 403 {
		t.Fatalf("observer acks: %d %s", st, raw)
	}
	if st, raw := op1.do("POST", seq(info.Seq), nil, &e); st != 400 || e.Error.Code != "invalid" {
		t.Fatalf("ack of an info event: %d %s", st, raw)
	}
	if st, raw := op1.do("POST", seq(info.Seq+1000), nil, &e); st != 404 {
		t.Fatalf("ack of an unknown event: %d %s", st, raw)
	}
	if st, raw := op1.do("POST", "/api/v1/events/x/ack", nil, &e); st != 400 || e.Error.Field != "seq" {
		t.Fatalf("ack of seq x: %d %s", st, raw)
	}
	type view struct {
		Seq  uint64 `json:"seq"`
		Kind string `json:"kind"`
		Ack  *struct {
			By string    `json:"by"`
			At time.Time `json:"at"`
		} `json:"ack"`
	}
	var got view
	if st, raw := op1.do("POST", seq(alert.Seq), nil, &got); st != 200 || got.Ack == nil || got.Ack.By != "op1" || got.Seq != alert.Seq {
		t.Fatalf("op1 acks: %d %s", st, raw)
	}
	// The first acknowledgement stays.
	if st, raw := op2.do("POST", seq(alert.Seq), nil, &got); st != 200 || got.Ack.By != "op1" {
		t.Fatalf("op2 acks again: %d %s", st, raw)
	}
	var list []view
	if st, raw := obs.do("GET", "/api/v1/events?alerts=true&vehicle="+url.QueryEscape(id), nil, &list); st != 200 {
		t.Fatalf("events: %d %s", st, raw)
	}
	acked := false
	for _, v := range list {
		acked = acked || v.Seq == alert.Seq && v.Ack != nil && v.Ack.By == "op1"
	}
	if !acked {
		t.Fatalf("the event list does not show op1's ack: %+v", list)
	}
	if st, raw := obs.do("GET", "/api/v1/events?unacked=true&vehicle="+url.QueryEscape(id), nil, &list); st != 200 {
		t.Fatalf("unacked events: %d %s", st, raw)
	}
	for _, v := range list {
		if v.Seq == alert.Seq || v.Seq == info.Seq {
			t.Fatalf("unacked=true lists event %d: %+v", v.Seq, list)
		}
	}
	told := 0
	for _, ev := range a.Fleet.Events(alert.Seq, id, 0) {
		if ev.Kind == fleet.EventAlertAck {
			told++
			if ev.Fields["by"] != "op1" || ev.Fields["seq"] != alert.Seq {
				t.Fatalf("alert_ack event: %+v", ev)
			}
		}
	}
	if told != 1 {
		t.Fatalf("%d alert_ack events, want 1 (the first ack)", told)
	}
	entries, err := a.Audit.Query(audit.Filter{Actor: "op1", Route: "POST /api/v1/events/{seq}/ack", Result: "ok"})
	if err != nil || len(entries) != 1 || !strings.Contains(entries[0].Detail, "acknowledged battery_low of "+id) {
		t.Fatalf("audit of op1's ack: %+v %v", entries, err)
	}
}

// --control-idle ends a hold nobody used; an API token holds control by
// its own name ("token:NAME"). The sweep is the app's goroutine, so this
// waits for the state (the release and its event), not for a time.
func TestIdleControlIsReleased(t *testing.T) {
	a, _ := runApp(t, func(c *Config) {
		c.Sim.Vehicles = 1
		c.Sim.Speedup = 1
		c.Sim.Demo = false
		c.Access.ControlIdle = time.Second
	})
	var id string
	testenv.Eventually(t, 30*time.Second, "the simulated vehicle", func() bool {
		if vs := a.Fleet.List(); len(vs) == 1 && vs[0].Connected {
			id = vs[0].ID
		}
		return id != ""
	})
	tok, _, err := a.Auth.CreateToken(context.Background(), "pilot-bot", auth.Operator, 0)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", "http://"+a.HTTPAddr()+"/api/v1/vehicles/"+id+"/control", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var hold control.Hold
	_ = json.NewDecoder(resp.Body).Decode(&hold)
	resp.Body.Close()
	if resp.StatusCode != 200 || hold.Holder != "token:pilot-bot" {
		t.Fatalf("token takes control: %d %+v", resp.StatusCode, hold)
	}
	testenv.Eventually(t, 30*time.Second, "the idle hold to be released", func() bool {
		_, held := a.Control.Get(id)
		return !held
	})
	expired := false
	for _, ev := range a.Fleet.Events(0, id, 0) {
		expired = expired || ev.Kind == fleet.EventControl && ev.Fields["action"] == control.ActionExpired && ev.Fields["previous"] == "token:pilot-bot"
	}
	if !expired {
		t.Fatalf("no expired control event: %+v", a.Fleet.Events(0, id, 0))
	}
}
