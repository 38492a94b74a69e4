package app

import "context"

// startMissions serves the event-area and planning API (NOT YET WIRED).
func (a *App) startMissions(ctx context.Context) error { return nil }
