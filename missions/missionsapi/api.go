// Package missionsapi is the HTTP API over event areas and plans: operators
// create areas from GeoJSON, plan patterns over them, preview and download
// the plans (.plan, .waypoints, GeoJSON), and assign each drone's plan to a
// vehicle, which uploads mission, fence and rally through the ground
// station (behind the Uploader interface).
package missionsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/burgut-uav/burgut/httpapi"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/missions"
)

// Uploader is what the API needs from the ground station: transfer one
// item list of one type to one vehicle. Mission items start with home at
// seq 0, as ArduPilot expects. tag names the plan and area a mission list
// comes from; the ground station tags the vehicle's telemetry with it until
// the mission completes or is replaced.
type Uploader interface {
	UploadMission(ctx context.Context, vehicleID string, t mavitem.MissionType, items []mavitem.Item, tag Tag) error
}

// Tag is what an assigned vehicle's telemetry is tagged with (the
// InfluxDB `mission` and `event_area` tags): the plan's ID and its area's.
type Tag struct {
	Mission, EventArea string
}

// ParamSetter is implemented by an Uploader that can also set vehicle
// parameters. Assign then sets each drone's FenceParams after its lists are
// uploaded, so the fence is enforced as the checker assumed; without it the
// result lists the parameters as not set.
type ParamSetter interface {
	SetParam(ctx context.Context, vehicleID, name string, value float64) error
}

// ParamGetter is implemented by an Uploader that can read vehicle
// parameters. A plan request naming "vehicles" is then planned for the
// smallest storage among them (missions.CapacityFromParams); without it
// such a request answers 503.
type ParamGetter interface {
	// GetParam reads one parameter. ok is false when the vehicle does not
	// have it (or does not answer before ctx ends); an unknown vehicle is
	// an error wrapping ErrUnknownVehicle.
	GetParam(ctx context.Context, vehicleID, name string) (value float64, ok bool, err error)
}

// ErrUnknownVehicle is what a ParamGetter wraps for a vehicle ID it does
// not know: the caller's mistake, answered 400.
var ErrUnknownVehicle = errors.New("unknown vehicle")

// capacityReadTimeout bounds reading one vehicle's storage parameters: a
// vehicle without them (older firmware) never answers, and its capacity is
// then the request's (or the defaults).
const capacityReadTimeout = 2 * time.Second

// Deps are the handlers' collaborators.
type Deps struct {
	Store    *Store
	Uploader Uploader // nil: assign answers 503
	Log      *slog.Logger
	Check    missions.CheckOptions
	// Airspace returns the plans already flying (or scheduled to) in a
	// time window — the slots of active patrol operations — which a plan
	// must keep its separation from (nil: none known).
	Airspace Airspace
}

// Airspace finds the plan sets active in [start, end); a zero start or
// end leaves that side open.
type Airspace func(start, end time.Time) []missions.PlanSet

const maxBody = 16 << 20

// Store keeps areas and plans in memory, and in DataDir/missions.json when
// a data directory is given, so they survive a restart.
type Store struct {
	mu     sync.Mutex
	path   string
	next   int
	areas  map[string]*missions.Area
	plans  map[string]*PlanSet
	source map[string][]byte // area GeoJSON as created, persisted
	// uploads: which plan and drone each vehicle was last given a mission
	// of (for Flying).
	uploads map[string]upload
}

type upload struct {
	ps    *PlanSet
	drone int
}

func (s *Store) assigned(vehicleID string, ps *PlanSet, drone int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.uploads == nil {
		s.uploads = map[string]upload{}
	}
	s.uploads[vehicleID] = upload{ps, drone}
}

// Flying returns the plan sets whose missions were uploaded through this
// API and are still being flown — flying(vehicle, plan ID) tells, e.g.
// the vehicle still carries the plan's mission tag — each labelled
// "plan ID" with the drones of it being flown, for the separation checks
// of other planners (patrol operations).
func (s *Store) Flying(flying func(vehicleID, planID string) bool) []missions.PlanSet {
	s.mu.Lock()
	ups := make(map[string]upload, len(s.uploads))
	for v, u := range s.uploads {
		ups[v] = u
	}
	s.mu.Unlock()
	byPlan := map[string]*missions.PlanSet{}
	var ids []string
	vids := make([]string, 0, len(ups))
	for v := range ups {
		vids = append(vids, v)
	}
	sort.Strings(vids)
	for _, v := range vids {
		u := ups[v]
		if !flying(v, u.ps.ID) {
			continue
		}
		set := byPlan[u.ps.ID]
		if set == nil {
			set = &missions.PlanSet{Label: "plan " + u.ps.ID}
			byPlan[u.ps.ID] = set
			ids = append(ids, u.ps.ID)
		}
		set.Plans = append(set.Plans, u.ps.Drones[u.drone])
	}
	sort.Strings(ids)
	out := make([]missions.PlanSet, 0, len(ids))
	for _, id := range ids {
		out = append(out, *byPlan[id])
	}
	return out
}

