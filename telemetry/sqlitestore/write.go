package sqlitestore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/burgut-uav/burgut/internal/fastfloat"
	"github.com/burgut-uav/burgut/telemetry"
)

// seriesKey is a tag set: which vehicle a row belongs to and under which
// link, system ID, type, mission and event area it was heard.
type seriesKey struct {
	vehicle, link string
	sysID         uint8
	typ           string
	mission, area string
}

func keyOf(t telemetry.Tags) seriesKey {
	return seriesKey{t.Vehicle, t.Link, t.SystemID, t.Type, t.Mission, t.EventArea}
}

// pendingMsg is one message point waiting for the writer; its fields are
// JSON at fields[off:off+n] of the batch.
type pendingMsg struct {
	key         seriesKey
	t           int64
	measurement string
	off, n      int
}

// batch is what waits for the next commit: copies, so callers may reuse
// their slices as soon as WriteSamples returns.
type batch struct {
	samples []telemetry.Sample
	msgs    []pendingMsg
	fields  []byte
	rows    int // rows these become
	refs    []rowRef
}

// rowRef is one row of a batch: tbl indexes tables (len(tables) =
// messages), i the sample or message.
type rowRef struct {
	tbl    int32
	i      int32
	series int64
	t      int64
}

func (b *batch) reset() {
	b.samples, b.msgs, b.fields, b.rows = b.samples[:0], b.msgs[:0], b.fields[:0], 0
}

// rowsOf is how many rows a sample becomes: one per measurement it stands for.
func rowsOf(s *telemetry.Sample) int { return s.Points() }

// WriteSamples stores samples: one row per measurement each stands for
// (all five for a sample of the interval policy). A point with the same
// series and time as a stored one is not stored again (a replay does not
// double); such duplicates are counted in Stats.
//
// While Run is active the samples are copied into the pending batch and
// committed by Run's writer within CommitEvery (one transaction for
// everything pending, so a second of 2,000 vehicles at interval 0 is one
// commit, not one per caller); write errors are then counted and logged
// by the store (Stats.DroppedRows). If the batch already holds MaxPending
// rows the call waits for the writer (or ctx). Without Run, it writes
// synchronously and returns the error.
func (s *Store) WriteSamples(ctx context.Context, ss []telemetry.Sample) error {
	if len(ss) == 0 {
		return nil
	}
	n := 0
	for i := range ss {
		n += rowsOf(&ss[i])
	}
	return s.enqueue(ctx, n, func(b *batch) {
		for i := range ss {
			b.samples = append(b.samples, ss[i].Clean())
		}
	})
}

// WritePoints stores message points (telemetry interval 0), their fields
// as one JSON object per row, with the same batching as WriteSamples.
func (s *Store) WritePoints(ctx context.Context, ps []telemetry.Point) error {
	if len(ps) == 0 {
		return nil
	}
	return s.enqueue(ctx, len(ps), func(b *batch) {
		for i := range ps {
			p := &ps[i]
			off := len(b.fields)
			b.fields = appendFieldsJSON(b.fields, p.Fields)
			b.msgs = append(b.msgs, pendingMsg{key: keyOf(p.Tags), t: p.Time.UnixNano(), measurement: p.Measurement,
				off: off, n: len(b.fields) - off})
		}
	})
}

