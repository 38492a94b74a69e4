package simulator

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/burgut-uav/burgut/internal/latlon"
	"github.com/burgut-uav/burgut/internal/linkspec"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// CheckBattery validates the --endurance-min and --swap-min flags (shared
// by burgut sitl and burgut run), naming the one at fault.
func CheckBattery(enduranceMin, swapMin float64) error {
	maxMin := vehicle.MaxEndurance.Minutes()
	if math.IsNaN(enduranceMin) || enduranceMin < 0 || enduranceMin > maxMin {
		return fmt.Errorf("endurance-min %v: want 0 (the model's battery) up to %v minutes", enduranceMin, maxMin)
	}
	if enduranceMin > 0 && enduranceMin < 0.5 {
		return fmt.Errorf("endurance-min %v: under half a minute the vehicle cannot take off before its battery failsafe", enduranceMin)
	}
	if math.IsNaN(swapMin) || swapMin < 0 || swapMin > maxMin {
		return fmt.Errorf("swap-min %v: want 0 (no swap) up to %v minutes", swapMin, maxMin)
	}
	return nil
}

func minutes(m float64) time.Duration { return time.Duration(m * float64(time.Minute)) }

// MaxVehiclesPerGCS is how many vehicles one ground-station address (one
// MAVLink network) carries at most (linkspec.MaxVehiclesPerLink).
const MaxVehiclesPerGCS = linkspec.MaxVehiclesPerLink

// DefaultVideoURI is the per-vehicle video stream the camera component
// advertises unless Config.VideoURI overrides it.
const DefaultVideoURI = "rtsp://127.0.0.1:8554/uav-{sysid}"

// Config describes a simulated fleet. The zero value of an optional field
// selects a default; New rejects anything inconsistent with an error that
// names the field.
type Config struct {
	// Vehicles is the fleet size (1 or more).
	Vehicles int
	// GCS lists ground-station addresses "udp:HOST:PORT". Vehicles are split
	// over them in equal contiguous blocks of at most 250, and system IDs
	// restart at 1 for each address.
	GCS []string
	// Home is the centre the vehicles spread around (Spread metres), unless
	// HomesFile lists one home per vehicle.
	Home vehicle.LatLonAlt
	// Spread is the radius in metres of the disc the homes are placed in
	// (a sunflower spiral, so neighbours keep even spacing). 0 picks about
	// 5 m per vehicle.
	Spread float64
	// HomesFile, when set, has one "lat,lon[,alt]" line per vehicle
	// (# comments and blank lines allowed).
	HomesFile string
	// Speedup scales simulated time against wall time (1 = real time).
	Speedup float64
	// Seed makes the run reproducible: vehicle i uses Seed+i.
	Seed int64
	// TCPBasePort > 0 makes vehicle i also listen on TCP
	// 127.0.0.1:(TCPBasePort+10*i), like ArduPilot's 5760+10*i.
	TCPBasePort int
	// BindHost is the interface the vehicles' UDP sockets bind
	// (default 127.0.0.1).
	BindHost string
	// VideoURI is the camera's stream URI template; {sysid} and {index} are
	// substituted. Default DefaultVideoURI.
	VideoURI string
	// Video gives every camera a real stream (simulator/video.go): ffmpeg
	// sends RTP H.264 to the GCS host's UDP VideoBasePort+index, and the
	// camera advertises that instead of VideoURI. Needs ffmpeg.
	Video bool
	// VideoBasePort is vehicle 0's RTP port (default DefaultVideoBasePort).
	VideoBasePort int
	// FFmpeg is the encoder binary (default "ffmpeg" on PATH).
	FFmpeg string
	// Faults are the fleet-wide default link faults.
	Faults LinkFaults
	// Scheduled are faults injected at given simulated times (from flags).
	Scheduled []ScheduledFault
	// Model overrides passed to every vehicle model (zero = ArduCopter-like
	// defaults): battery capacity, steady wind from WindDirDeg, gusts.
	BatteryCapacityMAh               float64
	WindSpeed, WindDirDeg, GustSpeed float64
	// EnduranceMin is every vehicle's full-battery flight time at cruise,
	// minutes (it sets the capacity through the model's current draw,
	// vehicle.CapacityForEndurance; 0 = BatteryCapacityMAh or the model's
	// default). SwapMin is the time, minutes, a vehicle must stay landed
	// and disarmed before its battery is swapped for a full one (0 =
	// never). Minutes, as the --endurance-min and --swap-min flags of
	// burgut sitl and burgut run take them.
	EnduranceMin, SwapMin float64
	// PerVehicle overrides the fleet-wide settings above for single
	// vehicles, keyed by vehicle index (0-based, fleet order); a nil field
	// inherits the fleet's value (Config.settings is the one place that
	// resolves them). A scenario's fleet.vehicles list and burgut sitl's
	// --vehicle-* flags fill it.
	PerVehicle map[int]VehicleSettings
	// LegacyMissionRequest makes uploads request items with the legacy
	// MISSION_REQUEST, as the recorded ArduCopter 4.7 does, instead of
	// MISSION_REQUEST_INT.
	LegacyMissionRequest bool
	// ExtraParams adds that many inert parameters (servo, RC, serial, OSD
	// … groups the model does not act on) after the model's ~70, so a
	// vehicle can carry ArduCopter's ~1,350 for parameter-download tests
	// and benchmarks. At most MaxExtraParams; default 0.
	ExtraParams int
	// TickInterval is how often (wall time) the scheduler steps the models
	// and sends due telemetry. Default 20 ms.
	TickInterval time.Duration
	// MaxStreamSpeedup is how many times faster than at real time a
	// vehicle streams its periodic telemetry at most, in wall time:
	// faster than that, each stream is thinned (sent when due in
	// simulated time and at least interval/MaxStreamSpeedup of wall
	// time after its last; GLOBAL_POSITION_INT is not thinned). Default
	// DefaultMaxStreamSpeedup; negative
	// = no cap (one message per stream per tick). Events — mode, arming,
	// mission item changes, home, fence breach, status texts — and
	// requested messages are sent at once whatever the cap.
	MaxStreamSpeedup float64
	// Log receives protocol warnings (rate-limited per vehicle). Default:
	// slog.Default().
	Log *slog.Logger
}

