package app

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/burgut-uav/burgut/groundstation"
	"github.com/burgut-uav/burgut/internal/cliflag"
	"github.com/burgut-uav/burgut/internal/latlon"
	"github.com/burgut-uav/burgut/internal/linkspec"
	"github.com/burgut-uav/burgut/relay"
	"github.com/burgut-uav/burgut/simulator"
	"github.com/burgut-uav/burgut/simulator/vehicle"
	"github.com/burgut-uav/burgut/telemetry"
	"github.com/burgut-uav/burgut/telemetry/spool"
	"github.com/burgut-uav/burgut/telemetry/sqlitestore"
	"github.com/burgut-uav/burgut/telemetry/tlog"
)

// GroundStationConfig configures the MAVLink side (groundstation/).
type GroundStationConfig struct {
	MAVLink          []string      // link specs ([NAME=]KIND:ADDRESS, grammar in internal/linkspec): udp:HOST:PORT (server), udpc:HOST:PORT (client), tcp:HOST:PORT (client), tcps:HOST:PORT (server), serial:/dev/ttyX:BAUD
	SystemID         int           // this ground station's MAVLink system ID
	HeartbeatTimeout time.Duration // link lost after this long without a heartbeat
	StreamRateHz     float64       // telemetry rate requested from each vehicle
	CommandTimeout   time.Duration
	CommandRetries   int
	MissionTimeout   time.Duration // per mission item / request
	MissionRetries   int
	MissionWindow    int // mission items streamed ahead of the vehicle's requests
	// RefusalTextWindow is how long a refused command keeps collecting the
	// vehicle's STATUSTEXTs (session.Options.RefusalTextWindow); 0 = off.
	RefusalTextWindow time.Duration
}

// defaults take every value from the packages that use it
// (groundstation.DefaultConfig, session.DefaultOptions): one source each.
func (c *GroundStationConfig) defaults() {
	d := groundstation.DefaultConfig()
	c.MAVLink = []string{linkspec.DefaultStation}
	c.SystemID = int(d.SystemID)
	c.HeartbeatTimeout = d.HeartbeatTimeout
	c.StreamRateHz = d.StreamRateHz
	c.CommandTimeout = d.Session.CommandTimeout
	c.CommandRetries = d.Session.CommandRetries
	c.MissionTimeout = d.Session.MissionItemTimeout
	c.MissionRetries = d.Session.MissionRetries
	c.MissionWindow = d.Session.UploadWindow
	c.RefusalTextWindow = d.Session.RefusalTextWindow
}

func (c *GroundStationConfig) register(fs *flag.FlagSet) {
	fs.Var(cliflag.NewList(&c.MAVLink), "mavlink", "MAVLink link, repeatable: [NAME=]KIND:ADDRESS with NAME naming the link in vehicle records and logs; udp:HOST:PORT (UDP server: vehicles send here; use 0.0.0.0 to listen on every interface), udpc:HOST:PORT (UDP client), tcp:HOST:PORT (TCP client, e.g. a SITL on 5760), tcps:HOST:PORT (TCP server), serial:DEVICE:BAUD")
	fs.IntVar(&c.SystemID, "mavlink-sysid", c.SystemID, "this ground station's MAVLink system ID (ArduPilot's SYSID_MYGCS defaults to 255)")
	fs.DurationVar(&c.HeartbeatTimeout, "link-timeout", c.HeartbeatTimeout, "a vehicle is 'link lost' after this long without a HEARTBEAT")
	fs.Float64Var(&c.StreamRateHz, "stream-rate", c.StreamRateHz, "telemetry rate in Hz requested from every vehicle (position, attitude, status)")
	fs.DurationVar(&c.CommandTimeout, "command-timeout", c.CommandTimeout, "wait for COMMAND_ACK per attempt")
	fs.IntVar(&c.CommandRetries, "command-retries", c.CommandRetries, "command attempts after the first before giving up")
	fs.DurationVar(&c.MissionTimeout, "mission-timeout", c.MissionTimeout, "wait per mission item or request during mission/fence/rally transfers")
	fs.IntVar(&c.MissionRetries, "mission-retries", c.MissionRetries, "re-sends per mission item or request before a transfer fails")
	fs.IntVar(&c.MissionWindow, "mission-window", c.MissionWindow, "mission items sent ahead of the vehicle's requests during an upload: 0 = auto per vehicle (ArduPilot, which accepts in-order early items, gets an adaptive window with copies and retransmission timeouts from the measured loss and round trip; other autopilots stay strict), 1 = strict MAVLink for every vehicle (one item per request), 2-64 = that fixed window for every vehicle")
	fs.DurationVar(&c.RefusalTextWindow, "refusal-text-window", c.RefusalTextWindow, "after a vehicle refuses a command, keep collecting its STATUSTEXTs this long and return them with the refusal (ArduPilot sends the reason, e.g. \"Arm: AUTO mode not armable\", just after its COMMAND_ACK); collection ends early once texts stop coming; 0 = return the refusal at once, without texts")
}

