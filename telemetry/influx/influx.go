// Package influx is Burgut's InfluxDB sink and history source.
//
// Writes go through a durable disk spool (telemetry/spool): WriteSamples
// only encodes line protocol and appends it to the spool, so neither the
// fleet nor the MAVLink ingest ever waits on the database. One sender
// goroutine (Run) delivers spooled batches in order with the client's
// blocking write API (a single attempt per call, no hidden buffer) and its
// own retry with backoff; a batch leaves the spool only once InfluxDB has
// acknowledged it. The client's own batching WriteAPI is deliberately not
// used: it drops data silently while the server is down.
//
// Works with InfluxDB 1.8+ (v2 compatibility API: bucket "db/retention",
// token "user:password" or empty, org ignored) and 2.x/Cloud (org, bucket,
// token). History queries use Flux (1.8 needs flux-enabled = true).
package influx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	http2 "github.com/influxdata/influxdb-client-go/v2/api/http"

	"github.com/burgut-uav/burgut/telemetry"
	"github.com/burgut-uav/burgut/telemetry/spool"
)

// Config says where InfluxDB is and how the spool in front of it is bounded.
type Config struct {
	URL    string
	Bucket string // 1.8: "database/retention", e.g. "telemetry/autogen"
	Token  string // 1.8: "user:password" or empty
	Org    string // 2.x only
	// SpoolDir holds the spool (e.g. data-dir/influx-spool). Empty opens
	// a query-only client (the history CLI): writes are refused.
	SpoolDir string
	Spool    spool.Options
	// RetryMin and RetryMax bound the backoff between delivery attempts
	// while InfluxDB is unreachable (defaults 200 ms and 5 s).
	RetryMin, RetryMax time.Duration
	// LatestWindow is how far back "latest state per vehicle" looks
	// (default 1 h): vehicles not heard of for longer are left out. It
	// bounds the Flux query, which InfluxDB 1.8 answers by scanning the
	// window (last() is not pushed down to storage there).
	LatestWindow time.Duration
	// RequestTimeout bounds one HTTP write or query (default 30 s).
	RequestTimeout time.Duration
}

// Stats is the sink's health, served on the telemetry status API.
type Stats struct {
	Spool          spool.Stats `json:"spool"`
	SentBatches    uint64      `json:"sent_batches"`
	SentPoints     uint64      `json:"sent_points"`
	FailedAttempts uint64      `json:"failed_attempts"`
	RejectedPoints uint64      `json:"rejected_points"` // refused by InfluxDB as malformed (HTTP 400), dropped
	Connected      bool        `json:"connected"`       // the last delivery attempt succeeded
	LastError      string      `json:"last_error,omitempty"`
	LastErrorAt    *time.Time  `json:"last_error_at,omitempty"`
	// WriteSeconds is the total time of the successful batch writes
	// (SentBatches of them): their mean is InfluxDB's write latency.
	WriteSeconds float64 `json:"write_seconds"`
}

// Sink stores samples in InfluxDB. Create with Open, start Run in an
// owned goroutine, Close after Run has returned.
type Sink struct {
	cfg    Config
	log    *slog.Logger
	client influxdb2.Client
	write  api.WriteAPIBlocking
	query  api.QueryAPI
	spool  *spool.Spool

	mu    sync.Mutex
	stats Stats
	buf   []byte
}