func (s *Store) enqueue(ctx context.Context, rows int, add func(b *batch)) error {
	s.mu.Lock()
	for s.running && s.pend.rows > 0 && s.pend.rows+rows > s.opts.MaxPending {
		// The writer is behind: wait for its next swap rather than grow
		// without bound (the recorder sheds, and counts, upstream).
		ch := s.swapped
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("store %d rows: the writer is %d rows behind: %w", rows, s.opts.MaxPending, ctx.Err())
		}
		s.mu.Lock()
	}
	add(s.pend)
	s.pend.rows += rows
	async, full := s.running, s.pend.rows >= s.opts.CommitRows
	s.mu.Unlock()
	if !async {
		return s.flush()
	}
	if full {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// flush commits everything pending now, in one transaction. Whoever
// calls it (the writer, a reader wanting its own writes, Close) holds
// wmu, so batches are committed in the order they were filled.
func (s *Store) flush() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	b := s.pend
	s.pend, s.spare = s.spare, nil
	close(s.swapped)
	s.swapped = make(chan struct{})
	s.mu.Unlock()
	defer func() {
		b.reset()
		s.spare = b
	}()
	if b.rows == 0 {
		return nil
	}
	start := time.Now()
	ins, dup, err := s.commit(b, nil)
	s.mu.Lock()
	s.stats.Commits++
	s.stats.CommitSeconds += time.Since(start).Seconds()
	if err != nil {
		s.stats.WriteErrors++
		s.stats.DroppedRows += uint64(b.rows)
	} else {
		s.stats.Rows += uint64(ins)
		s.stats.Duplicates += uint64(dup)
		if s.counted {
			s.rowCount += int64(ins)
		}
	}
	s.mu.Unlock()
	if err != nil {
		now := time.Now()
		if now.Sub(s.lastErrLog) >= 10*time.Second {
			s.lastErrLog = now
			s.log.Error("telemetry lost: embedded store write failed", "rows", b.rows, "err", err)
		}
		return err
	}
	return nil
}

// commit writes b in one transaction on the writer connection (under
// wmu), with extra's work if given. It returns the rows inserted and the
// duplicates skipped.
func (s *Store) commit(b *batch, extra func(c *sql.Conn) error) (inserted, dups int, err error) {
	ctx := context.Background() // a done channel would make the driver watch every statement
	if err := s.ensureWriter(ctx); err != nil {
		return 0, 0, err
	}
	if _, err := s.wc.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return 0, 0, fmt.Errorf("store %d rows: begin: %w", b.rows, err)
	}
	newSeries := map[seriesKey]int64{}
	done := false
	defer func() {
		if !done {
			_, _ = s.wc.ExecContext(ctx, "ROLLBACK")
		}
	}()
	args := make([]any, 0, 16)
	// Rows go in in key order (table, series, time): each leaf page is
	// filled by one run of inserts instead of being visited again for
	// every vehicle's next message.
	b.refs = b.refs[:0]
	for i := range b.samples {
		sm := &b.samples[i]
		id, err := s.seriesID(ctx, keyOf(sm.Tags()), newSeries)
		if err != nil {
			return 0, 0, err
		}
		t := sm.Time.UnixNano()
		for ti := range tables {
			if sm.Has(tables[ti].part) {
				b.refs = append(b.refs, rowRef{tbl: int32(ti), series: id, t: t, i: int32(i)})
			}
		}
	}
	for i := range b.msgs {
		m := &b.msgs[i]
		id, err := s.seriesID(ctx, m.key, newSeries)
		if err != nil {
			return 0, 0, err
		}
		b.refs = append(b.refs, rowRef{tbl: int32(len(tables)), series: id, t: m.t, i: int32(i)})
	}
	slices.SortFunc(b.refs, func(x, y rowRef) int {
		if c := cmp.Compare(x.tbl, y.tbl); c != 0 {
			return c
		}
		if c := cmp.Compare(x.series, y.series); c != 0 {
			return c
		}
		return cmp.Compare(x.t, y.t)
	})
	row := func(a []any, r rowRef) []any {
		if int(r.tbl) == len(tables) {
			m := &b.msgs[r.i]
			return append(a, r.series, m.measurement, m.t, string(b.fields[m.off:m.off+m.n]))
		}
		return tables[r.tbl].args(&b.samples[r.i], append(a, r.series, r.t))
	}
	// One statement per row: multi-row VALUES lists measured no faster
	// with this driver.
	for _, r := range b.refs {
		res, err := s.ins[r.tbl].ExecContext(ctx, row(args[:0], r)...)
		if err != nil {
			return 0, 0, fmt.Errorf("store a row of %s: %w", tableName(int(r.tbl)), err)
		}
		if c, _ := res.RowsAffected(); c > 0 {
			inserted++
		} else {
			dups++
		}
	}
	if extra != nil {
		if err := extra(s.wc); err != nil {
			return 0, 0, err
		}
	}
	if _, err := s.wc.ExecContext(ctx, "COMMIT"); err != nil {
		return 0, 0, fmt.Errorf("store %d rows: commit: %w", b.rows, err)
	}
	done = true
	for k, id := range newSeries {
		s.series[k] = id
	}
	return inserted, dups, nil
}

