package app

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/burgut-uav/burgut/internal/latlon"
	"github.com/burgut-uav/burgut/internal/linkspec"

	"github.com/burgut-uav/burgut/simulator"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// startSimulator starts the simulated fleet of `burgut run`: vehicles send
// to the station's first UDP server link over real loopback UDP, exactly
// as `burgut sitl` would, so the demo exercises the real MAVLink path.
func (a *App) startSimulator(ctx context.Context) error {
	c := a.Config.Sim
	if c.Vehicles == 0 {
		return nil
	}
	gcs, err := a.simTarget()
	if err != nil {
		return err
	}
	home, err := latlon.Parse(c.Home, "")
	if err != nil {
		return fmt.Errorf("home: %w", err)
	}
	sim, err := simulator.New(simulator.Config{
		Vehicles:      c.Vehicles,
		GCS:           []string{gcs},
		Home:          vehicle.LatLonAlt{Lat: home.Lat, Lon: home.Lon, AltMSL: vehicle.DefaultHome.AltMSL},
		Speedup:       c.Speedup,
		Spread:        c.Spread,
		Seed:          c.Seed,
		Video:         c.Video,
		VideoBasePort: c.VideoBase,
		EnduranceMin:  c.EnduranceMin,
		SwapMin:       c.SwapMin,
		Log:           a.Log.With("part", "simulator"),
	})
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	a.Sim = sim
	a.Go(ctx, "simulator", sim.Run)
	a.Log.Info("simulated fleet started", "vehicles", c.Vehicles, "gcs", gcs, "home", c.Home)
	if c.Demo && a.Station != nil {
		a.Go(ctx, "demo", a.flyDemo)
	}
	return nil
}

// simTarget is the address the simulated vehicles send to: the first UDP
// server link of the station.
func (a *App) simTarget() (string, error) {
	for _, l := range a.Config.GroundStation.MAVLink {
		spec, err := linkspec.Parse(l)
		if err != nil || spec.Kind != "udp" {
			continue // Validate has reported bad specs already
		}
		host := spec.Host
		if host == "0.0.0.0" || host == "" {
			host = "127.0.0.1"
		}
		return "udp:" + net.JoinHostPort(host, strconv.Itoa(spec.Port)), nil
	}
	return "", fmt.Errorf("the simulated fleet needs a UDP server link (--mavlink udp:HOST:PORT) to send to")
}
