// Package vehicleapi serves the vehicle, command, transfer and parameter
// endpoints of docs/api.md (/api/v1/vehicles…, /api/v1/commands,
// /api/v1/uploads, /api/v1/events, /api/v1/links). It reads the live fleet
// and talks to vehicles through two small interfaces, Fleet and Station, so
// its request validation and error mapping are tested with fakes and the
// app only wires it (FromStation adapts the real ground station).
package vehicleapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/burgut-uav/burgut/auth"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation"
	"github.com/burgut-uav/burgut/groundstation/alertack"
	"github.com/burgut-uav/burgut/groundstation/control"
	"github.com/burgut-uav/burgut/groundstation/session"
	"github.com/burgut-uav/burgut/httpapi"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/missions"
)

// MAVLink command numbers the API sends (MAV_CMD).
const (
	cmdComponentArmDisarm = 400
	cmdNavTakeoff         = 22
	cmdNavReturnToLaunch  = 20
	cmdNavLand            = 21
	cmdDoReposition       = 192
	cmdMissionStart       = 300
	cmdDoPauseContinue    = 193
	cmdDoChangeSpeed      = 178
	armForceMagic         = 21196 // param2 of COMPONENT_ARM_DISARM that skips checks
	repositionChangeMode  = 1     // MAV_DO_REPOSITION_FLAGS_CHANGE_MODE: switch to GUIDED
	maxBodyBytes          = 8 << 20
	defaultGroupParallel  = 64
)

// Fleet is what the API reads of the live fleet state (*fleet.Fleet).
type Fleet interface {
	List() []fleet.Vehicle
	Get(id string) (fleet.Vehicle, bool)
	Events(since uint64, vehicleID string, limit int) []fleet.Event
}

// Station is what the API asks of the ground station. FromStation adapts
// *groundstation.Station; tests use fakes. Every method names the vehicle
// by its fleet ID and answers groundstation.ErrUnknownVehicle (wrapped)
// for one it does not know.
type Station interface {
	Links() []groundstation.LinkInfo
	// Command sends one MAV_CMD and waits for its COMMAND_ACK; a refusal
	// is a result, not an error.
	Command(ctx context.Context, vehicleID string, req session.CommandRequest) (session.CommandResult, error)
	// SetMode switches to a mode named as groundstation.CopterMode knows it.
	SetMode(ctx context.Context, vehicleID, mode string) (session.CommandResult, error)
	Upload(ctx context.Context, vehicleID string, t mavitem.MissionType, items []mavitem.Item, o groundstation.UploadOptions) (groundstation.UploadReport, error)
	Download(ctx context.Context, vehicleID string, t mavitem.MissionType) ([]mavitem.Item, error)
	Clear(ctx context.Context, vehicleID string, t mavitem.MissionType) error
	SetCurrent(ctx context.Context, vehicleID string, seq uint16) error
	Params(ctx context.Context, vehicleID string) ([]session.Param, error)
	ParamGet(ctx context.Context, vehicleID, name string) (session.Param, error)
	ParamSet(ctx context.Context, vehicleID, name string, value float64) (session.Param, error)
	// Group runs fn for every vehicle, at most concurrency at once, one
	// result per vehicle in input order.
	Group(ctx context.Context, vehicleIDs []string, concurrency int, fn func(ctx context.Context, vehicleID string) (any, error)) []groundstation.GroupResult
}

// Control is who may change which vehicle (*control.Table): Check is
// asked before every command, upload, clear, mission change and parameter
// set, per vehicle, with the request's context (its caller).
type Control interface {
	Check(ctx context.Context, vehicleID string, emergency bool, command string) error
	Get(vehicleID string) (control.Hold, bool)
}

// Deps is what Register needs.
type Deps struct {
	Fleet Fleet
	// Station may be nil (no ground station running): every route that
	// needs it then answers 503 after validating its request.
	Station Station
	// Control may be nil: then anyone with the Operator role commands any
	// vehicle (the API before issue 12; tests of other parts).
	Control Control
	// Acks records alert acknowledgements (*alertack.Table); nil answers
	// 503 to POST /api/v1/events/{seq}/ack.
	Acks Acks
	// OnAck, when set, is told of each first acknowledgement (the app
	// puts an alert_ack event on the stream).
	OnAck func(alert fleet.Event, a alertack.Ack)
	Log   *slog.Logger
}

// Acks is what the API asks of the alert acknowledgements.
type Acks interface {
	Ack(seq uint64, by string) (a alertack.Ack, first bool)
	Get(seq uint64) (alertack.Ack, bool)
}

