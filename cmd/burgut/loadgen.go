package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/burgut-uav/burgut/internal/cliflag"
	"github.com/burgut-uav/burgut/simulator/loadgen"
)

func init() {
	register(&command{
		name:    "loadgen",
		summary: "fleet-scale MAVLink load: N vehicles at 18 msg/s each, exact counts at the end",
		run:     loadgenCmd,
	})
}

// loadgenCmd runs `burgut loadgen`: the paced fleet load of issue 10
// against one or more ground-station links, until --duration or SIGINT,
// then prints what was sent per message type (and writes it as JSON).
func loadgenCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		targets  []string
		cfg      loadgen.Config
		jsonOut  string
		logLevel string
	)
	fs.IntVar(&cfg.Vehicles, "vehicles", 1, "number of vehicles (each its own UDP socket)")
	fs.Var(cliflag.NewList(&targets), "target", "ground-station link udp:HOST:PORT (repeatable; the fleet is spread evenly, at most --per-link vehicles each)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop after this long (0 = until SIGINT/SIGTERM)")
	fs.IntVar(&cfg.PerTarget, "per-link", loadgen.MaxPerTarget, "most vehicles per target (1-250: system IDs of one MAVLink network)")
	fs.IntVar(&cfg.Workers, "workers", 0, "sending goroutines (0 = GOMAXPROCS)")
	fs.StringVar(&cfg.Bind, "bind", "127.0.0.1", "local IPv4 address the vehicles' sockets bind")
	fs.StringVar(&jsonOut, "json", "", "also write the result as JSON to this file ('-' = stdout instead of the summary)")
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
	cfg.Targets = targets
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	log, err := newLogger(stderr, logLevel)
	if err != nil {
		return err
	}
	cfg.Log = log
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if jsonOut != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
		b = append(b, '\n')
		if jsonOut == "-" {
			_, err = stdout.Write(b)
			return err
		}
		if err := os.WriteFile(jsonOut, b, 0o644); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
	}
	printLoadgen(stdout, res)
	return nil
}

func printLoadgen(w io.Writer, r *loadgen.Result) {
	fmt.Fprintf(w, "vehicles %d over %d targets, %.1f s\n", r.Vehicles, len(r.Targets), r.DurationS)
	names := make([]string, 0, len(r.Sent))
	for n := range r.Sent {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-20s %d\n", n, r.Sent[n])
	}
	rate := 0.0
	if r.DurationS > 0 {
		rate = float64(r.SentTotal) / r.DurationS
	}
	fmt.Fprintf(w, "sent %d (%.0f msg/s), send errors %d, received %d (commands %d)\n", r.SentTotal, rate, r.SendErrors, r.Received, r.Commands)
	fmt.Fprintf(w, "loadgen CPU %.1f %% of one core (user %.2f s, sys %.2f s); max lag %.1f ms, late slots %d\n",
		r.CPUPercent, r.CPUUserS, r.CPUSysS, r.MaxLagMS, r.LateSlots)
}
