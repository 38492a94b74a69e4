// Package sqlitestore is the embedded telemetry store used when no InfluxDB
// is configured: an operator's laptop in the field keeps every sample in
// one SQLite file under data-dir, with a retention limit, and gets the same
// history answers as from InfluxDB.
//
// Why SQLite (modernc.org/sqlite): it is pure Go (no cgo, so `go build`
// is all a field laptop needs), crash-safe with its write-ahead log, one
// file an investigator can copy as evidence and open with any SQLite tool,
// and its clustered primary keys make a track query one range scan. bbolt
// is as fast for puts but would need hand-made indexes and encoding for
// every query.
//
// Layout (schema.go): InfluxDB's, in tables. A `series` table holds the
// tag sets; each of the schema's measurements (position, attitude, power,
// status, link) is a table of its own with one narrow row per point, keyed
// by (series, time); message points of telemetry interval 0 are rows of
// `messages`. A sample of the interval policy is one row in each of the
// five tables; at interval 0 each message is one row in one table, so
// 2,000 vehicles × 18 messages/s is 36,000 narrow rows/s.
//
// Writes: samples and points are copied into a pending batch; while Run is
// active its writer commits everything pending in one transaction every
// CommitEvery (or sooner past CommitRows), on a connection of its own with
// prepared statements. Readers commit what is pending before they read,
// so a caller always reads its own writes.
//
// Retention: rows older than MaxAge are deleted, and when the database
// grows past MaxBytes the oldest rows go first; both run at Open and every
// PruneEvery.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// Write batching defaults: a commit every 2 s holds 72,000 rows at
// 2,000 vehicles and interval 0; a pending batch is bounded at about 8 s
// of that load (some 100 MB) before callers wait.
const (
	DefaultCommitEvery = 2 * time.Second
	DefaultCommitRows  = 100_000
	DefaultMaxPending  = 300_000
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
	// CommitEvery is how often Run's writer commits what is pending;
	// CommitRows commits sooner; MaxPending bounds the pending rows, past
	// which writers wait (defaults above). One transaction for everything
	// pending, not one per caller, writes each vehicle's newest page once
	// for many rows; with rows in key order, commits of 38,000, 76,000 and
	// 100,000 rows measured the same (~173,000 rows per CPU-second) and
	// 380,000 no better, so the default keeps the loss at a crash small.
	CommitEvery time.Duration
	CommitRows  int
	MaxPending  int
	Log         *slog.Logger
	// Now is the clock retention uses (tests); default time.Now.
	Now func() time.Time
}

// Stats describes the store for the status API.
type Stats struct {
	Path string `json:"path"`
	// Samples is how many rows the store holds: one per measurement point
	// (a sample of the interval policy is five) and one per message point.
	Samples       int64  `json:"samples"`
	Bytes         int64  `json:"bytes"`
	PrunedSamples uint64 `json:"pruned_samples"` // rows deleted by retention
	MaxAgeS       int64  `json:"max_age_s"`
	MaxBytes      int64  `json:"max_bytes"`
	writeStats
	// PendingRows wait for the next commit.
	PendingRows int `json:"pending_rows"`
}

// writeStats count what the writer did.
type writeStats struct {
	Rows uint64 `json:"rows_written"`
	// Duplicates are rows not stored because a row of the same series,
	// measurement and time was (a replayed sample).
	Duplicates uint64 `json:"duplicate_rows"`
	// WriteErrors are failed commits; DroppedRows the rows lost with them.
	WriteErrors   uint64  `json:"write_errors"`
	DroppedRows   uint64  `json:"dropped_rows"`
	Commits       uint64  `json:"commits"`
	CommitSeconds float64 `json:"commit_seconds"`
}

// Store is the embedded store; safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	pend     *batch
	swapped  chan struct{} // closed when pend is taken by a commit
	running  bool          // Run's writer commits pend
	stats    writeStats
	pruned   uint64
	counted  bool // rowCount is known (counted once, on the first Stats)
	rowCount int64
	wake     chan struct{}

	// wmu owns the writer connection and what lives with it; held for a
	// whole commit or retention pass.
	wmu        sync.Mutex
	spare      *batch
	wc         *sql.Conn
	ins        []*sql.Stmt // per tables entry, then messages
	insSeries  *sql.Stmt
	selSeries  *sql.Stmt
	series     map[seriesKey]int64
	lastErrLog time.Time
}

