// Package sqlitestore is the embedded telemetry store used when no InfluxDB
// is configured: an operator's laptop in the field keeps every sample in
// one SQLite file under data-dir, with a retention limit, and gets the same
// history answers as from InfluxDB.
//
// Why SQLite (modernc.org/sqlite): it is pure Go (no cgo, so `go build`
// is all a field laptop needs), crash-safe with its write-ahead log, one
// file an investigator can copy as evidence and open with any SQLite tool,
// and its (vehicle, time) primary key makes a track query one range scan.
// bbolt is as fast for puts but would need hand-made indexes and encoding
// for every query.
//
// One row per sample (a WITHOUT ROWID table keyed by vehicle and time, so a
// re-written sample replaces itself instead of doubling). Retention: rows
// older than MaxAge are deleted, and when the database grows past MaxBytes
// the oldest rows go first; both run at Open and every PruneEvery.
package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/burgut-uav/burgut/telemetry"
)

// Retention defaults for zero Options fields (burgut's store-retention and
// store-max-mb flags start from them).
const (
	DefaultMaxAge   = 30 * 24 * time.Hour
	DefaultMaxBytes = 2 << 30
)

// Options bound the store.
type Options struct {
	// MaxAge deletes samples older than this (default 30 days; negative = keep forever).
	MaxAge time.Duration
	// MaxBytes caps the database size; the oldest samples are deleted
	// beyond it (default 2 GiB; negative = no cap).
	MaxBytes int64
	// PruneEvery is how often retention runs while Run is active (default 10 min).
	PruneEvery time.Duration
	Log        *slog.Logger
	// Now is the clock retention uses (tests); default time.Now.
	Now func() time.Time
}

// Stats describes the store for the status API.
type Stats struct {
	Path          string `json:"path"`
	Samples       int64  `json:"samples"`
	Bytes         int64  `json:"bytes"`
	PrunedSamples uint64 `json:"pruned_samples"`
	MaxAgeS       int64  `json:"max_age_s"`
	MaxBytes      int64  `json:"max_bytes"`
}

// Store is the embedded store; safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	pruned uint64
}

const schema = `
CREATE TABLE IF NOT EXISTS samples (
  vehicle TEXT NOT NULL, t INTEGER NOT NULL,
  link TEXT NOT NULL, system_id INTEGER NOT NULL, type TEXT NOT NULL, mission TEXT NOT NULL, event_area TEXT NOT NULL,
  lat REAL NOT NULL, lon REAL NOT NULL, alt_msl REAL NOT NULL, relative_alt REAL NOT NULL, heading REAL NOT NULL,
  ground_speed REAL NOT NULL, air_speed REAL NOT NULL, climb REAL NOT NULL,
  roll REAL NOT NULL, pitch REAL NOT NULL, yaw REAL NOT NULL,
  battery_pct REAL NOT NULL, voltage REAL NOT NULL, current REAL NOT NULL,
  mode TEXT NOT NULL, armed INTEGER NOT NULL, gps_fix INTEGER NOT NULL, satellites INTEGER NOT NULL,
  loss_pct REAL NOT NULL, rate_hz REAL NOT NULL,
  parts INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (vehicle, t)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS samples_by_time ON samples (t);
CREATE TABLE IF NOT EXISTS points (
  vehicle TEXT NOT NULL, t INTEGER NOT NULL, measurement TEXT NOT NULL,
  link TEXT NOT NULL, system_id INTEGER NOT NULL, type TEXT NOT NULL, mission TEXT NOT NULL, event_area TEXT NOT NULL,
  fields TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS points_by_vehicle ON points (vehicle, measurement, t);
CREATE INDEX IF NOT EXISTS points_by_time ON points (t);
`

// parts (which measurements a row stands for; 0 = all) came with
// telemetry interval 0; stores made before it get the column.
const addParts = `ALTER TABLE samples ADD COLUMN parts INTEGER NOT NULL DEFAULT 0`

const columns = `vehicle, t, link, system_id, type, mission, event_area, lat, lon, alt_msl, relative_alt, heading,
  ground_speed, air_speed, climb, roll, pitch, yaw, battery_pct, voltage, current, mode, armed, gps_fix, satellites, loss_pct, rate_hz, parts`

// Open opens or creates the store at path (e.g. data-dir/telemetry.db).
func Open(path string, opts Options) (*Store, error) {
	if opts.MaxAge == 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.PruneEvery <= 0 {
		opts.PruneEvery = 10 * time.Minute
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("open telemetry store %s: %w", path, err)
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open telemetry store %s: %w", path, err)
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open telemetry store %s: create schema: %w", path, err)
	}
	var hasParts int
	if err := db.QueryRow(`SELECT COUNT(*) FROM pragma_table_info('samples') WHERE name = 'parts'`).Scan(&hasParts); err != nil {
		db.Close()
		return nil, fmt.Errorf("open telemetry store %s: %w", path, err)
	}
	if hasParts == 0 {
		if _, err := db.Exec(addParts); err != nil {
			db.Close()
			return nil, fmt.Errorf("open telemetry store %s: add parts column: %w", path, err)
		}
	}
	s := &Store{db: db, path: path, opts: opts, log: opts.Log}
	if err := s.Prune(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close telemetry store: %w", err)
	}
	return nil
}

