package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/missions"
)

func TestPlanCommandContract(t *testing.T) {
	area := filepath.Join("..", "..", "missions", "testdata", "synthetic-l.geojson")
	for _, pat := range missions.Patterns {
		dir := filepath.Join(t.TempDir(), "out")
		var out, errb bytes.Buffer
		code := runMain(context.Background(), []string{"plan", area, "--pattern", pat, "--drones", "2", "--alt", "60", "--spacing", "40", "--out", dir}, &out, &errb)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", pat, code, errb.String())
		}
		for d := 0; d < 2; d++ {
			f, err := os.Open(filepath.Join(dir, "drone-"+string(rune('0'+d))+".plan"))
			if err != nil {
				t.Fatal(err)
			}
			p, err := missions.ParsePlan(f)
			f.Close()
			if err != nil {
				t.Fatalf("%s drone %d: %v", pat, d, err)
			}
			// No rally requirement: a drone gets only rally points inside its
			// own fence (and a landing spot when the pad is big enough for
			// several); otherwise its RTL goes home, with a note saying so.
			if len(p.Mission) < 4 || len(p.Fence) < 3 || p.Home.Lat == 0 {
				t.Errorf("%s drone %d: incomplete plan %+v", pat, d, p)
			}
			if p.Mission[0].Command != mavitem.CmdNavTakeoff {
				t.Errorf("%s drone %d: first item %d, want takeoff", pat, d, p.Mission[0].Command)
			}
		}
		for _, f := range []string{"drone-0.waypoints", "drone-1.waypoints", "preview.geojson"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("%s: %v", pat, err)
			}
		}
	}
}

func TestPlanCommandBadAreaWritesNothing(t *testing.T) {
	bad, _ := filepath.Glob(filepath.Join("..", "..", "missions", "testdata", "bad", "*.geojson"))
	if len(bad) == 0 {
		t.Fatal("no bad areas")
	}
	for _, f := range bad {
		dir := filepath.Join(t.TempDir(), "out")
		var out, errb bytes.Buffer
		code := runMain(context.Background(), []string{"plan", f, "--pattern", "sweep", "--out", dir}, &out, &errb)
		if code == 0 {
			t.Errorf("%s: exit 0", f)
		}
		if !strings.Contains(errb.String(), filepath.Base(f)) && !strings.Contains(errb.String(), "invalid event area") {
			t.Errorf("%s: stderr does not say what is wrong: %q", f, errb.String())
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s: output directory created", f)
		}
	}
	var errb bytes.Buffer
	if code := runMain(context.Background(), []string{"plan", "--out", t.TempDir()}, &bytes.Buffer{}, &errb); code != 2 {
		t.Errorf("missing area: exit %d, want 2", code)
	}
}

