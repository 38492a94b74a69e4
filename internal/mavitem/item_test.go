package mavitem

import (
	"os/exec"
	"strings"
	"testing"
)

func TestMissionTypeNamesRoundTrip(t *testing.T) {
	for _, mt := range []MissionType{TypeMission, TypeFence, TypeRally} {
		got, ok := ParseMissionType(mt.String())
		if !ok || got != mt {
			t.Errorf("ParseMissionType(%q) = %v, %v; want %v, true", mt.String(), got, ok, mt)
		}
	}
	if _, ok := ParseMissionType("unknown"); ok {
		t.Error(`ParseMissionType("unknown") accepted`)
	}
	if got := MissionType(9).String(); got != "unknown" {
		t.Errorf("MissionType(9).String() = %q, want unknown", got)
	}
}

// TestProtocolSideDoesNotImportPlanner keeps the reason this package exists:
// the protocol engine and the simulator speak mission items without pulling
// in the planner and its geometry libraries.
func TestProtocolSideDoesNotImportPlanner(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	// The HTTP layer above the station (groundstation/vehicleapi) may read
	// .plan files through the planner; the engine below it may not.
	pkgs := []string{
		"github.com/burgut-uav/burgut/groundstation",
		"github.com/burgut-uav/burgut/groundstation/session",
		"github.com/burgut-uav/burgut/simulator/...",
	}
	args := append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, pkgs...)
	out, err := exec.Command(gobin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "github.com/burgut-uav/burgut/missions" || strings.HasPrefix(p, "github.com/paulmach/orb") ||
			strings.HasPrefix(p, "github.com/peterstace/simplefeatures") {
			t.Errorf("the protocol engine or the simulator depends on %s", p)
		}
	}
}
