package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/burgut-uav/burgut/missions"
)

// --transit-layer plans the transits above every patrol layer (70 m for
// patrols at 50 and 60 m). The synthetic area's no-fly zones lie between
// some patrol legs and where their RTL goes (the nearest rally point or
// home, as ArduCopter flies it), so those returns are refused and
// nothing is written (--force writes it, with the transit layer in the
// files); a --transit-alt among the patrol layers is refused naming it.
func TestPlanCommandTransitLayer(t *testing.T) {
	area := filepath.Join("..", "..", "missions", "testdata", "synthetic-l.geojson")
	dir := filepath.Join(t.TempDir(), "out")
	var out, errb bytes.Buffer
	code := runMain(context.Background(), []string{"plan", area, "--drones", "2", "--alt", "50", "--transit-layer", "--out", dir}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "return: an RTL") || !strings.Contains(errb.String(), "of no-fly zone") {
		t.Fatalf("RTL past a no-fly zone: exit %d: %s", code, errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "drone-0.plan")); err == nil {
		t.Errorf("files written for a refused plan")
	}
	errb.Reset()
	code = runMain(context.Background(), []string{"plan", area, "--drones", "2", "--alt", "50", "--transit-alt", "55", "--out", dir}, &out, &errb)
	if code == 0 || !strings.Contains(errb.String(), "transit_alt 55") {
		t.Fatalf("transit alt among the layers: exit %d: %s", code, errb.String())
	}
	// --force writes it anyway, with the transit layer in the files.
	errb.Reset()
	code = runMain(context.Background(), []string{"plan", area, "--drones", "2", "--alt", "50", "--transit-layer", "--force", "--out", dir}, &out, &errb)
	if code != 0 {
		t.Fatalf("forced: exit %d: %s", code, errb.String())
	}
	f, err := os.Open(filepath.Join(dir, "drone-1.plan"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := missions.ParsePlan(f)
	if err != nil {
		t.Fatal(err)
	}
	if p.Mission[0].Z != 70 {
		t.Errorf("takeoff to %g m, want the 70 m transit layer", p.Mission[0].Z)
	}
}