// PlanSet is one planning run: the options, per-drone plans and what the
// checker said.
type PlanSet struct {
	ID         string                `json:"id"`
	AreaID     string                `json:"area_id"`
	Options    missions.PlanOptions  `json:"options"`
	Drones     []*missions.DronePlan `json:"drones"`
	Violations []missions.Violation  `json:"violations"`
	OK         bool                  `json:"ok"`
	// Conflicts are separation violations against other plans active in
	// the same airspace (patrol operations whose window overlaps the
	// area's), each naming the other in other.plan: found when the plan is
	// made and again when it is assigned, where they refuse it (409)
	// unless forced. They do not make the plan itself fail (OK).
	Conflicts []missions.Violation `json:"conflicts"`
	// ReturnsTogether are the pairs of drones whose returns would come too
	// close if all were sent home at the same moment (a GCS failsafe, an
	// operator's "all home"; missions.Checker.SimultaneousReturns): on a
	// pad too small for separate landing spots, or sharing a transit
	// layer. They do not fail the plan (OK): such returns are sequenced.
	ReturnsTogether []missions.Violation `json:"returns_together"`
	// Battery is each drone's estimated flight time against its battery
	// budget (what the battery rule judged), for the preview.
	Battery []missions.BatteryUse `json:"battery"`
	// Source names the mission file a plan was imported from (empty for a
	// plan the planner made).
	Source string `json:"source,omitempty"`
	area   *missions.Area
}

type persisted struct {
	Next  int               `json:"next"`
	Areas map[string][]byte `json:"areas"`
}

// NewStore opens (or starts) a store; dataDir "" keeps everything in memory.
// Plans are not persisted: they are cheap to recompute from their area.
func NewStore(dataDir string) (*Store, error) {
	s := &Store{areas: map[string]*missions.Area{}, plans: map[string]*PlanSet{}, source: map[string][]byte{}}
	if dataDir == "" {
		return s, nil
	}
	s.path = filepath.Join(dataDir, "missions.json")
	b, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open mission store: %w", err)
	}
	var p persisted
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("mission store %s: %w", s.path, err)
	}
	s.next = p.Next
	for id, src := range p.Areas {
		a, err := missions.ImportGeoJSON(bytes.NewReader(src))
		if err != nil {
			return nil, fmt.Errorf("mission store %s: area %s: %w", s.path, id, err)
		}
		s.areas[id], s.source[id] = a, src
	}
	return s, nil
}

func (s *Store) saveLocked() error {
	if s.path == "" {
		return nil
	}
	b, err := json.Marshal(persisted{Next: s.next, Areas: s.source})
	if err != nil {
		return err
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("save mission store: %w", err)
	}
	return os.Rename(tmp, s.path)
}

func (s *Store) addArea(a *missions.Area, src []byte) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	id := "a" + strconv.Itoa(s.next)
	s.areas[id], s.source[id] = a, src
	return id, s.saveLocked()
}

func (s *Store) area(id string) (*missions.Area, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.areas[id]
	return a, ok
}

func (s *Store) addPlan(ps *PlanSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	ps.ID = "p" + strconv.Itoa(s.next)
	s.plans[ps.ID] = ps
}

func (s *Store) plan(id string) (*PlanSet, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.plans[id]
	return p, ok
}

