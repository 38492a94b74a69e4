package vehicleapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation"
	"github.com/burgut-uav/burgut/groundstation/session"
	"github.com/burgut-uav/burgut/internal/mavitem"
)

// fakeStation records what the API asks and answers what the test set.
type fakeStation struct {
	mu       sync.Mutex
	calls    []string                 // "SetMode udp14550-1 GUIDED", "Command udp14550-1 22", …
	requests []session.CommandRequest // every Command's request
	result   session.CommandResult    // answer to Command and SetMode
	err      error                    // error of every call
	params   map[string]session.Param
	during   func() // called while ParamGet waits, e.g. to hear telemetry
}

func newFake() *fakeStation {
	return &fakeStation{result: session.CommandResult{Result: 0, ResultName: "ACCEPTED", Attempts: 1}, params: map[string]session.Param{}}
}

func (f *fakeStation) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeStation) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeStation) Links() []groundstation.LinkInfo {
	return []groundstation.LinkInfo{{Name: "udp14550", Spec: "udp:127.0.0.1:14550", Vehicles: 1}}
}

func (f *fakeStation) Command(_ context.Context, id string, req session.CommandRequest) (session.CommandResult, error) {
	f.record("Command %s %d", id, req.Command)
	f.mu.Lock()
	f.requests = append(f.requests, req)
	f.mu.Unlock()
	return f.result, f.err
}

func (f *fakeStation) SetMode(_ context.Context, id, mode string) (session.CommandResult, error) {
	f.record("SetMode %s %s", id, mode)
	return f.result, f.err
}

func (f *fakeStation) Upload(_ context.Context, id string, t mavitem.MissionType, items []mavitem.Item, o groundstation.UploadOptions) (groundstation.UploadReport, error) {
	f.record("Upload %s %s %d verify=%v", id, t, len(items), o.Verify)
	return groundstation.UploadReport{VehicleID: id, Type: t.String(), Items: len(items), Attempts: 1, Verified: o.Verify}, f.err
}

func (f *fakeStation) Download(_ context.Context, id string, t mavitem.MissionType) ([]mavitem.Item, error) {
	f.record("Download %s %s", id, t)
	return []mavitem.Item{{Seq: 0, Command: 16, MissionType: t}}, f.err
}

func (f *fakeStation) Clear(_ context.Context, id string, t mavitem.MissionType) error {
	f.record("Clear %s %s", id, t)
	return f.err
}

func (f *fakeStation) SetCurrent(_ context.Context, id string, seq uint16) error {
	f.record("SetCurrent %s %d", id, seq)
	return f.err
}

func (f *fakeStation) Params(_ context.Context, id string) ([]session.Param, error) {
	f.record("Params %s", id)
	var out []session.Param
	for _, p := range f.params {
		out = append(out, p)
	}
	return out, f.err
}

func (f *fakeStation) ParamGet(_ context.Context, id, name string) (session.Param, error) {
	f.record("ParamGet %s %s", id, name)
	if f.during != nil {
		f.during()
	}
	return f.params[name], f.err
}

func (f *fakeStation) ParamSet(_ context.Context, id, name string, value float64) (session.Param, error) {
	f.record("ParamSet %s %s %v", id, name, value)
	if f.err != nil {
		return session.Param{}, f.err
	}
	p := session.Param{Name: name, Value: value, Type: 9, Index: -1}
	f.params[name] = p
	return p, nil
}

func (f *fakeStation) Group(ctx context.Context, ids []string, _ int, fn func(ctx context.Context, id string) (any, error)) []groundstation.GroupResult {
	out := make([]groundstation.GroupResult, len(ids))
	for i, id := range ids {
		res, err := fn(ctx, id)
		out[i] = groundstation.GroupResult{VehicleID: id, OK: err == nil, Result: res}
		if err != nil {
			out[i].Error = err.Error()
		}
	}
	return out
}

