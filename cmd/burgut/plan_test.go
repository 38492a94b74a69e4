package main

import (
	"bytes"
	"context"
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
			if len(p.Mission) < 4 || len(p.Fence) < 3 || len(p.Rally) == 0 || p.Home.Lat == 0 {
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