func (c *GroundStationConfig) validate() error {
	var errs []error
	if err := groundstation.CheckLinks(c.MAVLink); err != nil {
		errs = append(errs, err)
	}
	if c.SystemID < 1 || c.SystemID > 255 {
		errs = append(errs, fmt.Errorf("mavlink-sysid %d: must be 1-255", c.SystemID))
	}
	if c.HeartbeatTimeout <= 0 {
		errs = append(errs, fmt.Errorf("link-timeout %v: must be positive", c.HeartbeatTimeout))
	}
	if c.StreamRateHz <= 0 || c.StreamRateHz > 50 {
		errs = append(errs, fmt.Errorf("stream-rate %v: must be in (0, 50] Hz", c.StreamRateHz))
	}
	if c.CommandTimeout <= 0 || c.MissionTimeout <= 0 {
		errs = append(errs, errors.New("command-timeout and mission-timeout must be positive"))
	}
	if c.MissionWindow < 0 || c.MissionWindow > 64 {
		errs = append(errs, fmt.Errorf("mission-window %d: must be 0 (auto) or 1-64", c.MissionWindow))
	}
	if c.RefusalTextWindow < 0 || c.RefusalTextWindow > time.Minute {
		errs = append(errs, fmt.Errorf("refusal-text-window %v: must be 0 (off) to 1m", c.RefusalTextWindow))
	}
	if c.CommandRetries < 0 || c.MissionRetries < 0 {
		errs = append(errs, errors.New("command-retries and mission-retries must not be negative"))
	}
	return errors.Join(errs...)
}

// TelemetryConfig configures where vehicle state is stored (telemetry/).
type TelemetryConfig struct {
	InfluxURL    string
	InfluxBucket string
	InfluxToken  string
	InfluxOrg    string

	SampleInterval time.Duration // storage sample policy: min time between stored samples per vehicle
	SpoolMB        int           // disk spool in front of InfluxDB
	StoreRetention time.Duration // embedded store: keep samples this long
	StoreMaxMB     int           // embedded store: size cap
	Tlogs          bool          // record raw MAVLink to data-dir/tlogs
	TlogFileMB     int           // a flight's tlog starts a new part past this
	TlogTotalMB    int           // all tlogs together; oldest deleted first
	TlogBufferMB   int           // tlog frames held in memory while the disk is slow
}

// defaults take every value from the package that applies it: one source each.
func (c *TelemetryConfig) defaults() {
	c.SampleInterval = telemetry.DefaultRecorderConfig().Interval
	c.SpoolMB = spool.DefaultMaxBytes >> 20
	c.StoreRetention = sqlitestore.DefaultMaxAge
	c.StoreMaxMB = sqlitestore.DefaultMaxBytes >> 20
	c.Tlogs = true
	c.TlogFileMB = tlog.DefaultMaxFileBytes >> 20
	c.TlogTotalMB = tlog.DefaultMaxTotalBytes >> 20
	c.TlogBufferMB = tlog.DefaultMaxBufferBytes >> 20
}