// api serves the vehicle, command, transfer and parameter endpoints on top
// of the fleet state and the ground station. Documented in docs/api.md.
type api struct {
	d Deps
}

// Register declares the vehicle API's routes on mux, each with the access
// level it needs: reads are Observer, anything that changes a vehicle is
// Operator.
func Register(mux *httpapi.Mux, d Deps) {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	h := &api{d: d}
	const (
		get, put, post, del = http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete
		obs, op             = httpapi.Observer, httpapi.Operator
	)
	for _, r := range []struct {
		method, pattern string
		access          httpapi.Access
		fn              func(w http.ResponseWriter, r *http.Request) error
	}{
		{get, "/api/v1/vehicles", obs, h.listVehicles},
		{get, "/api/v1/vehicles/{id}", obs, h.getVehicle},
		{get, "/api/v1/events", obs, h.events},
		{post, "/api/v1/events/{seq}/ack", op, h.ack},
		{get, "/api/v1/vehicles/{id}/events", obs, h.events},
		{get, "/api/v1/links", obs, h.links},
		{post, "/api/v1/vehicles/{id}/commands/{name}", op, h.command},
		{post, "/api/v1/commands/{name}", op, h.groupCommand},
		{put, "/api/v1/vehicles/{id}/{type}", op, h.upload},
		{get, "/api/v1/vehicles/{id}/{type}", obs, h.download},
		{del, "/api/v1/vehicles/{id}/{type}", op, h.clear},
		{post, "/api/v1/vehicles/{id}/mission/current", op, h.setCurrent},
		{post, "/api/v1/uploads", op, h.groupUpload},
		{put, "/api/v1/vehicles/{id}/plan", op, h.uploadPlanFile},
		{get, "/api/v1/vehicles/{id}/params", obs, h.params},
		{get, "/api/v1/vehicles/{id}/params/{name}", obs, h.paramGet},
		{put, "/api/v1/vehicles/{id}/params/{name}", op, h.paramSet},
	} {
		mux.Handle(httpapi.Route{Method: r.method, Pattern: r.pattern, Access: r.access, Handler: h.handle(r.fn)})
	}
}

// handle adapts a handler that returns its error, so every failure is
// written the same way (apiError, then httpapi.WriteError).
func (h *api) handle(fn func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			httpapi.WriteError(w, r, h.d.Log, apiError(err))
		}
	}
}

// apiError maps domain errors to API errors: this is the one place where
// ground-station failures get their HTTP meaning.
func apiError(err error) error {
	var e *httpapi.Error
	var me *session.MissionError
	var ae *session.ArgumentError
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &ae):
		return httpapi.Invalid(ae.Arg, "%v", err)
	case errors.Is(err, groundstation.ErrUnknownVehicle):
		return httpapi.NotFound("%v", err)
	case errors.Is(err, session.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return httpapi.New(httpapi.CodeTimeout, "%v", err)
	case errors.Is(err, session.ErrBusy):
		return httpapi.New(httpapi.CodeConflict, "%v", err)
	case errors.As(err, &me):
		e := httpapi.New(httpapi.CodeRefused, "%v", err)
		e.Details = map[string]any{"mav_mission_result": me.Result}
		return e
	case errors.Is(err, groundstation.ErrNotVerified):
		return httpapi.New(httpapi.CodeRefused, "%v", err)
	case errors.Is(err, session.ErrParamRejected):
		return httpapi.New(httpapi.CodeRefused, "%v", err)
	}
	return err
}

// checkControl asks Control whether the request's caller may change the
// vehicle; emergency commands (control.Emergency) always may.
func (h *api) checkControl(ctx context.Context, vehicleID, command string) error {
	if h.d.Control == nil {
		return nil
	}
	return h.d.Control.Check(ctx, vehicleID, control.Emergency(command), command)
}

// VehicleView is a vehicle as the API shows it: the fleet's state plus
// who holds its control (absent when free).
type VehicleView struct {
	fleet.Vehicle
	Control *ControlView `json:"control,omitempty"`
}

// MarshalJSON encodes the view through the fleet's encoder, the one the
// MQTT and WebSocket relays use, so the three copies of a vehicle agree:
// a NaN or ±Inf the autopilot sent (its "not known") is null, where
// encoding/json would refuse the whole list (an empty 200 answer).
func (v VehicleView) MarshalJSON() ([]byte, error) {
	fv := v.Vehicle
	fv.Control = nil // the view's holder is the one shown, as its field hides the fleet's
	if c := v.Control; c != nil {
		fv.Control = &fleet.Control{Holder: c.Holder, Since: c.Since}
	}
	return append(fv.AppendJSONFields([]byte{'{'}), '}'), nil
}

