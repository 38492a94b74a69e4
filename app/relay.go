package app

import "context"

// startRelay wires the monitoring-center relay (issue 6) into the App.
// NOT YET WIRED: the monitoring-center relay (issue 6) is being built.
func (a *App) startRelay(ctx context.Context) error {
	a.Log.Warn("monitoring-center relay (issue 6) not wired yet")
	return nil
}