func (c *TelemetryConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.InfluxURL, "influx-url", c.InfluxURL, "InfluxDB URL (e.g. http://127.0.0.1:8086); empty = the embedded store under data-dir")
	fs.StringVar(&c.InfluxBucket, "influx-bucket", c.InfluxBucket, "InfluxDB bucket; for InfluxDB 1.8 use database/retention, e.g. telemetry/autogen")
	fs.StringVar(&c.InfluxToken, "influx-token", c.InfluxToken, "InfluxDB token; for InfluxDB 1.8 user:password or empty")
	fs.StringVar(&c.InfluxOrg, "influx-org", c.InfluxOrg, "InfluxDB 2.x organisation (ignored by 1.8)")
	fs.DurationVar(&c.SampleInterval, "telemetry-interval", c.SampleInterval, "store at most one sample per vehicle per interval (0 = every message, one point per message as Telegraf stores them); arm, disarm and mode changes are always stored")
	fs.IntVar(&c.SpoolMB, "influx-spool-mb", c.SpoolMB, "disk spool in front of InfluxDB, MiB, under data-dir/influx-spool; when full the oldest undelivered telemetry is dropped and counted")
	fs.DurationVar(&c.StoreRetention, "store-retention", c.StoreRetention, "embedded store (no influx-url): delete samples older than this")
	fs.IntVar(&c.StoreMaxMB, "store-max-mb", c.StoreMaxMB, "embedded store (no influx-url): size cap in MiB; the oldest samples are deleted beyond it")
	fs.BoolVar(&c.Tlogs, "tlogs", c.Tlogs, "record every vehicle's raw MAVLink to data-dir/tlogs (one .tlog per vehicle per flight)")
	fs.IntVar(&c.TlogFileMB, "tlog-file-mb", c.TlogFileMB, "a flight's tlog continues in a new part past this size, MiB")
	fs.IntVar(&c.TlogTotalMB, "tlog-total-mb", c.TlogTotalMB, "cap on all tlogs together, MiB; the oldest files are deleted first")
	fs.IntVar(&c.TlogBufferMB, "tlog-buffer-mb", c.TlogBufferMB, "tlog frames held in memory while the disk is slow, MiB; past it frames are dropped and counted")
}

func (c *TelemetryConfig) validate() error {
	if c.InfluxURL != "" && c.InfluxBucket == "" {
		return errors.New("influx-bucket: required with influx-url")
	}
	if c.InfluxURL != "" && !strings.HasPrefix(c.InfluxURL, "http://") && !strings.HasPrefix(c.InfluxURL, "https://") {
		return fmt.Errorf("influx-url %q: want http:// or https://", c.InfluxURL)
	}
	var errs []error
	if c.SampleInterval < 0 {
		errs = append(errs, fmt.Errorf("telemetry-interval %v: must not be negative", c.SampleInterval))
	}
	if c.SpoolMB < 1 {
		errs = append(errs, fmt.Errorf("influx-spool-mb %d: must be at least 1", c.SpoolMB))
	}
	if c.StoreRetention <= 0 {
		errs = append(errs, fmt.Errorf("store-retention %v: must be positive", c.StoreRetention))
	}
	if c.StoreMaxMB < 1 {
		errs = append(errs, fmt.Errorf("store-max-mb %d: must be at least 1", c.StoreMaxMB))
	}
	if c.TlogFileMB < 1 || c.TlogTotalMB < c.TlogFileMB {
		errs = append(errs, fmt.Errorf("tlog-file-mb %d, tlog-total-mb %d: want 1 <= tlog-file-mb <= tlog-total-mb", c.TlogFileMB, c.TlogTotalMB))
	}
	if c.TlogBufferMB < 1 {
		errs = append(errs, fmt.Errorf("tlog-buffer-mb %d: must be at least 1", c.TlogBufferMB))
	}
	return errors.Join(errs...)
}

// RelayConfig configures the live feeds to the monitoring center (MQTT, WebSocket).
type RelayConfig struct {
	MQTT       string  // external broker URL; empty = embedded broker
	MQTTListen string  // embedded broker TCP listener
	StateRate  float64 // per-vehicle state publish rate, Hz

	MQTTWSListen   string        // embedded broker's own MQTT-over-WebSocket port (it also serves /mqtt on the HTTP port)
	MQTTClientID   string        // fixed client ID of the publisher's persistent session; empty = burgut-<station>
	MQTTUser       string        // external broker credentials
	MQTTPassword   string        //
	StaleAfter     time.Duration // vehicle flagged stale after this long without data
	WSRate         float64       // default state frames per second per WebSocket client
	WSMaxRate      float64       // highest rate a client may ask for
	WSMaxQueue     int           // events queued per WebSocket client before it is dropped
	WSMaxClients   int           // WebSocket clients accepted at once
	AllowedOrigins []string      // origins allowed on /api/v1/stream besides the page's own
}

// defaults take the feed settings from package relay: one source each.
func (c *RelayConfig) defaults() {
	hub := relay.DefaultHubConfig()
	c.MQTTListen = "127.0.0.1:1883"
	c.StateRate = relay.DefaultPublisherConfig().StateRate
	c.StaleAfter = relay.DefaultStaleAfter
	c.WSRate = hub.DefaultRateHz
	c.WSMaxRate = hub.MaxRateHz
	c.WSMaxQueue = hub.MaxQueuedEvents
	c.WSMaxClients = hub.MaxClients
}