// Open opens or creates the store at path (e.g. data-dir/telemetry.db).
// A store of the first layout (one wide samples row per sample) is
// migrated in place, batch by batch, each batch moved and deleted in one
// transaction, so an interrupted migration resumes at the next Open and
// no row is lost or doubled. A store written by a newer burgut is refused.
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
	if opts.CommitEvery <= 0 {
		opts.CommitEvery = DefaultCommitEvery
	}
	if opts.CommitRows <= 0 {
		opts.CommitRows = DefaultCommitRows
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
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
	s := &Store{db: db, path: path, opts: opts, log: opts.Log, pend: &batch{}, spare: &batch{},
		swapped: make(chan struct{}), wake: make(chan struct{}, 1), series: map[seriesKey]int64{}}
	if err := s.init(context.Background()); err != nil {
		s.wmu.Lock()
		_ = s.closeWriter()
		s.wmu.Unlock()
		db.Close()
		return nil, fmt.Errorf("open telemetry store %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) init(ctx context.Context) error {
	var version int
	if err := s.db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return err
	}
	if version > schemaVersion {
		return fmt.Errorf("its layout is version %d, written by a newer burgut (this one reads version %d): "+
			"run that burgut, or point --data-dir elsewhere; the file is left untouched", version, schemaVersion)
	}
	if _, err := s.db.ExecContext(ctx, schemaDDL()); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	for _, name := range allTables() {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_table_info(?) WHERE name IN ('series', 't')`, name).Scan(&n); err != nil {
			return err
		}
		if n != 2 {
			return fmt.Errorf("table %s has no series and t columns: not a burgut telemetry store", name)
		}
	}
	if err := s.migrateV1(ctx); err != nil {
		return fmt.Errorf("migrate to layout %d: %w", schemaVersion, err)
	}
	if _, err := s.db.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, schemaVersion)); err != nil {
		return err
	}
	return s.Prune(ctx)
}

// Close commits what is pending and closes the database.
func (s *Store) Close() error {
	ferr := s.flush()
	s.wmu.Lock()
	werr := s.closeWriter()
	s.wmu.Unlock()
	if err := errors.Join(ferr, werr, s.db.Close()); err != nil {
		return fmt.Errorf("close telemetry store: %w", err)
	}
	return nil
}

// Run is the store's writer until ctx is cancelled: it commits what is
// pending every CommitEvery (or when CommitRows wait) and applies
// retention every PruneEvery. On return it commits what is left; later
// writes are synchronous again.
func (s *Store) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("telemetry store: Run is already running")
	}
	s.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
		_ = s.flush() // counted and logged by flush
	}()
	commit := time.NewTicker(s.opts.CommitEvery)
	defer commit.Stop()
	prune := time.NewTicker(s.opts.PruneEvery)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-commit.C:
			_ = s.flush()
		case <-s.wake:
			_ = s.flush()
		case <-prune.C:
			if err := s.Prune(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("telemetry store retention failed", "err", err)
			}
		}
	}
}

// syncReads commits what is pending, so a reader sees its own writes.
func (s *Store) syncReads() {
	s.mu.Lock()
	n := s.pend.rows
	s.mu.Unlock()
	if n > 0 {
		_ = s.flush() // a failure is counted and logged; the read goes on
	}
}

// vehicleSeries returns the series of a vehicle by ID.
func (s *Store) vehicleSeries(ctx context.Context, vehicle string) (map[int64]seriesKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, link, system_id, type, mission, event_area FROM series WHERE vehicle = ?`, vehicle)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]seriesKey{}
	for rows.Next() {
		var id int64
		var sys int
		k := seriesKey{vehicle: vehicle}
		if err := rows.Scan(&id, &k.link, &sys, &k.typ, &k.mission, &k.area); err != nil {
			return nil, err
		}
		k.sysID = uint8(sys)
		out[id] = k
	}
	return out, rows.Err()
}

func (k seriesKey) tagSample(sm *telemetry.Sample) {
	sm.Vehicle, sm.Link, sm.SystemID, sm.Type, sm.Mission, sm.EventArea = k.vehicle, k.link, k.sysID, k.typ, k.mission, k.area
}

