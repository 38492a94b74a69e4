// Package uploadbench is the one set-up of the mission upload benchmarks
// (groundstation's BenchmarkStationUpload and the session package's
// BenchmarkUpload700): a real ground station
// — groundstation.Station with the session Options a user gets, so its UDP
// listener, send gates and dispatcher — and the bundled simulator at
// speedup 1 on 127.0.0.1, with link faults on every vehicle's link. Both
// packages' benchmarks measure the product's path through it; before, each
// had its own copy, and the session package's ran over a bare gomavlib
// node without the send gate, which measured gomavlib's silent queue drops
// as much as the protocol.
//
// It is imported by benchmarks only (the session package's from its
// external test package, which may import groundstation).
package uploadbench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation"
	"github.com/burgut-uav/burgut/groundstation/session"
	"github.com/burgut-uav/burgut/internal/cputime"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/simulator"
	"github.com/burgut-uav/burgut/simulator/simtest"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// Home is where the simulated fleet starts and the mission is flown.
var Home = vehicle.LatLonAlt{Lat: 41.3111, Lon: 69.2797, AltMSL: 450}

// Config is one fixture: how many vehicles, the simulator's seed, and the
// faults put on every vehicle's link once the station has them all.
type Config struct {
	Vehicles int
	Seed     int64
	Faults   simulator.LinkFaults
	// Session overrides the station's session Options (zero: the
	// defaults a user gets, which is what the benchmarks measure).
	Session session.Options
}

// Fixture is a running station and simulator, with one session per
// simulated vehicle: Sessions[i] talks to Sim.Vehicle(i).
type Fixture struct {
	Station  *groundstation.Station
	Fleet    *fleet.Fleet
	Sim      *simulator.Sim
	Sessions []*session.Vehicle
	cfg      Config
}

// Start runs a station on a free UDP port and the simulator sending to
// it, waits until the station has published every vehicle (by its UID)
// and has heard its autopilot, puts cfg.Faults on every link, and lets
// the station measure the links' loss for 5 s, as a running station has.
// Both stop when b ends.
func Start(b testing.TB, cfg Config) *Fixture {
	b.Helper()
	port := testenv.FreeUDPPort(b)
	log := logger()
	fl := fleet.New(fleet.DefaultConfig())
	if os.Getenv("BURGUT_BENCH_DEBUG") != "" && cfg.Session.Log == nil { // the uploads' decisions on stderr
		cfg.Session.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	st, err := groundstation.New(groundstation.Config{
		Links:        []string{fmt.Sprintf("udp:127.0.0.1:%d", port)},
		IdentityWait: 30 * time.Second, // sessions are matched to the simulator's vehicles by UID
		Session:      cfg.Session,      // everything else: the defaults a user gets
	}, fl, log)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("station Run: %v", err)
		}
	})
	select {
	case <-st.Ready():
	case err := <-done:
		b.Fatalf("station Run: %v", err)
	}
	sim := simtest.Start(b, simulator.Config{Vehicles: cfg.Vehicles, Seed: cfg.Seed, Speedup: 1, Home: Home,
		GCS: []string{fmt.Sprintf("udp:127.0.0.1:%d", port)}, Log: log})

	byUID := map[uint64]int{}
	for i := range cfg.Vehicles {
		byUID[sim.Vehicle(i).UID()] = i
	}
	f := &Fixture{Station: st, Fleet: fl, Sim: sim, Sessions: make([]*session.Vehicle, cfg.Vehicles), cfg: cfg}
	testenv.Eventually(b, 2*time.Minute, fmt.Sprintf("%d vehicles published with their autopilot", cfg.Vehicles), func() bool {
		n := 0
		for _, v := range fl.List() {
			i, ok := byUID[v.UID]
			if !ok {
				continue
			}
			if f.Sessions[i] == nil {
				s, err := st.Session(v.ID)
				if err != nil {
					continue
				}
				f.Sessions[i] = s
			}
			if _, ok := f.Sessions[i].Autopilot(); ok {
				n++
			}
		}
		return n == cfg.Vehicles
	})
	f.SetFaults(cfg.Faults)
	f.Settle(b, cfg.Faults)
	return f
}

// Settle lets the station measure the links' loss for 5 s, as a running
// station has, and logs what it measured against lf, the faults set.
func (f *Fixture) Settle(b testing.TB, lf simulator.LinkFaults) {
	b.Helper()
	fl := f.Fleet
	time.Sleep(5 * time.Second)
	var sum, lo, hi float64
	lo = 100
	for _, v := range fl.List() {
		p := v.LinkQuality.LossPct
		sum, lo, hi = sum+p, min(lo, p), max(hi, p)
	}
	b.Logf("the station measures %.1f %% loss on the vehicles' links (%.1f–%.1f %%) after 5 s of %.0f %% configured",
		sum/float64(max(fl.Len(), 1)), lo, hi, lf.LossPct)
}

