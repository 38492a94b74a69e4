package app

import "context"

// startAPI serves the vehicle, command and transfer API (NOT YET WIRED).
func (a *App) startAPI(ctx context.Context) error { return nil }
