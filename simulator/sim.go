package simulator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// ErrConfig marks errors New returns for an invalid Config (as opposed to
// sockets that cannot be opened), so a CLI can exit with a usage status.
var ErrConfig = errors.New("invalid simulator config")

// Sim is a running fleet: one SimVehicle per vehicle, each with its own UDP
// socket, a reader goroutine per socket and a few scheduler goroutines that
// step the models and send telemetry.
type Sim struct {
	cfg      Config
	vehicles []*SimVehicle
	tcp      []net.Listener // index i = vehicle i, nil without TCP mode

	// rate is the simulated-per-wall factor the schedulers use now
	// (float64 bits): Config.Speedup until SetSpeedup changes it.
	rate atomic.Uint64
	// lag is each scheduler shard's Lag (ns); see Lag.
	lag []atomic.Int64
	// simNs is each shard's simulated time since Run (ns), nShards how
	// many Run starts: the shards keep step with each other on it
	// (schedule).
	simNs   []atomic.Int64
	nShards int

	mu      sync.Mutex
	running bool
	closed  bool
}

// New validates cfg and opens every vehicle's UDP socket (and TCP listener),
// so addresses are known before Run. A Sim that is never Run must be Closed.
func New(cfg Config) (*Sim, error) {
	plan, err := cfg.plan()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	s := &Sim{cfg: cfg}
	s.rate.Store(math.Float64bits(s.cfg.Speedup))
	// One lag per scheduler shard (Run makes at most GOMAXPROCS), made
	// here so that Lag may be called before Run.
	s.lag = make([]atomic.Int64, max(1, runtime.GOMAXPROCS(0)))
	s.simNs = make([]atomic.Int64, len(s.lag))
	for i, a := range plan {
		sv, err := newSimVehicle(i, a, &s.cfg)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.vehicles = append(s.vehicles, sv)
		if cfg.TCPBasePort > 0 {
			ln, err := listenTCP(cfg.BindHost, cfg.TCPBasePort+10*i)
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("vehicle %d: %w", i, err)
			}
			s.tcp = append(s.tcp, ln)
		}
	}
	// One scheduler shard per processor, at most one per vehicle.
	s.nShards = min(len(s.lag), len(s.vehicles))
	return s, nil
}

// Len is the number of vehicles.
func (s *Sim) Len() int { return len(s.vehicles) }

// Vehicle returns vehicle i (0-based).
func (s *Sim) Vehicle(i int) *SimVehicle { return s.vehicles[i] }

// Speedup is the effective simulated-per-wall time factor now.
func (s *Sim) Speedup() float64 { return math.Float64frombits(s.rate.Load()) }

// SetSpeedup changes how fast simulated time runs from the next tick on,
// while the fleet runs: the scenario runner runs the world at real time
// while a mission upload (wall-clock bound) is in flight. It refuses a
// factor outside (0, 1000]. The vehicles' GCS-heartbeat grace keeps
// following Config.Speedup (it only ever lengthens the grace).
func (s *Sim) SetSpeedup(f float64) error {
	if math.IsNaN(f) || f <= 0 || f > 1000 {
		return fmt.Errorf("speedup %v: want a number in (0, 1000]", f)
	}
	s.rate.Store(math.Float64bits(f))
	return nil
}

// Lag is how far (wall time) the simulated clock has fallen behind
// Config.Speedup × the wall time since Run: the wall time the schedulers
// did not simulate (a tick later than 10 intervals simulates only 10, so
// a starved machine slows the simulation instead of jumping it) or ran
// slower than Config.Speedup (SetSpeedup). It never decreases unless
// SetSpeedup ran the world faster than Config.Speedup, or a scheduler
// catches up with the others (schedule). With vehicles stepped by
// several schedulers it is the slowest one's; they keep within 10 ticks
// of each other's simulated time, so it is the world's. A clock that
// must keep step with the simulated world — the operations scheduler's
// under burgut run — is the wall clock less Lag.
func (s *Sim) Lag() time.Duration {
	var m int64
	for i := range s.lag {
		m = max(m, s.lag[i].Load())
	}
	return time.Duration(m)
}

// Close releases the sockets of a Sim; Run does it itself when it returns.
func (s *Sim) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	for _, sv := range s.vehicles {
		sv.conn.Close()
	}
	for _, ln := range s.tcp {
		ln.Close()
	}
}