// ControlView is the holder of a vehicle's control and since when.
type ControlView struct {
	Holder string    `json:"holder"`
	Since  time.Time `json:"since"`
}

func (h *api) view(v fleet.Vehicle) VehicleView {
	out := VehicleView{Vehicle: v}
	if h.d.Control != nil {
		if c, ok := h.d.Control.Get(v.ID); ok {
			out.Control = &ControlView{Holder: c.Holder, Since: c.Since}
		}
	}
	return out
}

func (h *api) station() (Station, error) {
	if h.d.Station == nil {
		return nil, httpapi.New(httpapi.CodeUnavailable, "the ground station is not running")
	}
	return h.d.Station, nil
}

func (h *api) listVehicles(w http.ResponseWriter, r *http.Request) error {
	vs := h.d.Fleet.List()
	if c := r.URL.Query().Get("connected"); c != "" {
		want, err := strconv.ParseBool(c)
		if err != nil {
			return httpapi.Invalid("connected", "want true or false, got %q", c)
		}
		out := vs[:0]
		for _, v := range vs {
			if v.Connected == want {
				out = append(out, v)
			}
		}
		vs = out
	}
	views := make([]VehicleView, len(vs))
	for i, v := range vs {
		views[i] = h.view(v)
	}
	httpapi.WriteJSON(w, http.StatusOK, views)
	return nil
}

func (h *api) vehicle(r *http.Request) (fleet.Vehicle, error) {
	return control.PathVehicle(h.d.Fleet, r)
}

func (h *api) getVehicle(w http.ResponseWriter, r *http.Request) error {
	v, err := h.vehicle(r)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, h.view(v))
	return nil
}

