package app

import (
	"context"

	"github.com/burgut-uav/burgut/groundstation/vehicleapi"
)

// startAPI serves the vehicle, command, transfer and parameter endpoints
// (groundstation/vehicleapi) over the fleet and the ground station.
func (a *App) startAPI(ctx context.Context) error {
	vehicleapi.Register(a.Mux, vehicleapi.Deps{
		Fleet:   a.Fleet,
		Station: a.countOps(vehicleapi.FromStation(a.Station)),
		Control: a.Control,
		Log:     a.Log.With("part", "api"),
	})
	return nil
}