// VehicleSettings are one vehicle's own settings; nil inherits the
// fleet-wide Config field of the same name. Pointers, because 0 is a
// meaningful value (SwapMin 0 = never swap, EnduranceMin 0 = the
// capacity decides).
type VehicleSettings struct {
	// Home replaces the vehicle's spread or homes-file position.
	Home *vehicle.LatLonAlt
	// EnduranceMin, SwapMin, BatteryCapacityMAh as Config's. A vehicle
	// given its own BatteryCapacityMAh but no EnduranceMin flies on that
	// capacity, not on the fleet's endurance (which would override it).
	EnduranceMin, SwapMin, BatteryCapacityMAh *float64
	// Video turns this vehicle's camera stream on or off (Config.Video).
	Video *bool
}

// vehicleSettings are a vehicle's resolved settings (fleet value or its
// override).
type vehicleSettings struct {
	enduranceMin, swapMin, capacityMAh float64
	video                              bool
}

// settings resolves vehicle index's settings: the one owner of "an
// override wins, otherwise the fleet's value".
func (cfg *Config) settings(index int) vehicleSettings {
	out := vehicleSettings{enduranceMin: cfg.EnduranceMin, swapMin: cfg.SwapMin, capacityMAh: cfg.BatteryCapacityMAh, video: cfg.Video}
	o, ok := cfg.PerVehicle[index]
	if !ok {
		return out
	}
	if o.BatteryCapacityMAh != nil {
		out.capacityMAh = *o.BatteryCapacityMAh
		out.enduranceMin = 0
	}
	if o.EnduranceMin != nil {
		out.enduranceMin = *o.EnduranceMin
	}
	if o.SwapMin != nil {
		out.swapMin = *o.SwapMin
	}
	if o.Video != nil {
		out.video = *o.Video
	}
	return out
}

// anyVideo says whether some vehicle streams video (so ffmpeg is needed).
func (cfg *Config) anyVideo() bool {
	for i := range cfg.Vehicles {
		if cfg.settings(i).video {
			return true
		}
	}
	return false
}

// checkPerVehicle validates the overrides, naming the vehicle.
func (cfg *Config) checkPerVehicle() error {
	for i, o := range cfg.PerVehicle {
		if i < 0 || i >= cfg.Vehicles {
			return fmt.Errorf("vehicle %d settings: no such vehicle (%d vehicles, 0-based)", i, cfg.Vehicles)
		}
		s := cfg.settings(i)
		if err := CheckBattery(s.enduranceMin, s.swapMin); err != nil {
			return fmt.Errorf("vehicle %d: %w", i, err)
		}
		if math.IsNaN(s.capacityMAh) || s.capacityMAh < 0 || s.capacityMAh > 1e6 {
			return fmt.Errorf("vehicle %d: battery capacity %v: want a non-negative number", i, s.capacityMAh)
		}
		if h := o.Home; h != nil && (math.IsNaN(h.Lat) || math.IsNaN(h.Lon) || math.IsNaN(h.AltMSL) || h.Lat < -90 || h.Lat > 90 || h.Lon < -180 || h.Lon > 180) {
			return fmt.Errorf("vehicle %d: home %v,%v: latitude must be -90..90 and longitude -180..180", i, h.Lat, h.Lon)
		}
	}
	return nil
}