func (h *api) events(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	since, err := uintParam(q.Get("since"), "since", 0)
	if err != nil {
		return err
	}
	limit, err := uintParam(q.Get("limit"), "limit", 200)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if id == "" {
		id = q.Get("vehicle")
	} else if _, err := h.vehicle(r); err != nil {
		return err
	}
	alerts, unacked := q.Get("alerts") == "true", q.Get("unacked") == "true"
	evs := h.d.Fleet.Events(since, id, int(limit))
	out := make([]EventView, 0, len(evs))
	for _, e := range evs {
		if alerts && !e.IsAlert() {
			continue
		}
		v := h.eventView(e)
		if unacked && (v.Ack != nil || !e.IsAlert()) {
			continue
		}
		out = append(out, v)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// EventView is an event as the API lists it: with its acknowledgement,
// once an operator acknowledged the alert.
type EventView struct {
	fleet.Event
	Ack *alertack.Ack `json:"ack,omitempty"`
}

func (h *api) eventView(e fleet.Event) EventView {
	v := EventView{Event: e}
	if h.d.Acks != nil {
		if a, ok := h.d.Acks.Get(e.Seq); ok {
			v.Ack = &a
		}
	}
	return v
}

// ack acknowledges an alert for everyone: the first operator's
// acknowledgement is kept (acknowledging again answers it unchanged), the
// audit entry names the alert, and OnAck tells the stream.
func (h *api) ack(w http.ResponseWriter, r *http.Request) error {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil || seq == 0 {
		return httpapi.Invalid("seq", "want an event's sequence number (a positive integer), got %q", r.PathValue("seq"))
	}
	// The history is oldest first: the first event after seq-1 is seq
	// itself, unless it has already left the history.
	var ev fleet.Event
	if evs := h.d.Fleet.Events(seq-1, "", 0); len(evs) > 0 {
		ev = evs[0]
	}
	if ev.Seq != seq {
		return httpapi.NotFound("event %d is not in the recent history (GET /api/v1/events lists it)", seq)
	}
	if !ev.IsAlert() {
		return httpapi.Invalid("seq", "event %d (%s, %s) is not an alert: only warning and critical events are acknowledged", seq, ev.Kind, ev.Severity)
	}
	if h.d.Acks == nil {
		return httpapi.New(httpapi.CodeUnavailable, "alert acknowledgement is not available")
	}
	c, ok := control.CallerFrom(r.Context())
	if !ok {
		return errors.New("ack: no authenticated caller on the request")
	}
	a, first := h.d.Acks.Ack(seq, c.Actor)
	if first {
		auth.NoteAudit(r.Context(), "acknowledged %s of %s (event %d: %s)", ev.Kind, ev.VehicleID, seq, ev.Message)
		if h.d.OnAck != nil {
			h.d.OnAck(ev, a)
		}
	} else {
		auth.NoteAudit(r.Context(), "event %d was already acknowledged by %s", seq, a.By)
	}
	httpapi.WriteJSON(w, http.StatusOK, EventView{Event: ev, Ack: &a})
	return nil
}

func (h *api) links(w http.ResponseWriter, r *http.Request) error {
	s, err := h.station()
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, s.Links())
	return nil
}

// CommandArgs is the union of every command's arguments (the JSON body of
// a command request); each command checks the ones it needs and names
// missing or bad ones.
type CommandArgs struct {
	Force          bool      `json:"force"`
	AltM           *float64  `json:"alt_m"`
	Mode           string    `json:"mode"`
	Lat            *float64  `json:"lat"`
	Lon            *float64  `json:"lon"`
	First          int       `json:"first"`
	Last           int       `json:"last"`
	GroundSpeedMPS *float64  `json:"ground_speed_mps"`
	Command        uint16    `json:"command"`
	Params         []float32 `json:"params"`
	VehicleIDs     []string  `json:"vehicle_ids"`
	All            bool      `json:"all"`
	Parallel       int       `json:"parallel"`
	TimeoutS       float64   `json:"timeout_s"`
}

// CommandResponse is what a vehicle answered, with its MAV_RESULT.
type CommandResponse struct {
	Command    string   `json:"command"`
	Result     string   `json:"result"`
	ResultCode uint8    `json:"result_code"`
	Attempts   int      `json:"attempts"`
	Progress   uint8    `json:"progress,omitempty"`
	Text       string   `json:"text,omitempty"`
	Texts      []string `json:"texts,omitempty"`
}

var commandNames = []string{"arm", "disarm", "takeoff", "mode", "rtl", "land", "goto", "mission_start", "pause", "continue", "speed", "command"}

// buildCommand turns a named command into the MAVLink request; "mode" and
// "takeoff" are handled by runCommand because they may take two steps.
func buildCommand(name string, b CommandArgs) (session.CommandRequest, error) {
	req := session.CommandRequest{}
	switch name {
	case "arm", "disarm":
		req.Command = cmdComponentArmDisarm
		if name == "arm" {
			req.Params[0] = 1
		}
		if b.Force {
			req.Params[1] = armForceMagic
		}
	case "takeoff":
		if b.AltM == nil {
			return req, httpapi.Invalid("alt_m", "takeoff needs alt_m, the altitude above home in metres")
		}
		if *b.AltM <= 0 || *b.AltM > 10000 || math.IsNaN(*b.AltM) {
			return req, httpapi.Invalid("alt_m", "must be in (0, 10000] metres, got %v", *b.AltM)
		}
		req.Command = cmdNavTakeoff
		req.Params[6] = float32(*b.AltM)
	case "rtl":
		req.Command = cmdNavReturnToLaunch
	case "land":
		req.Command = cmdNavLand
	case "goto":
		if b.Lat == nil || b.Lon == nil || b.AltM == nil {
			return req, httpapi.Invalid(firstMissing(map[string]bool{"lat": b.Lat == nil, "lon": b.Lon == nil, "alt_m": b.AltM == nil}), "goto needs lat, lon (degrees) and alt_m (metres above home)")
		}
		if *b.Lat < -90 || *b.Lat > 90 {
			return req, httpapi.Invalid("lat", "must be within ±90, got %v", *b.Lat)
		}
		if *b.Lon < -180 || *b.Lon > 180 {
			return req, httpapi.Invalid("lon", "must be within ±180, got %v", *b.Lon)
		}
		req.Command = cmdDoReposition
		req.Int = true
		req.Frame = mavitem.FrameGlobalRelAltInt
		req.Params[0] = -1 // default speed
		req.Params[1] = repositionChangeMode
		req.X = int32(math.Round(*b.Lat * 1e7))
		req.Y = int32(math.Round(*b.Lon * 1e7))
		req.Z = float32(*b.AltM)
	case "mission_start":
		req.Command = cmdMissionStart
		req.Params[0], req.Params[1] = float32(b.First), float32(b.Last)
	case "pause", "continue":
		req.Command = cmdDoPauseContinue
		if name == "continue" {
			req.Params[0] = 1
		}
	case "speed":
		if b.GroundSpeedMPS == nil || *b.GroundSpeedMPS <= 0 || *b.GroundSpeedMPS > 50 {
			return req, httpapi.Invalid("ground_speed_mps", "speed needs ground_speed_mps in (0, 50]")
		}
		req.Command = cmdDoChangeSpeed
		req.Params[0] = 1 // ground speed
		req.Params[1] = float32(*b.GroundSpeedMPS)
		req.Params[2] = -1 // throttle unchanged
	case "command":
		if b.Command == 0 {
			return req, httpapi.Invalid("command", "a raw command needs its MAV_CMD number")
		}
		if len(b.Params) > 7 {
			return req, httpapi.Invalid("params", "at most 7 params, got %d", len(b.Params))
		}
		req.Command = b.Command
		copy(req.Params[:], b.Params)
	case "mode":
		if b.Mode == "" {
			return req, httpapi.Invalid("mode", "mode needs a mode name, one of %s", strings.Join(groundstation.ModeNames(), ", "))
		}
		if _, err := groundstation.CopterMode(b.Mode); err != nil {
			return req, httpapi.Invalid("mode", "%v", err)
		}
	default:
		return req, httpapi.NotFound("unknown command %q: one of %s", name, strings.Join(commandNames, ", "))
	}
	return req, nil
}

func firstMissing(missing map[string]bool) string {
	for _, k := range []string{"lat", "lon", "alt_m"} {
		if missing[k] {
			return k
		}
	}
	return ""
}

// RunCommand sends a named command ("arm", "mode", … as the API names
// them) to one vehicle, exactly as POST /api/v1/vehicles/{id}/commands/{name}
// does; the demo flies its patrols through it. Bad arguments and a refusal
// are returned as *httpapi.Error, the refusal with the vehicle's
// MAV_RESULT and STATUSTEXT in its details.
func RunCommand(ctx context.Context, d Deps, id, name string, b CommandArgs) (CommandResponse, error) {
	return (&api{d: d}).runCommand(ctx, id, name, b)
}

func (h *api) runCommand(ctx context.Context, id, name string, b CommandArgs) (CommandResponse, error) {
	req, err := buildCommand(name, b)
	if err != nil {
		return CommandResponse{}, err
	}
	s, err := h.station()
	if err != nil {
		return CommandResponse{}, err
	}
	if err := h.checkControl(ctx, id, name); err != nil {
		return CommandResponse{}, err
	}
	var res session.CommandResult
	switch {
	case name == "mode":
		res, err = s.SetMode(ctx, id, b.Mode)
	case name == "takeoff":
		// ArduCopter takes off only in GUIDED; switch first, as MAVSDK does.
		if v, ok := h.d.Fleet.Get(id); ok && v.Mode != "GUIDED" {
			res, err = s.SetMode(ctx, id, "GUIDED")
			if err != nil || !res.Accepted() {
				break
			}
		}
		res, err = s.Command(ctx, id, req)
	default:
		res, err = s.Command(ctx, id, req)
	}
	if err != nil {
		return CommandResponse{}, fmt.Errorf("%s to vehicle %s: %w", name, id, err)
	}
	out := CommandResponse{Command: name, Result: res.ResultName, ResultCode: res.Result, Attempts: res.Attempts, Progress: res.Progress, Text: res.Text, Texts: res.Texts}
	if !res.Accepted() {
		e := httpapi.New(httpapi.CodeRefused, "vehicle %s refused %s: %s", id, name, res.ResultName)
		if res.Text != "" {
			e.Message += " (" + res.Text + ")"
		}
		texts := res.Texts
		if texts == nil {
			texts = []string{}
		}
		e.Details = map[string]any{"mav_result": res.Result, "result": res.ResultName, "text": res.Text, "texts": texts, "attempts": res.Attempts}
		return out, e
	}
	return out, nil
}

func (h *api) command(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.vehicle(r); err != nil {
		return err
	}
	var b CommandArgs
	if err := decodeOptional(r, &b); err != nil {
		return err
	}
	if err := checkTimeout(b.TimeoutS); err != nil {
		return err
	}
	ctx, cancel := withTimeout(r.Context(), b.TimeoutS, 30*time.Second)
	defer cancel()
	res, err := h.runCommand(ctx, r.PathValue("id"), r.PathValue("name"), b)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, res)
	return nil
}

