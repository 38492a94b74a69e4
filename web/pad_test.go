package web

import (
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/burgut-uav/burgut/fleet/separation"
)

// The console sequences a group launch on a shared pad at
// PAD_SEPARATION_M (src/lib/commands.js); the station's operations and
// the scenario runner at separation.Config.PadClearance. The console
// cannot import the station's value, so this keeps its copy equal to the
// default: a pad sequenced at another distance either warns after every
// launch or waits for nothing.
func TestConsolePadClearanceIsTheStations(t *testing.T) {
	b, err := os.ReadFile("src/lib/commands.js")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^export const PAD_SEPARATION_M = ([0-9.]+);`).FindSubmatch(b)
	if m == nil {
		t.Fatal("src/lib/commands.js: no `export const PAD_SEPARATION_M = N;` line")
	}
	got, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	if want := separation.DefaultConfig().PadClearance(); got != want {
		t.Errorf("the console's PAD_SEPARATION_M is %v m, the station's pad clearance %v m", got, want)
	}
}
