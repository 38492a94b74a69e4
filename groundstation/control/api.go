package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/burgut-uav/burgut/auth"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/httpapi"
)

// Emergency reports whether a named command (as the vehicle API names
// them) is one every operator may send whoever holds control: the ones
// that make an aircraft stop or come home.
func Emergency(command string) bool {
	switch command {
	case "rtl", "land", "pause":
		return true
	}
	return false
}

// CallerFrom is the request's caller, from the principal the access guard
// put on ctx. Without one (the station's own automation, such as the
// demo's patrols, which no person sends) ok is false.
func CallerFrom(ctx context.Context) (c Caller, ok bool) {
	p, ok := auth.FromContext(ctx)
	if !ok || p.Name == "" {
		return Caller{}, false
	}
	return Caller{Actor: p.Actor(), Supervisor: p.Role == auth.Admin}, true
}

// Check is the gate of every call that changes a vehicle: it authorizes
// the caller on ctx (Authorize), notes in the call's audit entry a control
// taken by a first command or an emergency command that bypassed another
// holder, and answers a refusal as the API's 409 "controlled" naming the
// holder and since when. Calls without a caller pass (see CallerFrom).
func (t *Table) Check(ctx context.Context, vehicleID string, emergency bool, command string) error {
	c, ok := CallerFrom(ctx)
	if !ok {
		return nil
	}
	d, err := t.Authorize(c, vehicleID, emergency, command)
	var he *HeldError
	switch {
	case errors.As(err, &he):
		auth.NoteAudit(ctx, "refused: %v", err)
		return heldAPIError(he)
	case err != nil:
		return err
	case d.Bypassed != "":
		auth.NoteAudit(ctx, "emergency %s to %s bypassed the control held by %s", command, vehicleID, d.Bypassed)
	case d.Took:
		auth.NoteAudit(ctx, "took control of %s (first command to a free vehicle)", vehicleID)
	}
	return nil
}

func heldAPIError(he *HeldError) *httpapi.Error {
	e := httpapi.New(httpapi.CodeControlled, "%v", he)
	e.Details = map[string]any{"vehicle_id": he.VehicleID, "holder": he.Holder, "since": he.Since.UTC().Format(time.RFC3339Nano)}
	return e
}

// Fleet is what the control routes read of the fleet: which vehicles
// exist (*fleet.Fleet).
type Fleet interface {
	List() []fleet.Vehicle
	Get(id string) (fleet.Vehicle, bool)
}

// State is the answer of GET /api/v1/control.
type State struct {
	IdleTimeoutS float64 `json:"idle_timeout_s"`
	Holds        []Hold  `json:"holds"`
}

// TakeRequest is the body of POST /api/v1/control and (vehicle_ids and
// all aside) of POST /api/v1/vehicles/{id}/control.
type TakeRequest struct {
	VehicleIDs []string `json:"vehicle_ids"`
	All        bool     `json:"all"`
	Takeover   bool     `json:"takeover"`
}

// Result is one vehicle's outcome of a group take.
type Result struct {
	VehicleID string `json:"vehicle_id"`
	OK        bool   `json:"ok"`
	Hold      *Hold  `json:"hold,omitempty"`
	// Holder and Since name who kept the vehicle when it was refused.
	Holder string     `json:"holder,omitempty"`
	Since  *time.Time `json:"since,omitempty"`
	Error  string     `json:"error,omitempty"`
}

// GroupResult answers POST /api/v1/control: every vehicle's outcome and
// the counts.
type GroupResult struct {
	Succeeded int      `json:"succeeded"`
	Failed    int      `json:"failed"`
	Results   []Result `json:"results"`
}

// maxBody bounds control request bodies (a list of vehicle IDs).
const maxBody = 1 << 20

type api struct {
	t   *Table
	f   Fleet
	log *slog.Logger
}

// Register serves the control routes (docs/api.md, "Control between
// operators"): reading control is for observers, taking and releasing it
// for operators (takeover only for admins, checked here).
func Register(mux *httpapi.Mux, t *Table, f Fleet, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	h := &api{t: t, f: f, log: log}
	mux.HandleFunc(http.MethodGet, "/api/v1/control", httpapi.Observer, h.handle(h.list))
	mux.HandleFunc(http.MethodPost, "/api/v1/control", httpapi.Operator, h.handle(h.takeGroup))
	mux.HandleFunc(http.MethodDelete, "/api/v1/control", httpapi.Operator, h.handle(h.releaseMine))
	mux.HandleFunc(http.MethodPost, "/api/v1/vehicles/{id}/control", httpapi.Operator, h.handle(h.takeOne))
	mux.HandleFunc(http.MethodDelete, "/api/v1/vehicles/{id}/control", httpapi.Operator, h.handle(h.releaseOne))
}

func (h *api) handle(fn func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			httpapi.WriteError(w, r, h.log, err)
		}
	}
}

func caller(r *http.Request) (Caller, error) {
	c, ok := CallerFrom(r.Context())
	if !ok {
		// The guard wraps every route, so this is a wiring mistake.
		return c, errors.New("control: no authenticated caller on the request")
	}
	return c, nil
}

