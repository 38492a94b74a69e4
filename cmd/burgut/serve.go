package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/burgut-uav/burgut/app"
)

func init() {
	register(&command{
		name:    "serve",
		summary: "run the ground station, stores, relays and HTTP API",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			return serve(ctx, "serve", args, false, stdout, stderr)
		},
	})
	register(&command{
		name:    "run",
		summary: "the demo: serve plus a simulated fleet flying on the web map",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			return serve(ctx, "run", args, true, stdout, stderr)
		},
	})
}

func serve(ctx context.Context, name string, args []string, withSim bool, stdout, stderr io.Writer) error {
	for _, a := range args {
		if a == "--print-config" || a == "-print-config" {
			return app.WriteExample(stdout, withSim)
		}
	}
	cfg, err := app.Load(name, args, withSim, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "\n  --print-config\n    \tprint a commented config file with every setting and its default, then exit")
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if !withSim {
		cfg.Sim.Vehicles = 0
	}
	log, err := newLogger(stderr, cfg.LogLevel)
	if err != nil {
		return err
	}
	if err := startPprof(ctx, log); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	applyGCDefault(log)
	applyProcsDefault(log)
	if cfg.Sim.Scenario != "" {
		return rehearse(ctx, cfg, log, stdout, stderr)
	}
	return app.New(cfg, log).Run(ctx)
}