// Open opens the spool (replaying what an earlier run left in it once Run
// starts) and prepares the client. It does not need the server to be up.
func Open(cfg Config, log *slog.Logger) (*Sink, error) {
	if cfg.URL == "" || cfg.Bucket == "" {
		return nil, errors.New("influx: URL and bucket are required")
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = 200 * time.Millisecond
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 5 * time.Second
	}
	if cfg.LatestWindow <= 0 {
		cfg.LatestWindow = time.Hour
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	cfg.Spool.Log = log
	var sp *spool.Spool
	if cfg.SpoolDir != "" {
		var err error
		if sp, err = spool.Open(cfg.SpoolDir, cfg.Spool); err != nil {
			return nil, fmt.Errorf("influx sink: %w", err)
		}
	}
	opts := influxdb2.DefaultOptions().
		SetPrecision(time.Nanosecond).
		SetUseGZip(!loopbackURL(cfg.URL)).
		SetLogLevel(0).
		SetHTTPRequestTimeout(uint(cfg.RequestTimeout / time.Second))
	c := influxdb2.NewClientWithOptions(strings.TrimRight(cfg.URL, "/"), cfg.Token, opts)
	return &Sink{
		cfg: cfg, log: log, client: c, spool: sp,
		write: c.WriteAPIBlocking(cfg.Org, cfg.Bucket),
		query: c.QueryAPI(cfg.Org),
	}, nil
}

// loopbackURL reports whether an InfluxDB URL names this machine by a
// loopback address or "localhost". Requests to it are not gzipped: on a
// loopback socket compression saves nothing and cost the station about a
// sixth of its CPU at 2,000 vehicles with every message stored
// (BENCHMARKS.md); over a real network it pays for itself.
func loopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// WriteSamples appends the samples' points to the spool (fsynced). It
// returns once they are on disk, never waiting for InfluxDB. Large calls
// are split into records of at most an eighth of the spool (and 4 MiB), so
// any batch fits and no HTTP request grows too big.
func (s *Sink) WriteSamples(ctx context.Context, ss []telemetry.Sample) error {
	return spoolLines(s, ss, "samples",
		func(x *telemetry.Sample, b []byte) []byte { return x.AppendLines(b) },
		func(x *telemetry.Sample) int { return x.Points() },
		func(x *telemetry.Sample) time.Time { return x.Time })
}

// WritePoints appends message points (telemetry interval 0) to the spool,
// as WriteSamples does samples.
func (s *Sink) WritePoints(ctx context.Context, ps []telemetry.Point) error {
	return spoolLines(s, ps, "points",
		func(x *telemetry.Point, b []byte) []byte { return x.AppendLine(b) },
		func(*telemetry.Point) int { return 1 },
		func(x *telemetry.Point) time.Time { return x.Time })
}

// spoolLines is WriteSamples and WritePoints: it encodes items as line
// protocol into spool records of bounded size, each carrying its point
// count and time range.
func spoolLines[T any](s *Sink, items []T, what string, appendLines func(*T, []byte) []byte, points func(*T) int, at func(*T) time.Time) error {
	if len(items) == 0 {
		return nil
	}
	if s.spool == nil {
		return errors.New("influx: opened for queries only (no spool dir)")
	}
	limit := min(s.spool.Stats().MaxBytes/8, 4<<20)
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buf[:0]
	first, n := 0, 0
	lo, hi := at(&items[0]), at(&items[0])
	flush := func(end int) error {
		if end == first {
			return nil
		}
		if err := s.spool.Append(b, n, lo, hi); err != nil {
			return fmt.Errorf("spool %d %s for InfluxDB: %w", end-first, what, err)
		}
		b, first, n = b[:0], end, 0
		return nil
	}
	for i := range items {
		it := &items[i]
		if i > first && int64(len(b)) >= limit {
			if err := flush(i); err != nil {
				s.buf = b
				return err
			}
			lo, hi = at(it), at(it)
		}
		b = appendLines(it, b)
		n += points(it)
		if t := at(it); t.Before(lo) {
			lo = t
		} else if t.After(hi) {
			hi = t
		}
	}
	err := flush(len(items))
	s.buf = b
	return err
}

// Run delivers spooled batches in order until ctx is cancelled. Undelivered
// batches stay in the spool for the next run.
func (s *Sink) Run(ctx context.Context) error {
	if s.spool == nil {
		return errors.New("influx: opened for queries only (no spool dir)")
	}
	backoff := s.cfg.RetryMin
	var failingSince time.Time
	for {
		rec, err := s.spool.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("influx sender: %w", err)
		}
		began := time.Now()
		// The payload is this call's own (the spool reads each record into
		// a new slice) and nothing modifies it, so it is lent as a string
		// rather than copied: at 2,000 vehicles and interval 0 that copy
		// was a tenth of the station's allocation.
		err = s.write.WriteRecord(ctx, unsafe.String(unsafe.SliceData(rec.Payload), len(rec.Payload)))
		took := time.Since(began)
		if ctx.Err() != nil {
			return nil // shutting down: the batch stays spooled
		}
		var herr *http2.Error
		rejected := err != nil && errors.As(err, &herr) && (herr.StatusCode == http.StatusBadRequest || herr.StatusCode == http.StatusRequestEntityTooLarge)
		if err != nil && !rejected {
			s.mu.Lock()
			s.stats.FailedAttempts++
			s.stats.Connected = false
			s.stats.LastError = err.Error()
			now := time.Now().UTC()
			s.stats.LastErrorAt = &now
			s.mu.Unlock()
			if failingSince.IsZero() {
				failingSince = time.Now()
				s.log.Warn("InfluxDB write failed; telemetry stays in the disk spool and is retried",
					"url", s.cfg.URL, "bucket", s.cfg.Bucket, "err", err)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, s.cfg.RetryMax)
			continue
		}
		if rejected {
			s.log.Error("InfluxDB rejected a telemetry batch as malformed; dropping it",
				"points", rec.Points, "from", rec.MinTime, "to", rec.MaxTime, "err", err)
		}
		if !failingSince.IsZero() {
			s.log.Info("InfluxDB reachable again; delivering the spool", "outage", time.Since(failingSince).Round(time.Millisecond),
				"pending_points", s.spool.Stats().PendingPoints)
			failingSince = time.Time{}
		}
		backoff = s.cfg.RetryMin
		if err := s.spool.Ack(rec); err != nil {
			s.log.Warn("telemetry spool: cannot save the delivery position (a restart may re-send one batch, harmlessly)", "err", err)
		}
		s.mu.Lock()
		if rejected {
			s.stats.RejectedPoints += uint64(rec.Points)
		} else {
			s.stats.SentBatches++
			s.stats.SentPoints += uint64(rec.Points)
			s.stats.WriteSeconds += took.Seconds()
			s.stats.Connected = true
		}
		s.mu.Unlock()
	}
}

