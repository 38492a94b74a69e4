package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/burgut-uav/burgut/groundstation"
	"github.com/burgut-uav/burgut/httpapi"
	"github.com/burgut-uav/burgut/internal/mavsign"
	"github.com/burgut-uav/burgut/metrics"
)

// signingStation is what the signing routes ask of the ground station
// (*groundstation.Station).
type signingStation interface {
	Signing(vehicleID string) (groundstation.SigningInfo, error)
	SetSigningKey(ctx context.Context, vehicleID string, key mavsign.Key) (groundstation.SigningInfo, error)
	ClearSigningKey(ctx context.Context, vehicleID string) (groundstation.SigningInfo, error)
}

// signingRequest is PUT /api/v1/vehicles/{id}/signing: exactly one of a
// key (64 hexadecimal digits) or generate.
type signingRequest struct {
	Key      string `json:"key,omitempty"`
	Generate bool   `json:"generate,omitempty"`
}

// signingAPI serves the per-vehicle MAVLink signing routes: reading the
// state is Observer (it shows a fingerprint, never the key), setting and
// clearing a key is Admin. The request body carries a key, so the audit
// log neither records nor digests it (Guard.Secret).
type signingAPI struct {
	st  signingStation // nil without a ground station: 503
	log *slog.Logger
}

func registerSigning(mux *httpapi.Mux, st signingStation, log *slog.Logger) {
	h := &signingAPI{st: st, log: log}
	const p = "/api/v1/vehicles/{id}/signing"
	mux.Handle(httpapi.Route{Method: http.MethodGet, Pattern: p, Access: httpapi.Observer, Handler: h.handle(h.get)})
	mux.Handle(httpapi.Route{Method: http.MethodPut, Pattern: p, Access: httpapi.Admin, Handler: h.handle(h.put)})
	mux.Handle(httpapi.Route{Method: http.MethodDelete, Pattern: p, Access: httpapi.Admin, Handler: h.handle(h.del)})
}

// signingRoute reports whether a route carries a signing key in its body.
func signingRoute(route string) bool {
	return route == http.MethodPut+" /api/v1/vehicles/{id}/signing"
}

func (h *signingAPI) handle(fn func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			httpapi.WriteError(w, r, h.log, signingError(err))
		}
	}
}

// signingError gives the ground station's signing errors their HTTP
// meaning.
func signingError(err error) error {
	var e *httpapi.Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, groundstation.ErrUnknownVehicle):
		return httpapi.NotFound("%v", err)
	case errors.Is(err, groundstation.ErrSigningZeroKey):
		return httpapi.Invalid("key", "%v", err)
	case errors.Is(err, groundstation.ErrSigningArmed):
		return httpapi.New(httpapi.CodeConflict, "%v", err)
	case errors.Is(err, groundstation.ErrSigningNotConfirmed), errors.Is(err, context.DeadlineExceeded):
		return httpapi.New(httpapi.CodeTimeout, "%v", err)
	case errors.Is(err, groundstation.ErrLinkDown):
		return httpapi.New(httpapi.CodeUnavailable, "%v", err)
	}
	return err
}

func (h *signingAPI) station() (signingStation, error) {
	if h.st == nil {
		return nil, httpapi.New(httpapi.CodeUnavailable, "the ground station is not running")
	}
	return h.st, nil
}

func (h *signingAPI) get(w http.ResponseWriter, r *http.Request) error {
	st, err := h.station()
	if err != nil {
		return err
	}
	info, err := st.Signing(r.PathValue("id"))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, info)
	return nil
}

func (h *signingAPI) put(w http.ResponseWriter, r *http.Request) error {
	var req signingRequest
	if err := httpapi.DecodeJSON(r, &req, 4<<10); err != nil {
		return err
	}
	var key mavsign.Key
	switch {
	case req.Key != "" && req.Generate:
		return httpapi.Invalid("key", "give either key or generate, not both")
	case req.Generate:
		k, err := mavsign.GenerateKey()
		if err != nil {
			return err
		}
		key = k
	case req.Key != "":
		k, err := mavsign.ParseKey(req.Key)
		if err != nil {
			return httpapi.Invalid("key", "%v", err) // ParseKey never repeats the input
		}
		key = k
	default:
		return httpapi.Invalid("key", "give a key (64 hexadecimal digits) or \"generate\": true")
	}
	st, err := h.station()
	if err != nil {
		return err
	}
	info, err := st.SetSigningKey(r.Context(), r.PathValue("id"), key)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, info)
	return nil
}

func (h *signingAPI) del(w http.ResponseWriter, r *http.Request) error {
	st, err := h.station()
	if err != nil {
		return err
	}
	info, err := st.ClearSigningKey(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, info)
	return nil
}

// startSigning serves the signing routes and exposes the frames dropped
// for signing per link and reason on /metrics (and, summed, in health).
func (a *App) startSigning(ctx context.Context) error {
	var st signingStation
	if a.Station != nil {
		st = a.Station
		s := a.Station
		a.addFamily(counter("burgut_mavlink_signing_rejected_total",
			"frames dropped because they claimed a keyed vehicle's system ID without its valid MAVLink 2 signature, per link and reason (unsigned, bad_signature, replayed, too_old, undecodable)",
			"link", "reason"), func(emit metrics.Emit) {
			for _, l := range s.Links() {
				for _, reason := range mavsign.Reasons {
					emit(float64(l.SigningRejected[reason.String()]), l.Name, reason.String())
				}
			}
		})
	}
	registerSigning(a.Mux, st, a.Log.With("part", "signing"))
	return nil
}
