package scenario

import (
	"path/filepath"
	"testing"
)

// knownFailures are assertions of a library scenario that catch a defect
// not fixed yet: the run still checks every other assertion, and the
// failure is logged as known (the scenario file keeps the assertion, so
// `burgut scenario run` of it fails as it should).
var knownFailures = map[string]map[string]string{ // file → assertion kind → why
	// The stadium's coverage limit was one (issue 13): on 8-minute packs
	// its pool of 8 was short for the operation's rotation — a relief
	// launched its lead plus a 90 s margin ahead sends the incumbent home
	// on arrival, drones landed with 43-47 % (reserve 20 %), and 3 slots
	// needed ~8.5 drones — so gaps of 30-80 s came in every run, over
	// 60 s in one in five to one in two (every attempt to shorten the
	// lead: missions/operations/README.md, "A relief's lead on short
	// packs"). The scenario now flies 12-minute packs (~5.6 drones
	// needed) and asserts a gap of at most 15 s after the climb-out: 0 s
	// in 20 of 20 runs (12 at load 0.2-2.8, 4 at once at 0.6-2.0, 4 at
	// once at 5-8), closest approach 10.2-19.5 m; with its transit layer
	// again 0 s in 10 of 10 (load 1.5-13), 10.3-18.1 m.
	// The stadium's min_separation was an earlier one (the shared pad:
	// drones parked 5 m apart landed side by side 4-8 m apart, 1.3 m
	// once); with each drone on its own spot 32 m from the next and the
	// crossings at the pad sequenced (missions/operations crossing.go) it
	// held 9.8-13.4 m in 26 of 26 runs (seeds 1-20) at load 9-26.
}

// Every scenario of the library (scenarios/ at the repository root) runs
// at its own speedup and every assertion in it holds; a failure prints
// the failed cases with their messages.
func TestLibrary(t *testing.T) {
	files, err := filepath.Glob("../scenarios/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("the library has %d scenarios, want the 5 of issue 14", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res := runFile(t, f, Options{})
			known := knownFailures[filepath.Base(f)]
			for _, c := range res.Cases {
				switch {
				case c.OK && (c.Kind == AssertMinSeparation || c.Kind == AssertCoverageGap):
					// The margins a run kept, for comparing runs.
					t.Logf("%s: %s", c.Name(), c.Message)
				case c.OK:
				case known[c.Kind] != "":
					t.Logf("KNOWN FAILURE (%s): %s: %s", known[c.Kind], c.Name(), c.Message)
				default:
					t.Errorf("%s: %s", c.Name(), c.Message)
				}
			}
			if t.Failed() {
				// The timeline is what tells a flake from a fault: when
				// each step finished, each fault fired, each alert came.
				for _, e := range res.Timeline {
					if e.Kind != EntryAssertion {
						t.Logf("%8s %-6s %s %s %s %s", clock(e.T), e.Kind, e.Name, e.Vehicle, e.Severity, e.Text)
					}
				}
			}
			if len(res.Cases) == 0 {
				t.Fatal("no cases")
			}
			t.Logf("%s: %v simulated in %v wall, %d cases", res.Scenario, res.SimTime.Round(1e9), res.Wall.Round(1e8), len(res.Cases))
		})
	}
}
