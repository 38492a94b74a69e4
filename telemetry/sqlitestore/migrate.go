package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/burgut-uav/burgut/telemetry"
)

// migrateBatch is how many old rows one migration transaction moves.
const migrateBatch = 20_000

// migrateV1 moves the rows of the first layout (samples: one wide row per
// sample keyed by vehicle name and time, its parts column saying which
// measurements the row stands for; points: message points with their
// tags) into the current tables. Each batch is inserted and deleted from
// the old table in one transaction, so an interrupted migration loses and
// doubles nothing and resumes at the next Open; the old tables are dropped
// once empty.
func (s *Store) migrateV1(ctx context.Context) error {
	has := func(name string) (bool, error) {
		var n int
		err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&n)
		return n > 0, err
	}
	hasSamples, err := has("samples")
	if err != nil {
		return err
	}
	hasPoints, err := has("points")
	if err != nil {
		return err
	}
	if !hasSamples && !hasPoints {
		return nil
	}
	start := time.Now()
	var oldSamples, oldPoints int64
	if hasSamples {
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM samples`).Scan(&oldSamples); err != nil {
			return err
		}
	}
	if hasPoints {
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM points`).Scan(&oldPoints); err != nil {
			return err
		}
	}
	s.log.Warn("telemetry store: migrating to the per-measurement layout; the old rows are moved, not copied",
		"path", s.path, "samples", oldSamples, "message_points", oldPoints)
	var moved, inserted, dups int64
	lastLog := time.Now()
	progress := func() {
		if time.Since(lastLog) >= 10*time.Second {
			lastLog = time.Now()
			s.log.Warn("telemetry store: migrating", "moved", moved, "of", oldSamples+oldPoints)
		}
	}
	if hasSamples {
		var hasParts int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_table_info('samples') WHERE name = 'parts'`).Scan(&hasParts); err != nil {
			return err
		}
		parts := "0"
		if hasParts > 0 {
			parts = "parts"
		}
		q := `SELECT vehicle, t, link, system_id, type, mission, event_area, lat, lon, alt_msl, relative_alt, heading,
  ground_speed, air_speed, climb, roll, pitch, yaw, battery_pct, voltage, current, mode, armed, gps_fix, satellites,
  loss_pct, rate_hz, ` + parts + ` FROM samples ORDER BY vehicle, t LIMIT ?`
		for {
			b := &batch{}
			rows, err := s.db.QueryContext(ctx, q, migrateBatch)
			if err != nil {
				return err
			}
			var lastV string
			var lastT int64
			for rows.Next() {
				var sm telemetry.Sample
				var t int64
				var sys, p int
				if err := rows.Scan(&sm.Vehicle, &t, &sm.Link, &sys, &sm.Type, &sm.Mission, &sm.EventArea,
					&sm.Lat, &sm.Lon, &sm.AltMSL, &sm.RelativeAlt, &sm.Heading, &sm.GroundSpeed, &sm.AirSpeed, &sm.Climb,
					&sm.Roll, &sm.Pitch, &sm.Yaw, &sm.BatteryPct, &sm.Voltage, &sm.Current,
					&sm.Mode, &sm.Armed, &sm.GPSFix, &sm.Satellites, &sm.LossPct, &sm.RateHz, &p); err != nil {
					rows.Close()
					return err
				}
				sm.Time, sm.SystemID, sm.Parts = time.Unix(0, t).UTC(), uint8(sys), telemetry.Parts(p)&telemetry.AllParts
				b.samples = append(b.samples, sm)
				b.rows += sm.Points()
				lastV, lastT = sm.Vehicle, t
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if len(b.samples) == 0 {
				break
			}
			ins, dup, err := s.commitLocked(b, func(c *sql.Conn) error {
				_, err := c.ExecContext(ctx, `DELETE FROM samples WHERE (vehicle, t) <= (?, ?)`, lastV, lastT)
				return err
			})
			if err != nil {
				return fmt.Errorf("move samples: %w", err)
			}
			moved += int64(len(b.samples))
			inserted += int64(ins)
			dups += int64(dup)
			progress()
		}
	}
	if hasPoints {
		for {
			b := &batch{}
			rows, err := s.db.QueryContext(ctx, `SELECT rowid, vehicle, t, measurement, link, system_id, type, mission, event_area, fields
  FROM points ORDER BY rowid LIMIT ?`, migrateBatch)
			if err != nil {
				return err
			}
			var last int64
			for rows.Next() {
				var m pendingMsg
				var sys int
				var fields string
				if err := rows.Scan(&last, &m.key.vehicle, &m.t, &m.measurement, &m.key.link, &sys, &m.key.typ,
					&m.key.mission, &m.key.area, &fields); err != nil {
					rows.Close()
					return err
				}
				m.key.sysID = uint8(sys)
				m.off, m.n = len(b.fields), len(fields)
				b.fields = append(b.fields, fields...)
				b.msgs = append(b.msgs, m)
				b.rows++
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if len(b.msgs) == 0 {
				break
			}
			ins, dup, err := s.commitLocked(b, func(c *sql.Conn) error {
				_, err := c.ExecContext(ctx, `DELETE FROM points WHERE rowid <= ?`, last)
				return err
			})
			if err != nil {
				return fmt.Errorf("move message points: %w", err)
			}
			moved += int64(len(b.msgs))
			inserted += int64(ins)
			dups += int64(dup)
			progress()
		}
	}
	for _, q := range []string{`DROP TABLE IF EXISTS samples`, `DROP TABLE IF EXISTS points`} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	s.log.Warn("telemetry store migrated", "path", s.path, "old_rows", moved, "rows", inserted,
		"duplicate_rows_skipped", dups, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// commitLocked commits b with extra work in the same transaction.
func (s *Store) commitLocked(b *batch, extra func(c *sql.Conn) error) (int, int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.commit(b, extra)
}
