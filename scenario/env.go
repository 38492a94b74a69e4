package scenario

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/burgut-uav/burgut/app"
	"github.com/burgut-uav/burgut/auth"
	"github.com/burgut-uav/burgut/simulator"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// station is the ground station a run talks to: the in-process one
// (restartable) or one given by URL.
type station struct {
	mu    sync.Mutex
	base  string // http://HOST:PORT
	token string
	// admin is the token for what needs an admin (signing keys): the
	// in-process station makes one; with --station it is the token given.
	admin string
	http  *http.Client

	// in-process only
	cfg   app.Config
	logw  io.Writer
	app   *app.App
	halt  func() error // stops app (app.App.Start)
	up    bool
	epoch int // incremented by each restart: event sequence numbers restart

	// restartFn restarts a station given by URL for its owner
	// (Options.RestartStation); nil for the in-process station.
	restartFn func(ctx context.Context, down func() bool) error
}

// startInProcess starts `burgut serve` in this process on loopback
// addresses of its own, listening for MAVLink on links (or one free UDP
// port when links is empty), and makes an operator token for the run.
// edit, when not nil, changes the station's configuration last (tests
// start stations with settings of their own).
func startInProcess(ctx context.Context, dataDir string, links []string, speedup float64, logw io.Writer, edit func(*app.Config)) (*station, error) {
	cfg := app.Default()
	cfg.HTTP = "127.0.0.1:0"
	cfg.DataDir = dataDir
	cfg.Relay.MQTTListen = "" // no broker: nothing reads MQTT in a scenario
	cfg.Sim.Vehicles = 0
	var b [4]byte
	_, _ = rand.Read(b[:])
	cfg.Station = "scenario-" + hex.EncodeToString(b[:])
	cfg.LogLevel = "warn"
	// About one stored sample per simulated second, as a real-time
	// station stores one per second.
	cfg.Operations.TimeScale = speedup // operation clocks run at simulated time
	cfg.Telemetry.SampleInterval = max(20*time.Millisecond, time.Duration(float64(time.Second)/speedup))
	if len(links) > 0 {
		cfg.GroundStation.MAVLink = links
	} else {
		p, err := freeUDPPort()
		if err != nil {
			return nil, err
		}
		cfg.GroundStation.MAVLink = []string{fmt.Sprintf("udp:127.0.0.1:%d", p)}
	}
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("station config: %w", err)
	}
	s := &station{cfg: cfg, logw: logw, http: &http.Client{Timeout: 2 * time.Minute}}
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	s.cfg.HTTP = s.app.HTTPAddr() // a restart comes back on the same address
	tok, _, err := s.app.Auth.CreateToken(ctx, "scenario-"+hex.EncodeToString(b[:]), auth.Operator, 0)
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("operator token: %w", err)
	}
	s.token = tok
	adm, _, err := s.app.Auth.CreateToken(ctx, "scenario-admin-"+hex.EncodeToString(b[:]), auth.Admin, 0)
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("admin token: %w", err)
	}
	s.admin = adm
	return s, nil
}

func (s *station) start(ctx context.Context) error {
	a := app.New(s.cfg, slog.New(slog.NewTextHandler(s.logw, &slog.HandlerOptions{Level: slog.LevelWarn})))
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	halt, err := a.Start(sctx)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return errors.New("station did not start within 60 s")
	}
	if err != nil {
		return fmt.Errorf("station did not start: %w", err)
	}
	s.mu.Lock()
	s.app, s.halt, s.up = a, halt, true
	s.base = "http://" + a.HTTPAddr()
	s.mu.Unlock()
	return nil
}

// stop ends the in-process station and waits for it.
func (s *station) stop() error {
	s.mu.Lock()
	halt := s.halt
	s.up, s.halt = false, nil
	s.mu.Unlock()
	if halt == nil {
		return nil
	}
	return halt()
}