func (c *RelayConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.MQTT, "mqtt", c.MQTT, "external MQTT broker, e.g. tcp://broker:1883; empty = run the embedded broker")
	fs.StringVar(&c.MQTTListen, "mqtt-listen", c.MQTTListen, "embedded MQTT broker's TCP listen address (empty = no embedded broker)")
	fs.Float64Var(&c.StateRate, "state-rate", c.StateRate, "vehicle state publish rate per vehicle, Hz (MQTT)")
	fs.StringVar(&c.MQTTWSListen, "mqtt-ws-listen", c.MQTTWSListen, "embedded MQTT broker's WebSocket listen address on its own port (empty = none; MQTT over WebSocket is always served at /mqtt on the HTTP port)")
	fs.StringVar(&c.MQTTClientID, "mqtt-client-id", c.MQTTClientID, "MQTT client ID of the publisher; keep it fixed so the broker keeps its session and unacknowledged events (empty = burgut-<station>)")
	fs.StringVar(&c.MQTTUser, "mqtt-user", c.MQTTUser, "username for the external MQTT broker")
	fs.StringVar(&c.MQTTPassword, "mqtt-password", c.MQTTPassword, "password for the external MQTT broker")
	fs.DurationVar(&c.StaleAfter, "stale-after", c.StaleAfter, "flag a vehicle stale (map, MQTT, WebSocket) when its data is older than this")
	fs.Float64Var(&c.WSRate, "ws-rate", c.WSRate, "state frames per second a WebSocket client gets unless it asks for fewer")
	fs.Float64Var(&c.WSMaxRate, "ws-max-rate", c.WSMaxRate, "highest state rate, Hz, a WebSocket client may ask for")
	fs.IntVar(&c.WSMaxQueue, "ws-max-queue", c.WSMaxQueue, "events queued for a WebSocket client before it is dropped as too slow")
	fs.IntVar(&c.WSMaxClients, "ws-max-clients", c.WSMaxClients, "WebSocket stream clients accepted at once")
	fs.Var(cliflag.NewList(&c.AllowedOrigins), "ws-origin", "origin allowed to open /api/v1/stream besides the map's own, repeatable (e.g. http://console.example:8080; * = any)")
}

func (c *RelayConfig) validate() error {
	if c.MQTT != "" && !strings.Contains(c.MQTT, "://") {
		return fmt.Errorf("mqtt %q: want a URL such as tcp://127.0.0.1:1883", c.MQTT)
	}
	if c.StateRate <= 0 || c.StateRate > 50 {
		return fmt.Errorf("state-rate %v: must be in (0, 50] Hz", c.StateRate)
	}
	if c.StaleAfter <= 0 {
		return fmt.Errorf("stale-after %v: must be positive", c.StaleAfter)
	}
	if c.WSMaxRate <= 0 || c.WSRate <= 0 || c.WSRate > c.WSMaxRate {
		return fmt.Errorf("ws-rate %v / ws-max-rate %v: both must be positive and ws-rate at most ws-max-rate", c.WSRate, c.WSMaxRate)
	}
	if c.WSMaxQueue <= 0 || c.WSMaxClients <= 0 {
		return fmt.Errorf("ws-max-queue %d / ws-max-clients %d: must be positive", c.WSMaxQueue, c.WSMaxClients)
	}
	for _, o := range c.AllowedOrigins {
		if o != "*" && !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			return fmt.Errorf("ws-origin %q: want http(s)://HOST[:PORT] or *", o)
		}
	}
	if err := validHostPort("mqtt-ws-listen", c.MQTTWSListen); err != nil {
		return err
	}
	return validHostPort("mqtt-listen", c.MQTTListen)
}