// Register mounts the areas and plans endpoints on mux.
func Register(mux *httpapi.Mux, d Deps) {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	h := &handlers{d: d, storage: map[string]storageParams{}}
	mux.HandleFunc(http.MethodPost, "/api/v1/areas", httpapi.Operator, h.wrap(h.createArea))
	mux.HandleFunc(http.MethodGet, "/api/v1/areas", httpapi.Observer, h.wrap(h.listAreas))
	mux.HandleFunc(http.MethodGet, "/api/v1/areas/{id}", httpapi.Observer, h.wrap(h.getArea))
	mux.HandleFunc(http.MethodPost, "/api/v1/areas/{id}/plans", httpapi.Operator, h.wrap(h.createPlan))
	mux.HandleFunc(http.MethodPost, "/api/v1/areas/{id}/plans/import", httpapi.Operator, h.wrap(h.importPlan))
	mux.HandleFunc(http.MethodGet, "/api/v1/plans/{id}", httpapi.Observer, h.wrap(h.getPlan))
	mux.HandleFunc(http.MethodPost, "/api/v1/plans/{id}/assign", httpapi.Operator, h.wrap(h.assign))
}

type handlers struct {
	d Deps
	// storage caches each vehicle's storage parameters (readStorage).
	storageMu sync.Mutex
	storage   map[string]storageParams
}

// storageParams are the storage parameters one vehicle had when read (a
// name absent: the vehicle lacks it).
type storageParams struct {
	vals map[string]float64
	at   time.Time
}

// storageMaxAge is how long a vehicle's storage parameters, once read, are
// used without asking again. They change only when someone sets BRD_SD_*
// and reboots the board; a minute keeps a plan-then-assign from reading
// twice, and an assign after that reads again.
const storageMaxAge = time.Minute

func (h *handlers) wrap(f func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			httpapi.WriteError(w, r, h.d.Log, err)
		}
	}
}

type areaSummary struct {
	ID     string  `json:"id"`
	Name   string  `json:"name"`
	MinAlt float64 `json:"min_alt_m"`
	MaxAlt float64 `json:"max_alt_m"`
	NoFly  int     `json:"no_fly"`
	Launch int     `json:"launch"`
	// Starts and Ends are the area's time window (RFC 3339), omitted when
	// it has none.
	Starts string `json:"starts,omitempty"`
	Ends   string `json:"ends,omitempty"`
}

func summary(id string, a *missions.Area) areaSummary {
	s := areaSummary{ID: id, Name: a.Name, MinAlt: a.MinAlt, MaxAlt: a.MaxAlt, NoFly: len(a.NoFly), Launch: len(a.Launch)}
	if !a.Starts.IsZero() {
		s.Starts = a.Starts.Format(time.RFC3339)
	}
	if !a.Ends.IsZero() {
		s.Ends = a.Ends.Format(time.RFC3339)
	}
	return s
}

func (h *handlers) createArea(w http.ResponseWriter, r *http.Request) error {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxBody)); err != nil {
		return httpapi.New(httpapi.CodeTooLarge, "area body: %v", err)
	}
	a, err := missions.ImportGeoJSON(bytes.NewReader(buf.Bytes()))
	if err != nil {
		e := httpapi.Invalid("body", "%v", err)
		var ve *missions.ValidationError
		if errors.As(err, &ve) {
			e.Details = map[string]any{"problems": ve.Problems}
		}
		return e
	}
	id, err := h.d.Store.addArea(a, buf.Bytes())
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, summary(id, a))
	return nil
}

func (h *handlers) listAreas(w http.ResponseWriter, r *http.Request) error {
	s := h.d.Store
	s.mu.Lock()
	out := make([]areaSummary, 0, len(s.areas))
	for id, a := range s.areas {
		out = append(out, summary(id, a))
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"areas": out})
	return nil
}

// pathArea is the area the request's path {id} names, or a 404 naming it.
func (h *handlers) pathArea(r *http.Request) (string, *missions.Area, error) {
	id := r.PathValue("id")
	a, ok := h.d.Store.area(id)
	if !ok {
		return id, nil, httpapi.NotFound("area %q not found", id)
	}
	return id, a, nil
}

// pathPlan is the plan set the request's path {id} names, or a 404 naming
// it.
func (h *handlers) pathPlan(r *http.Request) (*PlanSet, error) {
	id := r.PathValue("id")
	ps, ok := h.d.Store.plan(id)
	if !ok {
		return nil, httpapi.NotFound("plan %q not found", id)
	}
	return ps, nil
}

