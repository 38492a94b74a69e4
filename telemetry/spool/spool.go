// Package spool is a durable, size-bounded, first-in-first-out queue of
// byte batches on disk. The InfluxDB sink puts every line-protocol batch
// here before sending it, and deletes it only after InfluxDB acknowledged
// it, so a server outage or a Burgut restart loses nothing.
//
// Layout: numbered segment files (00000000000000000001.seg, …) of records
//
//	[u32 payload length][u32 points][i64 min time][i64 max time][u32 CRC-32C of payload][payload]
//
// (little endian) and a small "ack" file holding the position of the first
// record not yet delivered. Each Append is fsynced (Options.NoSync turns
// that off for benchmarks). A record torn by a crash fails its CRC and is
// cut off at Open.
//
// Delivery is at least once: the ack position is saved after each
// delivered record, so a crash between delivery and that save re-sends
// one record. The sink makes that harmless (identical points are
// deduplicated by InfluxDB).
//
// Full policy: when an Append would make the spool exceed MaxBytes, the
// oldest segment is deleted, whatever of it was not yet delivered is lost,
// counted in Stats (DroppedBatches, DroppedPoints) and logged with its
// time range. The newest data is kept because it is what operators look
// at first after an outage. A record that was being delivered when its
// segment was dropped, and is then acknowledged, moves from the dropped to
// the delivered count, so DroppedPoints is exactly what never arrived.
package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const headerSize = 28

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// DefaultMaxBytes is the spool's size cap when Options.MaxBytes is zero
// (burgut's influx-spool-mb flag starts from it).
const DefaultMaxBytes = 1 << 30

// Options bound the spool.
type Options struct {
	// MaxBytes caps the spool's size on disk (default 1 GiB).
	MaxBytes int64
	// SegmentBytes is the size at which a new segment file starts (default
	// MaxBytes/16, at most 64 MiB). It is also the unit of loss when full.
	SegmentBytes int64
	// NoSync skips the fsync after each Append (benchmarks only: a power
	// cut may then lose the last batches).
	NoSync bool
	Log    *slog.Logger
}

// Stats is the spool's state and what it has lost.
type Stats struct {
	Bytes           int64  `json:"bytes"`
	MaxBytes        int64  `json:"max_bytes"`
	Segments        int    `json:"segments"`
	PendingBatches  int64  `json:"pending_batches"`
	PendingPoints   int64  `json:"pending_points"`
	AppendedPoints  uint64 `json:"appended_points"`
	DeliveredPoints uint64 `json:"delivered_points"`
	DroppedBatches  uint64 `json:"dropped_batches"`
	DroppedPoints   uint64 `json:"dropped_points"`
}

// Record is one batch read back from the spool.
type Record struct {
	// Payload is the caller's: read into a new slice for each record
	// returned, and never touched by the spool again.
	Payload []byte
	Points  int
	MinTime time.Time
	MaxTime time.Time

	seg  uint64
	off  int64
	next int64
}

type segment struct {
	id   uint64
	size int64 // bytes of complete records
}

// Spool is safe for one appender and one reader (Next/Ack) at a time,
// concurrently with each other.
type Spool struct {
	dir  string
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	segs    []*segment // oldest first; the last is the active one
	active  *os.File
	curSeg  uint64 // read cursor: first undelivered record
	curOff  int64
	total   int64
	stats   Stats
	changed chan struct{} // closed and replaced on every append
	closed  bool
	rf      *os.File // reader's open segment
	rfID    uint64
	// lost is the record handed out by Next whose segment was dropped
	// before its Ack; if it is Acked after all, it was delivered, not lost.
	lost   *Record
	handed *Record // the record Next last returned, until Acked
	// wbuf is Append's record buffer, reused (under mu): at telemetry
	// interval 0 the InfluxDB sink appends megabytes a second.
	wbuf []byte
}

// maxKeptBuf bounds the record buffer a spool keeps between appends.
const maxKeptBuf = 8 << 20