func (h *api) list(w http.ResponseWriter, r *http.Request) error {
	httpapi.WriteJSON(w, http.StatusOK, State{IdleTimeoutS: h.t.Idle().Seconds(), Holds: h.t.List()})
	return nil
}

// take runs one take and notes it in the audit entry: a takeover names
// the previous holder (the entry's actor is the new one).
func (h *api) take(r *http.Request, c Caller, id string, takeover bool) (Hold, error) {
	hold, ch, err := h.t.Take(c, id, takeover)
	var he *HeldError
	switch {
	case errors.As(err, &he):
		auth.NoteAudit(r.Context(), "refused: %v", err)
		return hold, heldAPIError(he)
	case errors.Is(err, ErrNotSupervisor):
		auth.NoteAudit(r.Context(), "refused: %v", err)
		e := httpapi.New(httpapi.CodeForbidden, "%v", err)
		e.Details = map[string]any{"vehicle_id": id, "holder": hold.Holder, "since": hold.Since.UTC().Format(time.RFC3339Nano)}
		return hold, e
	case err != nil:
		return hold, err
	case ch.Action == ActionTakeover:
		auth.NoteAudit(r.Context(), "took control of %s over from %s (takeover by %s)", id, ch.Previous, c.Actor)
	case ch.Action == ActionTaken:
		auth.NoteAudit(r.Context(), "took control of %s", id)
	}
	return hold, nil
}

func (h *api) takeOne(w http.ResponseWriter, r *http.Request) error {
	v, err := PathVehicle(h.f, r)
	if err != nil {
		return err
	}
	id := v.ID // the fleet's own ID, as the path named it
	var b TakeRequest
	if r.ContentLength != 0 || r.Header.Get("Transfer-Encoding") != "" {
		if err := httpapi.DecodeJSON(r, &b, maxBody); err != nil {
			return err
		}
	}
	if len(b.VehicleIDs) > 0 || b.All {
		return httpapi.Invalid("vehicle_ids", "the vehicle is in the path; use POST /api/v1/control for several")
	}
	c, err := caller(r)
	if err != nil {
		return err
	}
	hold, err := h.take(r, c, id, b.Takeover)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, hold)
	return nil
}

// PathVehicle is the vehicle a route's {id} names, or a 404 naming it: the
// one reading of a path's vehicle for the control and vehicle routes.
func PathVehicle(f Fleet, r *http.Request) (fleet.Vehicle, error) {
	id := r.PathValue("id")
	v, ok := f.Get(id)
	if !ok {
		return v, httpapi.NotFound("vehicle %q is not known (GET /api/v1/vehicles lists them)", id)
	}
	return v, nil
}

// Targets resolves a group request's vehicle_ids or all (every connected
// vehicle) into fleet IDs. It is the one reading of a group's targets, for
// the control routes and for group commands and uploads (vehicleapi), so a
// bad group is refused with the same 400 naming the field everywhere.
func Targets(f Fleet, ids []string, all bool) ([]string, error) {
	if all {
		if len(ids) > 0 {
			return nil, httpapi.Invalid("all", "give either vehicle_ids or all, not both")
		}
		for _, v := range f.List() {
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
		if _, ok := f.Get(id); !ok {
			return nil, httpapi.Invalid(fmt.Sprintf("vehicle_ids[%d]", i), "vehicle %q is not known", id)
		}
	}
	return ids, nil
}

func (h *api) takeGroup(w http.ResponseWriter, r *http.Request) error {
	var b TakeRequest
	if err := httpapi.DecodeJSON(r, &b, maxBody); err != nil {
		return err
	}
	ids, err := Targets(h.f, b.VehicleIDs, b.All)
	if err != nil {
		return err
	}
	c, err := caller(r)
	if err != nil {
		return err
	}
	out := GroupResult{Results: make([]Result, 0, len(ids))}
	for _, id := range ids {
		hold, err := h.take(r, c, id, b.Takeover)
		res := Result{VehicleID: id, OK: err == nil}
		if err == nil {
			res.Hold = &hold
			out.Succeeded++
		} else {
			res.Error = err.Error()
			if hold.Holder != "" {
				since := hold.Since
				res.Holder, res.Since = hold.Holder, &since
			}
			out.Failed++
		}
		out.Results = append(out.Results, res)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h *api) releaseOne(w http.ResponseWriter, r *http.Request) error {
	v, err := PathVehicle(h.f, r)
	if err != nil {
		return err
	}
	id := v.ID // the fleet's own ID, as the path named it
	c, err := caller(r)
	if err != nil {
		return err
	}
	prev, _ := h.t.Get(id)
	released, err := h.t.Release(c, id)
	var he *HeldError
	if errors.As(err, &he) {
		auth.NoteAudit(r.Context(), "refused: %v", err)
		return heldAPIError(he)
	}
	if err != nil {
		return err
	}
	if released && prev.Holder != c.Actor {
		auth.NoteAudit(r.Context(), "released the control of %s held by %s", id, prev.Holder)
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"vehicle_id": id, "released": released})
	return nil
}

func (h *api) releaseMine(w http.ResponseWriter, r *http.Request) error {
	c, err := caller(r)
	if err != nil {
		return err
	}
	ids := h.t.ReleaseAll(c.Actor, ActionReleased)
	if ids == nil {
		ids = []string{}
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"released": ids})
	return nil
}