// logger discards the station's and simulator's logs unless
// BURGUT_TEST_LOG is set (then debug to stderr); BURGUT_BENCH_LOG=warn
// shows only warnings (e.g. the send gate's shed reports).
// BURGUT_BENCH_DEBUG=1 logs the sessions' decisions (window, copies, loss,
// round trip, stalls) at debug level to stderr.
func logger() *slog.Logger {
	switch {
	case os.Getenv("BURGUT_TEST_LOG") != "":
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	case os.Getenv("BURGUT_BENCH_LOG") == "warn":
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// SetFaults puts f on every vehicle's link (both directions).
func (f *Fixture) SetFaults(lf simulator.LinkFaults) {
	for i := range f.Sessions {
		f.Sim.Vehicle(i).SetLinkFaults(lf)
	}
}

// ItemCount is 700 (the simulator's capacity, and the size) or
// BURGUT_BENCH_UPLOAD_ITEMS for a quicker look.
func ItemCount() int {
	if s := os.Getenv("BURGUT_BENCH_UPLOAD_ITEMS"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 2 {
			return v
		}
	}
	return 700
}

// Mission is an n-item patrol (n ≥ 3): seq 0 home, a takeoff, a square of
// 40 m legs at 15–17 m, and RTL last.
func Mission(n int) []mavitem.Item {
	const m = 1e-7
	dLat := 40.0 / 111320 / m
	dLon := 40.0 / (111320 * math.Cos(Home.Lat*math.Pi/180)) / m
	lat, lon := int32(Home.Lat/m), int32(Home.Lon/m)
	items := []mavitem.Item{
		{Command: mavitem.CmdNavWaypoint, Frame: mavitem.FrameGlobal, X: lat, Y: lon, Z: float32(Home.AltMSL), Autocontinue: 1},
		{Command: mavitem.CmdNavTakeoff, Frame: mavitem.FrameGlobalRelativeAlt, Z: 15, Autocontinue: 1},
	}
	corners := [][2]float64{{1, 0}, {1, 1}, {0, 1}, {0, 0}}
	for i := 0; len(items) < n-1; i++ {
		c := corners[i%4]
		items = append(items, mavitem.Item{Command: mavitem.CmdNavWaypoint, Frame: mavitem.FrameGlobalRelativeAlt,
			X: lat + int32(c[0]*dLat), Y: lon + int32(c[1]*dLon), Z: 15 + float32(i%3), Autocontinue: 1})
	}
	items = append(items, mavitem.Item{Command: mavitem.CmdNavReturnToLaunch, Frame: mavitem.FrameGlobal, Autocontinue: 1})
	for i := range items {
		items[i].Seq = uint16(i) // as a read-back has them
	}
	return items
}

// Counts are the station's send counters summed over its links, and the
// simulated vehicles' received frames.
type Counts struct {
	Sent, Waited, Shed uint64 // LinkInfo.SendFrames, SendWaited, SendShed
	SimReceived        uint64 // frames the simulator decoded (all vehicles)
}

// Counts reads the counters now.
func (f *Fixture) Counts() Counts {
	var c Counts
	for _, l := range f.Station.Links() {
		c.Sent += l.SendFrames
		c.Waited += l.SendWaited
		c.Shed += l.SendShed
	}
	for i := range f.Sessions {
		rx, _, _ := f.Sim.Vehicle(i).Stats()
		c.SimReceived += rx
	}
	return c
}

// Result is one round of uploads: per-vehicle times, the station's send
// counters over the round, the process's CPU time and the machine's load.
type Result struct {
	Times       []time.Duration // sorted
	Wall        time.Duration   // until the last vehicle held its mission
	Before      Counts
	After       Counts
	CPU         time.Duration // user+system CPU of this process (station and simulator)
	LoadBefore  float64       // 1-minute load average at the start and end
	LoadAfter   float64
	itemsPerVeh int
}

// Slowest is the slowest vehicle's upload time.
func (r Result) Slowest() time.Duration { return r.Times[len(r.Times)-1] }

// Summary is a round's figures in one line, as the benchmarks log them.
func (r Result) Summary() string {
	return fmt.Sprintf("slowest %.2f s, median %.2f s, wall %.2f s, cpu %.1f s, load %.1f→%.1f, frames sent %d waited %d shed %d",
		r.Slowest().Seconds(), r.Median().Seconds(), r.Wall.Seconds(), r.CPU.Seconds(), r.LoadBefore, r.LoadAfter,
		r.After.Sent-r.Before.Sent, r.After.Waited-r.Before.Waited, r.After.Shed-r.Before.Shed)
}

// Median is the median vehicle's upload time.
func (r Result) Median() time.Duration { return r.Times[len(r.Times)/2] }

// UploadAll uploads items to every vehicle at once, each on its own
// goroutine (which ends before UploadAll returns), and fails b on the
// first error.
func (f *Fixture) UploadAll(b testing.TB, items []mavitem.Item) Result {
	b.Helper()
	return f.round(b, items, func(_ int, s *session.Vehicle) error {
		if err := s.Upload(context.Background(), mavitem.TypeMission, items, nil); err != nil {
			return fmt.Errorf("upload: %w", err)
		}
		return nil
	})
}

// round runs transfer on every vehicle at once, each on its own goroutine
// (which ends before round returns), times each, and fails b on the first
// error: one round of UploadAll or DownloadAll, with the station's counts,
// CPU time and load around it.
func (f *Fixture) round(b testing.TB, items []mavitem.Item, transfer func(i int, s *session.Vehicle) error) Result {
	b.Helper()
	r := Result{Before: f.Counts(), LoadBefore: loadAvg(), itemsPerVeh: len(items)}
	cpu0 := cputime.Process()
	t0 := time.Now()
	type result struct {
		d   time.Duration
		err error
	}
	res := make(chan result, len(f.Sessions))
	for i, s := range f.Sessions {
		go func() {
			t := time.Now()
			err := transfer(i, s)
			res <- result{time.Since(t), err}
		}()
	}
	var firstErr error
	for range f.Sessions {
		x := <-res
		if x.err != nil && firstErr == nil {
			firstErr = x.err
		}
		r.Times = append(r.Times, x.d)
	}
	r.Wall = time.Since(t0)
	r.CPU = cputime.Process() - cpu0
	r.After = f.Counts()
	r.LoadAfter = loadAvg()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	sort.Slice(r.Times, func(i, j int) bool { return r.Times[i] < r.Times[j] })
	return r
}

// Report adds a round's figures to b: slowest-s and median-s (per-vehicle
// upload times), frames/item (every frame the station handed its links
// during the round, per item), shed/frame (of them, shed by the send
// gate), unreceived/frame (frames the simulator never decoded, per frame
// sent: the configured loss plus anything lost on the way), cpu-s (this
// process's CPU time over the round, simulator included) and load1 (the
// 1-minute load average at the end of the round). Averaged over rounds.
func Report(b *testing.B, rs []Result) {
	var slow, med, fpi, shed, unrx, cpu, load float64
	for _, r := range rs {
		sent := float64(r.After.Sent - r.Before.Sent)
		slow += r.Slowest().Seconds()
		med += r.Median().Seconds()
		fpi += sent / float64(len(r.Times)*r.itemsPerVeh)
		shed += float64(r.After.Shed-r.Before.Shed) / max(sent, 1)
		unrx += (sent - float64(r.After.SimReceived-r.Before.SimReceived)) / max(sent, 1)
		cpu += r.CPU.Seconds()
		load += r.LoadAfter
	}
	n := float64(len(rs))
	b.ReportMetric(slow/n, "slowest-s")
	b.ReportMetric(med/n, "median-s")
	b.ReportMetric(fpi/n, "frames/item")
	b.ReportMetric(shed/n, "shed/frame")
	b.ReportMetric(unrx/n, "unreceived/frame")
	b.ReportMetric(cpu/n, "cpu-s")
	b.ReportMetric(load/n, "load1")
}

// DownloadAll reads every vehicle's mission back, all at once, each on
// its own goroutine (which ends before DownloadAll returns), checks it
// against items (seq 0, home, is the vehicle's own) and fails b on the
// first error. The Result is the read-back's, as UploadAll's is the
// upload's: frames/item counts the station's requests.
func (f *Fixture) DownloadAll(b testing.TB, items []mavitem.Item) Result {
	b.Helper()
	return f.round(b, items, func(i int, s *session.Vehicle) error {
		got, err := s.Download(context.Background(), mavitem.TypeMission, nil)
		if err == nil {
			err = sameList(got, items)
		}
		if err != nil {
			return fmt.Errorf("vehicle %d: read back: %w", i, err)
		}
		return nil
	})
}

// sameList is nil when got is items, home (seq 0) excepted.
func sameList(got, items []mavitem.Item) error {
	if len(got) != len(items) {
		return fmt.Errorf("holds %d items, want %d", len(got), len(items))
	}
	for j := 1; j < len(items); j++ {
		if got[j] != items[j] {
			return fmt.Errorf("item %d differs after upload", j)
		}
	}
	return nil
}

// VerifyAll reads every vehicle's mission back, all at once, and checks
// it against items (seq 0, home, is the vehicle's own). It returns the
// slowest read-back.
func (f *Fixture) VerifyAll(b testing.TB, items []mavitem.Item) time.Duration {
	b.Helper()
	var mu sync.Mutex
	var slowest time.Duration
	var errs []string
	var wg sync.WaitGroup
	for i, s := range f.Sessions {
		wg.Go(func() {
			t0 := time.Now()
			got, err := s.Download(context.Background(), mavitem.TypeMission, nil)
			d := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			slowest = max(slowest, d)
			switch {
			case err != nil:
				errs = append(errs, fmt.Sprintf("vehicle %d: read back: %v", i, err))
			default:
				if err := sameList(got, items); err != nil {
					errs = append(errs, fmt.Sprintf("vehicle %d: %v", i, err))
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		b.Fatal(strings.Join(errs, "; "))
	}
	return slowest
}

// loadAvg is the 1-minute load average (0 where /proc/loadavg is absent).
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	fs := strings.Fields(string(b))
	if len(fs) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(fs[0], 64)
	return v
}