// Open opens (or creates) the spool in dir. Undelivered records from an
// earlier run are delivered first.
func Open(dir string, opts Options) (*Spool, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = min(opts.MaxBytes/16, 64<<20)
	}
	if opts.SegmentBytes > opts.MaxBytes/4 {
		opts.SegmentBytes = max(opts.MaxBytes/4, 1)
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	s := &Spool{dir: dir, opts: opts, log: opts.Log, changed: make(chan struct{})}
	s.stats.MaxBytes = opts.MaxBytes
	names, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	for _, n := range names {
		id, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(n), ".seg"), 10, 64)
		if err != nil {
			continue // not ours
		}
		size, err := s.recover(id)
		if err != nil {
			return nil, err
		}
		s.segs = append(s.segs, &segment{id: id, size: size})
		s.total += size
	}
	slices.SortFunc(s.segs, func(a, b *segment) int { return cmpU64(a.id, b.id) })
	s.readAck()
	if !slices.ContainsFunc(s.segs, func(sg *segment) bool { return sg.id == s.curSeg }) {
		s.curSeg, s.curOff = 0, 0 // unknown position: deliver everything still here
		if len(s.segs) > 0 {
			s.curSeg = s.segs[0].id
		}
	}
	// Count what is still to deliver.
	for _, sg := range s.segs {
		off := int64(0)
		if sg.id < s.curSeg {
			continue
		}
		if sg.id == s.curSeg {
			off = s.curOff
		}
		b, p, _, _, err := s.scan(sg.id, off, sg.size)
		if err != nil {
			return nil, err
		}
		s.stats.PendingBatches += b
		s.stats.PendingPoints += p
	}
	var next uint64 = 1
	if len(s.segs) > 0 {
		next = s.segs[len(s.segs)-1].id + 1
	}
	if err := s.newSegment(next); err != nil {
		return nil, err
	}
	if s.curSeg < s.segs[0].id || s.curSeg == 0 {
		s.curSeg, s.curOff = s.segs[0].id, 0
	}
	if s.stats.PendingBatches > 0 {
		s.log.Info("telemetry spool has undelivered data from an earlier run; replaying it",
			"dir", dir, "batches", s.stats.PendingBatches, "points", s.stats.PendingPoints)
	}
	return s, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Spool) segPath(id uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d.seg", id))
}

// recover validates a segment and cuts off a torn or corrupt tail.
func (s *Spool) recover(id uint64) (int64, error) {
	p := s.segPath(id)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("open spool segment %s: %w", p, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat spool segment %s: %w", p, err)
	}
	var off int64
	hdr := make([]byte, headerSize)
	var payload []byte
	for off < st.Size() {
		if _, err := f.ReadAt(hdr, off); err != nil {
			break
		}
		n := int64(binary.LittleEndian.Uint32(hdr[0:]))
		if off+headerSize+n > st.Size() {
			break
		}
		payload = slices.Grow(payload[:0], int(n))[:n]
		if _, err := f.ReadAt(payload, off+headerSize); err != nil {
			break
		}
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(hdr[24:]) {
			break
		}
		off += headerSize + n
	}
	if off < st.Size() {
		s.log.Warn("telemetry spool segment has a torn or corrupt tail (crash during a write?); cutting it off",
			"segment", p, "valid_bytes", off, "cut_bytes", st.Size()-off)
		if err := f.Truncate(off); err != nil {
			return 0, fmt.Errorf("truncate spool segment %s at %d: %w", p, off, err)
		}
	}
	return off, nil
}

// scan sums the records of a segment in [off, end).
func (s *Spool) scan(id uint64, off, end int64) (batches, points int64, minT, maxT int64, err error) {
	f, err := os.Open(s.segPath(id))
	if err != nil {
		return 0, 0, 0, 0, fmt.Errorf("scan spool segment %d: %w", id, err)
	}
	defer f.Close()
	hdr := make([]byte, headerSize)
	for off < end {
		if _, err := f.ReadAt(hdr, off); err != nil {
			return 0, 0, 0, 0, fmt.Errorf("scan spool segment %d at %d: %w", id, off, err)
		}
		batches++
		points += int64(binary.LittleEndian.Uint32(hdr[4:]))
		lo, hi := int64(binary.LittleEndian.Uint64(hdr[8:])), int64(binary.LittleEndian.Uint64(hdr[16:]))
		if minT == 0 || lo < minT {
			minT = lo
		}
		maxT = max(maxT, hi)
		off += headerSize + int64(binary.LittleEndian.Uint32(hdr[0:]))
	}
	return batches, points, minT, maxT, nil
}

func (s *Spool) readAck() {
	b, err := os.ReadFile(filepath.Join(s.dir, "ack"))
	if err != nil {
		if len(s.segs) > 0 {
			s.curSeg = s.segs[0].id
		}
		return
	}
	var seg uint64
	var off int64
	if _, err := fmt.Sscanf(string(b), "%d %d", &seg, &off); err != nil {
		s.log.Warn("telemetry spool ack file unreadable; re-sending from the oldest segment (duplicates are harmless)", "err", err)
		if len(s.segs) > 0 {
			s.curSeg = s.segs[0].id
		}
		return
	}
	s.curSeg, s.curOff = seg, off
	for _, sg := range s.segs {
		if sg.id == seg && off > sg.size {
			s.curOff = sg.size
		}
	}
}

