package app

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/burgut-uav/burgut/audit"
	"github.com/burgut-uav/burgut/auth"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation/control"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/relay"
)

// streamControl reads the stream's snapshot and then frames until the
// vehicle's control (nil: free) satisfies ok, and fails after the deadline.
func streamControl(t *testing.T, c *websocket.Conn, id, what string, ok func(*fleet.Control) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	_ = c.SetReadDeadline(deadline)
	for {
		var f relay.Frame
		if err := c.ReadJSON(&f); err != nil {
			t.Fatalf("stream while waiting for %s: %v", what, err)
		}
		for _, v := range f.Vehicles {
			if v.ID == id && ok(v.Control) {
				return
			}
		}
	}
}

// Issue 12: who holds a vehicle travels on the stream's vehicle frames
// (and the vehicle's fleet state) and changes there at once; an account
// disabled, an account removed and a token revoked each release their
// holds at once, audited in the admin's entry and told as "revoked"
// control events, while other holders keep theirs.
func TestControlEndsWhenTheRightToCommandIsWithdrawn(t *testing.T) {
	a, _ := runApp(t, func(*Config) {})
	base := "http://" + a.HTTPAddr()
	at := time.Now()
	ids := []string{"uav-a", "uav-b", "uav-c", "uav-d"}
	for _, id := range ids {
		// Vehicles as the ground station would publish them; control needs
		// no MAVLink, only a known vehicle.
		a.Fleet.Update(id, at, func(v *fleet.Vehicle) { v.Connected = true; v.Mode = "LOITER" })
	}
	op1 := login(t, a, base, "op1", auth.Operator)
	op2 := login(t, a, base, "op2", auth.Operator)
	op3 := login(t, a, base, "op3", auth.Operator)
	boss := login(t, a, base, "boss", auth.Admin)
	tok, _, err := a.Auth.CreateToken(context.Background(), "autopilot", auth.Operator, 0)
	if err != nil {
		t.Fatal(err)
	}
	obsTok, _, err := a.Auth.CreateToken(context.Background(), "wall", auth.Observer, 0)
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+a.HTTPAddr()+"/api/v1/stream", http.Header{"Authorization": {"Bearer " + obsTok}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	streamControl(t, ws, "uav-a", "the free vehicle in the snapshot", func(c *fleet.Control) bool { return c == nil })

	var hold control.Hold
	for _, step := range []struct {
		p  *person
		id string
	}{{op1, "uav-a"}, {op2, "uav-b"}, {op3, "uav-d"}} {
		if st, raw := step.p.do("POST", "/api/v1/vehicles/"+step.id+"/control", nil, &hold); st != 200 || hold.Holder != step.p.name {
			t.Fatalf("%s takes %s: %d %s", step.p.name, step.id, st, raw)
		}
	}
	req, _ := http.NewRequest("POST", base+"/api/v1/vehicles/uav-c/control", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the token takes uav-c: %d", resp.StatusCode)
	}
	// The holder is on the vehicle as every stream client sees it.
	streamControl(t, ws, "uav-a", "op1's hold on the stream", func(c *fleet.Control) bool {
		return c != nil && c.Holder == "op1" && !c.Since.IsZero()
	})
	if v, _ := a.Fleet.Get("uav-c"); v.Control == nil || v.Control.Holder != "token:autopilot" {
		t.Fatalf("uav-c's fleet state: control %+v", v.Control)
	}

	// Disabled: op1's vehicle is free at once, on the stream too.
	if st, raw := boss.do("PATCH", "/api/v1/users/op1", map[string]bool{"disabled": true}, nil); st != 200 {
		t.Fatalf("disable op1: %d %s", st, raw)
	}
	if _, held := a.Control.Get("uav-a"); held {
		t.Fatal("disabling op1 left their hold")
	}
	streamControl(t, ws, "uav-a", "op1's hold gone from the stream", func(c *fleet.Control) bool { return c == nil })
	// Removed: op2's.
	if st, raw := boss.do("DELETE", "/api/v1/users/op2", nil, nil); st != 204 {
		t.Fatalf("remove op2: %d %s", st, raw)
	}
	if _, held := a.Control.Get("uav-b"); held {
		t.Fatal("removing op2 left their hold")
	}
	// Revoked: the token's.
	if st, raw := boss.do("DELETE", "/api/v1/tokens/autopilot", nil, nil); st != 200 {
		t.Fatalf("revoke the token: %d %s", st, raw)
	}
	if _, held := a.Control.Get("uav-c"); held {
		t.Fatal("revoking the token left its hold")
	}
	// A failed admin call releases nothing; op3 keeps uav-d throughout.
	if st, _ := boss.do("DELETE", "/api/v1/users/nobody", nil, nil); st != 404 {
		t.Fatalf("removing an unknown user: %d", st)
	}
	if h, held := a.Control.Get("uav-d"); !held || h.Holder != "op3" {
		t.Fatalf("op3's hold: %+v %v", h, held)
	}
	if v, _ := a.Fleet.Get("uav-d"); v.Control == nil || v.Control.Holder != "op3" {
		t.Fatalf("uav-d's fleet state: control %+v", v.Control)
	}

	// Audited in the admin's entries, with the vehicle and former holder.
	var entries []audit.Entry
	if st, raw := boss.do("GET", "/api/v1/audit?actor=boss&limit=1000", nil, &entries); st != 200 {
		t.Fatalf("audit: %d %s", st, raw)
	}
	for _, want := range []struct{ route, detail string }{
		{"PATCH /api/v1/users/{name}", "released control of uav-a held by op1"},
		{"DELETE /api/v1/users/{name}", "released control of uav-b held by op2"},
		{"DELETE /api/v1/tokens/{id}", "released control of uav-c held by token:autopilot"},
	} {
		found := false
		for _, e := range entries {
			found = found || e.Route == want.route && e.Result == "ok" && strings.Contains(e.Detail, want.detail)
		}
		if !found {
			t.Errorf("no audit entry %s with %q in %+v", want.route, want.detail, entries)
		}
	}
	// Told to everyone as revoked control events naming the admin.
	for id, prev := range map[string]string{"uav-a": "op1", "uav-b": "op2", "uav-c": "token:autopilot"} {
		found := false
		for _, ev := range a.Fleet.Events(0, id, 0) {
			found = found || ev.Kind == fleet.EventControl && ev.Fields["action"] == control.ActionRevoked &&
				ev.Fields["previous"] == prev && ev.Fields["by"] == "boss" && ev.Severity == fleet.SeverityWarning
		}
		if !found {
			t.Errorf("no revoked control event of %s (held by %s): %+v", id, prev, a.Fleet.Events(0, id, 0))
		}
	}
	testenv.Eventually(t, 5*time.Second, "the revoked count on /metrics", func() bool {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), `burgut_control_changes_total{action="revoked"} 3`+"\n")
	})
}
