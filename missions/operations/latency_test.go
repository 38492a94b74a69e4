package operations

import (
	"encoding/json"
	"testing"
	"time"
)

// The station's command latency (Operation.LatencyS) is the 90th
// percentile of the latest latencyWindow round trips. One slow command —
// a stall of a loaded station — widens the release windows and
// must-leave margins only while fewer than 10 round trips are known (the
// old decaying maximum kept a 60 s outlier above 11 s for 16 commands
// more, over 2 s for 30); a slow link, every command slow or one in
// eight, keeps it high; the window is kept over a restart.
func TestCommandLatencyEstimate(t *testing.T) {
	const typical, slow = 2 * time.Second, 60 * time.Second
	// note adds n round trips of d, then wants the estimate at want s.
	note := func(t *testing.T, o *Operation, d time.Duration, n int, want float64, what string) {
		t.Helper()
		for range n {
			o.noteLatency(d)
		}
		if o.LatencyS != want {
			t.Fatalf("%s: %g s, want %g s", what, o.LatencyS, want)
		}
	}
	t.Run("an outlier among the first", func(t *testing.T) {
		o := &Operation{TimeScale: 1}
		note(t, o, slow, 1, 60, "one 60 s round trip")
		// Among fewer than 10 the longest counts: it may be the link.
		note(t, o, typical, 8, 60, "9 round trips, one 60 s")
		note(t, o, typical, 1, 2, "10 round trips, one 60 s")
	})
	t.Run("an outlier later", func(t *testing.T) {
		o := &Operation{TimeScale: 1}
		note(t, o, typical, 20, 2, "20 typical round trips")
		note(t, o, slow, 1, 2, "a lone 60 s one after 20 typical")
		for range latencyWindow {
			note(t, o, typical, 1, 2, "typical ones after a lone 60 s one")
		}
		if len(o.LatencySamplesS) != latencyWindow {
			t.Fatalf("%d round trips kept, want %d", len(o.LatencySamplesS), latencyWindow)
		}
	})
	t.Run("a slow link", func(t *testing.T) {
		note(t, &Operation{TimeScale: 1}, 30*time.Second, 40, 30, "every command 30 s")
		o := &Operation{TimeScale: 1}
		for i := range 64 {
			d := typical
			if i%8 == 7 {
				d = 30 * time.Second
			}
			o.noteLatency(d)
			// Two slow ones in every window of 16 from the 16th on.
			if i >= latencyWindow-1 && o.LatencyS != 30 {
				t.Fatalf("one command in eight 30 s: %g s after command %d, want 30", o.LatencyS, i)
			}
		}
	})
	t.Run("operation time", func(t *testing.T) {
		note(t, &Operation{TimeScale: 60}, 100*time.Millisecond, 3, 6, "0.1 s at speedup 60 (operation seconds)")
	})
	t.Run("kept over a restart", func(t *testing.T) {
		o := &Operation{TimeScale: 1}
		note(t, o, typical, 10, 2, "10 typical")
		note(t, o, slow, 2, 60, "two 60 s ones after 10 typical")
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		var back Operation
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if len(back.LatencySamplesS) != 12 {
			t.Fatalf("restored %d round trips, want 12", len(back.LatencySamplesS))
		}
		// Two slow ones in the window keep it at 60 s until the first of
		// them is 16 commands old.
		note(t, &back, typical, latencyWindow-2, 60, "restored, both slow ones in the window")
		note(t, &back, typical, 1, 2, "restored, one slow one left in the window")
	})
}