// Run applies retention every PruneEvery until ctx is cancelled.
func (s *Store) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.PruneEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := s.Prune(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("telemetry store retention failed", "err", err)
			}
		}
	}
}

// WriteSamples stores samples in one transaction. A sample with the same
// vehicle and time as a stored one replaces it.
func (s *Store) WriteSamples(ctx context.Context, ss []telemetry.Sample) error {
	if len(ss) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store %d samples: %w", len(ss), err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	st, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO samples (`+columns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return fmt.Errorf("store %d samples: %w", len(ss), err)
	}
	defer st.Close()
	for i := range ss {
		c := ss[i].Clean()
		if _, err := st.ExecContext(ctx, c.Vehicle, c.Time.UnixNano(), c.Link, int(c.SystemID), c.Type, c.Mission, c.EventArea,
			c.Lat, c.Lon, c.AltMSL, c.RelativeAlt, c.Heading, c.GroundSpeed, c.AirSpeed, c.Climb,
			c.Roll, c.Pitch, c.Yaw, c.BatteryPct, c.Voltage, c.Current,
			c.Mode, c.Armed, c.GPSFix, c.Satellites, c.LossPct, c.RateHz, int(c.Parts)); err != nil {
			return fmt.Errorf("store sample of %s at %v: %w", c.Vehicle, c.Time, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store %d samples: commit: %w", len(ss), err)
	}
	return nil
}

// WritePoints stores message points (telemetry interval 0) in one
// transaction, their fields as a JSON object.
func (s *Store) WritePoints(ctx context.Context, ps []telemetry.Point) error {
	if len(ps) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store %d points: %w", len(ps), err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	st, err := tx.PrepareContext(ctx, `INSERT INTO points (vehicle, t, measurement, link, system_id, type, mission, event_area, fields) VALUES (?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return fmt.Errorf("store %d points: %w", len(ps), err)
	}
	defer st.Close()
	var buf []byte
	for i := range ps {
		p := &ps[i]
		buf = appendFieldsJSON(buf[:0], p.Fields)
		if _, err := st.ExecContext(ctx, p.Tags.Vehicle, p.Time.UnixNano(), p.Measurement, p.Tags.Link, int(p.Tags.SystemID),
			p.Tags.Type, p.Tags.Mission, p.Tags.EventArea, string(buf)); err != nil {
			return fmt.Errorf("store point %s of %s at %v: %w", p.Measurement, p.Tags.Vehicle, p.Time, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store %d points: commit: %w", len(ps), err)
	}
	return nil
}

// appendFieldsJSON encodes fields as one JSON object (NaN/Inf as null).
func appendFieldsJSON(b []byte, fs []telemetry.Field) []byte {
	b = append(b, '{')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, f.Name)
		b = append(b, ':')
		switch f.Kind {
		case telemetry.FieldFloat:
			if math.IsNaN(f.Float) || math.IsInf(f.Float, 0) {
				b = append(b, "null"...)
			} else {
				b = strconv.AppendFloat(b, f.Float, 'g', -1, 64)
			}
		case telemetry.FieldInt:
			b = strconv.AppendInt(b, f.Int, 10)
		case telemetry.FieldString:
			js, _ := json.Marshal(f.Str)
			b = append(b, js...)
		}
	}
	return append(b, '}')
}

// CountPoints counts the message points of one measurement (all vehicles)
// with from <= time < to.
func (s *Store) CountPoints(ctx context.Context, measurement string, from, to time.Time) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM points WHERE measurement = ? AND t >= ? AND t < ?`,
		measurement, from.UnixNano(), to.UnixNano()).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s points: %w", measurement, err)
	}
	return n, nil
}

// CountSamples counts the rows standing for one of the schema's
// measurements (part), all vehicles, with from <= time < to.
func (s *Store) CountSamples(ctx context.Context, part telemetry.Parts, from, to time.Time) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM samples WHERE (parts = 0 OR parts & ? != 0) AND t >= ? AND t < ?`,
		int(part), from.UnixNano(), to.UnixNano()).Scan(&n); err != nil {
		return 0, fmt.Errorf("count samples: %w", err)
	}
	return n, nil
}

