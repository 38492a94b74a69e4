package groundstation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation/session"
	"github.com/burgut-uav/burgut/missions"
)

// Config configures a Station. The zero value of every field but Links
// takes the default noted on it.
type Config struct {
	// Links are MAVLink link specs, optionally named: [NAME=]KIND:ADDRESS
	// with KIND udp (UDP server: vehicles send here), udpc (UDP client),
	// tcp (TCP client), tcps (TCP server) or serial (serial:DEVICE:BAUD).
	// Without a name the link is named after its kind and port, e.g.
	// "udp14550"; the name is part of vehicle IDs.
	Links []string
	// SystemID is the station's own MAVLink system ID (default 255,
	// ArduPilot's SYSID_MYGCS default).
	SystemID uint8
	// HeartbeatTimeout marks a vehicle link_lost after this long without a
	// HEARTBEAT (default 5 s).
	HeartbeatTimeout time.Duration
	// StreamRateHz is the telemetry rate requested from every vehicle
	// (default 4 Hz); HOME_POSITION is requested at a tenth of it.
	StreamRateHz float64
	// Session tunes the per-vehicle protocol timeouts and retries.
	Session session.Options

	// IdentityFile persists the autopilot UID → vehicle ID map so an
	// aircraft keeps its ID across links and restarts ("" = memory only).
	IdentityFile string
	// IdentityWait is how long a newly heard vehicle may wait for its
	// AUTOPILOT_VERSION (UID) before it is published under a link-derived
	// ID (default 2 s).
	IdentityWait time.Duration
	// SetupConcurrency bounds how many vehicles are being set up (identity,
	// stream rates, camera discovery) at once, so thousands connecting
	// together do not flood the links (default 64).
	SetupConcurrency int
	// Log receives the station's logs (default slog.Default()).
	Log *slog.Logger
}

// ErrUnknownVehicle is returned (wrapped) for a vehicle ID the station has
// never published; the HTTP API maps it to 404.
var ErrUnknownVehicle = errors.New("unknown vehicle")

// Station is the MAVLink ground station: it owns the links, the
// dispatchers, the per-vehicle sessions and the goroutines that set
// vehicles up. Build it with New, start it with Run.
type Station struct {
	cfg   Config
	fleet *fleet.Fleet
	log   *slog.Logger
	links []*link
	taps  []FrameTap
}

// New validates cfg (every link spec, with an error naming the bad one)
// and prepares a Station; nothing is opened until Run.
func New(cfg Config, fl *fleet.Fleet, log *slog.Logger) (*Station, error) {
	if fl == nil {
		return nil, errors.New("groundstation: fleet is nil")
	}
	if log == nil {
		log = slog.Default()
	}
	cfg = cfg.withDefaults()
	links, err := parseLinks(cfg.Links)
	if err != nil {
		return nil, err
	}
	return &Station{cfg: cfg, fleet: fl, log: log, links: links}, nil
}

func (c Config) withDefaults() Config {
	if c.SystemID == 0 {
		c.SystemID = 255
	}
	if c.HeartbeatTimeout <= 0 {
		c.HeartbeatTimeout = 5 * time.Second
	}
	if c.StreamRateHz <= 0 {
		c.StreamRateHz = 4
	}
	if c.IdentityWait <= 0 {
		c.IdentityWait = 2 * time.Second
	}
	if c.SetupConcurrency <= 0 {
		c.SetupConcurrency = 64
	}
	return c
}

// Run opens every link and serves until ctx is cancelled; it owns the
// gomavlib nodes and every goroutine, and returns nil once all stopped.
func (s *Station) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Session returns the protocol session of a vehicle, for operations the
// Station does not wrap (parameters, clear, set current).
func (s *Station) Session(vehicleID string) (*session.Vehicle, error) {
	return nil, fmt.Errorf("vehicle %q: %w", vehicleID, ErrUnknownVehicle)
}

// Command sends one MAV_CMD to a vehicle and waits for its COMMAND_ACK.
func (s *Station) Command(ctx context.Context, vehicleID string, req session.CommandRequest) (session.CommandResult, error) {
	sess, err := s.Session(vehicleID)
	if err != nil {
		return session.CommandResult{}, err
	}
	return sess.Command(ctx, req)
}

// UploadOptions tunes a verified upload.
type UploadOptions struct {
	// Verify reads the list back after the upload and compares it.
	Verify bool
	// Attempts is how many upload(+verify) rounds to try (default 3).
	Attempts int
	// Progress, if set, reports items sent of the current attempt.
	Progress func(done, total int)
}

// UploadReport is the per-vehicle outcome of an upload, as the HTTP API
// and group operations return it.
type UploadReport struct {
	VehicleID string        `json:"vehicle_id"`
	Type      string        `json:"type"`
	Items     int           `json:"items"`
	Attempts  int           `json:"attempts"`
	Verified  bool          `json:"verified"`
	Duration  time.Duration `json:"duration_ns"`
	Error     string        `json:"error,omitempty"`
}

// Upload replaces a vehicle's mission, fence or rally list.
func (s *Station) Upload(ctx context.Context, vehicleID string, t missions.MissionType, items []missions.Item, o UploadOptions) (UploadReport, error) {
	return UploadReport{VehicleID: vehicleID, Type: t.String()}, errors.New("not implemented yet")
}

// Download reads a vehicle's mission, fence or rally list.
func (s *Station) Download(ctx context.Context, vehicleID string, t missions.MissionType) ([]missions.Item, error) {
	sess, err := s.Session(vehicleID)
	if err != nil {
		return nil, err
	}
	return sess.Download(ctx, t, nil)
}

// GroupResult is one vehicle's outcome of a group operation.
type GroupResult struct {
	VehicleID string `json:"vehicle_id"`
	OK        bool   `json:"ok"`
	Result    any    `json:"result,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Group runs fn for every vehicle in parallel (at most concurrency at
// once) and returns one result per vehicle, in input order.
func (s *Station) Group(ctx context.Context, vehicleIDs []string, concurrency int, fn func(ctx context.Context, vehicleID string) (any, error)) []GroupResult {
	return nil
}

// LinkInfo describes one configured link for status pages.
type LinkInfo struct {
	Name        string `json:"name"`
	Spec        string `json:"spec"`
	Channels    int    `json:"channels"`
	Vehicles    int    `json:"vehicles"`
	Frames      uint64 `json:"frames"`
	ParseErrors uint64 `json:"parse_errors"`
}

// Links lists the configured links with their counters.
func (s *Station) Links() []LinkInfo { return nil }

// FrameTap receives every frame the station decodes, with the vehicle it
// was attributed to ("" when none) and the link name. It is called from a
// dispatcher and must not block.
type FrameTap func(vehicleID, link string, at time.Time, f frame.Frame)

// AddFrameTap registers a tap; call it before Run.
func (s *Station) AddFrameTap(tap FrameTap) { s.taps = append(s.taps, tap) }
