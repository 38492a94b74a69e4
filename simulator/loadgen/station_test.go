package loadgen

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation"
	"github.com/burgut-uav/burgut/internal/testenv"
)

// The real ground station registers every load-generator vehicle as an
// ArduCopter (identity from AUTOPILOT_VERSION, stream requests accepted)
// and decodes exactly the frames the generator counted.
func TestGroundStationRegistersEveryVehicle(t *testing.T) {
	port := testenv.FreeUDPPort(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	fl := fleet.New(fleet.DefaultConfig())
	st, err := groundstation.New(groundstation.Config{Links: []string{fmt.Sprintf("udp:127.0.0.1:%d", port)}, Log: log}, fl, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-st.Ready()

	res, err := Run(context.Background(), Config{Vehicles: 20, Targets: []string{fmt.Sprintf("udp:127.0.0.1:%d", port)}, Duration: 4 * time.Second, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	var frames uint64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if frames = st.Links()[0].Frames; frames >= res.SentTotal {
			break
		}
	}
	if frames != res.SentTotal {
		t.Fatalf("station decoded %d frames, loadgen sent %d", frames, res.SentTotal)
	}
	if res.Sent["AUTOPILOT_VERSION"] != 20 {
		t.Errorf("AUTOPILOT_VERSION sent %d times, want once per vehicle", res.Sent["AUTOPILOT_VERSION"])
	}
	ids := st.VehicleIDs()
	if len(ids) != 20 {
		t.Fatalf("%d vehicles published, want 20: %v", len(ids), ids)
	}
	for _, id := range ids {
		vi, err := st.Vehicle(id)
		if err != nil {
			t.Fatal(err)
		}
		if vi.UID == 0 || !vi.StreamsAccepted {
			t.Errorf("vehicle %s: uid %x, streams accepted %v", id, vi.UID, vi.StreamsAccepted)
		}
		v, ok := fl.Get(id)
		if !ok || !v.Connected || v.Lat == 0 || v.BatteryPct <= 0 {
			t.Errorf("vehicle %s in the fleet: %+v", id, v)
		}
	}
}

// Two generators on two links of one station (e.g. the fleet and a
// latency probe) are different aircraft: their UIDs differ, so the station
// does not take one for the other moving between links.
func TestTwoGeneratorsAreDistinctAircraft(t *testing.T) {
	ports := []int{testenv.FreeUDPPort(t), testenv.FreeUDPPort(t)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	fl := fleet.New(fleet.DefaultConfig())
	st, err := groundstation.New(groundstation.Config{Links: []string{fmt.Sprintf("udp:127.0.0.1:%d", ports[0]), fmt.Sprintf("udp:127.0.0.1:%d", ports[1])}, Log: log}, fl, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-st.Ready()
	errs := make(chan error, 2)
	for _, p := range ports {
		go func() {
			_, err := Run(context.Background(), Config{Vehicles: 1, Targets: []string{fmt.Sprintf("udp:127.0.0.1:%d", p)}, Duration: 3 * time.Second, Log: log})
			errs <- err
		}()
	}
	for range ports {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	ids := st.VehicleIDs()
	if len(ids) != 2 {
		t.Fatalf("vehicles %v: want two distinct aircraft", ids)
	}
	a, _ := st.Vehicle(ids[0])
	b, _ := st.Vehicle(ids[1])
	if a.UID == b.UID || a.Link == b.Link {
		t.Fatalf("%+v and %+v: want different UIDs on different links", a, b)
	}
}
