package app

import "context"

// startTelemetry wires the telemetry storage (issue 5) into the App.
// NOT YET WIRED: the telemetry storage (issue 5) is being built.
func (a *App) startTelemetry(ctx context.Context) error {
	a.Log.Warn("telemetry storage (issue 5) not wired yet")
	return nil
}
