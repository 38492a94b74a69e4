// Package simtest runs the bundled simulator inside other packages' tests:
// one helper instead of a copy per test package.
package simtest

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/burgut-uav/burgut/simulator"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// Start builds a simulator from cfg and runs it until the test ends; the
// cleanup stops it and fails the test if Run failed. A zero Home becomes
// vehicle.DefaultHome and a nil Log discards the simulator's logs.
func Start(t testing.TB, cfg simulator.Config) *simulator.Sim {
	t.Helper()
	if cfg.Home == (vehicle.LatLonAlt{}) {
		cfg.Home = vehicle.DefaultHome
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	sim, err := simulator.New(cfg)
	if err != nil {
		t.Fatalf("simulator: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("simulator Run: %v", err)
		}
	})
	return sim
}
