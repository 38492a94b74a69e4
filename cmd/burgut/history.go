package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/burgut-uav/burgut/telemetry"
	"github.com/burgut-uav/burgut/telemetry/influx"
	"github.com/burgut-uav/burgut/telemetry/sqlitestore"
)

func init() {
	register(&command{
		name:    "history",
		summary: "stored telemetry: a vehicle's track, flights, export, or every vehicle's latest state",
		run:     history,
	})
}

const historyUsage = `Usage: burgut history <track|flights|export|latest> [flags]

  track    a vehicle's path as a GeoJSON LineString (or CSV), downsampled to --max-points
  flights  a vehicle's flights (arm → disarm) as JSON
  export   a vehicle's samples as CSV, GeoJSON or JSON
  latest   the newest stored sample of every vehicle, as JSON

Reads the embedded store under --data-dir (default), or InfluxDB with
--influx-url and --influx-bucket (the same settings as burgut serve).

Flags:`

func history(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "burgut-data", "burgut serve's data directory (embedded store: DATA-DIR/telemetry.db)")
	iurl := fs.String("influx-url", "", "InfluxDB URL; empty = the embedded store")
	bucket := fs.String("influx-bucket", "", "InfluxDB bucket (1.8: database/retention, e.g. telemetry/autogen)")
	token := fs.String("influx-token", "", "InfluxDB token (1.8: user:password or empty)")
	org := fs.String("influx-org", "", "InfluxDB 2.x organisation")
	vehicle := fs.String("vehicle", "", "vehicle ID (track, flights, export)")
	fromS := fs.String("from", "", "start, RFC 3339 (default: --to minus 1 h; 24 h for flights)")
	toS := fs.String("to", "", "end, RFC 3339 (default: now)")
	maxPoints := fs.Int("max-points", telemetry.DefaultMaxPoints, "track point budget")
	format := fs.String("format", "", "track: geojson or csv; export: csv, geojson or json")
	fs.Usage = func() { fmt.Fprintln(stderr, historyUsage); fs.PrintDefaults() }
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("%w: want one of track, flights, export, latest", errUsage)
	}
	sub := pos[0]
	switch sub {
	case "track", "flights", "export":
		if *vehicle == "" {
			return fmt.Errorf("%w: %s needs --vehicle", errUsage, sub)
		}
	case "latest":
	default:
		return fmt.Errorf("%w: unknown history command %q (track, flights, export, latest)", errUsage, sub)
	}
	to := time.Now().UTC()
	if *toS != "" {
		if to, err = time.Parse(time.RFC3339Nano, *toS); err != nil {
			return fmt.Errorf("%w: --to %q: not an RFC 3339 time (e.g. 2026-03-01T10:00:00Z)", errUsage, *toS)
		}
	}
	from := to.Add(-time.Hour)
	if sub == "flights" {
		from = to.Add(-24 * time.Hour)
	}
	if *fromS != "" {
		if from, err = time.Parse(time.RFC3339Nano, *fromS); err != nil {
			return fmt.Errorf("%w: --from %q: not an RFC 3339 time", errUsage, *fromS)
		}
	}
	if !to.After(from) {
		return fmt.Errorf("%w: --to must be after --from", errUsage)
	}
	if *maxPoints < 2 {
		return fmt.Errorf("%w: --max-points %d: want at least 2", errUsage, *maxPoints)
	}

	var src telemetry.Source
	if *iurl != "" {
		if *bucket == "" {
			return fmt.Errorf("%w: --influx-bucket is required with --influx-url", errUsage)
		}
		s, err := influx.Open(influx.Config{URL: *iurl, Bucket: *bucket, Token: *token, Org: *org}, slog.New(slog.NewTextHandler(stderr, nil)))
		if err != nil {
			return err
		}
		defer s.Close()
		src = s
	} else {
		path := filepath.Join(*dataDir, "telemetry.db")
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("no embedded telemetry store at %s (is --data-dir the one burgut serve uses?): %w", path, err)
		}
		// Read-only use: no retention here, that is burgut serve's job.
		s, err := sqlitestore.Open(path, sqlitestore.Options{MaxAge: -1, MaxBytes: -1, Log: slog.New(slog.NewTextHandler(stderr, nil))})
		if err != nil {
			return err
		}
		defer s.Close()
		src = s
	}

	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	switch sub {
	case "track":
		tr, err := telemetry.TrackOf(ctx, src, *vehicle, from, to, *maxPoints)
		if err != nil {
			return err
		}
		switch *format {
		case "", "geojson":
			return enc.Encode(tr)
		case "csv":
			return telemetry.TrackCSV(stdout, tr)
		}
		return fmt.Errorf("%w: --format %q: track writes geojson or csv", errUsage, *format)
	case "flights":
		fl, err := telemetry.FlightsOf(ctx, src, *vehicle, from, to)
		if err != nil {
			return err
		}
		return enc.Encode(fl)
	case "export":
		ss, err := src.Samples(ctx, *vehicle, from, to)
		if err != nil {
			return err
		}
		switch *format {
		case "", "csv":
			return telemetry.WriteCSV(stdout, ss)
		case "geojson":
			return telemetry.WriteGeoJSON(stdout, ss)
		case "json":
			return enc.Encode(ss)
		}
		return fmt.Errorf("%w: --format %q: export writes csv, geojson or json", errUsage, *format)
	}
	ss, err := src.Latest(ctx)
	if err != nil {
		return err
	}
	if len(ss) == 0 {
		return errors.New("no telemetry stored yet")
	}
	return enc.Encode(ss)
}