// SimConfig configures the simulated fleet `burgut run` flies.
type SimConfig struct {
	Vehicles int
	Home     string // "LAT,LON"
	Speedup  float64
	Seed     int64
	// Demo makes the simulated fleet fly patrols over an event area around
	// home as soon as it is ready, so the map opens on a flying fleet.
	Demo bool
	// Video gives every simulated camera a live RTP stream (needs ffmpeg).
	Video bool
	// VideoBase is vehicle 0's RTP port with Video; vehicle i uses base+i.
	VideoBase int
	// EnduranceMin and SwapMin are the simulator's battery contract
	// (simulator.Config): flight time at cruise and time on the ground to
	// swap, minutes; 0 = model default / no swap.
	EnduranceMin, SwapMin float64
	// Spread is the radius, metres, of the disc the vehicles' homes are
	// placed on (0 = about 5 m per vehicle), as burgut sitl --spread.
	Spread float64
	// HomesFile, when set, places the vehicles on its homes instead, one
	// "lat,lon[,alt]" line per vehicle (simulator.Config.HomesFile): a
	// launch pad's spots.
	HomesFile string
	// Scenario makes `burgut run` a rehearsal (issue 14): the scenario
	// file's fleet flies instead of the demo fleet, at speedup 1, its
	// faults fire on schedule while a trainee operates the console, and
	// when it ends the report (Report, default under DataDir/reports)
	// records each fault, its alert and the first response. cmd/burgut
	// runs it (rehearsal.go); the station itself does not read these.
	Scenario, Report string
}

func (c *SimConfig) defaults() {
	c.Vehicles = 10
	c.Home = fmt.Sprintf("%v,%v", vehicle.DefaultHome.Lat, vehicle.DefaultHome.Lon)
	c.Speedup = 1
	c.Seed = 1
	c.Demo = true
	c.VideoBase = simulator.DefaultVideoBasePort
}

func (c *SimConfig) register(fs *flag.FlagSet) {
	fs.IntVar(&c.Vehicles, "vehicles", c.Vehicles, "number of simulated vehicles")
	fs.StringVar(&c.Home, "home", c.Home, "simulated fleet's home, LAT,LON")
	fs.Float64Var(&c.Speedup, "speedup", c.Speedup, "simulation speed relative to real time")
	fs.Int64Var(&c.Seed, "seed", c.Seed, "simulation random seed")
	fs.BoolVar(&c.Video, "video", c.Video, "give every simulated camera a live stream (ffmpeg RTP H.264 to UDP 5600+index, relayed to browsers over WHEP); needs Debian's ffmpeg")
	fs.IntVar(&c.VideoBase, "video-base", c.VideoBase, "with --video: vehicle 0's RTP port on the station; vehicle i uses base+i")
	fs.Float64Var(&c.EnduranceMin, "endurance-min", c.EnduranceMin, "simulated vehicles' full-battery flight time at cruise, minutes (0 = model default, ~20 min)")
	fs.Float64Var(&c.SwapMin, "swap-min", c.SwapMin, "minutes a simulated vehicle must stay landed and disarmed before its battery is swapped for a full one (0 = never)")
	fs.Float64Var(&c.Spread, "spread", c.Spread, "radius in metres the simulated vehicles' homes spread over (0 = about 5 m per vehicle)")
	fs.BoolVar(&c.Demo, "demo", c.Demo, "fly the simulated fleet on perimeter patrols over a demo event area around home (--demo=false leaves it on the ground)")
	fs.StringVar(&c.Scenario, "scenario", c.Scenario, "rehearsal: fly this scenario file's fleet live at speedup 1 while trainees use the console (the scenario's fleet replaces --vehicles, --home and --demo); its steps and faults fire on schedule and the report records each fault, its alert and the first response")
	fs.StringVar(&c.Report, "report", c.Report, "with --scenario: write the rehearsal's HTML report here when it ends (default DATA_DIR/reports/rehearsal-NAME-TIME.html)")
}

func (c *SimConfig) validate() error {
	if c.Vehicles < 0 || c.Vehicles > 5000 {
		return fmt.Errorf("vehicles %d: must be 0-5000", c.Vehicles)
	}
	if _, err := latlon.Parse(c.Home, ""); err != nil {
		return fmt.Errorf("home: %w", err)
	}
	if c.VideoBase < 1 || c.VideoBase+c.Vehicles > 65535 {
		return fmt.Errorf("video-base %d: vehicles need UDP ports %d..%d", c.VideoBase, c.VideoBase, c.VideoBase+c.Vehicles-1)
	}
	if err := simulator.CheckBattery(c.EnduranceMin, c.SwapMin); err != nil {
		return err
	}
	if math.IsNaN(c.Spread) || c.Spread < 0 || c.Spread > 10000 {
		return fmt.Errorf("spread %v: want 0 (automatic) to 10000 metres", c.Spread)
	}
	if c.Speedup <= 0 || c.Speedup > 1000 {
		return fmt.Errorf("speedup %v: must be in (0, 1000]", c.Speedup)
	}
	if c.Report != "" && c.Scenario == "" {
		return fmt.Errorf("report %q: only a rehearsal (--scenario FILE) writes a report", c.Report)
	}
	return nil
}