func (h *api) groupCommand(w http.ResponseWriter, r *http.Request) error {
	var b CommandArgs
	if err := httpapi.DecodeJSON(r, &b, maxBodyBytes); err != nil {
		return err
	}
	ids, err := control.Targets(h.d.Fleet, b.VehicleIDs, b.All)
	if err == nil {
		_, err = buildCommand(r.PathValue("name"), b) // reject bad arguments once, not per vehicle
	}
	if err == nil {
		err = checkTimeout(b.TimeoutS)
	}
	s, serr := h.station()
	if err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(r.Context(), b.TimeoutS, 60*time.Second)
	defer cancel()
	results := s.Group(ctx, ids, parallel(b.Parallel), func(ctx context.Context, id string) (any, error) {
		return h.runCommand(ctx, id, r.PathValue("name"), b)
	})
	httpapi.WriteJSON(w, http.StatusOK, groupResponse(results))
	return nil
}

// GroupResponse summarises a group operation: every vehicle's result plus
// counts, so an operator sees at once how many did not comply.
type GroupResponse struct {
	Succeeded int                         `json:"succeeded"`
	Failed    int                         `json:"failed"`
	Results   []groundstation.GroupResult `json:"results"`
}

func groupResponse(rs []groundstation.GroupResult) GroupResponse {
	out := GroupResponse{Results: rs}
	for _, r := range rs {
		if r.OK {
			out.Succeeded++
		} else {
			out.Failed++
		}
	}
	return out
}