// LinkFaults degrade a vehicle's UDP link in both directions, like a poor
// radio or LTE link. Percentages are 0..100.
type LinkFaults struct {
	LossPct    float64       // packets dropped
	DupPct     float64       // packets delivered twice
	ReorderPct float64       // packets held back and delivered after the next one
	Latency    time.Duration // added one-way delay
	Jitter     time.Duration // uniform extra delay 0..Jitter on top of Latency
}

// Validate reports the first inconsistent field.
func (f LinkFaults) Validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"loss", f.LossPct}, {"dup", f.DupPct}, {"reorder", f.ReorderPct}} {
		if math.IsNaN(p.v) || p.v < 0 || p.v > 100 {
			return fmt.Errorf("link faults: %s %v%% is outside 0..100", p.name, p.v)
		}
	}
	if f.Latency < 0 || f.Jitter < 0 {
		return fmt.Errorf("link faults: latency %v and jitter %v must not be negative", f.Latency, f.Jitter)
	}
	return nil
}

func (f LinkFaults) active() bool {
	return f.LossPct > 0 || f.DupPct > 0 || f.ReorderPct > 0 || f.Latency > 0 || f.Jitter > 0
}

// assignment is where vehicle i lives: which ground-station address, which
// system ID on it, where its home is.
type assignment struct {
	gcs   *net.UDPAddr
	sysid uint8
	home  vehicle.LatLonAlt
}

// ParseGCS parses a ground-station address: the station's UDP link spec
// [NAME=]udp:HOST:PORT (the form ArduPilot and MAVProxy use for outputs, and
// the one given to `burgut serve --mavlink`), resolving HOST to IPv4.
func ParseGCS(s string) (*net.UDPAddr, error) {
	spec, err := linkspec.ParseTarget(s)
	if err != nil {
		return nil, fmt.Errorf("ground-station address %q: %w", s, err)
	}
	ip := net.ParseIP(spec.Host)
	if ip == nil {
		addrs, err := net.LookupIP(spec.Host)
		if err != nil || len(addrs) == 0 {
			return nil, fmt.Errorf("ground-station address %q: cannot resolve host %q", s, spec.Host)
		}
		ip = addrs[0]
	}
	if ip.To4() == nil {
		return nil, fmt.Errorf("ground-station address %q: only IPv4 is supported", s)
	}
	return &net.UDPAddr{IP: ip.To4(), Port: spec.Port}, nil
}

// ParseHome parses a home "LAT,LON" or "LAT,LON,ALT" (degrees, metres MSL;
// grammar: internal/latlon).
func ParseHome(s string) (vehicle.LatLonAlt, error) {
	pt, err := latlon.Parse(s, "ALT")
	if err != nil {
		return vehicle.LatLonAlt{}, fmt.Errorf("position %w", err)
	}
	ll := vehicle.LatLonAlt{Lat: pt.Lat, Lon: pt.Lon, AltMSL: pt.Z}
	if ll.AltMSL < -500 || ll.AltMSL > 10000 {
		return ll, fmt.Errorf("position %q: altitude %v m is outside -500..10000", s, ll.AltMSL)
	}
	return ll, nil
}

// readHomes parses a homes file: one "lat,lon[,alt]" per line.
func readHomes(path string) ([]vehicle.LatLonAlt, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("homes file: %w", err)
	}
	defer f.Close()
	var homes []vehicle.LatLonAlt
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(s, '#'); i >= 0 {
			s = strings.TrimSpace(s[:i])
		}
		if s == "" {
			continue
		}
		h, err := ParseHome(s)
		if err != nil {
			return nil, fmt.Errorf("homes file %s line %d: %w", path, line, err)
		}
		homes = append(homes, h)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("homes file %s: %w", path, err)
	}
	return homes, nil
}