func (s *Spool) writeAck() error {
	p := filepath.Join(s.dir, "ack")
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d %d\n", s.curSeg, s.curOff)), 0o644); err != nil {
		return fmt.Errorf("save spool position: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("save spool position: %w", err)
	}
	return nil
}

func (s *Spool) newSegment(id uint64) error {
	if s.active != nil {
		if err := s.active.Close(); err != nil {
			return fmt.Errorf("close spool segment: %w", err)
		}
	}
	f, err := os.OpenFile(s.segPath(id), os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create spool segment: %w", err)
	}
	s.active = f
	s.segs = append(s.segs, &segment{id: id})
	if !s.opts.NoSync {
		if d, err := os.Open(s.dir); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	return nil
}

// Append stores one batch durably. points, minTime and maxTime describe the
// batch for the loss report should it ever be dropped.
func (s *Spool) Append(payload []byte, points int, minTime, maxTime time.Time) error {
	recLen := int64(headerSize + len(payload))
	if recLen > s.opts.MaxBytes/2 {
		return fmt.Errorf("spool append: batch of %d bytes is larger than half the spool (%d bytes)", len(payload), s.opts.MaxBytes)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("spool append: spool is closed")
	}
	act := s.segs[len(s.segs)-1]
	if act.size > 0 && act.size+recLen > s.opts.SegmentBytes {
		if err := s.newSegment(act.id + 1); err != nil {
			return fmt.Errorf("spool append: %w", err)
		}
		act = s.segs[len(s.segs)-1]
	}
	for s.total+recLen > s.opts.MaxBytes && len(s.segs) > 1 {
		s.dropOldest()
	}
	buf := slices.Grow(s.wbuf[:0], int(recLen))[:headerSize]
	defer func() {
		if cap(buf) <= maxKeptBuf {
			s.wbuf = buf[:0]
		}
	}()
	binary.LittleEndian.PutUint32(buf[0:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(buf[4:], uint32(points))
	binary.LittleEndian.PutUint64(buf[8:], uint64(minTime.UnixNano()))
	binary.LittleEndian.PutUint64(buf[16:], uint64(maxTime.UnixNano()))
	binary.LittleEndian.PutUint32(buf[24:], crc32.Checksum(payload, castagnoli))
	buf = append(buf, payload...)
	if _, err := s.active.Write(buf); err != nil {
		// A partial write is cut off at the next Open; later appends
		// would land after it, so start a fresh segment.
		_ = s.active.Truncate(act.size)
		return fmt.Errorf("spool append to %s: %w", s.segPath(act.id), err)
	}
	if !s.opts.NoSync {
		if err := s.active.Sync(); err != nil {
			return fmt.Errorf("spool fsync %s: %w", s.segPath(act.id), err)
		}
	}
	act.size += recLen
	s.total += recLen
	s.stats.PendingBatches++
	s.stats.PendingPoints += int64(points)
	s.stats.AppendedPoints += uint64(points)
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

// dropOldest deletes the oldest segment, counting and logging what of it
// was not delivered. Called with mu held and at least two segments.
func (s *Spool) dropOldest() {
	sg := s.segs[0]
	var batches, points, minT, maxT int64
	if sg.id >= s.curSeg {
		off := int64(0)
		if sg.id == s.curSeg {
			off = s.curOff
		}
		var err error
		batches, points, minT, maxT, err = s.scan(sg.id, off, sg.size)
		if err != nil {
			s.log.Error("telemetry spool: cannot count the segment being dropped", "err", err)
		}
	}
	if s.rf != nil && s.rfID == sg.id {
		s.rf.Close()
		s.rf = nil
	}
	if s.handed != nil && s.handed.seg == sg.id {
		s.lost, s.handed = s.handed, nil // it may be in flight right now
	}
	if err := os.Remove(s.segPath(sg.id)); err != nil {
		s.log.Error("telemetry spool: remove dropped segment", "err", err)
	}
	s.segs = s.segs[1:]
	s.total -= sg.size
	if s.curSeg <= sg.id {
		s.curSeg, s.curOff = s.segs[0].id, 0
	}
	s.stats.DroppedBatches += uint64(batches)
	s.stats.DroppedPoints += uint64(points)
	s.stats.PendingBatches -= batches
	s.stats.PendingPoints -= points
	if batches > 0 {
		s.log.Error("telemetry spool full: dropped the oldest undelivered telemetry",
			"segment", filepath.Base(s.segPath(sg.id)), "batches", batches, "points", points,
			"from", time.Unix(0, minT).UTC(), "to", time.Unix(0, maxT).UTC(),
			"max_bytes", s.opts.MaxBytes, "dropped_points_total", s.stats.DroppedPoints)
	}
}

// Next returns the oldest undelivered record, waiting for one if the spool
// is empty. It returns the same record until it is Acked.
func (s *Spool) Next(ctx context.Context) (Record, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return Record{}, errors.New("spool next: spool is closed")
		}
		rec, ok, err := s.peekLocked()
		if ok {
			s.handed = &Record{seg: rec.seg, off: rec.off}
		}
		ch := s.changed
		s.mu.Unlock()
		if err != nil || ok {
			return rec, err
		}
		select {
		case <-ctx.Done():
			return Record{}, ctx.Err()
		case <-ch:
		}
	}
}

func (s *Spool) peekLocked() (Record, bool, error) {
	for {
		i := slices.IndexFunc(s.segs, func(sg *segment) bool { return sg.id == s.curSeg })
		if i < 0 {
			// The cursor's segment is gone: continue at the oldest.
			s.curSeg, s.curOff = s.segs[0].id, 0
			continue
		}
		sg := s.segs[i]
		if s.curOff >= sg.size {
			if i == len(s.segs)-1 {
				return Record{}, false, nil
			}
			// Fully delivered and no longer written: delete it.
			s.removeLocked(i)
			s.curSeg, s.curOff = s.segs[i].id, 0
			continue
		}
		if s.rf == nil || s.rfID != sg.id {
			if s.rf != nil {
				s.rf.Close()
			}
			f, err := os.Open(s.segPath(sg.id))
			if err != nil {
				return Record{}, false, fmt.Errorf("spool read: %w", err)
			}
			s.rf, s.rfID = f, sg.id
		}
		hdr := make([]byte, headerSize)
		if _, err := s.rf.ReadAt(hdr, s.curOff); err != nil {
			return Record{}, false, fmt.Errorf("spool read %s at %d: %w", s.segPath(sg.id), s.curOff, err)
		}
		n := int64(binary.LittleEndian.Uint32(hdr[0:]))
		payload := make([]byte, n)
		if _, err := s.rf.ReadAt(payload, s.curOff+headerSize); err != nil && !errors.Is(err, io.EOF) {
			return Record{}, false, fmt.Errorf("spool read %s at %d: %w", s.segPath(sg.id), s.curOff, err)
		}
		return Record{
			Payload: payload,
			Points:  int(binary.LittleEndian.Uint32(hdr[4:])),
			MinTime: time.Unix(0, int64(binary.LittleEndian.Uint64(hdr[8:]))).UTC(),
			MaxTime: time.Unix(0, int64(binary.LittleEndian.Uint64(hdr[16:]))).UTC(),
			seg:     sg.id, off: s.curOff, next: s.curOff + headerSize + n,
		}, true, nil
	}
}

func (s *Spool) removeLocked(i int) {
	sg := s.segs[i]
	if s.rf != nil && s.rfID == sg.id {
		s.rf.Close()
		s.rf = nil
	}
	if err := os.Remove(s.segPath(sg.id)); err != nil {
		s.log.Error("telemetry spool: remove delivered segment", "err", err)
	}
	s.total -= sg.size
	s.segs = slices.Delete(s.segs, i, i+1)
}

// Ack marks r delivered. A record whose segment was dropped meanwhile
// (spool full) is moved from the dropped to the delivered count.
func (s *Spool) Ack(r Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.seg != s.curSeg || r.off != s.curOff {
		if s.lost != nil && s.lost.seg == r.seg && s.lost.off == r.off {
			// Its segment was dropped while it was being delivered: it
			// arrived after all, so it is not lost.
			s.lost = nil
			s.stats.DroppedBatches--
			s.stats.DroppedPoints -= uint64(r.Points)
			s.stats.DeliveredPoints += uint64(r.Points)
		}
		return nil
	}
	s.curOff = r.next
	s.handed = nil
	s.stats.PendingBatches--
	s.stats.PendingPoints -= int64(r.Points)
	s.stats.DeliveredPoints += uint64(r.Points)
	// Delete a fully delivered segment at once, unless it is still written.
	if i := slices.IndexFunc(s.segs, func(sg *segment) bool { return sg.id == s.curSeg }); i >= 0 && i < len(s.segs)-1 && s.curOff >= s.segs[i].size {
		s.removeLocked(i)
		s.curSeg, s.curOff = s.segs[i].id, 0
	}
	return s.writeAck()
}

// Stats returns the current sizes and counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Bytes = s.total
	st.Segments = len(s.segs)
	return st
}

// Close closes the files; undelivered records stay for the next Open.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.changed)
	if s.rf != nil {
		s.rf.Close()
	}
	if err := s.active.Close(); err != nil {
		return fmt.Errorf("close spool: %w", err)
	}
	return nil
}
