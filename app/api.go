package app

import (
	"context"
	"fmt"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation/alertack"
	"github.com/burgut-uav/burgut/groundstation/vehicleapi"
)

// startAPI serves the vehicle, command, transfer and parameter endpoints
// (groundstation/vehicleapi) over the fleet and the ground station.
func (a *App) startAPI(ctx context.Context) error {
	vehicleapi.Register(a.Mux, vehicleapi.Deps{
		Fleet:   a.Fleet,
		Station: a.countOps(vehicleapi.FromStation(a.Station)),
		Control: a.Control,
		Acks:    alertack.New(0, nil),
		OnAck: func(alert fleet.Event, ack alertack.Ack) {
			a.Fleet.Emit(fleet.Event{VehicleID: alert.VehicleID, Kind: fleet.EventAlertAck, Severity: fleet.SeverityInfo,
				Message: fmt.Sprintf("%s acknowledged by %s", alert.Kind, ack.By),
				Fields:  map[string]any{"seq": alert.Seq, "alert_kind": alert.Kind, "by": ack.By, "at": ack.At}})
		},
		Log: a.Log.With("part", "api"),
	})
	return nil
}