// spreadHomes places n homes on a sunflower spiral of the given radius
// around centre: even spacing, deterministic, no two vehicles on one spot.
func spreadHomes(centre vehicle.LatLonAlt, n int, radius float64) []vehicle.LatLonAlt {
	if radius <= 0 {
		radius = 5 * math.Sqrt(float64(n))
	}
	golden := math.Pi * (3 - math.Sqrt(5))
	out := make([]vehicle.LatLonAlt, n)
	const earthR = 6378137.0
	for i := range n {
		r := 0.0
		if n > 1 {
			r = radius * math.Sqrt(float64(i)/float64(n-1))
		}
		th := float64(i) * golden
		north, east := r*math.Cos(th), r*math.Sin(th)
		out[i] = vehicle.LatLonAlt{
			Lat:    centre.Lat + north/earthR*180/math.Pi,
			Lon:    centre.Lon + east/(earthR*math.Cos(centre.Lat*math.Pi/180))*180/math.Pi,
			AltMSL: centre.AltMSL,
		}
	}
	return out
}

// plan validates cfg, fills defaults and decides where each vehicle lives.
func (cfg *Config) plan() ([]assignment, error) {
	if cfg.Vehicles < 1 {
		return nil, fmt.Errorf("vehicles: %d, want at least 1", cfg.Vehicles)
	}
	if cfg.ExtraParams < 0 || cfg.ExtraParams > MaxExtraParams {
		return nil, fmt.Errorf("extra params: %d, want 0..%d", cfg.ExtraParams, MaxExtraParams)
	}
	if len(cfg.GCS) == 0 {
		return nil, errors.New("gcs: at least one ground-station address udp:HOST:PORT is needed")
	}
	gcs := make([]*net.UDPAddr, len(cfg.GCS))
	for i, s := range cfg.GCS {
		a, err := ParseGCS(s)
		if err != nil {
			return nil, err
		}
		gcs[i] = a
	}
	block := (cfg.Vehicles + len(gcs) - 1) / len(gcs)
	if block > MaxVehiclesPerGCS {
		need := (cfg.Vehicles + MaxVehiclesPerGCS - 1) / MaxVehiclesPerGCS
		return nil, fmt.Errorf("gcs: %d vehicles need at least %d ground-station addresses (at most %d vehicles per MAVLink network), got %d",
			cfg.Vehicles, need, MaxVehiclesPerGCS, len(gcs))
	}
	if math.IsNaN(cfg.Speedup) || math.IsInf(cfg.Speedup, 0) || cfg.Speedup < 0 {
		return nil, fmt.Errorf("speedup %v: want a positive number", cfg.Speedup)
	}
	if cfg.Speedup == 0 {
		cfg.Speedup = 1
	}
	if cfg.Speedup > 1000 {
		return nil, fmt.Errorf("speedup %v: at most 1000", cfg.Speedup)
	}
	if math.IsNaN(cfg.Spread) || cfg.Spread < 0 || cfg.Spread > 100000 {
		return nil, fmt.Errorf("spread %v m: want 0..100000", cfg.Spread)
	}
	if cfg.Home.Lat < -90 || cfg.Home.Lat > 90 || cfg.Home.Lon < -180 || cfg.Home.Lon > 180 ||
		math.IsNaN(cfg.Home.Lat) || math.IsNaN(cfg.Home.Lon) || math.IsNaN(cfg.Home.AltMSL) {
		return nil, fmt.Errorf("home %v,%v: latitude must be -90..90 and longitude -180..180", cfg.Home.Lat, cfg.Home.Lon)
	}
	if cfg.TCPBasePort < 0 || (cfg.TCPBasePort > 0 && cfg.TCPBasePort+10*(cfg.Vehicles-1) > 65535) {
		return nil, fmt.Errorf("tcp base port %d: vehicle ports %d+10*i must stay within 1..65535 for %d vehicles",
			cfg.TCPBasePort, cfg.TCPBasePort, cfg.Vehicles)
	}
	if err := cfg.Faults.Validate(); err != nil {
		return nil, err
	}
	for _, f := range cfg.Scheduled {
		if f.Vehicle >= cfg.Vehicles {
			return nil, fmt.Errorf("fault %s at %v: vehicle %d does not exist (%d vehicles, 0-based)", f.Kind, f.At, f.Vehicle, cfg.Vehicles)
		}
	}
	if err := CheckBattery(cfg.EnduranceMin, cfg.SwapMin); err != nil {
		return nil, err
	}
	for _, v := range []struct {
		name string
		v    float64
	}{{"battery capacity", cfg.BatteryCapacityMAh}, {"wind speed", cfg.WindSpeed}, {"gust speed", cfg.GustSpeed}} {
		if math.IsNaN(v.v) || v.v < 0 || v.v > 1e6 {
			return nil, fmt.Errorf("%s %v: want a non-negative number", v.name, v.v)
		}
	}
	if err := cfg.checkPerVehicle(); err != nil {
		return nil, err
	}
	if cfg.VideoURI == "" {
		cfg.VideoURI = DefaultVideoURI
	}
	if cfg.BindHost == "" {
		cfg.BindHost = "127.0.0.1"
	}
	if net.ParseIP(cfg.BindHost) == nil {
		return nil, fmt.Errorf("bind host %q: want an IPv4 address", cfg.BindHost)
	}
	if cfg.VideoBasePort == 0 {
		cfg.VideoBasePort = DefaultVideoBasePort
	}
	if err := cfg.checkVideo(); err != nil {
		return nil, err
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = 20 * time.Millisecond
	}
	if cfg.MaxStreamSpeedup == 0 {
		cfg.MaxStreamSpeedup = DefaultMaxStreamSpeedup
	}
	if math.IsNaN(cfg.MaxStreamSpeedup) {
		return nil, fmt.Errorf("max stream speedup %v: want a number", cfg.MaxStreamSpeedup)
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	var homes []vehicle.LatLonAlt
	if cfg.HomesFile != "" {
		h, err := readHomes(cfg.HomesFile)
		if err != nil {
			return nil, err
		}
		if len(h) < cfg.Vehicles {
			return nil, fmt.Errorf("homes file %s lists %d homes but %d vehicles were asked for", cfg.HomesFile, len(h), cfg.Vehicles)
		}
		homes = h
	} else {
		homes = spreadHomes(cfg.Home, cfg.Vehicles, cfg.Spread)
	}
	out := make([]assignment, cfg.Vehicles)
	for i := range out {
		out[i] = assignment{gcs: gcs[i/block], sysid: uint8(i%block + 1), home: homes[i]}
		if h := cfg.PerVehicle[i].Home; h != nil {
			out[i].home = *h
		}
	}
	return out, nil
}

// videoURI expands the URI template for one vehicle.
func videoURI(tmpl string, sysid uint8, index int) string {
	r := strings.NewReplacer("{sysid}", strconv.Itoa(int(sysid)), "{index}", strconv.Itoa(index))
	return r.Replace(tmpl)
}

// ParseVehicleSettings parses burgut sitl's --vehicle flag,
// "vehicle=I[,endurance-min=M][,swap-min=M][,battery-mah=N][,video=BOOL][,home=LAT;LON[;ALT]]"
// (the key=value style of --fault): vehicle I's own settings, the ones
// left out inheriting the fleet's flags. Values are checked by New.
func ParseVehicleSettings(s string) (int, VehicleSettings, error) {
	var vs VehicleSettings
	index := -1
	num := func(k, v string) (*float64, error) {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("vehicle settings %q: %s %q is not a number", s, k, v)
		}
		return &f, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return 0, vs, fmt.Errorf("vehicle settings %q: %q is not key=value", s, kv)
		}
		var err error
		switch k {
		case "vehicle":
			index, err = strconv.Atoi(v)
			if err != nil || index < 0 {
				return 0, vs, fmt.Errorf("vehicle settings %q: vehicle %q: want an index 0, 1, …", s, v)
			}
		case "endurance-min":
			vs.EnduranceMin, err = num(k, v)
		case "swap-min":
			vs.SwapMin, err = num(k, v)
		case "battery-mah":
			vs.BatteryCapacityMAh, err = num(k, v)
		case "video":
			b, perr := strconv.ParseBool(v)
			if perr != nil {
				return 0, vs, fmt.Errorf("vehicle settings %q: video %q: want true or false", s, v)
			}
			vs.Video = &b
		case "home":
			h, herr := ParseHome(strings.ReplaceAll(v, ";", ","))
			if herr != nil {
				return 0, vs, fmt.Errorf("vehicle settings %q: home: %w", s, herr)
			}
			vs.Home = &h
		default:
			return 0, vs, fmt.Errorf("vehicle settings %q: unknown key %q (want vehicle, endurance-min, swap-min, battery-mah, video, home)", s, k)
		}
		if err != nil {
			return 0, vs, err
		}
	}
	if index < 0 {
		return 0, vs, fmt.Errorf("vehicle settings %q: vehicle=INDEX is missing", s)
	}
	return index, vs, nil
}