func (h *handlers) getArea(w http.ResponseWriter, r *http.Request) error {
	_, a, err := h.pathArea(r)
	if err != nil {
		return err
	}
	switch f := r.URL.Query().Get("format"); f {
	case "", "geojson":
		w.Header().Set("Content-Type", "application/geo+json")
		return missions.WriteGeoJSON(w, a.GeoJSON())
	case "kml":
		w.Header().Set("Content-Type", "application/vnd.google-earth.kml+xml")
		return a.WriteKML(w)
	default:
		return httpapi.Invalid("format", "format %q: want geojson or kml", f)
	}
}

func (h *handlers) createPlan(w http.ResponseWriter, r *http.Request) error {
	id, a, err := h.pathArea(r)
	if err != nil {
		return err
	}
	var o missions.PlanOptions
	if err := httpapi.DecodeJSON(r, &o, 1<<20); err != nil {
		return err
	}
	if len(o.Vehicles) > 0 {
		c, err := h.vehiclesCapacity(r.Context(), o.Vehicles, o.Capacity)
		if err != nil {
			return err
		}
		o.Capacity = c
	}
	plans, err := missions.PlanArea(a, o)
	if err != nil {
		field := ""
		if rest, ok := strings.CutPrefix(err.Error(), "plan options: "); ok {
			field, _, _ = strings.Cut(rest, " ")
			field = strings.TrimSuffix(field, ":")
		}
		if errors.Is(err, missions.ErrNoLaunch) {
			field = "launch"
		}
		return httpapi.Invalid(field, "%v", err)
	}
	eff, _ := o.Effective(a) // PlanArea accepted o, so its defaults apply
	// The plan is checked against what it was made for: its margin, layer
	// step and vehicle capacity.
	ps := checked(a, plans, eff.CheckOptions(h.d.Check))
	ps.AreaID, ps.Options = id, eff
	ps.Conflicts = h.conflicts(ps)
	h.d.Store.addPlan(ps)
	httpapi.WriteJSON(w, http.StatusCreated, ps)
	return nil
}

// conflicts judges a plan set against the plans active in the same
// airspace during its area's time window (any time when the area has
// none).
func (h *handlers) conflicts(ps *PlanSet) []missions.Violation {
	out := []missions.Violation{}
	if h.d.Airspace == nil || ps.area == nil {
		return out
	}
	others := h.d.Airspace(ps.area.Starts, ps.area.Ends)
	if len(others) == 0 {
		return out
	}
	opt := ps.Options.CheckOptions(h.d.Check)
	return append(out, missions.CheckAgainst(ps.area, ps.Drones, others, opt)...)
}

// checked runs the checker over plans: a PlanSet with its violations and
// battery estimates (AreaID and Options are the caller's to fill).
func checked(a *missions.Area, plans []*missions.DronePlan, o missions.CheckOptions) *PlanSet {
	c := missions.NewChecker(a, o)
	vs := c.Check(plans)
	if vs == nil {
		vs = []missions.Violation{}
	}
	rt := c.SimultaneousReturns(plans)
	if rt == nil {
		rt = []missions.Violation{}
	}
	return &PlanSet{Drones: plans, Violations: vs, OK: len(vs) == 0, Conflicts: []missions.Violation{}, ReturnsTogether: rt, Battery: c.Battery(plans), area: a}
}

// importPlan checks a mission made elsewhere (a QGroundControl .plan or a
// Mission Planner .waypoints file, the body) against the area, as one
// drone's plan: the same checks and the same assign path as a plan the
// planner made, so a mission from another tool is judged before it flies.
// ?name= names the file in the answer.
func (h *handlers) importPlan(w http.ResponseWriter, r *http.Request) error {
	id, a, err := h.pathArea(r)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxBody)); err != nil {
		return httpapi.New(httpapi.CodeTooLarge, "mission file: %v", err)
	}
	label := "mission file"
	if name := r.URL.Query().Get("name"); name != "" {
		label += " " + strconv.Quote(name)
	}
	var p *missions.Plan
	if bytes.HasPrefix(bytes.TrimSpace(buf.Bytes()), []byte("QGC WPL")) {
		p, err = missions.ParseWaypoints(bytes.NewReader(buf.Bytes()))
	} else {
		p, err = missions.ParsePlan(bytes.NewReader(buf.Bytes()))
	}
	if err != nil {
		return httpapi.Invalid("body", "%s: %v (want a QGC .plan or a .waypoints file)", label, err)
	}
	if len(p.Mission) == 0 {
		return httpapi.Invalid("body", "%s has no mission items", label)
	}
	dp := missions.FromPlan(0, p)
	// Lists a file did not have are empty, not null, as in a made plan.
	for _, l := range []*[]mavitem.Item{&dp.Fence, &dp.Rally} {
		if *l == nil {
			*l = []mavitem.Item{}
		}
	}
	if dp.Transit == nil {
		dp.Transit = []uint16{}
	}
	if dp.FenceParams == nil {
		dp.FenceParams = []missions.ParamValue{}
	}
	if dp.Simplified == nil {
		dp.Simplified = []missions.BoundaryChange{}
	}
	ps := checked(a, []*missions.DronePlan{dp}, h.d.Check)
	ps.AreaID, ps.Source = id, r.URL.Query().Get("name")
	ps.Conflicts = h.conflicts(ps)
	h.d.Store.addPlan(ps)
	httpapi.WriteJSON(w, http.StatusCreated, ps)
	return nil
}

