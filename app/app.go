// Package app wires Burgut's parts into the running service of `burgut
// serve` and `burgut run`: the ground station feeds the fleet state; the
// stores, relays and HTTP API read from it; the planner uploads through the
// ground station. Each part has a start function in its own file here
// (groundstation.go, telemetry.go, relay.go, missions.go, api.go,
// simulator.go), so the wiring of one part never touches another's. The
// handlers themselves live with their areas (groundstation/vehicleapi,
// missions/missionsapi, telemetry/historyapi, relay); app holds only
// wiring and configuration.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/burgut-uav/burgut/audit"
	"github.com/burgut-uav/burgut/auth"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation"
	"github.com/burgut-uav/burgut/groundstation/control"
	"github.com/burgut-uav/burgut/httpapi"
	"github.com/burgut-uav/burgut/metrics"
	"github.com/burgut-uav/burgut/missions/missionsapi"
	"github.com/burgut-uav/burgut/missions/operations"
	"github.com/burgut-uav/burgut/simulator"
	"github.com/burgut-uav/burgut/telemetry"
	"github.com/burgut-uav/burgut/video"
)

// App is one running Burgut service.
type App struct {
	Config Config
	Log    *slog.Logger
	Fleet  *fleet.Fleet
	// Mux serves the HTTP API, the WebSocket stream and the web map; each
	// part registers its own routes on it while starting, each route with
	// its access level (httpapi.Route).
	Mux *httpapi.Mux
	// Station is the MAVLink ground station, set by startGroundStation.
	Station *groundstation.Station
	// Sim is the simulated fleet of `burgut run` (nil for serve); tests use
	// it to inject faults into the vehicles the demo flies.
	Sim *simulator.Sim
	// simClock is Sim once it is made, for the operations clock, which
	// starts before the simulator (operationsLag).
	simClock atomic.Pointer[simulator.Sim]
	// world, set before Run (tests), is a simulator that runs in this
	// process outside the App — one that keeps its drones flying across
	// a station's restart — which the App keeps step with
	// (operationsLag) and paces (paceSimulator) as its own under burgut
	// run.
	world *simulator.Sim
	// worldLag follows the lag of a simulated world flying outside the
	// App (an external `burgut sitl` faster than real time) from the
	// vehicles' own clocks, for the operations clock (operationsLag); nil
	// when the world is real time or the App's own simulator.
	worldLag *groundstation.LagFollower
	// Missions holds the event areas and plans served by the planning API.
	Missions *missionsapi.Store
	// Operations runs the patrol operations (app/operations.go).
	Operations *operations.Manager
	// opsRef is Operations once it is made, for the separation monitor,
	// which starts before it (separationTargetAlt).
	opsRef atomic.Pointer[operations.Manager]
	// clock is the last comparison of the vehicles' clocks with the
	// operation clock (app/clockcheck.go), for /api/v1/health.
	clock atomic.Pointer[ClockCheck]
	// points receives the operations' coverage points (InfluxDB, when
	// configured); opPublisher puts them on MQTT (nil without MQTT).
	points      telemetry.PointWriter
	opPublisher interface{ PublishOperation(id string, v any) error }
	// Video relays the vehicles' camera streams to browsers (WHEP).
	Video *video.Hub
	// Control says who commands which vehicle (app/control.go).
	Control *control.Table
	// controlCopy serializes copying a vehicle's hold onto its fleet state
	// (syncControl), so the last copy made is of the table's latest state.
	controlCopy sync.Mutex

	// Metrics is the /metrics registry, made by Run; each part adds its
	// families while starting (app/metrics.go).
	Metrics *metrics.Registry

	httpAddr net.Addr
	ready    chan struct{}
	mu       sync.Mutex
	stops    []namedStop
	wg       sync.WaitGroup
	// ingest is the context of the parts that take data in (the ground
	// station's links), owned by ingestWG: at shutdown they stop first
	// and finish what they received, then everything they feed stops
	// (GoIngest).
	ingest    context.Context
	ingestWG  sync.WaitGroup
	fatal     chan error
	startedAt time.Time

	metricsAddr net.Addr // set when --metrics-listen is used
	latency     latencySources
	mqttAddr    string // the embedded broker's TCP address, when it runs
	opsOnce     sync.Once
	opCounter   *opCounter

	// Auth holds accounts and API tokens; Audit is the audit log. Both are
	// opened by startAuth, the first part (app/auth.go).
	Auth      *auth.Store
	Audit     *audit.Log
	guard     *auth.Guard
	loginHint string
	auditSink atomic.Pointer[func(audit.Entry)]
	// auditDropped counts audit entries the MQTT feed could not queue.
	auditDropped atomic.Uint64
}

type namedStop struct {
	name string
	fn   func()
}

// New prepares an App; nothing runs until Run.
func New(cfg Config, log *slog.Logger) *App {
	if log == nil {
		log = slog.Default()
	}
	a := &App{
		Config: cfg,
		Log:    log,
		Fleet:  fleet.New(fleet.DefaultConfig()),
		ready:  make(chan struct{}),
		fatal:  make(chan error, 1),
	}
	// Every route checks the access level it declares (app/auth.go).
	a.Mux = httpapi.NewMux(a.requireAccess)
	return a
}