func parallel(n int) int {
	if n <= 0 {
		return defaultGroupParallel
	}
	return n
}

func missionType(r *http.Request) (mavitem.MissionType, error) {
	t, ok := mavitem.ParseMissionType(r.PathValue("type"))
	if !ok {
		return 0, httpapi.NotFound("no %q list on a vehicle: use mission, fence or rally", r.PathValue("type"))
	}
	return t, nil
}

// UploadArgs is the JSON body of an upload: a mission, fence or rally
// list as items, with the group fields for POST /api/v1/uploads.
type UploadArgs struct {
	Items      []mavitem.Item `json:"items"`
	Type       string         `json:"type"`
	Verify     *bool          `json:"verify"`
	Attempts   int            `json:"attempts"`
	VehicleIDs []string       `json:"vehicle_ids"`
	All        bool           `json:"all"`
	Parallel   int            `json:"parallel"`
	TimeoutS   float64        `json:"timeout_s"`
}

func validateItems(items []mavitem.Item, t mavitem.MissionType) error {
	for i, it := range items {
		if int(it.Seq) != i {
			return httpapi.Invalid(fmt.Sprintf("items[%d].seq", i), "must be %d (items are numbered from 0 without gaps)", i)
		}
		if it.MissionType != t {
			return httpapi.Invalid(fmt.Sprintf("items[%d].mission_type", i), "is %d but the list is %s (%d)", it.MissionType, t, t)
		}
		if isGlobalFrame(it.Frame) && (it.X < -900000000 || it.X > 900000000 || it.Y < -1800000000 || it.Y > 1800000000) {
			return httpapi.Invalid(fmt.Sprintf("items[%d].x", i), "latitude/longitude out of range (degrees ×1e7)")
		}
	}
	if len(items) > 65535 {
		return httpapi.Invalid("items", "too many items (%d)", len(items))
	}
	return nil
}

func isGlobalFrame(f uint8) bool {
	switch f {
	case 0, 3, 5, 6, 10, 11:
		return true
	}
	return false
}

func (h *api) upload(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.vehicle(r); err != nil {
		return err
	}
	t, err := missionType(r)
	if err != nil {
		return err
	}
	b, err := decodeUpload(r, t)
	if err != nil {
		return err
	}
	s, err := h.station()
	if err != nil {
		return err
	}
	if err := h.checkControl(r.Context(), r.PathValue("id"), ""); err != nil {
		return err
	}
	ctx, cancel := withTimeout(r.Context(), b.TimeoutS, 5*time.Minute)
	defer cancel()
	rep, err := s.Upload(ctx, r.PathValue("id"), t, b.Items, uploadOptions(b))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, rep)
	return nil
}

func uploadOptions(b UploadArgs) groundstation.UploadOptions {
	verify := b.Verify == nil || *b.Verify
	return groundstation.UploadOptions{Verify: verify, Attempts: b.Attempts}
}