// Run flies the fleet until ctx is cancelled, then closes every socket,
// waits for every goroutine it started and returns nil. It can run once.
func (s *Sim) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running || s.closed {
		s.mu.Unlock()
		return errors.New("simulator: Run called twice or after Close")
	}
	s.running = true
	s.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, sv := range s.vehicles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sv.readLoop()
		}()
	}
	for i, ln := range s.tcp {
		wg.Add(1)
		go s.vehicles[i].serveTCP(ctx, ln, &wg)
	}
	if s.cfg.anyVideo() {
		if err := s.videoRun(ctx, &wg); err != nil {
			cancel()
			s.Close()
			wg.Wait()
			return err
		}
	}
	shards := s.nShards
	for k := range shards {
		var mine []*SimVehicle
		for i := k; i < len(s.vehicles); i += shards {
			mine = append(mine, s.vehicles[i])
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.schedule(ctx, mine, k)
		}()
	}
	s.cfg.Log.Info("simulator running", "vehicles", len(s.vehicles), "gcs", s.cfg.GCS, "speedup", s.cfg.Speedup)
	<-ctx.Done()
	s.Close() // unblocks the readers and TCP accept loops
	wg.Wait()
	s.cfg.Log.Info("simulator stopped")
	return nil
}

// schedule steps shard k's share of vehicles every tick. Wall time
// between ticks is measured, so a late tick simulates the time it missed
// (capped, so a stalled machine slows the simulation instead of jumping
// it); what it did not simulate is added to the shard's lag (see Lag).
//
// The shards keep step with each other (shardStep): the vehicles fly in
// one world, on one simulated clock (within 10 ticks). Left to themselves, a shard starved
// for more than 10 intervals fell behind the others for good — under CI
// load, by 24 s of simulated time at speedup 60 (the median over a 3-hour
// operation test) — so two drones in different shards flew in different
// times: the station saw them at one wall time 10 m apart while at the
// same simulated time they were 2.4 m apart, and the operation clock,
// which follows the slowest shard (Lag), ran behind the faster ones.
func (s *Sim) schedule(ctx context.Context, vs []*SimVehicle, k int) {
	t := time.NewTicker(s.cfg.TickInterval)
	defer t.Stop()
	last := time.Now()
	maxDt := 10 * s.cfg.TickInterval
	lag := &s.lag[k]
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := time.Now()
			wall := now.Sub(last)
			last = now
			dt := min(wall, maxDt)
			rate := s.Speedup()
			simDt := s.shardStep(k, time.Duration(float64(dt)*rate), time.Duration(float64(maxDt)*rate))
			// The wall time this tick stands for at Config.Speedup, less
			// the wall time it did.
			if d := wall - time.Duration(float64(simDt)/s.cfg.Speedup); d != 0 {
				lag.Store(max(0, lag.Load()+int64(d)))
			}
			for _, sv := range vs {
				sv.tick(now, simDt)
			}
		}
	}
}

// shardStep is how much simulated time shard k steps this tick, given the
// simDt its own wall time allows (at most maxSim, the 10 ticks a late tick
// makes good): no further than maxSim ahead of the slowest other shard —
// a shard that ran ahead waits for it — and, when behind the fastest, up
// to maxSim more to catch it up. A shard late by less than 10 ticks makes
// its time good on its next tick, as it always did, and the others did not
// wait for it; one starved longer loses what it missed beyond them (its
// lag), and the others wait until it is that far behind at most. (Two
// ticks ahead at most was tried: every delay of a few ticks then cost the
// world time, and the 3-hour operation test's simulator ran at 19x of its
// 60 under load 22, against 58x before.) The shard's simulated time is
// advanced by the result.
func (s *Sim) shardStep(k int, simDt, maxSim time.Duration) time.Duration {
	mine := s.simNs[k].Load()
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for j := range s.nShards {
		if j != k {
			o := s.simNs[j].Load()
			lo, hi = min(lo, o), max(hi, o)
		}
	}
	step := int64(simDt)
	if s.nShards > 1 {
		if mine+step < hi {
			step = min(hi-mine, step+int64(maxSim))
		}
		if limit := lo + int64(maxSim); mine+step > limit {
			step = max(0, limit-mine)
		}
	}
	s.simNs[k].Add(step)
	return time.Duration(step)
}

// readLoop reads the vehicle's socket until it is closed.
func (sv *SimVehicle) readLoop() {
	buf := make([]byte, 65536)
	for {
		n, _, err := sv.conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			sv.mu.Lock()
			sv.warn("udp read failed", "err", err)
			sv.mu.Unlock()
			continue
		}
		sv.receiveDatagram(buf[:n], time.Now())
	}
}
