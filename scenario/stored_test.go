package scenario

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/app"
)

// shortStored is testdata/short.yaml with a telemetry_stored assertion.
func shortStored(t *testing.T) *Scenario {
	t.Helper()
	data, err := os.ReadFile("testdata/short.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, "  - kind: telemetry_stored\n"...)
	sc, err := Parse("testdata/short.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// A station that stores one sample per vehicle every 5 s loses most of
// the positions the vehicles sent, though its recorder drops nothing:
// telemetry_stored fails for each vehicle, saying how many were sent and
// how many stored (the assertion before it compared only drop counters
// and flight counts, and passed).
func TestTelemetryStoredFailsWhenPositionsAreNotStored(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	o := Options{stationEdit: func(c *app.Config) { c.Telemetry.SampleInterval = 5 * time.Second }}
	res, err := Run(ctx, shortStored(t), o)
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, c := range res.Cases {
		if c.Kind != AssertTelemetryStored {
			continue
		}
		t.Logf("%s ok=%v: %s", c.Name(), c.OK, c.Message)
		if c.Index >= 0 && !c.OK {
			failed++
			if !strings.Contains(c.Message, "positions (GLOBAL_POSITION_INT) to the station; the store holds") || !strings.Contains(c.Message, c.Vehicle) {
				t.Errorf("failure message %q does not say which vehicle, sent and stored", c.Message)
			}
		}
	}
	if failed != 2 {
		t.Fatalf("%d vehicles failed telemetry_stored, want 2:\n%s", failed, outcome(res))
	}
	if res.Passed() {
		t.Fatal("the run passed")
	}
}

// Against a station given by URL the runner cannot know what the station
// received from others: telemetry_stored is a skipped JUnit case with the
// reason, not a pass.
func TestTelemetryStoredSkippedAgainstStationURL(t *testing.T) {
	ctx := context.Background()
	st, err := startInProcess(ctx, t.TempDir(), nil, 40, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.stop()
	st.token = st.admin // signing keys need an admin
	sc := shortStored(t)
	res, err := Run(ctx, sc, Options{StationURL: st.base, Token: st.token, SimGCS: st.cfg.GroundStation.MAVLink[0]})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, res); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range res.Cases {
		if c.Kind == AssertTelemetryStored {
			n++
			if !c.Skipped || !strings.Contains(c.Message, "not checked") {
				t.Errorf("telemetry_stored against --station: %+v", c)
			}
		}
	}
	if n != 1 || !strings.Contains(buf.String(), `<skipped message="not checked: the station was given by URL`) || !strings.Contains(buf.String(), `skipped="1"`) {
		t.Fatalf("%d telemetry_stored cases; JUnit:\n%s", n, buf.String())
	}
}