// vehiclesCapacity reads each vehicle's storage parameters, in parallel,
// and returns the capacity all of them hold: base (the request's, zero
// fields defaulted) where a vehicle's parameters do not say.
func (h *handlers) vehiclesCapacity(ctx context.Context, ids []string, base missions.Capacity) (missions.Capacity, error) {
	pg, ok := h.d.Uploader.(ParamGetter)
	if !ok || h.d.Uploader == nil {
		return base, httpapi.New(httpapi.CodeUnavailable, "cannot read the vehicles' capacity: no ground station connected")
	}
	if len(ids) > 100 {
		return base, httpapi.Invalid("vehicles", "%d vehicles: want at most 100", len(ids))
	}
	for i, id := range ids {
		if id == "" {
			return base, httpapi.Invalid(fmt.Sprintf("vehicles[%d]", i), "vehicle id is empty")
		}
	}
	caps, errs := h.capacities(ctx, pg, ids, base)
	var c missions.Capacity
	for i, err := range errs {
		if err != nil {
			if errors.Is(err, ErrUnknownVehicle) {
				return base, httpapi.Invalid(fmt.Sprintf("vehicles[%d]", i), "vehicle %q: %v", ids[i], err)
			}
			return base, httpapi.New(httpapi.CodeUnavailable, "read the storage parameters of vehicle %q: %v", ids[i], err)
		}
		if i == 0 {
			c = caps[i]
		} else {
			c = c.Min(caps[i])
		}
	}
	return c, nil
}

// capacities returns each vehicle's capacity (base where its parameters
// do not say), reading the vehicles in parallel.
func (h *handlers) capacities(ctx context.Context, pg ParamGetter, ids []string, base missions.Capacity) ([]missions.Capacity, []error) {
	caps := make([]missions.Capacity, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			vals, err := h.readStorage(ctx, pg, id)
			if err != nil {
				errs[i] = err
				return
			}
			caps[i] = missions.CapacityFromParams(base, func(name string) (float64, bool) { v, ok := vals[name]; return v, ok })
		})
	}
	wg.Wait()
	return caps, errs
}

