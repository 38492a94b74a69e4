package groundstation

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/message"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation/session"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/simulator"
	"github.com/burgut-uav/burgut/simulator/simtest"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// Integration tests run the real bundled simulator against a real Station
// over UDP on 127.0.0.1. Deadlines in waitFor are generous upper bounds
// for a loaded CI machine, not performance assertions.

func testLog(t testing.TB) *slog.Logger {
	if os.Getenv("BURGUT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func testConfig(links ...string) Config {
	return Config{
		Links:            links,
		HeartbeatTimeout: 2 * time.Second,
		StreamRateHz:     10,
		// Tests map simulated vehicles to fleet IDs by UID, so a vehicle
		// must not be published before its AUTOPILOT_VERSION: it is
		// published the moment the UID arrives, and this is only the upper
		// bound for a loaded machine (a 1 s wait ran out under CI load).
		// Tests of the no-UID path set their own.
		IdentityWait: 30 * time.Second,
		Session: session.Options{
			CommandTimeout:     400 * time.Millisecond,
			CommandRetries:     5,
			MissionItemTimeout: 300 * time.Millisecond,
			MissionRetries:     10,
		},
	}
}

// startStation runs a Station until the test ends and checks it stops
// cleanly (Run returns nil after cancel).
func startStation(t testing.TB, cfg Config) (*Station, *fleet.Fleet) {
	t.Helper()
	st, fl, _ := runStation(t, cfg)
	return st, fl
}

// runStation is startStation with a stop the test may call itself (it
// waits for Run to return), so a second station can take over the port;
// the stop also runs when the test ends.
func runStation(t testing.TB, cfg Config) (*Station, *fleet.Fleet, func()) {
	t.Helper()
	fl := fleet.New(fleet.DefaultConfig())
	if cfg.Log == nil {
		cfg.Log = testLog(t)
	}
	st, err := New(cfg, fl, cfg.Log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	select {
	case <-st.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("station Run: %v", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("station Run returned %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("station did not stop within 30 s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return st, fl, stop
}

// startSim runs a simulated fleet sending to the given ports until the
// test ends.
func startSim(t testing.TB, n int, seed int64, ports ...int) *simulator.Sim {
	t.Helper()
	return startSimConfig(t, simulator.Config{Vehicles: n, Seed: seed, Speedup: 1}, ports...)
}

func startSimConfig(t testing.TB, cfg simulator.Config, ports ...int) *simulator.Sim {
	t.Helper()
	for _, p := range ports {
		cfg.GCS = append(cfg.GCS, fmt.Sprintf("udp:127.0.0.1:%d", p))
	}
	cfg.Home = vehicle.LatLonAlt{Lat: 41.3111, Lon: 69.2797, AltMSL: 450}
	cfg.Log = testLog(t)
	return simtest.Start(t, cfg)
}

// waitOneVehicle waits until the fleet holds one vehicle ready to arm
// (3D fix, home) and returns its ID and home.
func waitOneVehicle(t testing.TB, fl *fleet.Fleet, within time.Duration) (id string, home fleet.Point) {
	t.Helper()
	testenv.Eventually(t, within, "one vehicle ready to arm (3D fix, home)", func() bool {
		vs := fl.List()
		if len(vs) != 1 || vs[0].GPSFix < 3 || vs[0].Home == nil {
			return false
		}
		id, home = vs[0].ID, *vs[0].Home
		return true
	})
	return id, home
}

// waitEvent waits for an event of kind for vehicle id with Seq > since and
// returns it.
func waitEvent(t testing.TB, fl *fleet.Fleet, since uint64, id string, kind fleet.EventKind, timeout time.Duration) fleet.Event {
	t.Helper()
	var found fleet.Event
	testenv.Eventually(t, timeout, fmt.Sprintf("event %s for %s", kind, id), func() bool {
		for _, e := range fl.Events(since, id, 0) {
			if e.Kind == kind {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

func lastSeq(fl *fleet.Fleet) uint64 {
	ev := fl.Events(0, "", 1)
	if len(ev) == 0 {
		return 0
	}
	return ev[0].Seq
}

// udpRemote is a running station with one UDP server link, its log, and
// a remote sending to that link over a real socket as one system.
type udpRemote struct {
	st   *Station
	ln   *linkRT
	l    *udpListener
	conn *net.UDPConn
	enc  *frameEncoder
	logs *lockedBuf
	stop func()
}

// newUDPRemote starts the station (tune, if not nil, adjusts its Config)
// and dials its link as system sys, component 1.
func newUDPRemote(t *testing.T, sys uint8, tune func(*Config)) *udpRemote {
	t.Helper()
	cfg := testConfig(fmt.Sprintf("udp:127.0.0.1:%d", testenv.FreeUDPPort(t)))
	u := &udpRemote{logs: &lockedBuf{}}
	cfg.Log = slog.New(slog.NewTextHandler(u.logs, nil))
	if tune != nil {
		tune(&cfg)
	}
	u.st, _, u.stop = runStation(t, cfg)
	u.st.mu.Lock()
	u.ln = u.st.running[0]
	u.st.mu.Unlock()
	if u.l = u.ln.udp.Load(); u.l == nil {
		t.Fatal("the UDP link has no listener")
	}
	conn, err := net.DialUDP("udp4", nil, u.l.Addr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	u.conn, u.enc = conn, newFrameEncoder(t, sys, 1)
	return u
}

// send writes one message to the link as the remote's system.
func (u *udpRemote) send(t *testing.T, m message.Message) {
	t.Helper()
	if _, err := u.conn.Write(u.enc.encode(t, m)); err != nil {
		t.Fatal(err)
	}
}
