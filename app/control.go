package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/burgut-uav/burgut/auth"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation/control"
	"github.com/burgut-uav/burgut/metrics"
)

// startControl makes the table of who controls which vehicle (issue 12):
// it serves the control routes, tells everyone of every change through
// the event stream (WebSocket, MQTT, GET /api/v1/events: kind "control"),
// and releases holds idle for --control-idle. It runs before the vehicle
// and planning APIs, which ask it before changing a vehicle.
func (a *App) startControl(ctx context.Context) error {
	idle := a.Config.Access.ControlIdle
	a.Control = control.New(control.Options{Idle: idle, OnChange: a.controlEvent})
	control.Register(a.Mux, a.Control, a.Fleet, a.Log.With("part", "control"))
	ctl := a.Control
	a.addFamily(gauge("burgut_control_holds", "vehicles whose control an operator holds"), func(emit metrics.Emit) {
		emit(float64(ctl.Stats().Holds))
	})
	a.addFamily(counter("burgut_control_refused_total", "requests refused because another operator holds the vehicle (409 controlled, refused takeovers and releases)"), func(emit metrics.Emit) {
		emit(float64(ctl.Stats().Refused))
	})
	a.addFamily(counter("burgut_control_changes_total", "changes of control by action (taken, takeover, released, expired, logout, bypassed, revoked)", "action"), func(emit metrics.Emit) {
		ch := ctl.Stats().Changes
		for _, action := range []string{control.ActionTaken, control.ActionTakeover, control.ActionReleased, control.ActionExpired, control.ActionLogout, control.ActionBypassed, control.ActionRevoked} {
			emit(float64(ch[action]), action)
		}
	})
	// Sweep often enough that a hold ends within a few percent of its
	// timeout, but at most once a second.
	every := min(max(idle/30, time.Second), 30*time.Second)
	a.Go(ctx, "control idle sweep", func(ctx context.Context) error {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				a.Control.Sweep()
			}
		}
	})
	return nil
}

// controlEvent puts a control change into the vehicle's event stream. A
// takeover and an emergency bypass are warnings: the operator who held the
// vehicle must notice that someone else now flies it.
func (a *App) controlEvent(c control.Change) {
	if _, ok := a.Fleet.Get(c.VehicleID); !ok {
		return
	}
	if c.Action != control.ActionBypassed {
		a.syncControl(c.VehicleID)
	}
	sev, msg := fleet.SeverityInfo, ""
	switch c.Action {
	case control.ActionTaken:
		msg = "control taken by " + c.Holder
		if c.Implicit {
			msg += " (first command)"
		}
	case control.ActionTakeover:
		sev, msg = fleet.SeverityWarning, fmt.Sprintf("control taken over by %s from %s", c.Holder, c.Previous)
	case control.ActionReleased:
		msg = "control released by " + c.By
		if c.By != c.Previous {
			msg += " (held by " + c.Previous + ")"
		}
	case control.ActionExpired:
		msg = fmt.Sprintf("control of %s ended: idle for %s", c.Previous, a.Control.Idle())
	case control.ActionLogout:
		msg = fmt.Sprintf("control of %s ended: logged out", c.Previous)
	case control.ActionBypassed:
		sev, msg = fleet.SeverityWarning, fmt.Sprintf("emergency %s by %s bypassed the control of %s", c.Command, c.By, c.Holder)
	case control.ActionRevoked:
		sev, msg = fleet.SeverityWarning, fmt.Sprintf("control of %s ended: %s can no longer command (account or token withdrawn by %s)", c.Previous, c.Previous, c.By)
	}
	fields := map[string]any{"action": c.Action, "holder": c.Holder, "since": c.Since}
	if c.Previous != "" {
		fields["previous"] = c.Previous
	}
	if c.By != "" {
		fields["by"] = c.By
	}
	if c.Command != "" {
		fields["command"] = c.Command
	}
	a.Fleet.Emit(fleet.Event{VehicleID: c.VehicleID, Kind: fleet.EventControl, Severity: sev, Message: msg, Fields: fields})
}

// syncControl copies the vehicle's hold from the table onto its fleet
// state (fleet.Vehicle.Control), which the WebSocket and MQTT streams
// carry. The table tells changes after releasing its lock, so two changes
// may arrive here out of order: each copy reads the table afresh under
// controlCopy, so the last copy made is of the latest state.
func (a *App) syncControl(vehicleID string) {
	a.controlCopy.Lock()
	defer a.controlCopy.Unlock()
	if h, ok := a.Control.Get(vehicleID); ok {
		a.Fleet.SetControl(vehicleID, h.Holder, h.Since)
	} else {
		a.Fleet.SetControl(vehicleID, "", time.Time{})
	}
}

// releaseWithdrawn wraps the admin routes that take away someone's right
// to command (PATCH and DELETE /api/v1/users/{name}, DELETE
// /api/v1/tokens/{id}): once one succeeds, every hold whose holder can no
// longer command — an account disabled, removed or now an observer, an
// API token with no active operator token of its name left — is released
// (action "revoked", an event on each vehicle), and the admin's audit
// entry names the vehicles and their former holder.
func (a *App) releaseWithdrawn(next http.Handler) http.HandlerFunc {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if a.Control == nil || sw.status() >= 300 {
			return
		}
		p, _ := auth.FromContext(r.Context())
		gone := a.withdrawnHolders(r.Context())
		if len(gone) == 0 {
			return
		}
		for _, c := range a.Control.ReleaseWhere(func(h string) bool { return gone[h] }, control.ActionRevoked, p.Actor()) {
			auth.NoteAudit(r.Context(), "released control of %s held by %s", c.VehicleID, c.Previous)
		}
	})
}

// withdrawnHolders are the current holders who may no longer command. A
// holder the account store cannot answer for (a database error) keeps
// the hold: the idle timeout still ends it, and a hold released by
// mistake would let another operator take a vehicle in flight.
func (a *App) withdrawnHolders(ctx context.Context) map[string]bool {
	gone := map[string]bool{}
	var tokens []auth.Token
	var tokErr error
	tokensRead := false
	for _, h := range a.Control.List() {
		if _, seen := gone[h.Holder]; seen {
			continue
		}
		if name, ok := strings.CutPrefix(h.Holder, "token:"); ok {
			if !tokensRead {
				tokens, tokErr = a.Auth.ListTokens(ctx)
				tokensRead = true
			}
			if tokErr != nil {
				a.Log.Warn("control: cannot check the holders' tokens", "err", tokErr)
				continue
			}
			active := false
			now := time.Now()
			for _, t := range tokens {
				if t.Name == name && t.Active(now) && t.Role.Allows(auth.Operator) {
					active = true
				}
			}
			gone[h.Holder] = !active
			continue
		}
		u, err := a.Auth.GetUser(ctx, h.Holder)
		switch {
		case errors.Is(err, auth.ErrNotFound):
			gone[h.Holder] = true
		case err != nil:
			a.Log.Warn("control: cannot check a holder's account", "holder", h.Holder, "err", err)
		default:
			gone[h.Holder] = u.Disabled || !u.Role.Allows(auth.Operator)
		}
	}
	for h, g := range gone {
		if !g {
			delete(gone, h)
		}
	}
	return gone
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// releaseOnLogout wraps the logout route: whoever logs out gives up the
// control of every vehicle they hold.
func (a *App) releaseOnLogout(next http.Handler) http.HandlerFunc {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		if p, ok := auth.FromContext(r.Context()); ok && a.Control != nil {
			a.Control.ReleaseAll(p.Actor(), control.ActionLogout)
		}
	})
}
