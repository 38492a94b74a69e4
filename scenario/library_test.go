package scenario

import (
	"path/filepath"
	"testing"
)

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
			for _, c := range res.Cases {
				if !c.OK {
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
