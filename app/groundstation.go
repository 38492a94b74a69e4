package app

import "context"

// startGroundStation wires the ground station (issue 3) into the App.
// NOT YET WIRED: the ground station (issue 3) is being built.
func (a *App) startGroundStation(ctx context.Context) error {
	a.Log.Warn("ground station (issue 3) not wired yet")
	return nil
}
