package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/burgut-uav/burgut/internal/cliflag"
	"github.com/burgut-uav/burgut/internal/linkspec"
	"github.com/burgut-uav/burgut/simulator"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

func init() {
	register(&command{
		name:    "sitl",
		summary: "run the bundled multi-vehicle ArduCopter-like simulator",
		run:     sitl,
	})
}

// sitl runs `burgut sitl`: the simulator alone, sending to one or more
// ground-station addresses until SIGINT/SIGTERM, then exiting 0.
func sitl(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sitl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		gcs      = []string{linkspec.DefaultStation}
		faults   []string
		perVeh   []string
		cfg      simulator.Config
		home     string
		logLevel string
	)
	fs.IntVar(&cfg.Vehicles, "vehicles", 1, "number of vehicles")
	fs.Var(cliflag.NewList(&gcs), "gcs", "ground-station address [NAME=]udp:HOST:PORT, the station's UDP link as given to serve --mavlink (repeatable; vehicles are split over them in blocks of at most 250)")
	fs.Float64Var(&cfg.Speedup, "speedup", 1, "simulated seconds per wall second")
	fs.StringVar(&home, "home", vehicle.DefaultHome.String(), "centre of the homes: LAT,LON[,ALT_MSL]")
	fs.StringVar(&cfg.HomesFile, "homes", "", "file with one LAT,LON[,ALT] home per vehicle (overrides --home)")
	fs.Float64Var(&cfg.Spread, "spread", 0, "radius in metres the homes spread over (0 = about 5 m per vehicle)")
	fs.Int64Var(&cfg.Seed, "seed", 1, "random seed (vehicle i uses seed+i)")
	fs.IntVar(&cfg.TCPBasePort, "tcp-base", 0, "also serve vehicle i on TCP 127.0.0.1:(base+10*i), like ArduPilot's 5760 (0 = off)")
	fs.StringVar(&cfg.BindHost, "bind", "127.0.0.1", "interface the vehicles' sockets bind")
	fs.StringVar(&cfg.VideoURI, "video-uri", simulator.DefaultVideoURI, "camera stream URI template ({sysid}, {index} substituted)")
	fs.BoolVar(&cfg.Video, "video", false, "give every camera a live stream: ffmpeg sends RTP H.264 (test pattern, vehicle ID, position, UTC time) to the GCS host's UDP port video-base+index, advertised in VIDEO_STREAM_INFORMATION (needs Debian's ffmpeg)")
	fs.IntVar(&cfg.VideoBasePort, "video-base", simulator.DefaultVideoBasePort, "with --video: vehicle 0's RTP port (QGroundControl's 5600); vehicle i uses base+i")
	fs.Float64Var(&cfg.Faults.LossPct, "loss", 0, "link packet loss in percent, both directions")
	fs.DurationVar(&cfg.Faults.Latency, "latency", 0, "added one-way link latency")
	fs.DurationVar(&cfg.Faults.Jitter, "jitter", 0, "extra random latency 0..jitter")
	fs.Float64Var(&cfg.Faults.DupPct, "dup", 0, "duplicated packets in percent")
	fs.Float64Var(&cfg.Faults.ReorderPct, "reorder", 0, "reordered packets in percent")
	fs.Var(cliflag.NewList(&faults), "fault", "scheduled fault, e.g. kind=gps-loss,at=60s,for=10s,vehicle=3 (kinds: gps-loss, battery-drop value=PCT, failure, gust value=M/S for=D, link-down for=D; repeatable)")
	fs.Float64Var(&cfg.WindSpeed, "wind", 0, "steady wind speed m/s")
	fs.Float64Var(&cfg.WindDirDeg, "wind-dir", 0, "direction the wind blows from, degrees")
	fs.Float64Var(&cfg.GustSpeed, "gusts", 0, "random gusts up to this many m/s")
	fs.Float64Var(&cfg.BatteryCapacityMAh, "battery-mah", 0, "battery capacity (0 = model default)")
	fs.Float64Var(&cfg.EnduranceMin, "endurance-min", 0, "full-battery flight time at cruise, minutes; sets the capacity through the current model (hover, speed, climb), overriding --battery-mah (0 = model default, ~20 min)")
	fs.Float64Var(&cfg.SwapMin, "swap-min", 0, "minutes a vehicle must stay landed and disarmed before its battery is swapped for a full one (0 = never)")
	fs.Var(cliflag.NewList(&perVeh), "vehicle", "one vehicle's own settings over the fleet's flags, e.g. vehicle=2,endurance-min=12,swap-min=0,battery-mah=3000,video=false,home=41.31;69.27 (keys left out inherit; repeatable, once per vehicle)")
	fs.BoolVar(&cfg.LegacyMissionRequest, "legacy-mission-request", false, "request upload items with MISSION_REQUEST like the recorded ArduCopter 4.7 (default MISSION_REQUEST_INT)")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	log, err := newLogger(stderr, logLevel)
	if err != nil {
		return err
	}
	cfg.GCS = gcs
	if cfg.HomesFile == "" {
		if cfg.Home, err = simulator.ParseHome(home); err != nil {
			return fmt.Errorf("%w: --home: %v", errUsage, err)
		}
	}
	for _, s := range faults {
		f, err := simulator.ParseFault(s)
		if err != nil {
			return fmt.Errorf("%w: --fault: %v", errUsage, err)
		}
		cfg.Scheduled = append(cfg.Scheduled, f)
	}
	for _, s := range perVeh {
		i, vs, err := simulator.ParseVehicleSettings(s)
		if err != nil {
			return fmt.Errorf("%w: --vehicle: %v", errUsage, err)
		}
		if _, dup := cfg.PerVehicle[i]; dup {
			return fmt.Errorf("%w: --vehicle: vehicle %d is given twice", errUsage, i)
		}
		if cfg.PerVehicle == nil {
			cfg.PerVehicle = map[int]simulator.VehicleSettings{}
		}
		cfg.PerVehicle[i] = vs
	}
	cfg.Log = log
	sim, err := simulator.New(cfg)
	if errors.Is(err, simulator.ErrConfig) {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err != nil {
		return err
	}
	for i := 0; i < sim.Len() && i < 5; i++ {
		v := sim.Vehicle(i)
		fmt.Fprintf(stdout, "vehicle %d: sysid %d on %s -> %s\n", i, v.SystemID(), v.LocalAddr(), v.GCSAddr())
	}
	if sim.Len() > 5 {
		fmt.Fprintf(stdout, "... %d vehicles in all\n", sim.Len())
	}
	start := time.Now()
	err = sim.Run(ctx)
	log.Info("sitl finished", "ran", time.Since(start).Round(time.Millisecond))
	return err
}