// Stats returns the sink's counters and spool state.
func (s *Sink) Stats() Stats {
	s.mu.Lock()
	st := s.stats
	s.mu.Unlock()
	if s.spool != nil {
		st.Spool = s.spool.Stats()
	}
	return st
}

// Close closes the spool and the client. Call after Run returned.
func (s *Sink) Close() error {
	s.client.Close()
	if s.spool == nil {
		return nil
	}
	if err := s.spool.Close(); err != nil {
		return fmt.Errorf("close influx sink: %w", err)
	}
	return nil
}

// fluxString quotes s as a Flux string literal.
func fluxString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`, "${", `\${`)
	return `"` + r.Replace(s) + `"`
}

func fluxTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// Samples implements telemetry.Source with one Flux query; each
// measurement's row is merged into the sample with the same timestamp.
func (s *Sink) Samples(ctx context.Context, vehicle string, from, to time.Time) ([]telemetry.Sample, error) {
	q := fmt.Sprintf(`from(bucket: %s)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r.vehicle == %s)
  |> filter(fn: (r) => `+schemaFilter+`)
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")`,
		fluxString(s.cfg.Bucket), fluxTime(from), fluxTime(to), fluxString(vehicle))
	byKey, err := s.run(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("query samples of %s: %w", vehicle, err)
	}
	out := make([]telemetry.Sample, 0, len(byKey))
	for _, sm := range byKey {
		out = append(out, *sm)
	}
	slices.SortFunc(out, func(a, b telemetry.Sample) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// Latest implements telemetry.Source: the newest sample of every vehicle
// heard within LatestWindow.
func (s *Sink) Latest(ctx context.Context) ([]telemetry.Sample, error) {
	q := fmt.Sprintf(`from(bucket: %s)
  |> range(start: -%ds)
  |> filter(fn: (r) => `+schemaFilter+`)
  |> last()
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")`,
		fluxString(s.cfg.Bucket), int64(s.cfg.LatestWindow/time.Second))
	byKey, err := s.run(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("query latest samples: %w", err)
	}
	latest := map[string]*telemetry.Sample{}
	for _, sm := range byKey {
		if cur, ok := latest[sm.Vehicle]; !ok || sm.Time.After(cur.Time) {
			latest[sm.Vehicle] = sm
		}
	}
	out := make([]telemetry.Sample, 0, len(latest))
	for _, sm := range latest {
		out = append(out, *sm)
	}
	slices.SortFunc(out, func(a, b telemetry.Sample) int { return strings.Compare(a.Vehicle, b.Vehicle) })
	return out, nil
}

// schemaFilter keeps the schema's measurements: a sample is merged from
// them, never from the message points of telemetry interval 0.
const schemaFilter = `r._measurement == "position" or r._measurement == "attitude" or r._measurement == "power" or r._measurement == "status" or r._measurement == "link"`

var measParts = map[string]telemetry.Parts{
	telemetry.MeasPosition: telemetry.PartPosition, telemetry.MeasAttitude: telemetry.PartAttitude,
	telemetry.MeasPower: telemetry.PartPower, telemetry.MeasStatus: telemetry.PartStatus, telemetry.MeasLink: telemetry.PartLink,
}

type sampleKey struct {
	vehicle string
	t       int64
}

// run executes a pivoted query and merges rows into samples keyed by
// (vehicle, time).
func (s *Sink) run(ctx context.Context, q string) (map[sampleKey]*telemetry.Sample, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	res, err := s.query.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	out := map[sampleKey]*telemetry.Sample{}
	for res.Next() {
		v := res.Record().Values()
		t, _ := v["_time"].(time.Time)
		veh, _ := v["vehicle"].(string)
		k := sampleKey{veh, t.UnixNano()}
		sm := out[k]
		if sm == nil {
			sm = &telemetry.Sample{Time: t.UTC(), Vehicle: veh}
			out[k] = sm
		}
		fill(sm, v)
		if m, ok := v["_measurement"].(string); ok {
			sm.Parts |= measParts[m]
		}
	}
	if err := res.Err(); err != nil {
		return nil, err
	}
	for _, sm := range out {
		if sm.Parts == telemetry.AllParts {
			sm.Parts = 0 // a whole sample, as written
		}
	}
	return out, nil
}

func fill(sm *telemetry.Sample, v map[string]any) {
	str := func(k string, dst *string) {
		if x, ok := v[k].(string); ok {
			*dst = x
		}
	}
	f := func(k string, dst *float64) {
		if x, ok := v[k].(float64); ok {
			*dst = x
		}
	}
	i := func(k string, dst *int64) {
		if x, ok := v[k].(int64); ok {
			*dst = x
		}
	}
	str("link", &sm.Link)
	str("type", &sm.Type)
	str("mission", &sm.Mission)
	str("event_area", &sm.EventArea)
	if x, ok := v["system_id"].(string); ok {
		if n, err := strconv.ParseUint(x, 10, 8); err == nil {
			sm.SystemID = uint8(n)
		}
	}
	switch v["_measurement"] {
	case telemetry.MeasPosition:
		f("lat", &sm.Lat)
		f("lon", &sm.Lon)
		f("alt_msl", &sm.AltMSL)
		f("relative_alt", &sm.RelativeAlt)
		f("heading", &sm.Heading)
		f("ground_speed", &sm.GroundSpeed)
		f("air_speed", &sm.AirSpeed)
		f("climb", &sm.Climb)
	case telemetry.MeasAttitude:
		f("roll", &sm.Roll)
		f("pitch", &sm.Pitch)
		f("yaw", &sm.Yaw)
	case telemetry.MeasPower:
		f("battery_pct", &sm.BatteryPct)
		f("voltage", &sm.Voltage)
		f("current", &sm.Current)
	case telemetry.MeasStatus:
		str("mode", &sm.Mode)
		if x, ok := v["armed"].(bool); ok {
			sm.Armed = x
		}
		i("gps_fix", &sm.GPSFix)
		i("satellites", &sm.Satellites)
	case telemetry.MeasLink:
		f("loss_pct", &sm.LossPct)
		f("rate_hz", &sm.RateHz)
	}
}

// Count returns how many points of one measurement are stored between from
// and to (a Flux count), for tests and the status API.
func (s *Sink) Count(ctx context.Context, measurement string, from, to time.Time) (int64, error) {
	q := fmt.Sprintf(`from(bucket: %s)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == %s and r._field == "%s")
  |> group()
  |> count()`, fluxString(s.cfg.Bucket), fluxTime(from), fluxTime(to), fluxString(measurement), firstField[measurement])
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	res, err := s.query.Query(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("count %s points: %w", measurement, err)
	}
	defer res.Close()
	var n int64
	for res.Next() {
		if x, ok := res.Record().Value().(int64); ok {
			n += x
		}
	}
	if err := res.Err(); err != nil {
		return 0, fmt.Errorf("count %s points: %w", measurement, err)
	}
	return n, nil
}

var firstField = map[string]string{
	telemetry.MeasPosition: "lat", telemetry.MeasAttitude: "roll", telemetry.MeasPower: "battery_pct",
	telemetry.MeasStatus: "armed", telemetry.MeasLink: "loss_pct",
}