func TestCommandsReachTheStationAsMAVLink(t *testing.T) {
	f := newFake()
	_, srv := newAPI(t, f)
	v := srv.URL + "/api/v1/vehicles/udp14550-1/commands/"

	// takeoff from STABILIZE switches to GUIDED first, as ArduCopter needs.
	status, body := do(t, "POST", v+"takeoff", `{"alt_m": 25}`)
	if status != 200 || body["result"] != "ACCEPTED" {
		t.Fatalf("takeoff: %d %v", status, body)
	}
	if got := strings.Join(f.Calls(), "; "); got != "SetMode udp14550-1 GUIDED; Command udp14550-1 22" {
		t.Errorf("takeoff asked the station: %s", got)
	}
	if r := f.requests[0]; r.Params[6] != 25 {
		t.Errorf("takeoff altitude param7 = %v, want 25", r.Params[6])
	}

	status, body = do(t, "POST", v+"goto", `{"lat": 41.3, "lon": 69.25, "alt_m": 40}`)
	if status != 200 {
		t.Fatalf("goto: %d %v", status, body)
	}
	r := f.requests[1]
	if r.Command != 192 || !r.Int || r.X != 413000000 || r.Y != 692500000 || r.Z != 40 {
		t.Errorf("goto request %+v", r)
	}

	status, body = do(t, "POST", v+"arm", `{"force": true}`)
	if status != 200 || f.requests[2].Params[0] != 1 || f.requests[2].Params[1] != 21196 {
		t.Errorf("forced arm: %d %v, request %+v", status, body, f.requests[2])
	}
	if status, body = do(t, "POST", v+"rtl", ""); status != 200 || f.requests[3].Command != 20 {
		t.Errorf("rtl without a body: %d %v", status, body)
	}
}

func TestRefusalCarriesTheVehiclesResultAndText(t *testing.T) {
	f := newFake()
	f.result = session.CommandResult{Result: 4, ResultName: "FAILED", Attempts: 1,
		Text: "Arm: AUTO mode not armable", Texts: []string{"Arm: AUTO mode not armable"}}
	_, srv := newAPI(t, f)
	status, body := do(t, "POST", srv.URL+"/api/v1/vehicles/udp14550-1/commands/arm", "")
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d %v", status, body)
	}
	e := body["error"].(map[string]any)
	d, _ := e["details"].(map[string]any)
	if e["code"] != "refused" || d["result"] != "FAILED" || d["mav_result"] != float64(4) {
		t.Errorf("refusal %v", e)
	}
	if d["text"] != "Arm: AUTO mode not armable" || fmt.Sprint(d["texts"]) != "[Arm: AUTO mode not armable]" {
		t.Errorf("refusal lost the vehicle's reason: %v", d)
	}
	if m, _ := e["message"].(string); !strings.Contains(m, "not armable") {
		t.Errorf("message %q does not give the reason", m)
	}
}

func TestStationErrorsGetTheirHTTPMeaning(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"unknown to the station", fmt.Errorf("vehicle %q: %w", "udp14550-1", groundstation.ErrUnknownVehicle), 404, "not_found"},
		{"no answer", fmt.Errorf("command 400: %w", session.ErrTimeout), 504, "timeout"},
		{"busy", fmt.Errorf("upload: %w", session.ErrBusy), 409, "conflict"},
		{"mission refused", fmt.Errorf("upload: %w", &session.MissionError{Result: 4, Name: "MAV_MISSION_NO_SPACE", Seq: -1}), 422, "refused"},
		{"param rejected", fmt.Errorf("set: %w", session.ErrParamRejected), 422, "refused"},
		{"read-back differs", fmt.Errorf("verify: %w: item 2: z 30", groundstation.ErrNotVerified), 422, "refused"},
		{"caller's argument", fmt.Errorf("set: %w", &session.ArgumentError{Arg: "value", Reason: "value out of range for MAV_PARAM_TYPE_INT8 [-128, 127]"}), 400, "invalid"},
		{"a bug", errors.New("something broke"), 500, "internal"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake()
			f.err = c.err
			_, srv := newAPI(t, f)
			status, body := do(t, "DELETE", srv.URL+"/api/v1/vehicles/udp14550-1/fence", "")
			e, _ := body["error"].(map[string]any)
			if status != c.status || e == nil || e["code"] != c.code {
				t.Fatalf("%v → %d %v, want %d %s", c.err, status, body, c.status, c.code)
			}
		})
	}
}

