package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/auth"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/simulator"
)

// runSim runs a simulated fleet outside any App (as an external `burgut
// sitl` would be) until the test ends; stop ends it earlier and may be
// called again. A nil cfg.Log discards the simulator's log.
func runSim(t *testing.T, cfg simulator.Config) (sim *simulator.Sim, stop func()) {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	sim, err := simulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return sim, stop
}

// runApp runs the whole service, as `burgut serve` (or `burgut run` when
// edit adds simulated vehicles) would, on loopback addresses no other test
// uses: HTTP and the embedded MQTT broker on port 0, MAVLink on a free UDP
// port, its own data directory and station name. It runs until the test
// ends; stop ends it earlier (and may be called again). Each prep sees
// the App before it runs.
func runApp(t *testing.T, edit func(*Config), prep ...func(*App)) (a *App, stop func()) {
	t.Helper()
	cfg := Default()
	cfg.HTTP = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.GroundStation.MAVLink = []string{fmt.Sprintf("udp:127.0.0.1:%d", testenv.FreeUDPPort(t))}
	cfg.Relay.MQTTListen = "127.0.0.1:0"
	cfg.Sim.Vehicles = 0
	var b [4]byte
	_, _ = rand.Read(b[:])
	cfg.Station = "apptest-" + hex.EncodeToString(b[:])
	edit(&cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a = New(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: testLogLevel()})))
	for _, p := range prep {
		p(a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v", err)
		}
	}
	t.Cleanup(stop)
	select {
	case <-a.Ready():
	case err := <-done:
		stopped = true
		t.Fatalf("app stopped while starting: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("app did not start")
	}
	authorizeTests(t, a)
	return a, stop
}

// testTokens maps an app's HTTP address to an admin token the harness
// made for it; testTransport adds it to every request of the package's
// tests that carries no Authorization header of its own, so tests call
// the API as a logged-in admin would, with access control on.
var testTokens sync.Map

type testTransport struct{ base http.RoundTripper }

func (tt testTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if tok, ok := testTokens.Load(r.URL.Host); ok && r.Header.Get("Authorization") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+tok.(string))
	}
	return tt.base.RoundTrip(r)
}

func init() { http.DefaultClient.Transport = testTransport{http.DefaultTransport} }

// authorizeTests creates an admin API token for a through its auth store
// (as 'burgut tokens create' would) and registers it for a's address.
func authorizeTests(t testing.TB, a *App) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	tok, _, err := a.Auth.CreateToken(context.Background(), "test-"+hex.EncodeToString(b[:]), auth.Admin, 0)
	if err != nil {
		t.Fatal(err)
	}
	addr := a.HTTPAddr()
	testTokens.Store(addr, tok)
	t.Cleanup(func() { testTokens.Delete(addr) })
	return tok
}

// mavlinkPort is the UDP port of the app's first MAVLink link.
func mavlinkPort(t *testing.T, a *App) int {
	t.Helper()
	l := a.Config.GroundStation.MAVLink[0]
	p, err := strconv.Atoi(l[strings.LastIndex(l, ":")+1:])
	if err != nil {
		t.Fatalf("link %q: %v", l, err)
	}
	return p
}

// testLogLevel is the level of the apps' logs in tests: errors only,
// unless BURGUT_TEST_LOG names another (debug, info, warn) to see what a
// station did in a failing run.
func testLogLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("BURGUT_TEST_LOG"))); err != nil {
		return slog.LevelError
	}
	return l
}
