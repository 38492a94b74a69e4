package app

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation"
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

// api serves the vehicle, command, transfer and parameter endpoints on top
// of the fleet state and the ground station. Documented in docs/api.md.
type api struct {
	a *App
}

func (a *App) startAPI(ctx context.Context) error {
	h := &api{a: a}
	m := a.Mux
	m.HandleFunc("GET /api/v1/vehicles", h.handle(h.listVehicles))
	m.HandleFunc("GET /api/v1/vehicles/{id}", h.handle(h.getVehicle))
	m.HandleFunc("GET /api/v1/events", h.handle(h.events))
	m.HandleFunc("GET /api/v1/vehicles/{id}/events", h.handle(h.events))
	m.HandleFunc("GET /api/v1/links", h.handle(h.links))
	m.HandleFunc("POST /api/v1/vehicles/{id}/commands/{name}", h.handle(h.command))
	m.HandleFunc("POST /api/v1/commands/{name}", h.handle(h.groupCommand))
	m.HandleFunc("PUT /api/v1/vehicles/{id}/{type}", h.handle(h.upload))
	m.HandleFunc("GET /api/v1/vehicles/{id}/{type}", h.handle(h.download))
	m.HandleFunc("DELETE /api/v1/vehicles/{id}/{type}", h.handle(h.clear))
	m.HandleFunc("POST /api/v1/vehicles/{id}/mission/current", h.handle(h.setCurrent))
	m.HandleFunc("POST /api/v1/uploads", h.handle(h.groupUpload))
	m.HandleFunc("PUT /api/v1/vehicles/{id}/plan", h.handle(h.uploadPlanFile))
	m.HandleFunc("GET /api/v1/vehicles/{id}/params", h.handle(h.params))
	m.HandleFunc("GET /api/v1/vehicles/{id}/params/{name}", h.handle(h.paramGet))
	m.HandleFunc("PUT /api/v1/vehicles/{id}/params/{name}", h.handle(h.paramSet))
	return nil
}

// handle adapts a handler that returns its error, so every failure is
// written the same way (apiError, then httpapi.WriteError).
func (h *api) handle(fn func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			httpapi.WriteError(w, r, h.a.Log, apiError(err))
		}
	}
}

// apiError maps domain errors to API errors: this is the one place where
// ground-station failures get their HTTP meaning.
func apiError(err error) error {
	var e *httpapi.Error
	var me *session.MissionError
	switch {
	case errors.As(err, &e):
		return e
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
	case errors.Is(err, session.ErrParamRejected):
		return httpapi.New(httpapi.CodeRefused, "%v", err)
	}
	return err
}

func (h *api) station() (*groundstation.Station, error) {
	if h.a.Station == nil {
		return nil, httpapi.New(httpapi.CodeUnavailable, "the ground station is not running")
	}
	return h.a.Station, nil
}

func (h *api) listVehicles(w http.ResponseWriter, r *http.Request) error {
	vs := h.a.Fleet.List()
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
	httpapi.WriteJSON(w, http.StatusOK, vs)
	return nil
}

func (h *api) vehicle(r *http.Request) (fleet.Vehicle, error) {
	id := r.PathValue("id")
	v, ok := h.a.Fleet.Get(id)
	if !ok {
		return v, httpapi.NotFound("vehicle %q is not known (GET /api/v1/vehicles lists them)", id)
	}
	return v, nil
}

func (h *api) getVehicle(w http.ResponseWriter, r *http.Request) error {
	v, err := h.vehicle(r)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, v)
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
	evs := h.a.Fleet.Events(since, id, int(limit))
	if q.Get("alerts") == "true" {
		out := evs[:0]
		for _, e := range evs {
			if e.IsAlert() {
				out = append(out, e)
			}
		}
		evs = out
	}
	httpapi.WriteJSON(w, http.StatusOK, evs)
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

// commandBody is the union of every command's arguments; each command
// checks the ones it needs and names missing or bad ones.
type commandBody struct {
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
	Command    string `json:"command"`
	Result     string `json:"result"`
	ResultCode uint8  `json:"result_code"`
	Attempts   int    `json:"attempts"`
	Progress   uint8  `json:"progress,omitempty"`
	Text       string `json:"text,omitempty"`
}

var commandNames = []string{"arm", "disarm", "takeoff", "mode", "rtl", "land", "goto", "mission_start", "pause", "continue", "speed", "command"}