// Samples implements telemetry.Source: the points of the five tables
// merged by time into samples, as InfluxDB's pivot merges them. A sample
// standing for some measurements only (interval 0) has those Parts.
func (s *Store) Samples(ctx context.Context, vehicle string, from, to time.Time) ([]telemetry.Sample, error) {
	s.syncReads()
	ser, err := s.vehicleSeries(ctx, vehicle)
	if err != nil {
		return nil, fmt.Errorf("query samples of %s: %w", vehicle, err)
	}
	out := []telemetry.Sample{}
	if len(ser) == 0 {
		return out, nil
	}
	ids := make([]any, 0, len(ser)+2)
	for id := range ser {
		ids = append(ids, id)
	}
	in := strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")
	ids = append(ids, from.UnixNano(), to.UnixNano())
	at := map[int64]int{} // time → index in out
	for ti := range tables {
		tb := &tables[ti]
		err := func() error {
			rows, err := s.db.QueryContext(ctx, `SELECT series, t, `+selectCols(tb, "")+` FROM `+tb.name+
				` WHERE series IN (`+in+`) AND t >= ? AND t < ?`, ids...)
			if err != nil {
				return err
			}
			defer rows.Close()
			var tmp telemetry.Sample
			dest := append([]any{new(int64), new(int64)}, tb.dest(&tmp)...)
			for rows.Next() {
				if err := rows.Scan(dest...); err != nil {
					return err
				}
				sid, t := *dest[0].(*int64), *dest[1].(*int64)
				i, ok := at[t]
				if !ok {
					i = len(out)
					at[t] = i
					out = append(out, telemetry.Sample{Time: time.Unix(0, t).UTC()})
				}
				sm := &out[i]
				ser[sid].tagSample(sm)
				tb.merge(sm, &tmp)
				sm.Parts |= tb.part
			}
			return rows.Err()
		}()
		if err != nil {
			return nil, fmt.Errorf("query %s of %s: %w", tb.name, vehicle, err)
		}
	}
	for i := range out {
		if out[i].Parts == telemetry.AllParts {
			out[i].Parts = 0 // a whole sample, as written
		}
	}
	slices.SortFunc(out, func(a, b telemetry.Sample) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// Latest implements telemetry.Source: per vehicle, the newest point of
// each measurement merged into one sample at the newest of their times
// (with interval 0 the state known then; with the interval policy simply
// the newest sample).
func (s *Store) Latest(ctx context.Context) ([]telemetry.Sample, error) {
	s.syncReads()
	type newest struct {
		t   int64
		sid int64
		s   telemetry.Sample
	}
	per := map[string]*[telemetry.PointsPerSample]*newest{}
	keys := map[int64]seriesKey{}
	rows, err := s.db.QueryContext(ctx, `SELECT id, vehicle, link, system_id, type, mission, event_area FROM series`)
	if err != nil {
		return nil, fmt.Errorf("query latest samples: %w", err)
	}
	for rows.Next() {
		var id int64
		var sys int
		var k seriesKey
		if err := rows.Scan(&id, &k.vehicle, &k.link, &sys, &k.typ, &k.mission, &k.area); err != nil {
			rows.Close()
			return nil, fmt.Errorf("query latest samples: %w", err)
		}
		k.sysID = uint8(sys)
		keys[id] = k
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query latest samples: %w", err)
	}
	for ti := range tables {
		tb := &tables[ti]
		err := func() error {
			rows, err := s.db.QueryContext(ctx, latestSQL(tb))
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				n := &newest{}
				if err := rows.Scan(append([]any{&n.sid, &n.t}, tb.dest(&n.s)...)...); err != nil {
					return err
				}
				k, ok := keys[n.sid]
				if !ok {
					continue // a series added after the list was read
				}
				arr := per[k.vehicle]
				if arr == nil {
					arr = &[telemetry.PointsPerSample]*newest{}
					per[k.vehicle] = arr
				}
				if cur := arr[ti]; cur == nil || n.t > cur.t {
					arr[ti] = n
				}
			}
			return rows.Err()
		}()
		if err != nil {
			return nil, fmt.Errorf("query latest %s: %w", tb.name, err)
		}
	}
	out := make([]telemetry.Sample, 0, len(per))
	for _, arr := range per {
		var sm telemetry.Sample
		var tmax int64
		first := true
		for ti, n := range arr {
			if n == nil {
				continue
			}
			tables[ti].merge(&sm, &n.s)
			sm.Parts |= tables[ti].part
			if first || n.t > tmax {
				tmax, first = n.t, false
				keys[n.sid].tagSample(&sm)
			}
		}
		sm.Time = time.Unix(0, tmax).UTC()
		if sm.Parts == telemetry.AllParts {
			sm.Parts = 0
		}
		out = append(out, sm)
	}
	slices.SortFunc(out, func(a, b telemetry.Sample) int { return strings.Compare(a.Vehicle, b.Vehicle) })
	return out, nil
}

// latestSQL selects the newest row of every series in tb: the series
// table drives (CROSS JOIN fixes the order) and each series costs two
// seeks (MAX(t) of a series is the last entry of its key range), never a
// scan of tb.
func latestSQL(tb *table) string {
	return `SELECT m.series, m.t, ` + selectCols(tb, "m.") + ` FROM series s CROSS JOIN ` + tb.name +
		` m ON m.series = s.id AND m.t = (SELECT MAX(t) FROM ` + tb.name + ` WHERE series = s.id)`
}

// CountPoints counts the message points of one measurement (all vehicles)
// with from <= time < to.
func (s *Store) CountPoints(ctx context.Context, measurement string, from, to time.Time) (int64, error) {
	s.syncReads()
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages WHERE t >= ? AND t < ? AND measurement = ?`,
		from.UnixNano(), to.UnixNano(), measurement).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s points: %w", measurement, err)
	}
	return n, nil
}

// CountSamples counts the points stored for the schema's measurements in
// part (all vehicles) with from <= time < to: with one part, the rows of
// its table.
func (s *Store) CountSamples(ctx context.Context, part telemetry.Parts, from, to time.Time) (int64, error) {
	s.syncReads()
	var total int64
	for _, tb := range tables {
		if part&tb.part == 0 {
			continue
		}
		var n int64
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+tb.name+` WHERE t >= ? AND t < ?`,
			from.UnixNano(), to.UnixNano()).Scan(&n); err != nil {
			return 0, fmt.Errorf("count %s points: %w", tb.name, err)
		}
		total += n
	}
	return total, nil
}

// countRows counts every data table (under wmu).
func (s *Store) countRows(ctx context.Context) (int64, error) {
	var total int64
	for _, name := range allTables() {
		var n int64
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+name).Scan(&n); err != nil {
			return 0, fmt.Errorf("count %s rows: %w", name, err)
		}
		total += n
	}
	return total, nil
}

// Prune applies retention now: by age, then by size.
func (s *Store) Prune(ctx context.Context) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.ensureWriter(ctx); err != nil {
		return err
	}
	var n int64
	del := func(cond string, arg int64) error {
		for _, name := range allTables() {
			res, err := s.wc.ExecContext(ctx, `DELETE FROM `+name+` WHERE t `+cond+` ?`, arg)
			if err != nil {
				return err
			}
			a, _ := res.RowsAffected()
			n += a
		}
		return nil
	}
	if s.opts.MaxAge > 0 {
		if err := del("<", s.opts.Now().Add(-s.opts.MaxAge).UnixNano()); err != nil {
			return fmt.Errorf("telemetry store retention by age: %w", err)
		}
	}
	if s.opts.MaxBytes > 0 {
		var arms []string
		for _, name := range allTables() {
			arms = append(arms, `SELECT t FROM `+name)
		}
		oldest := strings.Join(arms, ` UNION ALL `) + ` ORDER BY t LIMIT 1 OFFSET ?`
		for i := 0; i < 20; i++ {
			size, err := s.usedBytes(ctx)
			if err != nil {
				return err
			}
			if size <= s.opts.MaxBytes {
				break
			}
			rows, err := s.countRows(ctx)
			if err != nil {
				return fmt.Errorf("telemetry store retention by size: %w", err)
			}
			if rows == 0 {
				break
			}
			// Delete the oldest share that brings the size under the cap, plus 5 %.
			drop := max(rows*(size-s.opts.MaxBytes)/size+rows/20, 1)
			var cut int64
			if err := s.wc.QueryRowContext(ctx, oldest, min(drop, rows)-1).Scan(&cut); err != nil {
				return fmt.Errorf("telemetry store retention by size: %w", err)
			}
			if err := del("<=", cut); err != nil {
				return fmt.Errorf("telemetry store retention by size: %w", err)
			}
		}
	}
	if n > 0 {
		s.mu.Lock()
		s.pruned += uint64(n)
		if s.counted {
			s.rowCount -= n
		}
		s.mu.Unlock()
		s.log.Info("telemetry store retention deleted old rows", "rows", n, "max_age", s.opts.MaxAge, "max_bytes", s.opts.MaxBytes)
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

// Stats returns the store's size and counters. The row count is taken
// once (a scan) and kept up to date by the writer and retention after.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Path: s.path, MaxAgeS: int64(s.opts.MaxAge / time.Second), MaxBytes: s.opts.MaxBytes}
	s.mu.Lock()
	counted := s.counted
	s.mu.Unlock()
	if !counted {
		s.wmu.Lock()
		n, err := s.countRows(ctx)
		if err == nil {
			s.mu.Lock()
			s.rowCount, s.counted = n, true
			s.mu.Unlock()
		}
		s.wmu.Unlock()
		if err != nil {
			return st, fmt.Errorf("telemetry store stats: %w", err)
		}
	}
	b, err := s.usedBytes(ctx)
	if err != nil {
		return st, err
	}
	st.Bytes = b
	s.mu.Lock()
	st.Samples = s.rowCount
	st.PrunedSamples = s.pruned
	st.writeStats = s.stats
	st.PendingRows = s.pend.rows
	s.mu.Unlock()
	return st, nil
}