func scanSamples(rows *sql.Rows) ([]telemetry.Sample, error) {
	defer rows.Close()
	out := []telemetry.Sample{}
	for rows.Next() {
		var sm telemetry.Sample
		var t int64
		var sysid, parts int
		if err := rows.Scan(&sm.Vehicle, &t, &sm.Link, &sysid, &sm.Type, &sm.Mission, &sm.EventArea,
			&sm.Lat, &sm.Lon, &sm.AltMSL, &sm.RelativeAlt, &sm.Heading, &sm.GroundSpeed, &sm.AirSpeed, &sm.Climb,
			&sm.Roll, &sm.Pitch, &sm.Yaw, &sm.BatteryPct, &sm.Voltage, &sm.Current,
			&sm.Mode, &sm.Armed, &sm.GPSFix, &sm.Satellites, &sm.LossPct, &sm.RateHz, &parts); err != nil {
			return nil, err
		}
		sm.Time = time.Unix(0, t).UTC()
		sm.SystemID = uint8(sysid)
		sm.Parts = telemetry.Parts(parts)
		out = append(out, sm)
	}
	return out, rows.Err()
}

// Samples implements telemetry.Source.
func (s *Store) Samples(ctx context.Context, vehicle string, from, to time.Time) ([]telemetry.Sample, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM samples WHERE vehicle = ? AND t >= ? AND t < ? ORDER BY t`,
		vehicle, from.UnixNano(), to.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("query samples of %s: %w", vehicle, err)
	}
	ss, err := scanSamples(rows)
	if err != nil {
		return nil, fmt.Errorf("query samples of %s: %w", vehicle, err)
	}
	return ss, nil
}

// Latest implements telemetry.Source.
func (s *Store) Latest(ctx context.Context) ([]telemetry.Sample, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM samples
		WHERE (vehicle, t) IN (SELECT vehicle, MAX(t) FROM samples GROUP BY vehicle) ORDER BY vehicle`)
	if err != nil {
		return nil, fmt.Errorf("query latest samples: %w", err)
	}
	ss, err := scanSamples(rows)
	if err != nil {
		return nil, fmt.Errorf("query latest samples: %w", err)
	}
	return ss, nil
}

// Prune applies retention now: by age, then by size.
func (s *Store) Prune(ctx context.Context) error {
	var n int64
	if s.opts.MaxAge > 0 {
		res, err := s.db.ExecContext(ctx, `DELETE FROM samples WHERE t < ?`, s.opts.Now().Add(-s.opts.MaxAge).UnixNano())
		if err != nil {
			return fmt.Errorf("telemetry store retention by age: %w", err)
		}
		a, _ := res.RowsAffected()
		n += a
		res, err = s.db.ExecContext(ctx, `DELETE FROM points WHERE t < ?`, s.opts.Now().Add(-s.opts.MaxAge).UnixNano())
		if err != nil {
			return fmt.Errorf("telemetry store retention by age: %w", err)
		}
		a, _ = res.RowsAffected()
		n += a
	}
	if s.opts.MaxBytes > 0 {
		for i := 0; i < 20; i++ {
			size, err := s.usedBytes(ctx)
			if err != nil {
				return err
			}
			if size <= s.opts.MaxBytes {
				break
			}
			var rows int64
			if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM samples`).Scan(&rows); err != nil {
				return fmt.Errorf("telemetry store retention by size: %w", err)
			}
			if rows == 0 {
				break
			}
			// Delete the oldest share that brings the size under the cap, plus
			// 5 %; message points (interval 0) up to the same time go too.
			del := max(rows*(size-s.opts.MaxBytes)/size+rows/20, 1)
			var cut int64
			if err := s.db.QueryRowContext(ctx, `SELECT t FROM samples ORDER BY t LIMIT 1 OFFSET ?`, del-1).Scan(&cut); err != nil {
				return fmt.Errorf("telemetry store retention by size: %w", err)
			}
			for _, q := range []string{`DELETE FROM samples WHERE t <= ?`, `DELETE FROM points WHERE t <= ?`} {
				res, err := s.db.ExecContext(ctx, q, cut)
				if err != nil {
					return fmt.Errorf("telemetry store retention by size: %w", err)
				}
				a, _ := res.RowsAffected()
				n += a
			}
		}
	}
	if n > 0 {
		s.mu.Lock()
		s.pruned += uint64(n)
		s.mu.Unlock()
		s.log.Info("telemetry store retention deleted old samples", "samples", n, "max_age", s.opts.MaxAge, "max_bytes", s.opts.MaxBytes)
	}
	return nil
}

// usedBytes is the size of the pages in use (free pages are reused).
func (s *Store) usedBytes(ctx context.Context) (int64, error) {
	var pages, free, size int64
	err := errors.Join(
		s.db.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages),
		s.db.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free),
		s.db.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&size))
	if err != nil {
		return 0, fmt.Errorf("telemetry store size: %w", err)
	}
	return (pages - free) * size, nil
}

// Stats returns the store's size and retention counters.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Path: s.path, MaxAgeS: int64(s.opts.MaxAge / time.Second), MaxBytes: s.opts.MaxBytes}
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM samples`).Scan(&st.Samples); err != nil {
		return st, fmt.Errorf("telemetry store stats: %w", err)
	}
	b, err := s.usedBytes(ctx)
	if err != nil {
		return st, err
	}
	st.Bytes = b
	s.mu.Lock()
	st.PrunedSamples = s.pruned
	s.mu.Unlock()
	return st, nil
}
