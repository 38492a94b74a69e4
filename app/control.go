package app

import (
	"context"
	"fmt"
	"net/http"
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
	a.addFamily(counter("burgut_control_changes_total", "changes of control by action (taken, takeover, released, expired, logout, bypassed)", "action"), func(emit metrics.Emit) {
		ch := ctl.Stats().Changes
		for _, action := range []string{control.ActionTaken, control.ActionTakeover, control.ActionReleased, control.ActionExpired, control.ActionLogout, control.ActionBypassed} {
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
