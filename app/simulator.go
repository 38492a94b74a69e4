package app

import "context"

// startSimulator starts the simulated fleet of `burgut run` (NOT YET WIRED).
func (a *App) startSimulator(ctx context.Context) error { return nil }