// readStorage returns vehicle id's storage parameters (missions.ParamSD*),
// from the cache when read within storageMaxAge, else from the vehicle
// (both names in parallel, bounded by capacityReadTimeout).
func (h *handlers) readStorage(ctx context.Context, pg ParamGetter, id string) (map[string]float64, error) {
	h.storageMu.Lock()
	sp, ok := h.storage[id]
	h.storageMu.Unlock()
	if ok && time.Since(sp.at) < storageMaxAge {
		return sp.vals, nil
	}
	rctx, cancel := context.WithTimeout(ctx, capacityReadTimeout)
	defer cancel()
	var mu sync.Mutex
	vals := map[string]float64{}
	var firstErr error
	var wg sync.WaitGroup
	for _, name := range []string{missions.ParamSDFence, missions.ParamSDMission} {
		wg.Go(func() {
			v, ok, err := pg.GetParam(rctx, id, name)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			if ok && err == nil {
				vals[name] = v
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	h.storageMu.Lock()
	h.storage[id] = storageParams{vals: vals, at: time.Now()}
	h.storageMu.Unlock()
	return vals, nil
}

// misfit is one assignment whose drone plan the vehicle cannot store.
type misfit struct {
	Drone     int               `json:"drone"`
	VehicleID string            `json:"vehicle_id"`
	Capacity  missions.Capacity `json:"capacity"`
	Reason    string            `json:"reason"`
}

// checkFits reads each assigned vehicle's capacity (re-read once older
// than storageMaxAge) and refuses the assignment, before anything is
// uploaded, when a drone's plan does not fit the vehicle it goes to: a
// plan made for one vehicle (or the defaults) may go to another with less
// storage, which would otherwise answer MAV_MISSION_NO_SPACE halfway
// through the upload. Where a vehicle's parameters do not say, the plan's
// own capacity stands (what it was checked against). A vehicle whose
// parameters cannot be read is not refused here: its upload reports.
func (h *handlers) checkFits(ctx context.Context, ps *PlanSet, assignments []assignment) error {
	pg, ok := h.d.Uploader.(ParamGetter)
	if !ok {
		return nil
	}
	ids := make([]string, len(assignments))
	for i, a := range assignments {
		ids[i] = a.VehicleID
	}
	caps, errs := h.capacities(ctx, pg, ids, ps.Options.Capacity)
	var bad []misfit
	for i, a := range assignments {
		if errs[i] != nil {
			h.d.Log.Warn("assign: vehicle's storage parameters not read, its capacity unchecked", "vehicle", a.VehicleID, "err", errs[i])
			continue
		}
		dp := ps.Drones[a.Drone]
		if ok, why := caps[i].Fits(dp.MissionWithHome(), dp.Fence); !ok {
			bad = append(bad, misfit{Drone: a.Drone, VehicleID: a.VehicleID, Capacity: caps[i].WithDefaults(), Reason: why})
		}
	}
	if len(bad) == 0 {
		return nil
	}
	m := bad[0]
	e := httpapi.New(httpapi.CodeConflict, "drone %d's plan does not fit vehicle %s: %s (capacity: %d mission items, %d fence items, %d fence bytes); plan for this vehicle with \"vehicles\": [%q]",
		m.Drone, m.VehicleID, m.Reason, m.Capacity.MissionItems, m.Capacity.FenceItems, m.Capacity.FenceBytes, m.VehicleID)
	e.Details = map[string]any{"misfits": bad}
	return e
}

func (h *handlers) getPlan(w http.ResponseWriter, r *http.Request) error {
	ps, err := h.pathPlan(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := q.Get("format")
	if f == "" || f == "json" {
		httpapi.WriteJSON(w, http.StatusOK, ps)
		return nil
	}
	if f == "geojson" {
		w.Header().Set("Content-Type", "application/geo+json")
		return missions.WriteGeoJSON(w, missions.Preview(ps.area, ps.Drones))
	}
	if f == "kml" {
		w.Header().Set("Content-Type", "application/vnd.google-earth.kml+xml")
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", ps.ID+".kml"))
		return missions.WritePlansKML(w, ps.area, ps.Drones)
	}
	d := 0
	if s := q.Get("drone"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n >= len(ps.Drones) {
			return httpapi.Invalid("drone", "drone %q: want 0–%d", s, len(ps.Drones)-1)
		}
		d = n
	}
	switch f {
	case "plan":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", fmt.Sprintf("%s-drone-%d.plan", ps.ID, d)))
		return ps.Drones[d].WritePlan(w)
	case "waypoints":
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", fmt.Sprintf("%s-drone-%d.waypoints", ps.ID, d)))
		return ps.Drones[d].WriteWaypoints(w)
	}
	return httpapi.Invalid("format", "format %q: want json, plan, waypoints, geojson or kml", f)
}

type assignRequest struct {
	Assignments []assignment `json:"assignments"`
	Force       bool         `json:"force"` // upload even though checks failed
}

type assignment struct {
	Drone     int    `json:"drone"`
	VehicleID string `json:"vehicle_id"`
}

// AssignResult is one vehicle's upload outcome.
type AssignResult struct {
	Drone     int            `json:"drone"`
	VehicleID string         `json:"vehicle_id"`
	OK        bool           `json:"ok"`
	Uploaded  []string       `json:"uploaded"`
	Error     string         `json:"error,omitempty"`
	Items     map[string]int `json:"items"`
	// Params are the fence parameters set after the upload.
	Params []string `json:"params"`
}

func (h *handlers) assign(w http.ResponseWriter, r *http.Request) error {
	ps, err := h.pathPlan(r)
	if err != nil {
		return err
	}
	var req assignRequest
	if err := httpapi.DecodeJSON(r, &req, 1<<20); err != nil {
		return err
	}
	if len(req.Assignments) == 0 {
		return httpapi.Invalid("assignments", "no assignments")
	}
	seen := map[string]bool{}
	for i, a := range req.Assignments {
		f := fmt.Sprintf("assignments[%d]", i)
		if a.Drone < 0 || a.Drone >= len(ps.Drones) {
			return httpapi.Invalid(f+".drone", "drone %d: this plan has drones 0–%d", a.Drone, len(ps.Drones)-1)
		}
		if a.VehicleID == "" {
			return httpapi.Invalid(f+".vehicle_id", "vehicle_id is empty")
		}
		if seen[a.VehicleID] {
			return httpapi.Invalid(f+".vehicle_id", "vehicle %q assigned twice", a.VehicleID)
		}
		seen[a.VehicleID] = true
	}
	if !ps.OK && !req.Force {
		e := httpapi.New(httpapi.CodeConflict, "plan %s failed %d check(s); fix it or assign with \"force\": true", ps.ID, len(ps.Violations))
		e.Details = map[string]any{"violations": ps.Violations}
		return e
	}
	// The airspace may have changed since the plan was made.
	if cs := h.conflicts(ps); len(cs) > 0 && !req.Force {
		v := cs[0]
		e := httpapi.New(httpapi.CodeConflict, "plan %s drone %d would fly within the separation of %s drone %d: %s; move it (alt, layer_step) or assign with \"force\": true", ps.ID, v.Drone, v.Other.Plan, v.Other.Drone, v.Message)
		e.Details = map[string]any{"conflicts": cs}
		return e
	}
	if h.d.Uploader == nil {
		return httpapi.New(httpapi.CodeUnavailable, "no ground station connected for uploads")
	}
	if err := h.checkFits(r.Context(), ps, req.Assignments); err != nil {
		return err
	}
	// Upload to all vehicles in parallel; each reports on its own.
	results := make([]AssignResult, len(req.Assignments))
	var wg sync.WaitGroup
	for i, a := range req.Assignments {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dp := ps.Drones[a.Drone]
			res := AssignResult{Drone: a.Drone, VehicleID: a.VehicleID, Uploaded: []string{}, Items: map[string]int{}}
			lists := []struct {
				t     mavitem.MissionType
				items []mavitem.Item
			}{{mavitem.TypeFence, dp.Fence}, {mavitem.TypeRally, dp.Rally}, {mavitem.TypeMission, dp.MissionWithHome()}}
			res.OK = true
			for _, l := range lists {
				// Fence first: a vehicle must never hold the new mission with an old fence.
				if err := h.d.Uploader.UploadMission(r.Context(), a.VehicleID, l.t, l.items, Tag{Mission: ps.ID, EventArea: ps.AreaID}); err != nil {
					res.OK = false
					res.Error = fmt.Sprintf("upload %s to vehicle %s: %v", l.t, a.VehicleID, err)
					break
				}
				res.Uploaded = append(res.Uploaded, l.t.String())
				res.Items[l.t.String()] = len(l.items)
				if l.t == mavitem.TypeMission {
					h.d.Store.assigned(a.VehicleID, ps, a.Drone)
				}
			}
			res.Params = []string{}
			if ps, ok := h.d.Uploader.(ParamSetter); ok && res.OK {
				for _, p := range dp.FenceParams {
					if err := ps.SetParam(r.Context(), a.VehicleID, p.Name, p.Value); err != nil {
						res.OK = false
						res.Error = fmt.Sprintf("set %s=%g on vehicle %s: %v", p.Name, p.Value, a.VehicleID, err)
						break
					}
					res.Params = append(res.Params, p.Name)
				}
			}
			results[i] = res
		}()
	}
	wg.Wait()
	allOK := true
	for _, r := range results {
		allOK = allOK && r.OK
	}
	status := http.StatusOK
	if !allOK {
		status = http.StatusMultiStatus
	}
	httpapi.WriteJSON(w, status, map[string]any{"plan": ps.ID, "ok": allOK, "results": results})
	return nil
}