func TestListsAndParamsGoToTheNamedVehicle(t *testing.T) {
	f := newFake()
	_, srv := newAPI(t, f)
	v := srv.URL + "/api/v1/vehicles/udp14550-1"
	steps := []struct {
		method, url, body, want string
	}{
		{"PUT", v + "/mission", `{"items": [{"seq": 0, "command": 16}]}`, "Upload udp14550-1 mission 1 verify=true"},
		{"PUT", v + "/fence", `{"items": [], "verify": false}`, "Upload udp14550-1 fence 0 verify=false"},
		{"GET", v + "/rally", "", "Download udp14550-1 rally"},
		{"DELETE", v + "/mission", "", "Clear udp14550-1 mission"},
		{"POST", v + "/mission/current", `{"seq": 3}`, "SetCurrent udp14550-1 3"},
		{"PUT", v + "/params/RTL_ALT", `{"value": 3000}`, "ParamSet udp14550-1 RTL_ALT 3000"},
		{"GET", v + "/params/RTL_ALT", "", "ParamGet udp14550-1 RTL_ALT"},
		{"GET", v + "/params", "", "Params udp14550-1"},
	}
	for i, s := range steps {
		status, body := do(t, s.method, s.url, s.body)
		if status != 200 {
			t.Fatalf("%s %s: %d %v", s.method, s.url, status, body)
		}
		if calls := f.Calls(); len(calls) != i+1 || calls[i] != s.want {
			t.Fatalf("%s %s asked %v, want last %q", s.method, s.url, calls, s.want)
		}
	}
}

func TestGroupCommandAnswersPerVehicle(t *testing.T) {
	f := newFake()
	a, srv := newAPI(t, f)
	a.Fleet.Update("udp14550-2", time.Now(), func(v *fleet.Vehicle) { v.SystemID = 2; v.Link = "udp14550" })
	status, body := do(t, "POST", srv.URL+"/api/v1/commands/rtl", `{"vehicle_ids": ["udp14550-1", "udp14550-2"]}`)
	if status != 200 || body["succeeded"] != float64(2) || body["failed"] != float64(0) {
		t.Fatalf("%d %v", status, body)
	}
	if got := strings.Join(f.Calls(), "; "); got != "Command udp14550-1 20; Command udp14550-2 20" {
		t.Errorf("group rtl asked %s", got)
	}
	// Bad arguments are refused once, before any vehicle is asked.
	status, _ = do(t, "POST", srv.URL+"/api/v1/commands/takeoff", `{"all": true}`)
	if status != 400 || len(f.Calls()) != 2 {
		t.Errorf("group takeoff without alt_m: %d, calls %v", status, f.Calls())
	}
}

// A name outside the vehicle's known parameter table is 404 naming it,
// for reads and sets alike, without the wait for telemetry.
func TestParameterOutsideTheKnownTableIsNotFound(t *testing.T) {
	f := newFake()
	f.err = fmt.Errorf("read parameter \"NO_SUCH_PARAM\": %w", session.ErrUnknownParam)
	_, srv := newAPI(t, f)
	url := srv.URL + "/api/v1/vehicles/udp14550-1/params/NO_SUCH_PARAM"
	for _, c := range []struct{ method, body string }{{"GET", ""}, {"PUT", `{"value":1}`}} {
		status, body := do(t, c.method, url, c.body)
		if e, _ := body["error"].(map[string]any); status != http.StatusNotFound || !strings.Contains(fmt.Sprint(e["message"]), "NO_SUCH_PARAM") {
			t.Fatalf("%s: %d %v, want 404 naming the parameter", c.method, status, body)
		}
	}
}

func TestUnansweredParameterNameIsNotFoundWhileTheVehicleIsHeard(t *testing.T) {
	f := newFake()
	f.err = fmt.Errorf("read parameter: %w", session.ErrTimeout)
	a, srv := newAPI(t, f)
	url := srv.URL + "/api/v1/vehicles/udp14550-1/params/NO_SUCH_PARAM"

	// Silence during the wait: the link may be down, so it is a timeout.
	status, body := do(t, "GET", url, "")
	if status != http.StatusGatewayTimeout {
		t.Fatalf("no frame during the wait: %d %v, want 504", status, body)
	}
	// Telemetry kept coming but the name was never answered: ArduPilot's
	// silence about a name it does not have.
	f.during = func() {
		a.Fleet.Update("udp14550-1", time.Now().Add(time.Millisecond), func(v *fleet.Vehicle) { v.BatteryPct = 90 })
	}
	status, body = do(t, "GET", url, "")
	if e, _ := body["error"].(map[string]any); status != http.StatusNotFound || !strings.Contains(fmt.Sprint(e["message"]), "NO_SUCH_PARAM") {
		t.Fatalf("vehicle heard during the wait: %d %v, want 404 naming the parameter", status, body)
	}
}