// decodeUpload reads a JSON item list; the item types must match the URL's list.
func decodeUpload(r *http.Request, t mavitem.MissionType) (UploadArgs, error) {
	var b UploadArgs
	if err := httpapi.DecodeJSON(r, &b, maxBodyBytes); err != nil {
		return b, err
	}
	if b.Items == nil {
		return b, httpapi.Invalid("items", "missing: send {\"items\": [...]} (an empty list clears)")
	}
	if err := checkTimeout(b.TimeoutS); err != nil {
		return b, err
	}
	return b, validateItems(b.Items, t)
}

func (h *api) groupUpload(w http.ResponseWriter, r *http.Request) error {
	var b UploadArgs
	if err := httpapi.DecodeJSON(r, &b, maxBodyBytes); err != nil {
		return err
	}
	t, ok := mavitem.ParseMissionType(b.Type)
	if !ok {
		return httpapi.Invalid("type", "want mission, fence or rally, got %q", b.Type)
	}
	if b.Items == nil {
		return httpapi.Invalid("items", "missing")
	}
	if err := validateItems(b.Items, t); err != nil {
		return err
	}
	if err := checkTimeout(b.TimeoutS); err != nil {
		return err
	}
	ids, err := control.Targets(h.d.Fleet, b.VehicleIDs, b.All)
	if err != nil {
		return err
	}
	s, err := h.station()
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(r.Context(), b.TimeoutS, 10*time.Minute)
	defer cancel()
	results := s.Group(ctx, ids, parallel(b.Parallel), func(ctx context.Context, id string) (any, error) {
		if err := h.checkControl(ctx, id, ""); err != nil {
			return nil, err
		}
		rep, err := s.Upload(ctx, id, t, b.Items, uploadOptions(b))
		return rep, err
	})
	httpapi.WriteJSON(w, http.StatusOK, groupResponse(results))
	return nil
}

// uploadPlanFile uploads a QGroundControl .plan (mission, fence and rally)
// or a Mission Planner .waypoints file (mission only; Content-Type
// text/plain) to one vehicle, each list verified by read-back. Lists are
// uploaded in the order fence, rally, mission, so a vehicle never holds a
// new mission without the fence that was planned with it.
func (h *api) uploadPlanFile(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.vehicle(r); err != nil {
		return err
	}
	body := http.MaxBytesReader(w, r.Body, maxBodyBytes)
	var (
		plan *missions.Plan
		err  error
	)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		plan, err = missions.ParseWaypoints(body)
	} else {
		plan, err = missions.ParsePlan(body)
	}
	if err != nil {
		return httpapi.Invalid("", "%v", err)
	}
	s, err := h.station()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := h.checkControl(r.Context(), id, ""); err != nil {
		return err
	}
	ctx, cancel := withTimeout(r.Context(), 0, 5*time.Minute)
	defer cancel()
	out := map[string]groundstation.UploadReport{}
	lists := []struct {
		t     mavitem.MissionType
		items []mavitem.Item
		skip  bool
	}{
		{mavitem.TypeFence, plan.Fence, plan.Fence == nil},
		{mavitem.TypeRally, plan.Rally, plan.Rally == nil},
		{mavitem.TypeMission, plan.MissionWithHome(), false},
	}
	for _, l := range lists {
		if l.skip {
			continue
		}
		rep, err := s.Upload(ctx, id, l.t, l.items, groundstation.UploadOptions{Verify: true})
		if err != nil {
			return fmt.Errorf("upload %s: %w", l.t, err)
		}
		out[l.t.String()] = rep
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h *api) download(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.vehicle(r); err != nil {
		return err
	}
	t, err := missionType(r)
	if err != nil {
		return err
	}
	s, err := h.station()
	if err != nil {
		return err
	}
	items, err := s.Download(r.Context(), r.PathValue("id"), t)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"type": t.String(), "items": items})
	return nil
}

// target checks the request's vehicle is known and the station is running.
func (h *api) target(r *http.Request) (Station, string, error) {
	if _, err := h.vehicle(r); err != nil {
		return nil, "", err
	}
	s, err := h.station()
	if err != nil {
		return nil, "", err
	}
	return s, r.PathValue("id"), nil
}

func (h *api) clear(w http.ResponseWriter, r *http.Request) error {
	t, err := missionType(r)
	if err != nil {
		return err
	}
	s, id, err := h.target(r)
	if err == nil {
		err = h.checkControl(r.Context(), id, "")
	}
	if err == nil {
		err = s.Clear(r.Context(), id, t)
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"type": t.String(), "cleared": true})
	return nil
}

