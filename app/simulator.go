package app

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

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
		HomesFile:     c.HomesFile,
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
	a.simClock.Store(sim)
	a.Go(ctx, "simulator", sim.Run)
	if a.operationsLag() != nil && a.Station != nil && c.Speedup > 1 {
		a.Go(ctx, "simulator pace", func(ctx context.Context) error { a.paceSimulator(ctx, sim); return nil })
	}
	a.Log.Info("simulated fleet started", "vehicles", c.Vehicles, "gcs", gcs, "home", c.Home)
	if c.Demo && a.Station != nil {
		a.Go(ctx, "demo", a.flyDemo)
	}
	return nil
}

// simPaceBehind is how far behind its links the station may fall before
// the in-process simulator is slowed (paceSimulator).
const simPaceBehind = 250 * time.Millisecond

// paceSimulator slows the in-process simulator while the station is
// behind its links, and restores the speedup once it has caught up: at
// speedup 60 a station 3 s behind acts on drones as they were 3 minutes
// of operation time ago. On a loaded machine (the operation tests under
// CI load) that left slots uncovered for minutes, although every drone
// was launched in time. Slowed, the simulated world waits for the
// station, and the operations clock, which keeps step with the simulator
// (operationsLag), waits with it. Every 100 ms the speedup becomes
// Speedup × simPaceBehind / behind (at least 1) while the station is
// more than simPaceBehind behind, else Speedup.
func (a *App) paceSimulator(ctx context.Context, sim *simulator.Sim) {
	full := a.timeScale() // the simulator's speedup (operationsLag)
	cur := full
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		want := full
		if b := a.Station.Behind(); b > simPaceBehind {
			want = max(1, full*float64(simPaceBehind)/float64(b))
		}
		if want == cur {
			continue
		}
		if err := sim.SetSpeedup(want); err != nil {
			a.Log.Warn("simulator: pace", "speedup", want, "err", err)
			continue
		}
		if cur == full {
			a.Log.Debug("simulator slowed: the station is behind its links", "speedup", want)
		}
		cur = want
	}
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