// seriesID returns the ID of a tag set, adding it in the current
// transaction if it is new (known only after the commit succeeds).
func (s *Store) seriesID(ctx context.Context, k seriesKey, added map[seriesKey]int64) (int64, error) {
	if id, ok := s.series[k]; ok {
		return id, nil
	}
	if id, ok := added[k]; ok {
		return id, nil
	}
	if _, err := s.insSeries.ExecContext(ctx, k.vehicle, k.link, int(k.sysID), k.typ, k.mission, k.area); err != nil {
		return 0, fmt.Errorf("store series of %s: %w", k.vehicle, err)
	}
	var id int64
	if err := s.selSeries.QueryRowContext(ctx, k.vehicle, k.link, int(k.sysID), k.typ, k.mission, k.area).Scan(&id); err != nil {
		return 0, fmt.Errorf("store series of %s: %w", k.vehicle, err)
	}
	added[k] = id
	return id, nil
}

// ensureWriter opens the writer connection and its statements once. Held
// under wmu. A dedicated connection keeps the prepared statements and a
// page cache large enough for every vehicle's newest pages.
func (s *Store) ensureWriter(ctx context.Context) error {
	if s.wc != nil {
		return nil
	}
	c, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("telemetry store writer: %w", err)
	}
	fail := func(err error) error {
		for _, st := range s.ins {
			if st != nil {
				st.Close()
			}
		}
		s.ins = nil
		c.Close()
		return fmt.Errorf("telemetry store writer: %w", err)
	}
	// 64 MiB of page cache holds the newest leaf page of every series in
	// every table for 2,000 vehicles; the WAL is checkpointed every 64 MiB
	// instead of every 4, so a page rewritten every second is copied into
	// the database once per checkpoint, not once per commit.
	for _, p := range []string{"PRAGMA cache_size = -65536", "PRAGMA wal_autocheckpoint = 16384", "PRAGMA journal_size_limit = 67108864"} {
		if _, err := c.ExecContext(ctx, p); err != nil {
			return fail(err)
		}
	}
	s.ins = make([]*sql.Stmt, len(tables)+1)
	for i := range s.ins {
		if s.ins[i], err = c.PrepareContext(ctx, insertSQL(i)); err != nil {
			return fail(err)
		}
	}
	if s.insSeries, err = c.PrepareContext(ctx, `INSERT INTO series (vehicle, link, system_id, type, mission, event_area)
		VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING`); err != nil {
		return fail(err)
	}
	if s.selSeries, err = c.PrepareContext(ctx, `SELECT id FROM series
		WHERE vehicle = ? AND link = ? AND system_id = ? AND type = ? AND mission = ? AND event_area = ?`); err != nil {
		return fail(err)
	}
	s.wc = c
	return nil
}

// closeWriter releases the writer connection (under wmu).
func (s *Store) closeWriter() error {
	if s.wc == nil {
		return nil
	}
	var errs []error
	for _, st := range append(s.ins, s.insSeries, s.selSeries) {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	errs = append(errs, s.wc.Close())
	s.wc, s.ins, s.insSeries, s.selSeries = nil, nil, nil, nil
	return errors.Join(errs...)
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
				b = fastfloat.AppendG(b, f.Float)
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
