// Package historyapi serves the telemetry history over HTTP: a vehicle's
// track (GeoJSON LineString or CSV), its flights, an export of its samples
// (CSV, GeoJSON, JSON), the latest stored state of every vehicle, and the
// storage status. The same handlers serve InfluxDB and the embedded store
// through telemetry.Source.
package historyapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/burgut-uav/burgut/httpapi"
	"github.com/burgut-uav/burgut/telemetry"
)

// Limits of one request: a day of samples at 15 Hz stays under MaxExport.
const (
	MaxPoints     = 100000
	MaxExportSpan = 31 * 24 * time.Hour
)

// Options configure the routes.
type Options struct {
	// Status, if set, is served at GET /api/v1/telemetry/status.
	Status func(ctx context.Context) any
	Log    *slog.Logger
	// Now is the clock the default ranges end at (tests); default time.Now.
	Now func() time.Time
}

// Register adds the history routes to mux:
//
//	GET /api/v1/vehicles/{id}/track?from=RFC3339&to=RFC3339[&max_points=N][&format=geojson|csv]
//	GET /api/v1/vehicles/{id}/flights[?from&to]
//	GET /api/v1/vehicles/{id}/history?from&to[&format=csv|geojson|json]
//	GET /api/v1/history/latest
//	GET /api/v1/telemetry/status
func Register(mux *httpapi.Mux, src telemetry.Source, opts Options) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &handlers{src: src, opts: opts}
	mux.HandleFunc(http.MethodGet, "/api/v1/vehicles/{id}/track", httpapi.Observer, h.wrap(h.track))
	mux.HandleFunc(http.MethodGet, "/api/v1/vehicles/{id}/flights", httpapi.Observer, h.wrap(h.flights))
	mux.HandleFunc(http.MethodGet, "/api/v1/vehicles/{id}/history", httpapi.Observer, h.wrap(h.export))
	mux.HandleFunc(http.MethodGet, "/api/v1/history/latest", httpapi.Observer, h.wrap(h.latest))
	if opts.Status != nil {
		mux.HandleFunc(http.MethodGet, "/api/v1/telemetry/status", httpapi.Observer, h.wrap(func(w http.ResponseWriter, r *http.Request) error {
			httpapi.WriteJSON(w, http.StatusOK, opts.Status(r.Context()))
			return nil
		}))
	}
}

type handlers struct {
	src  telemetry.Source
	opts Options
}

func (h *handlers) wrap(fn func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			httpapi.WriteError(w, r, h.opts.Log, err)
		}
	}
}

// rangeOf parses from/to (RFC 3339); missing ends default to now and
// now - def.
func (h *handlers) rangeOf(r *http.Request, def time.Duration) (from, to time.Time, err error) {
	q := r.URL.Query()
	to = h.opts.Now().UTC()
	if s := q.Get("to"); s != "" {
		if to, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return from, to, httpapi.Invalid("to", "%q is not an RFC 3339 time (e.g. 2026-03-01T10:00:00Z)", s)
		}
	}
	from = to.Add(-def)
	if s := q.Get("from"); s != "" {
		if from, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return from, to, httpapi.Invalid("from", "%q is not an RFC 3339 time (e.g. 2026-03-01T09:00:00Z)", s)
		}
	}
	if !to.After(from) {
		return from, to, httpapi.Invalid("to", "must be after from (%s)", from.Format(time.RFC3339Nano))
	}
	if to.Sub(from) > MaxExportSpan {
		return from, to, httpapi.Invalid("from", "range of %v is longer than the %v a request may cover", to.Sub(from), MaxExportSpan)
	}
	return from, to, nil
}

func format(r *http.Request, allowed ...string) (string, error) {
	f := r.URL.Query().Get("format")
	if f == "" {
		return allowed[0], nil
	}
	for _, a := range allowed {
		if f == a {
			return f, nil
		}
	}
	return "", httpapi.Invalid("format", "%q is not one of %v", f, allowed)
}

func (h *handlers) track(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	from, to, err := h.rangeOf(r, time.Hour)
	if err != nil {
		return err
	}
	maxPoints := telemetry.DefaultMaxPoints
	if s := r.URL.Query().Get("max_points"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 2 || n > MaxPoints {
			return httpapi.Invalid("max_points", "%q: want a whole number from 2 to %d", s, MaxPoints)
		}
		maxPoints = n
	}
	f, err := format(r, "geojson", "csv")
	if err != nil {
		return err
	}
	tr, err := telemetry.TrackOf(r.Context(), h.src, id, from, to, maxPoints)
	if err != nil {
		return storeErr(err)
	}
	if f == "csv" {
		w.Header().Set("Content-Type", "text/csv")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-track.csv"`, safe(id)))
		return telemetry.TrackCSV(w, tr)
	}
	w.Header().Set("Content-Type", "application/geo+json")
	_ = json.NewEncoder(w).Encode(tr) // the client went away; nothing to do
	return nil
}

func (h *handlers) flights(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	from, to, err := h.rangeOf(r, 24*time.Hour)
	if err != nil {
		return err
	}
	fl, err := telemetry.FlightsOf(r.Context(), h.src, id, from, to)
	if err != nil {
		return storeErr(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"vehicle_id": id, "from": from, "to": to, "flights": fl})
	return nil
}

func (h *handlers) export(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	from, to, err := h.rangeOf(r, time.Hour)
	if err != nil {
		return err
	}
	f, err := format(r, "csv", "geojson", "json")
	if err != nil {
		return err
	}
	ss, err := h.src.Samples(r.Context(), id, from, to)
	if err != nil {
		return storeErr(err)
	}
	name := fmt.Sprintf("%s-%s", safe(id), from.UTC().Format("20060102T150405Z"))
	switch f {
	case "csv":
		w.Header().Set("Content-Type", "text/csv")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.csv"`, name))
		return telemetry.WriteCSV(w, ss)
	case "geojson":
		w.Header().Set("Content-Type", "application/geo+json")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.geojson"`, name))
		return telemetry.WriteGeoJSON(w, ss)
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"vehicle_id": id, "from": from, "to": to, "samples": ss})
	return nil
}

func (h *handlers) latest(w http.ResponseWriter, r *http.Request) error {
	ss, err := h.src.Latest(r.Context())
	if err != nil {
		return storeErr(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"vehicles": ss})
	return nil
}

// storeErr reports a failing store as 503 (InfluxDB down is not a bug here).
func storeErr(err error) error {
	if errors.Is(err, telemetry.ErrBadRange) {
		return httpapi.Invalid("to", "%v", err)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return err
	}
	return &httpapi.Error{Code: httpapi.CodeUnavailable, Message: "telemetry store: " + err.Error()}
}

func safe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
