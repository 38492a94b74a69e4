package groundstation

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/telemetry"
)

// memWriter keeps every sample the recorder stores.
type memWriter struct {
	mu      sync.Mutex
	samples []telemetry.Sample
}

func (w *memWriter) WriteSamples(_ context.Context, s []telemetry.Sample) error {
	w.mu.Lock()
	w.samples = append(w.samples, s...)
	w.mu.Unlock()
	return nil
}

// WritePoints takes the message points of interval 0; the test checks
// samples only.
func (w *memWriter) WritePoints(context.Context, []telemetry.Point) error { return nil }

func (w *memWriter) of(id string) []telemetry.Sample {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []telemetry.Sample
	for _, s := range w.samples {
		if s.Vehicle == id {
			out = append(out, s)
		}
	}
	return out
}

// lastFrames remembers when the station last received a frame from each
// vehicle, as its frame tap sees them.
type lastFrames struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (l *lastFrames) tap(id, _ string, at time.Time, _ frame.Frame, _ []byte, sent bool) {
	if sent {
		return
	}
	l.mu.Lock()
	if at.After(l.last[id]) {
		l.last[id] = at
	}
	l.mu.Unlock()
}

func (l *lastFrames) get(id string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last[id]
}

// A vehicle that stops sending keeps the LastSeen of its last frame (also
// in its link_lost event), and nothing is stored for it after that frame
// although the station keeps refreshing its state (link lost, rate decay).
func TestSilentVehicleIsNotRecorded(t *testing.T) {
	port := testenv.FreeUDPPort(t)
	st, fl := startStation(t, testConfig(fmt.Sprintf("udp:127.0.0.1:%d", port)))
	frames := &lastFrames{last: map[string]time.Time{}}
	st.AddFrameTap(frames.tap)
	w := &memWriter{}
	rec := telemetry.NewRecorder(fl, w, telemetry.RecorderConfig{Interval: 0, BatchSize: 1}, testLog(t))
	ctx, cancel := context.WithCancel(context.Background())
	recDone := make(chan error, 1)
	go func() { recDone <- rec.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-recDone })

	sim := startSim(t, 2, 11, port)
	testenv.Eventually(t, 30*time.Second, "2 vehicles", func() bool { return len(fl.List()) == 2 })
	ids := idByUID(t, fl, sim)
	id := ids[0]
	testenv.Eventually(t, 20*time.Second, "samples of the vehicle stored", func() bool { return len(w.of(id)) > 10 })

	since := lastSeq(fl)
	sim.Vehicle(0).LinkDown(0)
	lost := waitEvent(t, fl, since, id, fleet.EventLinkLost, 20*time.Second)
	// Wait for the refreshes the station makes of a silent vehicle: its
	// rate decays to 0 over several ticks.
	testenv.Eventually(t, 20*time.Second, "rate of the silent vehicle decays to 0", func() bool {
		v, _ := fl.Get(id)
		return v.LinkQuality.RateHz == 0
	})
	// And let the other vehicle's samples flow through the recorder, so
	// everything refreshed before now has been through it too.
	mark := len(w.of(ids[1]))
	testenv.Eventually(t, 20*time.Second, "the other vehicle still recorded", func() bool { return len(w.of(ids[1])) > mark+5 })

	heard := frames.get(id)
	v, _ := fl.Get(id)
	if v.Connected {
		t.Fatal("vehicle still connected after link_lost")
	}
	if v.LastSeen.IsZero() || v.LastSeen.After(heard) {
		t.Errorf("LastSeen %v, but the last frame was received at %v", v.LastSeen, heard)
	}
	if v.Updated.After(heard) {
		t.Errorf("Updated %v is after the last frame %v", v.Updated, heard)
	}
	ls, ok := lost.Fields["last_seen"].(time.Time)
	if !ok || !ls.Equal(v.LastSeen) {
		t.Errorf("link_lost last_seen = %v (%T), want the vehicle's LastSeen %v", lost.Fields["last_seen"], lost.Fields["last_seen"], v.LastSeen)
	}
	if !lost.Time.After(ls) {
		t.Errorf("link_lost detected at %v, not after last_seen %v", lost.Time, ls)
	}
	for _, s := range w.of(id) {
		if s.Time.After(heard) {
			t.Fatalf("sample stored at %v, after the vehicle's last frame at %v: %+v", s.Time, heard, s)
		}
	}
	if st := rec.Stats(); st.DroppedQueue != 0 || st.DroppedWrites != 0 {
		t.Errorf("recorder dropped: %+v", st)
	}
}

// With three links, each with its own dispatcher writing into the fleet,
// a subscriber receives events in Seq order with no gap.
func TestEventsInSeqOrderAcrossThreeLinks(t *testing.T) {
	var specs []string
	var ports []int
	for i := 0; i < 3; i++ {
		p := testenv.FreeUDPPort(t)
		ports = append(ports, p)
		specs = append(specs, fmt.Sprintf("l%d=udp:127.0.0.1:%d", i, p))
	}
	_, fl := startStation(t, testConfig(specs...))
	sub := fl.Subscribe(fleet.SubscribeOptions{KeepAll: true, MaxQueue: 1 << 20})
	defer sub.Close()
	for i, p := range ports {
		startSim(t, 4, int64(300+i), p)
	}
	var got []fleet.Event
	connected := 0
	deadline := time.After(60 * time.Second)
	for connected < 12 {
		select {
		case <-sub.C:
			b := sub.Next()
			if b.Dropped.Events != 0 {
				t.Fatalf("subscriber dropped %d events", b.Dropped.Events)
			}
			got = append(got, b.Events...)
			for _, e := range b.Events {
				if e.Kind == fleet.EventConnected {
					connected++
				}
			}
		case <-deadline:
			t.Fatalf("only %d of 12 vehicles connected in 60 s", connected)
		}
	}
	links := map[string]bool{}
	for i, e := range got {
		if i > 0 && e.Seq != got[i-1].Seq+1 {
			t.Fatalf("event %d has seq %d after seq %d: delivery is not in seq order", i, e.Seq, got[i-1].Seq)
		}
		if v, ok := fl.Get(e.VehicleID); ok {
			links[v.Link] = true
		}
	}
	if len(links) != 3 {
		t.Errorf("events came from links %v, want all three", links)
	}
}