// Run starts every part in order, blocks until ctx is cancelled or a part
// fails, then stops them in reverse order and waits for every goroutine.
// It returns nil after a clean shutdown.
func (a *App) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ictx, icancel := context.WithCancel(ctx)
	defer icancel()
	a.ingest = ictx
	a.startedAt = time.Now()
	if a.Metrics == nil {
		a.Metrics = metrics.New()
	}
	parts := []struct {
		name  string
		start func(ctx context.Context) error
	}{
		{"auth", a.startAuth},
		{"ground station", a.startGroundStation},
		{"separation", a.startSeparation},
		{"control", a.startControl},
		{"telemetry", a.startTelemetry},
		{"relay", a.startRelay},
		{"missions", a.startMissions},
		{"operations", a.startOperations},
		{"api", a.startAPI},
		{"signing", a.startSigning},
		{"video", a.startVideo},
		{"metrics", a.startMetrics},
		{"http", a.startHTTP},
		{"simulator", a.startSimulator},
	}
	var err error
	for _, p := range parts {
		if err = p.start(ctx); err != nil {
			err = fmt.Errorf("start %s: %w", p.name, err)
			break
		}
	}
	if err == nil {
		close(a.ready)
		a.Log.Info("burgut running", "http", a.HTTPAddr(), "station", a.Config.Station)
		a.printLoginHint()
		select {
		case <-ctx.Done():
		case err = <-a.fatal:
		}
	}
	// The links stop first and dispatch what they had received; the
	// recorders, stores and relays then take those last updates as they
	// stop (a station restarted a moment behind its links used to lose
	// the positions waiting in its sockets: the recorder could stop
	// before the dispatchers' last updates).
	icancel()
	a.ingestWG.Wait()
	cancel()
	a.wg.Wait()
	a.mu.Lock()
	stops := a.stops
	a.stops = nil
	a.mu.Unlock()
	for i := len(stops) - 1; i >= 0; i-- {
		a.Log.Debug("stopping", "part", stops[i].name)
		stops[i].fn()
	}
	return err
}

// Start runs the App in the background until stop is called, on a
// context of its own — a caller's cancellation does not stop it, so a
// station outlives a Ctrl-C by as long as its owner needs (to write a
// report, to finish a restart) — and returns once every part has
// started. It fails, with the App stopped, if a part does not start or
// ctx ends first. stop ends the App and returns how Run ended; it may be
// called more than once.
func (a *App) Start(ctx context.Context) (stop func() error, err error) {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- a.Run(rctx) }()
	select {
	case <-a.Ready():
	case err := <-done:
		cancel()
		if err == nil {
			err = errors.New("the service stopped before it was ready")
		}
		return nil, err
	case <-ctx.Done():
		cancel()
		if err := <-done; err != nil {
			return nil, err
		}
		return nil, ctx.Err()
	}
	var once sync.Once
	var runErr error
	return func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		return runErr
	}, nil
}

// Ready is closed once every part has started.
func (a *App) Ready() <-chan struct{} { return a.ready }

// HTTPAddr is the address the HTTP server listens on (useful with port 0).
func (a *App) HTTPAddr() string {
	if a.httpAddr == nil {
		return ""
	}
	return a.httpAddr.String()
}

// MQTTAddr is the embedded MQTT broker's TCP address (useful with port
// 0; "" when no embedded broker runs).
func (a *App) MQTTAddr() string { return a.mqttAddr }

// Go runs fn in a goroutine owned by the App: its ctx is cancelled at
// shutdown and Run waits for it. An error other than context.Canceled
// stops the whole service, as a failed part must not be silently absent.
func (a *App) Go(ctx context.Context, name string, fn func(ctx context.Context) error) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := fn(ctx); err != nil && !errors.Is(err, context.Canceled) {
			select {
			case a.fatal <- fmt.Errorf("%s: %w", name, err):
			default:
			}
		}
	}()
}

// GoIngest is Go for a part that takes data in (the ground station): its
// context ends first at shutdown, and the rest of the App stops only once
// it has returned, so what it received reaches the parts it feeds.
func (a *App) GoIngest(name string, fn func(ctx context.Context) error) {
	a.ingestWG.Add(1)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer a.ingestWG.Done()
		if err := fn(a.ingest); err != nil && !errors.Is(err, context.Canceled) {
			select {
			case a.fatal <- fmt.Errorf("%s: %w", name, err):
			default:
			}
		}
	}()
}

// OnStop registers cleanup run after every goroutine has ended, in reverse
// order of registration (so stores flush after the feeds into them stop).
func (a *App) OnStop(name string, fn func()) {
	a.mu.Lock()
	a.stops = append(a.stops, namedStop{name, fn})
	a.mu.Unlock()
}

func (a *App) startHTTP(ctx context.Context) error {
	registerOpenAPI(a.Mux)
	a.Mux.HandleFunc(http.MethodGet, "/api/v1/health", httpapi.Anonymous, func(w http.ResponseWriter, r *http.Request) {
		// Anonymous (for probes), so without credentials it says nothing
		// but that the service is up; an authenticated caller also gets
		// the station, its size and what each stage shed.
		if _, err := a.guard.Authenticate(r); err != nil {
			writeJSON(w, map[string]any{"status": "ok"})
			return
		}
		h := map[string]any{"status": "ok", "station": a.Config.Station, "vehicles": a.Fleet.Len(), "uptime_s": time.Since(a.startedAt).Seconds(),
			"shed": a.shedTotals(), "late": a.lateness()}
		if c := a.clock.Load(); c != nil {
			h["clock"] = c
		}
		writeJSON(w, h)
	})
	ln, err := net.Listen("tcp", a.Config.HTTP)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.Config.HTTP, err)
	}
	a.httpAddr = ln.Addr()
	srv := &http.Server{Handler: a.securityHeaders(a.Mux), ReadHeaderTimeout: 10 * time.Second}
	a.Go(ctx, "http server", func(ctx context.Context) error {
		errc := make(chan error, 1)
		go func() {
			if tc := a.Config.Access; tc.TLSCert != "" {
				errc <- srv.ServeTLS(ln, tc.TLSCert, tc.TLSKey)
				return
			}
			errc <- srv.Serve(ln)
		}()
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
		<-errc
		return nil
	})
	return nil
}