// restart stops the station, waits until down() says the outage is long
// enough, and starts it again on the same addresses and data directory.
func (s *station) restart(ctx context.Context, down func() bool) error {
	if s.restartFn != nil {
		// Nothing is polled while its owner restarts it; a restarted
		// station numbers its events from 1 again.
		s.mu.Lock()
		s.up = false
		s.mu.Unlock()
		err := s.restartFn(ctx, down)
		s.mu.Lock()
		s.up = true
		if err == nil {
			s.epoch++
		}
		s.mu.Unlock()
		return err
	}
	if s.app == nil {
		return errors.New("station_restart needs the in-process station (not --station URL)")
	}
	if err := s.stop(); err != nil {
		return fmt.Errorf("station stop: %w", err)
	}
	for !down() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	var err error
	for try := 0; try < 50; try++ { // the HTTP port may linger a moment
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err = s.start(ctx); err == nil {
			s.mu.Lock()
			s.epoch++
			s.mu.Unlock()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("station restart: %w", err)
}

func (s *station) isUp() (bool, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.up, s.epoch
}

// adminKey marks a context whose API calls use the admin token.
type adminKey struct{}

// apiError is an answer other than 2xx, with the API's error message.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message) }

// do calls the API with the operator token; body is JSON-encoded, out
// decoded. A 207 (some vehicles failed) decodes and returns no error: the
// caller reads the per-vehicle results.
func (s *station) do(ctx context.Context, method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	s.mu.Lock()
	base := s.base
	s.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, method, base+path, r)
	if err != nil {
		return err
	}
	tok := s.token
	if admin, _ := ctx.Value(adminKey{}).(bool); admin && s.admin != "" {
		tok = s.admin
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		msg := e.Error.Message
		if msg == "" {
			msg = strings.TrimSpace(string(data))
		}
		return &apiError{Status: resp.StatusCode, Message: msg}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// vstate is a vehicle as GET /api/v1/vehicles shows it (the fields a
// scenario reads).
type vstate struct {
	ID            string  `json:"id"`
	Lat           float64 `json:"lat"`
	Lon           float64 `json:"lon"`
	AltMSL        float64 `json:"alt_msl_m"`
	RelAlt        float64 `json:"relative_alt_m"`
	GroundSpeed   float64 `json:"ground_speed_mps"`
	BatteryPct    float64 `json:"battery_pct"`
	GPSFix        int     `json:"gps_fix"`
	Satellites    int     `json:"satellites"`
	Mode          string  `json:"mode"`
	Armed         bool    `json:"armed"`
	LandedState   string  `json:"landed_state"` // on_ground, in_air, takeoff, landing, "" unknown
	MissionSeq    int     `json:"mission_seq"`
	MissionCount  int     `json:"mission_count"`
	Connected     bool    `json:"connected"`
	FenceBreached bool    `json:"fence_breached"`
	UID           uint64  `json:"uid"`
	Signing       string  `json:"signing"` // unsigned, pending, signed
	Video         []struct {
		URI  string `json:"uri"`
		Type string `json:"type"` // rtpudp when the camera sends to the station
	} `json:"video"`
	Home *struct {
		Lat    float64 `json:"lat"`
		Lon    float64 `json:"lon"`
		AltMSL float64 `json:"alt_msl_m"`
	} `json:"home"`
}

// landed: disarmed and on the ground (or, without EXTENDED_SYS_STATE,
// disarmed and within 2 m of home).
func (v *vstate) landed() bool {
	return !v.Armed && (v.LandedState == "on_ground" || v.LandedState == "" && v.RelAlt < 2)
}

// airborne: armed and off the ground.
func (v *vstate) airborne() bool {
	if !v.Armed {
		return false
	}
	if v.LandedState == "" || v.LandedState == "undefined" {
		return v.RelAlt > 2
	}
	return v.LandedState != "on_ground"
}

// event is one station event (GET /api/v1/events).
type event struct {
	Seq       uint64         `json:"seq"`
	Time      time.Time      `json:"time"`
	VehicleID string         `json:"vehicle_id"`
	Kind      string         `json:"kind"`
	Severity  string         `json:"severity"`
	Message   string         `json:"message"`
	Fields    map[string]any `json:"fields"`
}

func (e *event) alert() bool { return e.Severity == "warning" || e.Severity == "critical" }

// newSim makes the simulated fleet, sending to the station's UDP link.
func newSim(sc *Scenario, gcs string, speedup float64, seed int64, log *slog.Logger) (*simulator.Sim, error) {
	f := sc.Fleet
	cfg := simulator.Config{
		Vehicles:           f.Vehicles.Count,
		PerVehicle:         perVehicle(f),
		GCS:                []string{gcs},
		Home:               vehicle.DefaultHome,
		Spread:             f.Spread,
		Speedup:            speedup,
		Seed:               seed,
		EnduranceMin:       f.EnduranceMin,
		SwapMin:            f.SwapMin,
		BatteryCapacityMAh: f.BatteryMAh,
		WindSpeed:          sc.World.Wind.Speed,
		WindDirDeg:         sc.World.Wind.DirDeg,
		GustSpeed:          sc.World.Wind.Gusts,
		Log:                log,
	}
	if f.Video || anyEntryVideo(f) {
		// Every camera streams RTP H.264 (ffmpeg) to the station's host,
		// which relays it to browsers: ports base..base+n-1 must be free.
		base, err := freeUDPRange(f.Vehicles.Count)
		if err != nil {
			return nil, err
		}
		cfg.Video, cfg.VideoBasePort = f.Video, base
	}
	if f.Home != nil {
		cfg.Home = simHome(*f.Home)
	}
	if len(f.Homes) > 0 {
		tmp, err := os.CreateTemp("", "scenario-homes-*.txt")
		if err != nil {
			return nil, err
		}
		defer os.Remove(tmp.Name())
		for _, h := range f.Homes {
			alt := h.Alt
			if alt == 0 {
				alt = vehicle.DefaultHome.AltMSL
			}
			fmt.Fprintf(tmp, "%.8f,%.8f,%.2f\n", h.Lat, h.Lon, alt)
		}
		if err := tmp.Close(); err != nil {
			return nil, err
		}
		cfg.HomesFile = tmp.Name()
		return simulator.New(cfg) // reads the file now
	}
	return simulator.New(cfg)
}

// perVehicle turns a fleet.vehicles list into the simulator's overrides:
// each field an entry gives, as given (the simulator owns inheritance).
func perVehicle(f Fleet) map[int]simulator.VehicleSettings {
	if len(f.Vehicles.List) == 0 {
		return nil
	}
	out := map[int]simulator.VehicleSettings{}
	for i, e := range f.Vehicles.List {
		vs := simulator.VehicleSettings{EnduranceMin: e.EnduranceMin, SwapMin: e.SwapMin, BatteryCapacityMAh: e.BatteryMAh, Video: e.Video}
		if e.Home != nil {
			h := simHome(*e.Home)
			vs.Home = &h
		}
		out[i] = vs
	}
	return out
}

// simHome is a scenario point as a simulator home (alt 0 = the model's
// default home altitude).
func simHome(p Point) vehicle.LatLonAlt {
	h := vehicle.LatLonAlt{Lat: p.Lat, Lon: p.Lon, AltMSL: p.Alt}
	if h.AltMSL == 0 {
		h.AltMSL = vehicle.DefaultHome.AltMSL
	}
	return h
}

func anyEntryVideo(f Fleet) bool {
	for _, e := range f.Vehicles.List {
		if e.Video != nil && *e.Video {
			return true
		}
	}
	return false
}

// freeUDPRange finds n consecutive loopback UDP ports that were free a
// moment ago, below the ephemeral range.
func freeUDPRange(n int) (int, error) {
	for try := 0; try < 50; try++ {
		base, err := freeUDPPort()
		if err != nil {
			return 0, err
		}
		if base+n > 65535 {
			continue
		}
		ok := true
		for p := base; p < base+n && ok; p++ {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
			if err != nil {
				ok = false
				continue
			}
			c.Close()
		}
		if ok {
			return base, nil
		}
	}
	return 0, fmt.Errorf("no %d consecutive free UDP ports on 127.0.0.1 for video", n)
}

// freeUDPPort is a loopback UDP port below the kernel's ephemeral range
// that was free a moment ago (an ephemeral one may still get stray
// datagrams from some other socket's peers).
func freeUDPPort() (int, error) {
	lo, hi := 10000, 32767
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n-1 > lo+1000 {
				hi = n - 1
			}
		}
	}
	for try := 0; try < 100; try++ {
		p := lo + mrand.IntN(hi-lo+1)
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		if err != nil {
			continue
		}
		c.Close()
		return p, nil
	}
	return 0, errors.New("no free UDP port on 127.0.0.1")
}