func (h *api) setCurrent(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Seq *int `json:"seq"`
	}
	if err := httpapi.DecodeJSON(r, &b, maxBodyBytes); err != nil {
		return err
	}
	if b.Seq == nil || *b.Seq < 0 || *b.Seq > 65535 {
		return httpapi.Invalid("seq", "want the mission item number (0-65535)")
	}
	s, id, err := h.target(r)
	if err == nil {
		err = h.checkControl(r.Context(), id, "")
	}
	if err == nil {
		err = s.SetCurrent(r.Context(), id, uint16(*b.Seq))
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"seq": *b.Seq})
	return nil
}

func (h *api) params(w http.ResponseWriter, r *http.Request) error {
	s, id, err := h.target(r)
	if err != nil {
		return err
	}
	ps, err := s.Params(r.Context(), id)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, ps)
	return nil
}

func (h *api) paramGet(w http.ResponseWriter, r *http.Request) error {
	s, id, err := h.target(r)
	if err != nil {
		return err
	}
	start := time.Now()
	p, err := s.ParamGet(r.Context(), id, r.PathValue("name"))
	if err != nil {
		return h.paramError(id, r.PathValue("name"), start, err)
	}
	httpapi.WriteJSON(w, http.StatusOK, p)
	return nil
}

func (h *api) paramSet(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Value *float64 `json:"value"`
	}
	if err := httpapi.DecodeJSON(r, &b, maxBodyBytes); err != nil {
		return err
	}
	if b.Value == nil || math.IsNaN(*b.Value) || math.IsInf(*b.Value, 0) {
		return httpapi.Invalid("value", "want a finite number")
	}
	s, id, err := h.target(r)
	if err != nil {
		return err
	}
	if err := h.checkControl(r.Context(), id, ""); err != nil {
		return err
	}
	start := time.Now()
	p, err := s.ParamSet(r.Context(), id, r.PathValue("name"), *b.Value)
	if err != nil {
		return h.paramError(id, r.PathValue("name"), start, err)
	}
	httpapi.WriteJSON(w, http.StatusOK, p)
	return nil
}

// paramError tells a parameter the vehicle does not have from a link that
// failed. A name outside a parameter table the session knows in full is
// 404 at once (session.ErrUnknownParam). Otherwise ArduPilot does not answer a read of a name it does not know, so
// both end in ErrTimeout; but if the vehicle kept being heard while the
// request went unanswered, the link worked and the name is what is wrong
// (404). Without any frame since the request began it is a timeout (504).
func (h *api) paramError(id, name string, start time.Time, err error) error {
	if errors.Is(err, session.ErrUnknownParam) {
		return httpapi.NotFound("vehicle %s has no parameter %q: it is not in the vehicle's parameter table (GET /api/v1/vehicles/%s/params lists them)", id, name, id)
	}
	if !errors.Is(err, session.ErrTimeout) {
		return err
	}
	if v, ok := h.d.Fleet.Get(id); ok && v.LastSeen.After(start) {
		return httpapi.NotFound("vehicle %s has no parameter %q: it kept sending telemetry but never answered for this name (GET /api/v1/vehicles/%s/params lists them)", id, name, id)
	}
	return err
}

// decodeOptional decodes a JSON body when there is one; commands such as
// rtl need none.
func decodeOptional(r *http.Request, dst any) error {
	if r.ContentLength == 0 && r.Header.Get("Transfer-Encoding") == "" {
		return nil
	}
	return httpapi.DecodeJSON(r, dst, maxBodyBytes)
}

// maxTimeoutS bounds timeout_s: a day is longer than any operation, and
// larger values would overflow time.Duration.
const maxTimeoutS = 86400

// checkTimeout refuses a timeout_s that is negative, not a number or
// beyond maxTimeoutS (0 or absent takes the operation's default).
func checkTimeout(seconds float64) error {
	if math.IsNaN(seconds) || seconds < 0 || seconds > maxTimeoutS {
		return httpapi.Invalid("timeout_s", "want seconds in [0, %d] (0 or absent: the default), got %v", maxTimeoutS, seconds)
	}
	return nil
}

func withTimeout(ctx context.Context, seconds float64, def time.Duration) (context.Context, context.CancelFunc) {
	d := def
	if seconds > 0 {
		d = time.Duration(seconds * float64(time.Second))
	}
	return context.WithTimeout(ctx, d)
}

func uintParam(s, name string, def uint64) (uint64, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, httpapi.Invalid(name, "want a non-negative integer, got %q", s)
	}
	return n, nil
}
