package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/burgut-uav/burgut/missions"
)

func init() {
	register(&command{
		name:    "plan",
		summary: "plan patrol missions, fences and rally points over an event area (GeoJSON)",
		run:     runPlan,
	})
}

// runPlan implements `burgut plan AREA.geojson --pattern ... --drones N
// --out DIR`: one QGroundControl .plan per drone (plus .waypoints and a
// GeoJSON preview). Everything is planned and checked in memory first, so a
// bad area or a failed check writes nothing.
func runPlan(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o missions.PlanOptions
	var c missions.CheckOptions
	out := fs.String("out", "", "directory to write drone-N.plan, drone-N.waypoints and preview.geojson into (required)")
	fs.StringVar(&o.Pattern, "pattern", missions.PatternPerimeter, "perimeter, sweep, loop or corridor")
	fs.IntVar(&o.Drones, "drones", 1, "number of drones to split the area among")
	fs.Float64Var(&o.Alt, "alt", 0, "altitude of the first drone's layer, metres above launch (default: middle of the area's band)")
	fs.Float64Var(&o.Spacing, "spacing", 0, "sweep line spacing in metres (default: from camera footprint)")
	fs.Float64Var(&o.Margin, "margin", 10, "distance kept from area edges and no-fly zones, metres")
	fs.Float64Var(&o.Speed, "speed", 10, "cruise speed, m/s")
	fs.Float64Var(&o.LayerStep, "layer-step", missions.DefaultLayerStep, "vertical distance between drones' altitude layers, metres (also the vertical separation the checker requires)")
	fs.BoolVar(&o.TransitLayer, "transit-layer", false, "fly to the patrols and back (and RTL) on a layer layer-step above every patrol layer")
	fs.Float64Var(&o.TransitAlt, "transit-alt", 0, "the transit layer, metres above launch (implies --transit-layer; default layer-step above the highest patrol layer)")
	fs.Float64Var(&o.Offset, "offset", 0, "corridor: lateral offset from the route, metres (+ = left)")
	fs.IntVar(&o.Repeat, "repeat", 0, "extra repetitions of the pattern (DO_JUMP); -1 = until the battery failsafe")
	fs.StringVar(&o.End, "end", "rtl", "how each mission ends: rtl or land")
	fs.Float64Var(&c.Endurance, "endurance", 1500, "battery endurance at cruise, seconds")
	fs.Float64Var(&c.Reserve, "reserve", 0.2, "battery fraction kept in reserve")
	fs.Float64Var(&c.Separation, "separation", missions.DefaultSeparation, "minimum horizontal distance between drones' level legs less than layer-step apart vertically, metres (default: the separation monitor's warning distance)")
	fs.Float64Var(&c.ClimbSeparation, "climb-separation", missions.DefaultClimbSeparation, "minimum horizontal distance where a drone climbs or descends through another's layer, metres (default: the separation monitor's critical distance; such passes are sequenced in time)")
	fs.IntVar(&o.Capacity.MissionItems, "max-items", missions.DefaultMissionItems, "mission items each vehicle holds, home included")
	fs.IntVar(&o.Capacity.FenceItems, "fence-items", missions.DefaultFenceItems, "fence items each vehicle holds (ArduCopter: 70 on its own storage, up to 255 with BRD_SD_FENCE)")
	fs.IntVar(&o.Capacity.FenceBytes, "fence-bytes", missions.DefaultFenceBytes, "bytes of fence storage each vehicle has (ArduCopter: 560 on its own storage, BRD_SD_FENCE×1024 on the SD card)")
	fs.Var(launchFlag{&o.Launch}, "launch", "launch point LAT,LON[,RADIUS] (degrees, metres): replaces the area's launch features, needed when it has none")
	force := fs.Bool("force", false, "write the files even when checks fail (the failures are still printed)")
	// Accept the area before or after the flags.
	var pos []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return fmt.Errorf("%v: %w", err, errUsage)
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		rest = rest[1:]
	}
	if len(pos) != 1 {
		return fmt.Errorf("want exactly one AREA.geojson argument, got %d: %w", len(pos), errUsage)
	}
	if *out == "" {
		return fmt.Errorf("--out DIR is required: %w", errUsage)
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return fmt.Errorf("open area: %w", err)
	}
	area, err := missions.ImportGeoJSON(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	plans, err := missions.PlanArea(area, o)
	if err != nil {
		return err
	}
	eff, err := o.Effective(area)
	if err != nil {
		return err // PlanArea accepted the same options; unreachable
	}
	c = eff.CheckOptions(c)
	// Geometry, altitude, item-count and separation failures block; the
	// battery estimate warns, because the operator may swap batteries
	// between repeats (and the vehicle's battery failsafe still applies).
	blocking := 0
	for _, v := range missions.Check(area, plans, c) {
		if v.Rule == missions.RuleBattery {
			fmt.Fprintf(stderr, "warning: %s\n", v)
			continue
		}
		fmt.Fprintf(stderr, "check failed: %s\n", v)
		blocking++
	}
	if blocking > 0 && !*force {
		return fmt.Errorf("%d check(s) failed; nothing written (use --force to write anyway)", blocking)
	}
	// Render everything before touching the disk.
	files := map[string][]byte{}
	for _, dp := range plans {
		var b bytes.Buffer
		if err := dp.WritePlan(&b); err != nil {
			return fmt.Errorf("drone %d: %w", dp.Drone, err)
		}
		files[fmt.Sprintf("drone-%d.plan", dp.Drone)] = b.Bytes()
		var w bytes.Buffer
		if err := dp.WriteWaypoints(&w); err != nil {
			return fmt.Errorf("drone %d: %w", dp.Drone, err)
		}
		files[fmt.Sprintf("drone-%d.waypoints", dp.Drone)] = w.Bytes()
	}
	var pv bytes.Buffer
	if err := missions.WriteGeoJSON(&pv, missions.Preview(area, plans)); err != nil {
		return fmt.Errorf("preview: %w", err)
	}
	files["preview.geojson"] = pv.Bytes()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	var names []string
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(*out, name), data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		names = append(names, name)
	}
	// The area's outlines are simplified once for every drone: say so once;
	// each drone's fence is its own.
	printChange := func(indent string, ch missions.BoundaryChange) {
		name := ""
		if ch.Name != "" {
			name = fmt.Sprintf(" %q", ch.Name)
		}
		fmt.Fprintf(stdout, "%ssimplified %s%s to fit the vehicle: %d -> %d vertices, %s by up to %.2f m (mean %.2f m)\n",
			indent, ch.Boundary, name, ch.VerticesBefore, ch.VerticesAfter, ch.Direction, ch.MaxDisplacement, ch.MeanDisplacement)
	}
	isFence := func(ch missions.BoundaryChange) bool { return strings.HasPrefix(ch.Boundary, "fence") }
	for _, ch := range plans[0].Simplified {
		if !isFence(ch) {
			printChange("", ch)
		}
	}
	for _, dp := range plans {
		fmt.Fprintf(stdout, "drone %d: %s pattern at %g m from %q: %d mission items, %d fence items, %d rally points -> %s\n",
			dp.Drone, o.Pattern, dp.Alt, dp.Launch.Name, len(dp.Mission), len(dp.Fence), len(dp.Rally), filepath.Join(*out, fmt.Sprintf("drone-%d.plan", dp.Drone)))
		for _, ch := range dp.Simplified {
			if isFence(ch) {
				printChange("  ", ch)
			}
		}
	}
	fmt.Fprintf(stdout, "wrote %d files to %s (%s)\n", len(names), *out, strings.Join([]string{"*.plan", "*.waypoints", "preview.geojson"}, ", "))
	return nil
}

// launchFlag is --launch LAT,LON[,RADIUS]; a bad value is a usage error
// naming what is wrong.
type launchFlag struct{ p **missions.LaunchPoint }

func (f launchFlag) String() string {
	if f.p == nil || *f.p == nil {
		return ""
	}
	l := *f.p
	if l.Radius > 0 {
		return fmt.Sprintf("%g,%g,%g", l.Lat, l.Lon, l.Radius)
	}
	return fmt.Sprintf("%g,%g", l.Lat, l.Lon)
}

func (f launchFlag) Set(s string) error {
	l, err := missions.ParseLaunch(s)
	if err != nil {
		return err
	}
	*f.p = l
	return nil
}