// buildCommand turns a named command into the MAVLink request; "mode" and
// "takeoff" are handled by runCommand because they may take two steps.
func buildCommand(name string, b commandBody) (session.CommandRequest, error) {
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

// runCommand sends a named command to one vehicle. A refusal is returned as
// a *httpapi.Error with the vehicle's MAV_RESULT in its details.
func (h *api) runCommand(ctx context.Context, id, name string, b commandBody) (CommandResponse, error) {
	req, err := buildCommand(name, b)
	if err != nil {
		return CommandResponse{}, err
	}
	s, err := h.station()
	if err != nil {
		return CommandResponse{}, err
	}
	var res session.CommandResult
	switch {
	case name == "mode":
		res, err = s.SetMode(ctx, id, b.Mode)
	case name == "takeoff":
		// ArduCopter takes off only in GUIDED; switch first, as MAVSDK does.
		if v, ok := h.a.Fleet.Get(id); ok && v.Mode != "GUIDED" {
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
	out := CommandResponse{Command: name, Result: res.ResultName, ResultCode: res.Result, Attempts: res.Attempts, Progress: res.Progress, Text: res.Text}
	if !res.Accepted() {
		e := httpapi.New(httpapi.CodeRefused, "vehicle %s refused %s: %s", id, name, res.ResultName)
		if res.Text != "" {
			e.Message += " (" + res.Text + ")"
		}
		e.Details = map[string]any{"mav_result": res.Result, "result": res.ResultName, "text": res.Text, "attempts": res.Attempts}
		return out, e
	}
	return out, nil
}

func (h *api) command(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.vehicle(r); err != nil {
		return err
	}
	var b commandBody
	if err := decodeOptional(r, &b); err != nil {
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

// groupTargets resolves "vehicle_ids" or "all" into known vehicle IDs.
func (h *api) groupTargets(ids []string, all bool) ([]string, error) {
	if all {
		if len(ids) > 0 {
			return nil, httpapi.Invalid("all", "give either vehicle_ids or all, not both")
		}
		for _, v := range h.a.Fleet.List() {
			if v.Connected {
				ids = append(ids, v.ID)
			}
		}
		return ids, nil
	}
	if len(ids) == 0 {
		return nil, httpapi.Invalid("vehicle_ids", "list the vehicles, or set all: true")
	}
	for i, id := range ids {
		if _, ok := h.a.Fleet.Get(id); !ok {
			return nil, httpapi.Invalid(fmt.Sprintf("vehicle_ids[%d]", i), "vehicle %q is not known", id)
		}
	}
	return ids, nil
}

func (h *api) groupCommand(w http.ResponseWriter, r *http.Request) error {
	var b commandBody
	if err := httpapi.DecodeJSON(r, &b, maxBodyBytes); err != nil {
		return err
	}
	ids, err := h.groupTargets(b.VehicleIDs, b.All)
	if err == nil {
		_, err = buildCommand(r.PathValue("name"), b) // reject bad arguments once, not per vehicle
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

// uploadBody is a mission, fence or rally list as JSON items.
type uploadBody struct {
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
	ctx, cancel := withTimeout(r.Context(), b.TimeoutS, 5*time.Minute)
	defer cancel()
	rep, err := s.Upload(ctx, r.PathValue("id"), t, b.Items, uploadOptions(b))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, rep)
	return nil
}

func uploadOptions(b uploadBody) groundstation.UploadOptions {
	verify := b.Verify == nil || *b.Verify
	return groundstation.UploadOptions{Verify: verify, Attempts: b.Attempts}
}

// decodeUpload reads a JSON item list; the item types must match the URL's list.
func decodeUpload(r *http.Request, t mavitem.MissionType) (uploadBody, error) {
	var b uploadBody
	if err := httpapi.DecodeJSON(r, &b, maxBodyBytes); err != nil {
		return b, err
	}
	if b.Items == nil {
		return b, httpapi.Invalid("items", "missing: send {\"items\": [...]} (an empty list clears)")
	}
	return b, validateItems(b.Items, t)
}

func (h *api) groupUpload(w http.ResponseWriter, r *http.Request) error {
	var b uploadBody
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
	ids, err := h.groupTargets(b.VehicleIDs, b.All)
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
	ctx, cancel := withTimeout(r.Context(), 0, 5*time.Minute)
	defer cancel()
	id := r.PathValue("id")
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

func (h *api) session(r *http.Request) (*session.Vehicle, error) {
	if _, err := h.vehicle(r); err != nil {
		return nil, err
	}
	s, err := h.station()
	if err != nil {
		return nil, err
	}
	return s.Session(r.PathValue("id"))
}

func (h *api) clear(w http.ResponseWriter, r *http.Request) error {
	t, err := missionType(r)
	if err != nil {
		return err
	}
	sess, err := h.session(r)
	if err == nil {
		err = sess.Clear(r.Context(), t)
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
	sess, err := h.session(r)
	if err == nil {
		err = sess.SetCurrent(r.Context(), uint16(*b.Seq))
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"seq": *b.Seq})
	return nil
}

func (h *api) params(w http.ResponseWriter, r *http.Request) error {
	sess, err := h.session(r)
	if err != nil {
		return err
	}
	ps, err := sess.ParamsAll(r.Context(), nil)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, ps)
	return nil
}

func (h *api) paramGet(w http.ResponseWriter, r *http.Request) error {
	sess, err := h.session(r)
	if err != nil {
		return err
	}
	p, err := sess.ParamGet(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
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
	sess, err := h.session(r)
	if err != nil {
		return err
	}
	p, err := sess.ParamSet(r.Context(), r.PathValue("name"), *b.Value)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, p)
	return nil
}

// decodeOptional decodes a JSON body when there is one; commands such as
// rtl need none.
func decodeOptional(r *http.Request, dst any) error {
	if r.ContentLength == 0 && r.Header.Get("Transfer-Encoding") == "" {
		return nil
	}
	return httpapi.DecodeJSON(r, dst, maxBodyBytes)
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