// withoutLaunch writes the synthetic area minus its launch feature: a
// polygon as a GIS team sends it.
func withoutLaunch(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "missions", "testdata", "synthetic-l.geojson"))
	if err != nil {
		t.Fatal(err)
	}
	var fc map[string]any
	if err := json.Unmarshal(b, &fc); err != nil {
		t.Fatal(err)
	}
	var keep []any
	for _, f := range fc["features"].([]any) {
		if f.(map[string]any)["properties"].(map[string]any)["kind"] != missions.KindLaunch {
			keep = append(keep, f)
		}
	}
	fc["features"] = keep
	out, _ := json.Marshal(fc)
	p := filepath.Join(t.TempDir(), "no-launch.geojson")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPlanCommandLaunchFlag(t *testing.T) {
	area := withoutLaunch(t)
	dir := filepath.Join(t.TempDir(), "out")
	var out, errb bytes.Buffer
	code := runMain(context.Background(), []string{"plan", area, "--pattern", "perimeter", "--drones", "2", "--out", dir}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "no launch point") || !strings.Contains(errb.String(), "--launch LAT,LON[,RADIUS]") {
		t.Fatalf("area without launch: exit %d, stderr %q; want 1 and how to give one", code, errb.String())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Error("output directory created for a refused plan")
	}
	// The pad south-west of the L, with a radius.
	out.Reset()
	errb.Reset()
	code = runMain(context.Background(), []string{"plan", area, "--pattern", "perimeter", "--drones", "2", "--launch", "41.3497, 69.2996, 4", "--out", dir}, &out, &errb)
	if code != 0 {
		t.Fatalf("with --launch: exit %d: %s", code, errb.String())
	}
	for d := 0; d < 2; d++ {
		f, err := os.Open(filepath.Join(dir, fmt.Sprintf("drone-%d.plan", d)))
		if err != nil {
			t.Fatal(err)
		}
		p, err := missions.ParsePlan(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(p.Home.Lat-41.3497) > 1e-9 || math.Abs(p.Home.Lon-69.2996) > 1e-9 {
			t.Errorf("drone %d: home %+v, want the --launch point", d, p.Home)
		}
		if len(p.Fence) > missions.DefaultFenceItems {
			t.Errorf("drone %d: %d fence items, more than the default capacity", d, len(p.Fence))
		}
	}
}

func TestPlanCommandBadLaunch(t *testing.T) {
	area := filepath.Join("..", "..", "missions", "testdata", "synthetic-l.geojson")
	for _, bad := range []string{"", "abc", "41.3", "41.3,69.2,5,1", "41.3,x", "91,69.2", "41.3,181", "41.3,69.2,-5", "41.3,69.2,9999", "NaN,69.2", "41.3,69.2,Inf", "0,0", "69.2,41.3"} {
		dir := filepath.Join(t.TempDir(), "out")
		var out, errb bytes.Buffer
		code := runMain(context.Background(), []string{"plan", area, "--launch", bad, "--out", dir}, &out, &errb)
		if code == 0 {
			t.Errorf("--launch %q: exit 0", bad)
			continue
		}
		if !strings.Contains(errb.String(), "launch") {
			t.Errorf("--launch %q: stderr does not name the launch point: %q", bad, errb.String())
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("--launch %q: output directory created", bad)
		}
	}
}

// TestPlanCommandDetailedOutline: a 5,000-vertex outline without a launch
// feature plans with --launch, reports how the outline was simplified and
// writes fences ArduCopter stores.
func TestPlanCommandDetailedOutline(t *testing.T) {
	const n = 5000
	var ring [][2]float64
	for i := 0; i <= n; i++ {
		th := 2 * math.Pi * float64(i%n) / n
		r := 400 + 3*math.Sin(53*th) + 1.5*math.Sin(211*th)
		ring = append(ring, [2]float64{69.25 + r*math.Cos(th)/83700, 41.3 + r*math.Sin(th)/111195})
	}
	fc := map[string]any{"type": "FeatureCollection", "features": []any{map[string]any{
		"type": "Feature", "properties": map[string]any{"kind": "event-area", "name": "detailed"},
		"geometry": map[string]any{"type": "Polygon", "coordinates": [][][2]float64{ring}},
	}}}
	b, _ := json.Marshal(fc)
	area := filepath.Join(t.TempDir(), "detailed.geojson")
	if err := os.WriteFile(area, b, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	var out, errb bytes.Buffer
	code := runMain(context.Background(), []string{"plan", area, "--drones", "2", "--launch", "41.2955,69.25", "--out", dir}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), `simplified event-area "detailed" to fit the vehicle: 5000 -> `) {
		t.Errorf("stdout does not report the simplified outline:\n%s", out.String())
	}
	for d := 0; d < 2; d++ {
		f, err := os.Open(filepath.Join(dir, fmt.Sprintf("drone-%d.plan", d)))
		if err != nil {
			t.Fatal(err)
		}
		p, err := missions.ParsePlan(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if u := missions.FenceUsageOf(p.Fence); u.Items > missions.DefaultFenceItems || u.Bytes > missions.DefaultFenceBytes {
			t.Errorf("drone %d: fence %+v does not fit ArduCopter's storage", d, u)
		}
		if len(p.Mission)+1 > missions.DefaultMissionItems {
			t.Errorf("drone %d: %d mission items", d, len(p.Mission)+1)
		}
	}
}
